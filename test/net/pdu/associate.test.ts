// A-ASSOCIATE-RQ, -AC and -RJ through the whole-PDU codec: src/net/pdu/associate.ts.

import { describe, expect, test } from "bun:test";
import { decodePdu } from "../../../src/net/pdu/codec.ts";
import {
  AbortReason,
  type AssociateAcPdu,
  type AssociateRqPdu,
  DICOM_APPLICATION_CONTEXT,
  emptyUserInformation,
  PduType,
} from "../../../src/net/pdu/types.ts";
import * as arb from "./arbitraries.ts";
import {
  AC_VALUE,
  AC_VECTOR,
  APP_CTX,
  b,
  decoderErrorTests,
  item,
  knownVectorTests,
  PC,
  RQ_VALUE,
  RQ_VECTOR,
  roundTripTests,
  rqWithItems,
  zeros,
} from "./vectors.ts";

describe("known vectors", () => {
  knownVectorTests([
    ["A-ASSOCIATE-RQ", RQ_VECTOR, RQ_VALUE],
    ["A-ASSOCIATE-AC", AC_VECTOR, AC_VALUE],
    [
      "A-ASSOCIATE-RJ",
      b([0x03, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x01, 0x07]),
      { type: PduType.AssociateRj, result: 1, source: 1, reason: 7 },
    ],
  ]);
});

describe("round trip decode(encode(x)) = x", () => {
  roundTripTests([
    ["A-ASSOCIATE-RQ", arb.associateRq],
    ["A-ASSOCIATE-AC", arb.associateAc],
    ["A-ASSOCIATE-RJ", arb.associateRj],
  ]);
});

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

  test("an AC presentation context without transfer syntax sub-item decodes with an empty one", () => {
    const bytes = arb.concat([AC_VECTOR.subarray(0, 74), APP_CTX, item(0x21, [3, 0, 3, 0])]);
    new DataView(bytes.buffer).setUint32(2, bytes.length - 6);
    expect((decodePdu(bytes) as AssociateAcPdu).presentationContexts).toEqual([
      { id: 3, result: 3, transferSyntax: "" },
    ]);
  });
});

describe("decoder errors", () => {
  const E = AbortReason;
  decoderErrorTests([
    ["A-ASSOCIATE-RJ of length 3", b([0x03, 0, 0, 0, 0, 3, 0, 1, 1]), E.InvalidPduParameterValue],
    ["A-ASSOCIATE-RQ shorter than fixed part", b([0x01, 0, 0, 0, 0, 2, 0, 1]), E.InvalidPduParameterValue],
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
  ]);
});
