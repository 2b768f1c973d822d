// fast-check arbitraries for every PDU and item of src/net/pdu/types.ts, limited to values the wire format
// carries without loss (AE titles without leading/trailing spaces, UIDs without trailing NUL/space).

import fc from "fast-check";
import {
  type AbortPdu,
  type AssociateAcPdu,
  type AssociateRjPdu,
  type AssociateRqPdu,
  type PDataPdu,
  type Pdu,
  PduType,
  type Pdv,
  type PresentationContextAcItem,
  type PresentationContextRqItem,
  type ReleaseRpPdu,
  type ReleaseRqPdu,
  type RoleSelection,
  type SopClassCommonExtendedNegotiation,
  type SopClassExtendedNegotiation,
  type UnknownItem,
  type UserIdentityAc,
  type UserIdentityRq,
  type UserInformation,
} from "../../../src/net/pdu/types.ts";

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

const printableChar = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const latin1Char = fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c));

/** Any single-byte string the codec must carry byte for byte, minus the padding it strips. */
function latin1Text(maxLength: number): fc.Arbitrary<string> {
  return fc.string({ unit: latin1Char, maxLength }).map((s) => s.replace(/[\0 ]+$/, ""));
}

export const aeTitle: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: printableChar, maxLength: 16 }).map((s) => s.replace(/^ +/, "").replace(/ +$/, "")),
  fc.string({ unit: latin1Char, maxLength: 16 }).map((s) => s.replace(/^ +/, "").replace(/[\0 ]+$/, "")),
);

const dottedUid = fc
  .array(fc.integer({ min: 0, max: 99999 }), { minLength: 1, maxLength: 12 })
  .map((a) => a.join("."));

export const uid: fc.Arbitrary<string> = fc.oneof({ weight: 4, arbitrary: dottedUid }, latin1Text(70));

const bytes = (maxLength: number) => fc.uint8Array({ maxLength });

export const presentationContextRq: fc.Arbitrary<PresentationContextRqItem> = fc.record({
  id: u8,
  abstractSyntax: uid,
  transferSyntaxes: fc.array(uid, { maxLength: 4 }),
});

export const presentationContextAc: fc.Arbitrary<PresentationContextAcItem> = fc.record({
  id: u8,
  result: u8,
  transferSyntax: uid,
});

const roleSelection: fc.Arbitrary<RoleSelection> = fc.record({
  sopClassUid: uid,
  scuRole: fc.boolean(),
  scpRole: fc.boolean(),
});

const extendedNegotiation: fc.Arbitrary<SopClassExtendedNegotiation> = fc.record({
  sopClassUid: uid,
  serviceClassApplicationInformation: bytes(16),
});

const commonExtendedNegotiation: fc.Arbitrary<SopClassCommonExtendedNegotiation> = fc.record({
  sopClassUid: uid,
  serviceClassUid: uid,
  relatedGeneralSopClassUids: fc.array(uid, { maxLength: 3 }),
});

const userIdentityRq: fc.Arbitrary<UserIdentityRq> = fc.record({
  identityType: u8,
  positiveResponseRequested: fc.boolean(),
  primaryField: bytes(40),
  secondaryField: bytes(40),
});

const userIdentityAc: fc.Arbitrary<UserIdentityAc> = fc.record({ serverResponse: bytes(40) });

/** Any sub-item type the codec does not know inside a User Information item. */
const unknownItem: fc.Arbitrary<UnknownItem> = fc.record({
  itemType: u8.filter((t) => t < 0x51 || t > 0x59),
  data: bytes(24),
});

export const userInformation: fc.Arbitrary<UserInformation> = fc.record(
  {
    maxLength: u32,
    implementationClassUid: uid,
    implementationVersionName: latin1Text(16),
    asyncOperationsWindow: fc.record({ maxOperationsInvoked: u16, maxOperationsPerformed: u16 }),
    roleSelections: fc.array(roleSelection, { maxLength: 3 }),
    extendedNegotiations: fc.array(extendedNegotiation, { maxLength: 2 }),
    commonExtendedNegotiations: fc.array(commonExtendedNegotiation, { maxLength: 2 }),
    userIdentityRq,
    userIdentityAc,
    unknownItems: fc.array(unknownItem, { maxLength: 3 }),
  },
  { requiredKeys: ["roleSelections", "extendedNegotiations", "commonExtendedNegotiations", "unknownItems"] },
);

export const associateRq: fc.Arbitrary<AssociateRqPdu> = fc.record({
  type: fc.constant(PduType.AssociateRq),
  protocolVersion: u16,
  calledAeTitle: aeTitle,
  callingAeTitle: aeTitle,
  applicationContext: uid,
  presentationContexts: fc.array(presentationContextRq, { maxLength: 5 }),
  userInformation,
});

export const associateAc: fc.Arbitrary<AssociateAcPdu> = fc.record({
  type: fc.constant(PduType.AssociateAc),
  protocolVersion: u16,
  calledAeTitle: aeTitle,
  callingAeTitle: aeTitle,
  applicationContext: uid,
  presentationContexts: fc.array(presentationContextAc, { maxLength: 5 }),
  userInformation,
});

export const associateRj: fc.Arbitrary<AssociateRjPdu> = fc.record({
  type: fc.constant(PduType.AssociateRj),
  result: u8,
  source: u8,
  reason: u8,
});

export const pdv: fc.Arbitrary<Pdv> = fc.record({
  presentationContextId: u8,
  isCommand: fc.boolean(),
  isLast: fc.boolean(),
  data: fc.oneof({ weight: 4, arbitrary: bytes(64) }, bytes(600)),
});

export const pData: fc.Arbitrary<PDataPdu> = fc.record({
  type: fc.constant(PduType.PData),
  pdvs: fc.array(pdv, { maxLength: 4 }),
});

export const releaseRq: fc.Arbitrary<ReleaseRqPdu> = fc.constant({ type: PduType.ReleaseRq });
export const releaseRp: fc.Arbitrary<ReleaseRpPdu> = fc.constant({ type: PduType.ReleaseRp });

export const abort: fc.Arbitrary<AbortPdu> = fc.record({
  type: fc.constant(PduType.Abort),
  source: u8,
  reason: u8,
});

export const anyPdu: fc.Arbitrary<Pdu> = fc.oneof(
  associateRq,
  associateAc,
  associateRj,
  pData,
  releaseRq,
  releaseRp,
  abort,
);

/** Concatenation of byte arrays. */
export { concatBytes as concat } from "../../../src/util/bytes.ts";
