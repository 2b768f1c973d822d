// P-DATA-TF and its PDVs, and the PDV header written ahead of a streamed payload: src/net/pdu/pdata.ts.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { decodePdu, encodePdu } from "../../../src/net/pdu/codec.ts";
import { encodePDataPdvHeader, PDATA_PDV_HEADER_LENGTH } from "../../../src/net/pdu/pdata.ts";
import { AbortReason, PduType } from "../../../src/net/pdu/types.ts";
import * as arb from "./arbitraries.ts";
import { b, decoderErrorTests, knownVectorTests, RUNS, roundTripTests } from "./vectors.ts";

describe("known vectors", () => {
  knownVectorTests([
    [
      "P-DATA-TF",
      b(
        [0x04, 0x00, 0x00, 0x00, 0x00, 0x11], // length 17
        [0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0xde, 0xad, 0xbe, 0xef], // ctx 1, command, last
        [0x00, 0x00, 0x00, 0x03, 0x03, 0x00, 0x2a], // ctx 3, data, not last
      ),
      {
        type: PduType.PData,
        pdvs: [
          { presentationContextId: 1, isCommand: true, isLast: true, data: b([0xde, 0xad, 0xbe, 0xef]) },
          { presentationContextId: 3, isCommand: false, isLast: false, data: b([0x2a]) },
        ],
      },
    ],
  ]);

  test("encodePDataPdvHeader + payload equals encodePdu of a one-PDV P-DATA-TF", () => {
    const data = b([1, 2, 3, 4, 5]);
    const header = encodePDataPdvHeader(7, false, true, data.length);
    expect(header.length).toBe(PDATA_PDV_HEADER_LENGTH);
    expect(header).toEqual(b([0x04, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x07, 0x07, 0x02]));
    const whole = encodePdu({
      type: PduType.PData,
      pdvs: [{ presentationContextId: 7, isCommand: false, isLast: true, data }],
    });
    expect(arb.concat([header, data])).toEqual(whole);
  });

  test("encodePDataPdvHeader property: header + data decodes to that PDV", () => {
    fc.assert(
      fc.property(arb.pdv, (p) => {
        const header = encodePDataPdvHeader(p.presentationContextId, p.isCommand, p.isLast, p.data.length);
        expect(decodePdu(arb.concat([header, p.data]))).toEqual({ type: PduType.PData, pdvs: [p] });
      }),
      RUNS,
    );
  });

  test("encodePDataPdvHeader handles lengths near 2^32 without sign errors", () => {
    const h = encodePDataPdvHeader(1, true, false, 0xffffffff - 6);
    expect(Array.from(h)).toEqual([4, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb, 1, 1]);
    expect(() => encodePDataPdvHeader(1, true, false, 0xffffffff - 5)).toThrow(RangeError);
  });
});

describe("round trip decode(encode(x)) = x", () => {
  roundTripTests([["P-DATA-TF", arb.pData]]);

  test("P-DATA PDV data are views into the input, not copies", () => {
    const bytes = encodePdu({
      type: PduType.PData,
      pdvs: [{ presentationContextId: 1, isCommand: false, isLast: true, data: b([1, 2, 3]) }],
    });
    const pdu = decodePdu(bytes);
    if (pdu.type !== PduType.PData) throw new Error("not P-DATA");
    const data = pdu.pdvs[0]!.data;
    expect(data.buffer).toBe(bytes.buffer);
    expect(data.byteOffset).toBe(12);
  });
});

describe("decoder tolerance", () => {
  test("a P-DATA-TF with no PDV decodes to an empty list", () => {
    expect(decodePdu(b([0x04, 0, 0, 0, 0, 0]))).toEqual({ type: PduType.PData, pdvs: [] });
  });
});

describe("decoder errors", () => {
  const E = AbortReason;
  decoderErrorTests([
    ["PDV item length 0", b([0x04, 0, 0, 0, 0, 6, 0, 0, 0, 0, 1, 0]), E.InvalidPduParameterValue],
    ["PDV item length 1", b([0x04, 0, 0, 0, 0, 6, 0, 0, 0, 1, 1, 0]), E.InvalidPduParameterValue],
    ["PDV past the PDU", b([0x04, 0, 0, 0, 0, 7, 0, 0, 0, 4, 1, 0, 9]), E.InvalidPduParameterValue],
    [
      "PDV item length 0xFFFFFFFF",
      b([0x04, 0, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff, 1, 0, 9]),
      E.InvalidPduParameterValue,
    ],
    ["truncated PDV header", b([0x04, 0, 0, 0, 0, 5, 0, 0, 0, 2, 1]), E.InvalidPduParameterValue],
  ]);
});
