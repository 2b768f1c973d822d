// What every PDU family's codec shares: item headers and their lengths when decoding, and the writer's
// refusals (AE title length, Latin-1, integer ranges, item length) when encoding: src/net/pdu/primitives.ts.

import { describe, expect, test } from "bun:test";
import { decodePdu, encodePdu } from "../../../src/net/pdu/codec.ts";
import { AbortReason, emptyUserInformation, PduType } from "../../../src/net/pdu/types.ts";
import {
  AC_VECTOR,
  APP_CTX,
  abortReasonOf,
  b,
  decodeOrPduError,
  decoderErrorTests,
  item,
  RQ_VALUE,
  RQ_VECTOR,
  rqWithItems,
} from "./vectors.ts";

describe("decoder errors", () => {
  const E = AbortReason;
  decoderErrorTests([
    ["truncated item header", rqWithItems(APP_CTX, b([0x20, 0, 0])), E.InvalidPduParameterValue],
    [
      "item length 0xFFFF past the PDU",
      rqWithItems(APP_CTX, b([0x20, 0, 0xff, 0xff, 1])),
      E.InvalidPduParameterValue,
    ],
    [
      "sub-item running past its presentation context",
      rqWithItems(APP_CTX, item(0x20, [1, 0, 0, 0], [0x30, 0, 0, 9], "1.2")),
      E.InvalidPduParameterValue,
    ],
  ]);
});

describe("decoder robustness", () => {
  test("huge item length fields in every nesting level throw PduError", () => {
    // Set each 16-bit item length in the RQ/AC vectors to 0xFFFF in turn.
    for (const vector of [RQ_VECTOR, AC_VECTOR]) {
      for (let pos = 74; pos + 4 <= vector.length; pos++) {
        const bytes = vector.slice();
        bytes[pos + 2] = 0xff;
        bytes[pos + 3] = 0xff;
        decodeOrPduError(bytes);
      }
    }
    expect(abortReasonOf(() => decodePdu(rqWithItems(b([0x10, 0, 0xff, 0xff]))))).toBe(
      AbortReason.InvalidPduParameterValue,
    );
  });
});

describe("encoder validation", () => {
  test("AE titles longer than 16 characters are refused", () => {
    expect(() => encodePdu({ ...RQ_VALUE, calledAeTitle: "A".repeat(17) })).toThrow(RangeError);
  });

  test("characters beyond U+00FF are refused", () => {
    expect(() => encodePdu({ ...RQ_VALUE, applicationContext: "1.2\u20ac" })).toThrow(RangeError);
  });

  test("out of range numbers are refused", () => {
    expect(() => encodePdu({ type: PduType.Abort, source: 256, reason: 0 })).toThrow(RangeError);
    expect(() =>
      encodePdu({ ...RQ_VALUE, userInformation: { ...emptyUserInformation(), maxLength: 2 ** 32 } }),
    ).toThrow(RangeError);
  });

  test("items longer than 65535 bytes are refused", () => {
    expect(() =>
      encodePdu({
        ...RQ_VALUE,
        presentationContexts: [
          {
            id: 1,
            abstractSyntax: "1.2",
            transferSyntaxes: new Array<string>(3000).fill("1.2.840.10008.1.2.4.50"),
          },
        ],
      }),
    ).toThrow(RangeError);
  });
});
