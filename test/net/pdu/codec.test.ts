import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { decodePdu, encodePdu } from "../../../src/net/pdu/codec.ts";
import { PduError } from "../../../src/net/pdu/errors.ts";
import { encodePDataPdvHeader, PDATA_PDV_HEADER_LENGTH } from "../../../src/net/pdu/pdata.ts";
import {
  AbortReason,
  type AssociateAcPdu,
  type AssociateRqPdu,
  DICOM_APPLICATION_CONTEXT,
  emptyUserInformation,
  type Pdu,
  PduType,
} from "../../../src/net/pdu/types.ts";
import * as arb from "./arbitraries.ts";

const RUNS = { numRuns: 200 };

/** Builds bytes from literal byte lists and ASCII strings, so vectors read like the PS3.8 tables. */
function b(...parts: (readonly number[] | Uint8Array | string)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "string") for (const c of p) out.push(c.charCodeAt(0));
    else out.push(...p);
  }
  return Uint8Array.from(out);
}

const zeros = (n: number): number[] => new Array<number>(n).fill(0);

/** The AbortReason of the PduError `f` throws; fails if it throws anything else or nothing. */
function abortReasonOf(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof PduError) return e.abortReason;
    throw new Error(`expected PduError, got ${String(e)}`);
  }
  throw new Error("expected PduError, nothing thrown");
}

