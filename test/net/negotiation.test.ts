import { describe, expect, test } from "bun:test";
import { type NegotiationPolicy, negotiate } from "../../src/net/negotiation.ts";
import { type AssociateRqPdu, emptyUserInformation, PduType } from "../../src/net/pdu/types.ts";

const CT = "1.2.840.10008.5.1.4.1.1.2";
const VERIFY = "1.2.840.10008.1.1";
const IMPLICIT = "1.2.840.10008.1.2";
const EXPLICIT = "1.2.840.10008.1.2.1";
const JPEG_LS = "1.2.840.10008.1.2.4.80";
const policy: NegotiationPolicy = { promiscuous: false, uncompressedOnly: false, maxPduLength: 131072 };

function rq(
  contexts: Array<[number, string, string[]]>,
  tweak?: (r: AssociateRqPdu) => void,
): AssociateRqPdu {
  const r: AssociateRqPdu = {
    type: PduType.AssociateRq,
    protocolVersion: 1,
    calledAeTitle: "STORESCP",
    callingAeTitle: "CT01",
    applicationContext: "1.2.840.10008.3.1.1.1",
    presentationContexts: contexts.map(([id, abstractSyntax, transferSyntaxes]) => ({
      id,
      abstractSyntax,
      transferSyntaxes,
    })),
    userInformation: { ...emptyUserInformation(), maxLength: 16384 },
  };
  tweak?.(r);
  return r;
}

describe("presentation context negotiation", () => {
  test("the first proposed syntax we can store as received wins, so a compressed sender stays bit-preserving", () => {
    const { ac, accepted } = negotiate(rq([[1, CT, ["1.2.3.4.5.6.unknown", JPEG_LS, EXPLICIT]]]), policy);
    expect(ac.presentationContexts).toEqual([{ id: 1, result: 0, transferSyntax: JPEG_LS }]);
    expect(accepted.get(1)?.transferSyntax).toBe(JPEG_LS);
  });

  test("results 0-4 for every kind of context", () => {
    const { ac } = negotiate(
      rq([
        [1, CT, [EXPLICIT]],
        [3, VERIFY, [IMPLICIT]],
        [5, "1.2.840.10008.5.1.4.1.2.1.1", [IMPLICIT]], // Patient Root Q/R FIND: not ours
        [7, CT, ["1.2.3.999"]],
        [8, CT, [EXPLICIT]], // even id
      ]),
      policy,
    );
    expect(ac.presentationContexts.map((p) => p.result)).toEqual([0, 0, 3, 4, 2]);
  });

  test("promiscuous accepts any abstract syntax", () => {
    const { ac } = negotiate(rq([[1, "1.2.3.4.5", [EXPLICIT]]]), { ...policy, promiscuous: true });
    expect(ac.presentationContexts[0]?.result).toBe(0);
  });

  test("uncompressed_only refuses a compressed-only proposal and picks a native one when offered", () => {
    const { ac } = negotiate(
      rq([
        [1, CT, [JPEG_LS]],
        [3, CT, [JPEG_LS, IMPLICIT]],
      ]),
      { ...policy, uncompressedOnly: true },
    );
    expect(ac.presentationContexts).toEqual([
      { id: 1, result: 4, transferSyntax: "" },
      { id: 3, result: 0, transferSyntax: IMPLICIT },
    ]);
  });

  test("role selection: the requestor may be SCU, we are never SCU; async window answered 1/1", () => {
    const { ac } = negotiate(
      rq([[1, CT, [EXPLICIT]]], (r) => {
        r.userInformation.roleSelections = [{ sopClassUid: CT, scuRole: true, scpRole: true }];
        r.userInformation.asyncOperationsWindow = { maxOperationsInvoked: 5, maxOperationsPerformed: 5 };
      }),
      policy,
    );
    expect(ac.userInformation.roleSelections).toEqual([{ sopClassUid: CT, scuRole: true, scpRole: false }]);
    expect(ac.userInformation.asyncOperationsWindow).toEqual({
      maxOperationsInvoked: 1,
      maxOperationsPerformed: 1,
    });
    expect(ac.userInformation.maxLength).toBe(131072);
  });

  test("a requestor asking only for the SCP role is refused on that context", () => {
    const { ac } = negotiate(
      rq([[1, CT, [EXPLICIT]]], (r) => {
        r.userInformation.roleSelections = [{ sopClassUid: CT, scuRole: false, scpRole: true }];
      }),
      policy,
    );
    expect(ac.presentationContexts[0]?.result).toBe(1);
  });
});
