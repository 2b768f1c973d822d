// Whole PDUs whatever their family: the dispatch on the PDU type, the common header and its length
// field, and what any input does to the decoder: src/net/pdu/codec.ts.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { decodePdu, encodePdu } from "../../../src/net/pdu/codec.ts";
import { PduError } from "../../../src/net/pdu/errors.ts";
import { AbortReason, PduType } from "../../../src/net/pdu/types.ts";
import * as arb from "./arbitraries.ts";
import {
  abortReasonOf,
  b,
  decodeOrPduError,
  decoderErrorTests,
  RQ_VALUE,
  RQ_VECTOR,
  RUNS,
  zeros,
} from "./vectors.ts";

describe("round trip decode(encode(x)) = x", () => {
  test("decodes from a view at a non-zero byteOffset of a larger buffer", () => {
    fc.assert(
      fc.property(
        arb.anyPdu,
        fc.uint8Array({ maxLength: 9 }),
        fc.uint8Array({ maxLength: 9 }),
        (pdu, pre, post) => {
          const bytes = encodePdu(pdu);
          const big = arb.concat([pre, bytes, post]);
          expect(decodePdu(big.subarray(pre.length, pre.length + bytes.length))).toEqual(pdu);
        },
      ),
      RUNS,
    );
  });
});

describe("decoder tolerance", () => {
  test("reserved fields are not tested", () => {
    const bytes = RQ_VECTOR.slice();
    bytes[1] = 0xff;
    bytes[8] = 0xff;
    bytes.fill(0xee, 42, 74);
    expect(decodePdu(bytes)).toEqual(RQ_VALUE);
    const abort = b([0x07, 0xff, 0x00, 0x00, 0x00, 0x04, 0xff, 0xff, 0x00, 0x01]);
    expect(decodePdu(abort)).toEqual({ type: PduType.Abort, source: 0, reason: 1 });
  });
});

describe("decoder errors", () => {
  const E = AbortReason;
  decoderErrorTests([
    ["empty input", b([]), E.InvalidPduParameterValue],
    ["5-byte header", b([0x05, 0, 0, 0, 0]), E.InvalidPduParameterValue],
    ["PDU type 0x00", b([0x00, 0, 0, 0, 0, 0]), E.UnrecognizedPdu],
    ["PDU type 0x08", b([0x08, 0, 0, 0, 0, 4, 0, 0, 0, 0]), E.UnrecognizedPdu],
    ["PDU type 0xff", b([0xff, 0, 0xff, 0xff, 0xff, 0xff]), E.UnrecognizedPdu],
    ["length field larger than buffer", b([0x05, 0, 0, 0, 0, 5, 0, 0, 0, 0]), E.InvalidPduParameterValue],
    ["length field smaller than buffer", b([0x05, 0, 0, 0, 0, 3, 0, 0, 0, 0]), E.InvalidPduParameterValue],
    ["length field 0xFFFFFFFF", b([0x01, 0, 0xff, 0xff, 0xff, 0xff, 0, 1]), E.InvalidPduParameterValue],
  ]);
});

describe("decoder robustness", () => {
  test("random bytes: returns or throws PduError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => decodeOrPduError(bytes)),
      {
        numRuns: 2000,
      },
    );
  });

  test("random bodies behind a well-formed header of every type: returns or throws PduError", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.uint8Array({ maxLength: 300 }), (type, body) => {
        const bytes = arb.concat([b([type, 0, 0, 0, 0, 0]), body]);
        new DataView(bytes.buffer).setUint32(2, body.length);
        decodeOrPduError(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  test("every truncation of a valid PDU throws PduError (length field kept)", () => {
    fc.assert(
      fc.property(arb.anyPdu, (pdu) => {
        const bytes = encodePdu(pdu);
        for (let k = 0; k < bytes.length; k++) {
          expect(() => decodePdu(bytes.subarray(0, k))).toThrow(PduError);
        }
      }),
      { numRuns: 100 },
    );
  });

  test("every truncation with the length field fixed up: returns or throws PduError", () => {
    fc.assert(
      fc.property(arb.anyPdu, (pdu) => {
        const bytes = encodePdu(pdu);
        for (let k = 6; k < bytes.length; k++) {
          const t = bytes.slice(0, k);
          new DataView(t.buffer).setUint32(2, k - 6);
          decodeOrPduError(t);
        }
      }),
      { numRuns: 60 },
    );
  });

  test("mutated valid PDUs (random bytes overwritten, incl. 0xFF length bytes): returns or throws PduError", () => {
    fc.assert(
      fc.property(
        arb.anyPdu,
        fc.array(fc.tuple(fc.nat(), fc.oneof(fc.constant(0xff), fc.integer({ min: 0, max: 255 }))), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.boolean(),
        (pdu, edits, fixLength) => {
          const bytes = encodePdu(pdu);
          for (const [pos, v] of edits) bytes[pos % bytes.length] = v;
          if (fixLength) new DataView(bytes.buffer).setUint32(2, bytes.length - 6);
          decodeOrPduError(bytes);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test("huge PDU length fields are rejected from the header, without allocation", () => {
    for (let type = 1; type <= 7; type++) {
      const bytes = b([type, 0, 0xff, 0xff, 0xff, 0xff], zeros(100));
      expect(abortReasonOf(() => decodePdu(bytes))).toBe(AbortReason.InvalidPduParameterValue);
    }
  });
});
