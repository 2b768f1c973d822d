// What the PDU codec tests of every family share: byte builders that read like the PS3.8 tables, the
// hand-written A-ASSOCIATE-RQ/-AC vectors other vectors are cut from, and the table-driven checks
// (known vectors, round trips, decoder errors) each family fills with its own rows.

import { expect, test } from "bun:test";
import fc from "fast-check";
import { decodePdu, encodePdu } from "../../../src/net/pdu/codec.ts";
import { PduError } from "../../../src/net/pdu/errors.ts";
import {
  type AssociateAcPdu,
  type AssociateRqPdu,
  DICOM_APPLICATION_CONTEXT,
  emptyUserInformation,
  type Pdu,
  PduType,
} from "../../../src/net/pdu/types.ts";
import * as arb from "./arbitraries.ts";

export const RUNS = { numRuns: 200 };

/** Builds bytes from literal byte lists and ASCII strings, so vectors read like the PS3.8 tables. */
export function b(...parts: (readonly number[] | Uint8Array | string)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "string") for (const c of p) out.push(c.charCodeAt(0));
    else out.push(...p);
  }
  return Uint8Array.from(out);
}

export const zeros = (n: number): number[] => new Array<number>(n).fill(0);

/** The AbortReason of the PduError `f` throws; fails if it throws anything else or nothing. */
export function abortReasonOf(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof PduError) return e.abortReason;
    throw new Error(`expected PduError, got ${String(e)}`);
  }
  throw new Error("expected PduError, nothing thrown");
}

/** decodePdu must return a Pdu or throw PduError — nothing else. */
export function decodeOrPduError(bytes: Uint8Array): void {
  try {
    decodePdu(bytes);
  } catch (e) {
    if (!(e instanceof PduError)) throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Known vectors, written by hand from the PS3.8 tables.
// ---------------------------------------------------------------------------------------------------------

export const RQ_VECTOR = b(
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

export const RQ_VALUE: AssociateRqPdu = {
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

export const AC_VECTOR = b(
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

export const AC_VALUE: AssociateAcPdu = {
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

// ---------------------------------------------------------------------------------------------------------
// Building malformed A-ASSOCIATE-RQs item by item
// ---------------------------------------------------------------------------------------------------------

/** RQ_VECTOR with its items replaced by `items` (PDU length fixed up). */
export function rqWithItems(...items: Uint8Array[]): Uint8Array {
  const body = arb.concat(items);
  const out = arb.concat([RQ_VECTOR.subarray(0, 74), body]);
  new DataView(out.buffer).setUint32(2, out.length - 6);
  return out;
}

export function item(type: number, ...value: (readonly number[] | Uint8Array | string)[]): Uint8Array {
  const v = b(...value);
  return arb.concat([b([type, 0, v.length >> 8, v.length & 0xff]), v]);
}

export const APP_CTX = item(0x10, DICOM_APPLICATION_CONTEXT);
export const PC = item(0x20, [1, 0, 0, 0], item(0x30, "1.2"), item(0x40, "1.2.3"));

// ---------------------------------------------------------------------------------------------------------
// Table-driven checks, called inside a describe of the family's test file
// ---------------------------------------------------------------------------------------------------------

/** Each vector encodes to its bytes exactly and decodes back to its value. */
export function knownVectorTests(vectors: [string, Uint8Array, Pdu][]): void {
  for (const [name, bytes, value] of vectors) {
    test(`${name} encodes byte-exact`, () => {
      expect(encodePdu(value)).toEqual(bytes);
    });
    test(`${name} decodes`, () => {
      expect(decodePdu(bytes)).toEqual(value);
    });
  }
}

/** decode(encode(x)) = x for every x of each arbitrary, with a right length field and a stable encoding. */
export function roundTripTests(cases: [string, fc.Arbitrary<Pdu>][]): void {
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
}

/** Decoding each input throws a PduError with the given A-ABORT reason. */
export function decoderErrorTests(cases: [string, Uint8Array, number][]): void {
  for (const [name, bytes, reason] of cases) {
    test(name, () => {
      expect(abortReasonOf(() => decodePdu(bytes))).toBe(reason);
    });
  }
}