/** decodePdu must return a Pdu or throw PduError — nothing else. */
function decodeOrPduError(bytes: Uint8Array): void {
  try {
    decodePdu(bytes);
  } catch (e) {
    if (!(e instanceof PduError)) throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Known vectors, written by hand from the PS3.8 tables.
// ---------------------------------------------------------------------------------------------------------

const RQ_VECTOR = b(
  [0x01, 0x00, 0x00, 0x00, 0x00, 0xb0], // A-ASSOCIATE-RQ, length 176 = 68 fixed + 108 items
  [0x00, 0x01, 0x00, 0x00], // protocol version 1, reserved
  "ANY-SCP         ", // called AE title, space padded to 16
  "ECHOSCU         ", // calling AE title
  zeros(32), // reserved
  [0x10, 0x00, 0x00, 0x15],
  "1.2.840.10008.3.1.1.1", // application context (21)
  [0x20, 0x00, 0x00, 0x2e, 0x01, 0x00, 0x00, 0x00], // presentation context 1, length 46
  [0x30, 0x00, 0x00, 0x11],
  "1.2.840.10008.1.1", // abstract syntax: Verification (17)
  [0x40, 0x00, 0x00, 0x11],
  "1.2.840.10008.1.2", // transfer syntax: Implicit VR LE (17)
  [0x50, 0x00, 0x00, 0x1d], // user information, length 29
  [0x51, 0x00, 0x00, 0x04, 0x00, 0x00, 0x40, 0x00], // max length 16384
  [0x52, 0x00, 0x00, 0x07],
  "1.2.3.4", // implementation class UID
  [0x55, 0x00, 0x00, 0x06],
  "TEST_1", // implementation version name
);

const RQ_VALUE: AssociateRqPdu = {
  type: PduType.AssociateRq,
  protocolVersion: 1,
  calledAeTitle: "ANY-SCP",
  callingAeTitle: "ECHOSCU",
  applicationContext: DICOM_APPLICATION_CONTEXT,
  presentationContexts: [
    { id: 1, abstractSyntax: "1.2.840.10008.1.1", transferSyntaxes: ["1.2.840.10008.1.2"] },
  ],
  userInformation: {
    ...emptyUserInformation(),
    maxLength: 16384,
    implementationClassUid: "1.2.3.4",
    implementationVersionName: "TEST_1",
  },
};

const AC_VECTOR = b(
  [0x02, 0x00, 0x00, 0x00, 0x00, 0xa1], // A-ASSOCIATE-AC, length 161 = 68 fixed + 93 items
  [0x00, 0x01, 0x00, 0x00],
  "ANY-SCP         ",
  "ECHOSCU         ",
  zeros(32),
  [0x10, 0x00, 0x00, 0x15],
  "1.2.840.10008.3.1.1.1",
  [0x21, 0x00, 0x00, 0x19, 0x01, 0x00, 0x00, 0x00], // context 1, result 0 (acceptance), length 25
  [0x40, 0x00, 0x00, 0x11],
  "1.2.840.10008.1.2",
  [0x50, 0x00, 0x00, 0x23], // user information, length 35
  [0x51, 0x00, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00], // max length 65536
  [0x54, 0x00, 0x00, 0x17, 0x00, 0x13], // role selection, UID length 19
  "1.2.840.10008.5.1.4",
  [0x01, 0x00], // SCU role yes, SCP role no
);

const AC_VALUE: AssociateAcPdu = {
  type: PduType.AssociateAc,
  protocolVersion: 1,
  calledAeTitle: "ANY-SCP",
  callingAeTitle: "ECHOSCU",
  applicationContext: DICOM_APPLICATION_CONTEXT,
  presentationContexts: [{ id: 1, result: 0, transferSyntax: "1.2.840.10008.1.2" }],
  userInformation: {
    ...emptyUserInformation(),
    maxLength: 65536,
    roleSelections: [{ sopClassUid: "1.2.840.10008.5.1.4", scuRole: true, scpRole: false }],
  },
};

const VECTORS: [string, Uint8Array, Pdu][] = [
  ["A-ASSOCIATE-RQ", RQ_VECTOR, RQ_VALUE],
  ["A-ASSOCIATE-AC", AC_VECTOR, AC_VALUE],
  [
    "A-ASSOCIATE-RJ",
    b([0x03, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x01, 0x07]),
    { type: PduType.AssociateRj, result: 1, source: 1, reason: 7 },
  ],
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
  [
    "A-RELEASE-RQ",
    b([0x05, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00]),
    { type: PduType.ReleaseRq },
  ],
  [
    "A-RELEASE-RP",
    b([0x06, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00]),
    { type: PduType.ReleaseRp },
  ],
  [
    "A-ABORT",
    b([0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x02, 0x06]),
    { type: PduType.Abort, source: 2, reason: 6 },
  ],
];

describe("known vectors", () => {
  for (const [name, bytes, value] of VECTORS) {
    test(`${name} encodes byte-exact`, () => {
      expect(encodePdu(value)).toEqual(bytes);
    });
    test(`${name} decodes`, () => {
      expect(decodePdu(bytes)).toEqual(value);
    });
  }

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

// ---------------------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------------------

describe("round trip decode(encode(x)) = x", () => {
  const cases: [string, fc.Arbitrary<Pdu>][] = [
    ["A-ASSOCIATE-RQ", arb.associateRq],
    ["A-ASSOCIATE-AC", arb.associateAc],
    ["A-ASSOCIATE-RJ", arb.associateRj],
    ["P-DATA-TF", arb.pData],
    ["A-RELEASE-RQ", arb.releaseRq],
    ["A-RELEASE-RP", arb.releaseRp],
    ["A-ABORT", arb.abort],
  ];
  for (const [name, a] of cases) {
    test(name, () => {
      fc.assert(
        fc.property(a, (pdu) => {
          const bytes = encodePdu(pdu);
          expect(decodePdu(bytes)).toEqual(pdu);
          // The length field is right, and re-encoding is stable.
          expect(new DataView(bytes.buffer).getUint32(2)).toBe(bytes.length - 6);
          expect(encodePdu(decodePdu(bytes))).toEqual(bytes);
        }),
        RUNS,
      );
    });
  }

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

// ---------------------------------------------------------------------------------------------------------
// Decoder details
// ---------------------------------------------------------------------------------------------------------

/** RQ_VECTOR with its items replaced by `items` (PDU length fixed up). */
function rqWithItems(...items: Uint8Array[]): Uint8Array {
  const body = arb.concat(items);
  const out = arb.concat([RQ_VECTOR.subarray(0, 74), body]);
  new DataView(out.buffer).setUint32(2, out.length - 6);
  return out;
}

function item(type: number, ...value: (readonly number[] | Uint8Array | string)[]): Uint8Array {
  const v = b(...value);
  return arb.concat([b([type, 0, v.length >> 8, v.length & 0xff]), v]);
}

const APP_CTX = item(0x10, DICOM_APPLICATION_CONTEXT);
const PC = item(0x20, [1, 0, 0, 0], item(0x30, "1.2"), item(0x40, "1.2.3"));

describe("decoder tolerance", () => {
  test("AE titles are trimmed of leading and trailing spaces (and trailing NULs)", () => {
    const bytes = rqWithItems(APP_CTX);
    bytes.set(b("  AB C  ", zeros(8)), 10);
    bytes.set(b("        XY      "), 26);
    const pdu = decodePdu(bytes) as AssociateRqPdu;
    expect(pdu.calledAeTitle).toBe("AB C");
    expect(pdu.callingAeTitle).toBe("XY");
  });

  test("UIDs lose their trailing NUL/space padding", () => {
    const pdu = decodePdu(
      rqWithItems(
        item(0x10, DICOM_APPLICATION_CONTEXT, [0]),
        item(0x20, [1, 0, 0, 0], item(0x30, "1.2", [0]), item(0x40, "1.2.3 ")),
      ),
    ) as AssociateRqPdu;
    expect(pdu.applicationContext).toBe(DICOM_APPLICATION_CONTEXT);
    expect(pdu.presentationContexts).toEqual([{ id: 1, abstractSyntax: "1.2", transferSyntaxes: ["1.2.3"] }]);
  });

  test("unrecognized items are skipped (PS3.8 9.3.1); a missing user information item decodes empty", () => {
    const pdu = decodePdu(
      rqWithItems(item(0x11, "x"), APP_CTX, item(0x7f), PC, item(0xff, [1, 2, 3])),
    ) as AssociateRqPdu;
    expect(pdu.presentationContexts).toHaveLength(1);
    expect(pdu.userInformation).toEqual(emptyUserInformation());
  });

  test("unknown user information sub-items are kept", () => {
    const pdu = decodePdu(rqWithItems(APP_CTX, item(0x50, item(0x5f, [9, 8])))) as AssociateRqPdu;
    expect(pdu.userInformation.unknownItems).toEqual([{ itemType: 0x5f, data: b([9, 8]) }]);
  });

  test("role selection with non-0/1 role bytes reads them as booleans", () => {
    const pdu = decodePdu(
      rqWithItems(APP_CTX, item(0x50, item(0x54, [0, 3], "1.2", [2, 0]))),
    ) as AssociateRqPdu;
    expect(pdu.userInformation.roleSelections).toEqual([
      { sopClassUid: "1.2", scuRole: true, scpRole: false },
    ]);
  });

  test("an AC presentation context without transfer syntax sub-item decodes with an empty one", () => {
    const bytes = arb.concat([AC_VECTOR.subarray(0, 74), APP_CTX, item(0x21, [3, 0, 3, 0])]);
    new DataView(bytes.buffer).setUint32(2, bytes.length - 6);
    expect((decodePdu(bytes) as AssociateAcPdu).presentationContexts).toEqual([
      { id: 3, result: 3, transferSyntax: "" },
    ]);
  });

  test("reserved fields are not tested", () => {
    const bytes = RQ_VECTOR.slice();
    bytes[1] = 0xff;
    bytes[8] = 0xff;
    bytes.fill(0xee, 42, 74);
    expect(decodePdu(bytes)).toEqual(RQ_VALUE);
    const abort = b([0x07, 0xff, 0x00, 0x00, 0x00, 0x04, 0xff, 0xff, 0x00, 0x01]);
    expect(decodePdu(abort)).toEqual({ type: PduType.Abort, source: 0, reason: 1 });
  });

  test("a P-DATA-TF with no PDV decodes to an empty list", () => {
    expect(decodePdu(b([0x04, 0, 0, 0, 0, 0]))).toEqual({ type: PduType.PData, pdvs: [] });
  });
});

describe("decoder errors", () => {
  const E = AbortReason;
  const cases: [string, Uint8Array, number][] = [
    ["empty input", b([]), E.InvalidPduParameterValue],
    ["5-byte header", b([0x05, 0, 0, 0, 0]), E.InvalidPduParameterValue],
    ["PDU type 0x00", b([0x00, 0, 0, 0, 0, 0]), E.UnrecognizedPdu],
    ["PDU type 0x08", b([0x08, 0, 0, 0, 0, 4, 0, 0, 0, 0]), E.UnrecognizedPdu],
    ["PDU type 0xff", b([0xff, 0, 0xff, 0xff, 0xff, 0xff]), E.UnrecognizedPdu],
    ["length field larger than buffer", b([0x05, 0, 0, 0, 0, 5, 0, 0, 0, 0]), E.InvalidPduParameterValue],
    ["length field smaller than buffer", b([0x05, 0, 0, 0, 0, 3, 0, 0, 0, 0]), E.InvalidPduParameterValue],
    ["length field 0xFFFFFFFF", b([0x01, 0, 0xff, 0xff, 0xff, 0xff, 0, 1]), E.InvalidPduParameterValue],
    ["A-RELEASE-RQ of length 5", b([0x05, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0]), E.InvalidPduParameterValue],
    ["A-ABORT of length 0", b([0x07, 0, 0, 0, 0, 0]), E.InvalidPduParameterValue],
    ["A-ASSOCIATE-RJ of length 3", b([0x03, 0, 0, 0, 0, 3, 0, 1, 1]), E.InvalidPduParameterValue],
    ["A-ASSOCIATE-RQ shorter than fixed part", b([0x01, 0, 0, 0, 0, 2, 0, 1]), E.InvalidPduParameterValue],
    ["PDV item length 0", b([0x04, 0, 0, 0, 0, 6, 0, 0, 0, 0, 1, 0]), E.InvalidPduParameterValue],
    ["PDV item length 1", b([0x04, 0, 0, 0, 0, 6, 0, 0, 0, 1, 1, 0]), E.InvalidPduParameterValue],
    ["PDV past the PDU", b([0x04, 0, 0, 0, 0, 7, 0, 0, 0, 4, 1, 0, 9]), E.InvalidPduParameterValue],
    [
      "PDV item length 0xFFFFFFFF",
      b([0x04, 0, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff, 1, 0, 9]),
      E.InvalidPduParameterValue,
    ],
    ["truncated PDV header", b([0x04, 0, 0, 0, 0, 5, 0, 0, 0, 2, 1]), E.InvalidPduParameterValue],
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
    [
      "presentation context shorter than 4",
      rqWithItems(APP_CTX, item(0x20, [1, 0])),
      E.InvalidPduParameterValue,
    ],
    ["no application context", rqWithItems(PC), E.InvalidPduParameterValue],
    ["two application contexts", rqWithItems(APP_CTX, APP_CTX), E.UnexpectedPduParameter],
    ["two user information items", rqWithItems(APP_CTX, item(0x50), item(0x50)), E.UnexpectedPduParameter],
    [
      "AC presentation context in an RQ",
      rqWithItems(APP_CTX, item(0x21, [1, 0, 0, 0])),
      E.UnexpectedPduParameter,
    ],
    ["abstract syntax at top level", rqWithItems(APP_CTX, item(0x30, "1.2")), E.UnexpectedPduParameter],
    [
      "presentation context without abstract syntax",
      rqWithItems(APP_CTX, item(0x20, [1, 0, 0, 0])),
      E.InvalidPduParameterValue,
    ],
    [
      "two abstract syntaxes",
      rqWithItems(APP_CTX, item(0x20, [1, 0, 0, 0], item(0x30, "1"), item(0x30, "2"))),
      E.UnexpectedPduParameter,
    ],
    [
      "user info sub-item inside a presentation context",
      rqWithItems(APP_CTX, item(0x20, [1, 0, 0, 0], item(0x30, "1"), item(0x51, [0, 0, 0, 0]))),
      E.UnexpectedPduParameter,
    ],
    [
      "maximum length of 3 bytes",
      rqWithItems(APP_CTX, item(0x50, item(0x51, [0, 0, 1]))),
      E.InvalidPduParameterValue,
    ],
    [
      "two maximum length sub-items",
      rqWithItems(APP_CTX, item(0x50, item(0x51, [0, 0, 0, 1]), item(0x51, [0, 0, 0, 1]))),
      E.UnexpectedPduParameter,
    ],
    [
      "role selection UID length past the sub-item",
      rqWithItems(APP_CTX, item(0x50, item(0x54, [0, 9], "1.2", [1, 1]))),
      E.InvalidPduParameterValue,
    ],
    [
      "role selection with trailing bytes",
      rqWithItems(APP_CTX, item(0x50, item(0x54, [0, 3], "1.2", [1, 1, 0]))),
      E.InvalidPduParameterValue,
    ],
    [
      "user identity primary field past the sub-item",
      rqWithItems(APP_CTX, item(0x50, item(0x58, [1, 0, 0xff, 0xff, 1, 2]))),
      E.InvalidPduParameterValue,
    ],
    [
      "common extended negotiation related-UIDs length past the sub-item",
      rqWithItems(APP_CTX, item(0x50, item(0x57, [0, 1], "1", [0, 1], "2", [0, 9, 0, 1], "3"))),
      E.InvalidPduParameterValue,
    ],
    [
      "async operations window of 2 bytes",
      rqWithItems(APP_CTX, item(0x50, item(0x53, [0, 1]))),
      E.InvalidPduParameterValue,
    ],
  ];
  for (const [name, bytes, reason] of cases) {
    test(name, () => {
      expect(abortReasonOf(() => decodePdu(bytes))).toBe(reason);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------
// Robustness properties
// ---------------------------------------------------------------------------------------------------------

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
