// The user information item of an A-ASSOCIATE-RQ/-AC and its sub-items: src/net/pdu/user-information.ts.

import { describe, expect, test } from "bun:test";
import { decodePdu } from "../../../src/net/pdu/codec.ts";
import { AbortReason, type AssociateRqPdu } from "../../../src/net/pdu/types.ts";
import { APP_CTX, b, decoderErrorTests, item, rqWithItems } from "./vectors.ts";

describe("decoder tolerance", () => {
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
});

describe("decoder errors", () => {
  const E = AbortReason;
  decoderErrorTests([
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
  ]);
});
