// Presentation context negotiation of an A-ASSOCIATE-RQ (PS3.8 9.3.3.2, PS3.7 Annex D.3.3), and the
// rejections the Upper Layer decides by itself. Pure: the association hands in the RQ and the policy,
// and gets the AC to send.

import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from "../dicom/implementation.ts";
import { isStorageSopClass, VERIFICATION_SOP_CLASS } from "../dicom/sop-classes.ts";
import { isNativeTransferSyntax, transferSyntaxInfo } from "../dicom/transfer-syntax.ts";
import {
  type AssociateAcPdu,
  type AssociateRqPdu,
  DICOM_APPLICATION_CONTEXT,
  PduType,
  type PresentationContextAcItem,
  PresentationContextResult,
  type RoleSelection,
  type UserInformation,
} from "./pdu/types.ts";
import { type AssociateRejection, Rejection } from "./rejections.ts";

export interface NegotiationPolicy {
  /** Accept any abstract syntax, not only Storage and Verification. */
  promiscuous: boolean;
  /** Accept only uncompressed (native) transfer syntaxes. */
  uncompressedOnly: boolean;
  /** Max PDU length we can receive (0 = unlimited), announced in the AC. */
  maxPduLength: number;
}

/** An accepted presentation context: what a P-DATA on this id means. */
export interface AcceptedContext {
  id: number;
  abstractSyntax: string;
  transferSyntax: string;
}

export interface NegotiationResult {
  ac: AssociateAcPdu;
  accepted: Map<number, AcceptedContext>;
}

/** Transfer syntaxes we can store as received: every one we can parse (its VR and byte order known). */
function storableAsReceived(ts: string, policy: NegotiationPolicy): boolean {
  const info = transferSyntaxInfo(ts);
  if (!info) return false;
  return policy.uncompressedOnly ? isNativeTransferSyntax(ts) : true;
}

function abstractSyntaxSupported(uid: string, policy: NegotiationPolicy): boolean {
  return uid === VERIFICATION_SOP_CLASS || isStorageSopClass(uid) || policy.promiscuous;
}

/**
 * Decide every proposed context. The transfer syntax is the first one the requestor proposes among those
 * we can store without transcoding, so a bit-preserving sender stays bit-preserving (the requestor lists
 * its preference first, PS3.8 9.3.2.2).
 */
export function negotiate(rq: AssociateRqPdu, policy: NegotiationPolicy): NegotiationResult {
  const accepted = new Map<number, AcceptedContext>();
  const seen = new Set<number>();
  const contexts: PresentationContextAcItem[] = [];
  const roleBySop = new Map(rq.userInformation.roleSelections.map((r) => [r.sopClassUid, r]));

  for (const pc of rq.presentationContexts) {
    const reply = (result: number, transferSyntax = ""): void => {
      contexts.push({ id: pc.id, result, transferSyntax });
    };
    // Presentation context IDs are odd and unique (PS3.8 9.3.2.2); a bad one is refused alone.
    if (pc.id % 2 === 0 || seen.has(pc.id)) {
      reply(PresentationContextResult.NoReason);
      continue;
    }
    seen.add(pc.id);
    if (!abstractSyntaxSupported(pc.abstractSyntax, policy)) {
      reply(PresentationContextResult.AbstractSyntaxNotSupported);
      continue;
    }
    // A requestor that proposes only the SCP role for a storage class wants us as SCU: we cannot be.
    const role = roleBySop.get(pc.abstractSyntax);
    if (role && !role.scuRole) {
      reply(PresentationContextResult.UserRejection);
      continue;
    }
    const ts = pc.transferSyntaxes.find((t) => storableAsReceived(t, policy));
    if (ts === undefined) {
      reply(PresentationContextResult.TransferSyntaxesNotSupported);
      continue;
    }
    reply(PresentationContextResult.Acceptance, ts);
    accepted.set(pc.id, { id: pc.id, abstractSyntax: pc.abstractSyntax, transferSyntax: ts });
  }

  return {
    accepted,
    ac: {
      type: PduType.AssociateAc,
      protocolVersion: 1,
      calledAeTitle: rq.calledAeTitle,
      callingAeTitle: rq.callingAeTitle,
      applicationContext: rq.applicationContext,
      presentationContexts: contexts,
      userInformation: acceptorUserInformation(rq.userInformation, policy),
    },
  };
}

function acceptorUserInformation(rq: UserInformation, policy: NegotiationPolicy): UserInformation {
  // SCP/SCU role selection, PS3.7 D.3.3.4: we accept the requestor as SCU and never act as SCU ourselves.
  const roleSelections: RoleSelection[] = rq.roleSelections.map((r) => ({
    sopClassUid: r.sopClassUid,
    scuRole: r.scuRole,
    scpRole: false,
  }));
  const ui: UserInformation = {
    maxLength: policy.maxPduLength,
    implementationClassUid: IMPLEMENTATION_CLASS_UID,
    implementationVersionName: IMPLEMENTATION_VERSION_NAME,
    roleSelections,
    // SOP Class (Common) Extended Negotiation: none supported, so no reply items (PS3.7 D.3.3.5).
    extendedNegotiations: [],
    commonExtendedNegotiations: [],
    unknownItems: [],
  };
  // Asynchronous Operations Window, PS3.7 D.3.3.3: we perform operations one at a time.
  if (rq.asyncOperationsWindow) {
    ui.asyncOperationsWindow = { maxOperationsInvoked: 1, maxOperationsPerformed: 1 };
  }
  return ui;
}

/**
 * The Upper Layer's own reasons to reject an A-ASSOCIATE-RQ, whatever the service-user would decide
 * (PS3.8 9.3.2, Table 9-21): a protocol version without bit 0, an application context other than DICOM's.
 */
export function requestRejection(rq: AssociateRqPdu): { rejection: AssociateRejection; why: string } | null {
  if ((rq.protocolVersion & 1) === 0) {
    return {
      rejection: Rejection.ProtocolVersionNotSupported,
      why: `protocol version ${rq.protocolVersion} not supported`,
    };
  }
  if (rq.applicationContext !== DICOM_APPLICATION_CONTEXT) {
    return {
      rejection: Rejection.ApplicationContextNotSupported,
      why: `application context ${rq.applicationContext} not supported`,
    };
  }
  return null;
}
