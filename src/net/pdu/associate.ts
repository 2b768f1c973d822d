// The association establishment PDUs: A-ASSOCIATE-RQ and -AC (PS3.8 9.3.2, 9.3.3) with their
// application context, presentation context and user information items, and A-ASSOCIATE-RJ (9.3.4).

import { checkUint, readAeTitle, readUid } from "./bytes.ts";
import {
  checkFixed4,
  encodeFixed4,
  hex,
  invalid,
  isKnownItemType,
  itemEnd,
  MAX_U16,
  MAX_U32,
  PDU_HEADER_LENGTH,
  unexpected,
  Writer,
} from "./primitives.ts";
import {
  type AssociateAcPdu,
  type AssociateRjPdu,
  type AssociateRqPdu,
  emptyUserInformation,
  ItemType,
  PduType,
  type PresentationContextAcItem,
  type PresentationContextRqItem,
  type UserInformation,
} from "./types.ts";
import { decodeUserInformation, userInformationSize, writeUserInformation } from "./user-information.ts";

/** Bytes of the fixed part of A-ASSOCIATE-RQ/AC after the PDU header (PS3.8 Table 9-11 / 9-17). */
const ASSOCIATE_FIXED_LENGTH = 68;

function presentationContextRqSize(pc: PresentationContextRqItem): number {
  let n = 4 + 4 + 4 + pc.abstractSyntax.length;
  for (const ts of pc.transferSyntaxes) n += 4 + ts.length;
  return n;
}

function presentationContextAcSize(pc: PresentationContextAcItem): number {
  return 4 + 4 + 4 + pc.transferSyntax.length;
}

export function encodeAssociate(pdu: AssociateRqPdu | AssociateAcPdu): Uint8Array {
  checkUint("protocolVersion", pdu.protocolVersion, MAX_U16);
  let size = PDU_HEADER_LENGTH + ASSOCIATE_FIXED_LENGTH + 4 + pdu.applicationContext.length;
  if (pdu.type === PduType.AssociateRq) {
    for (const pc of pdu.presentationContexts) size += presentationContextRqSize(pc);
  } else {
    for (const pc of pdu.presentationContexts) size += presentationContextAcSize(pc);
  }
  size += userInformationSize(pdu.userInformation);
  checkUint("PDU length", size - PDU_HEADER_LENGTH, MAX_U32);

  const w = new Writer(size);
  w.u8(pdu.type);
  w.skip(1);
  w.u32(size - PDU_HEADER_LENGTH);
  w.u16(pdu.protocolVersion);
  w.skip(2);
  w.aeTitle("calledAeTitle", pdu.calledAeTitle);
  w.aeTitle("callingAeTitle", pdu.callingAeTitle);
  w.skip(32);
  w.strItem(ItemType.ApplicationContext, pdu.applicationContext);
  if (pdu.type === PduType.AssociateRq) {
    for (const pc of pdu.presentationContexts) {
      checkUint("presentation context id", pc.id, 0xff);
      const s = w.beginItem(ItemType.PresentationContextRq);
      w.u8(pc.id);
      w.skip(3);
      w.strItem(ItemType.AbstractSyntax, pc.abstractSyntax);
      for (const ts of pc.transferSyntaxes) w.strItem(ItemType.TransferSyntax, ts);
      w.endItem(s);
    }
  } else {
    for (const pc of pdu.presentationContexts) {
      checkUint("presentation context id", pc.id, 0xff);
      checkUint("presentation context result", pc.result, 0xff);
      const s = w.beginItem(ItemType.PresentationContextAc);
      w.u8(pc.id);
      w.skip(1);
      w.u8(pc.result);
      w.skip(1);
      w.strItem(ItemType.TransferSyntax, pc.transferSyntax);
      w.endItem(s);
    }
  }
  writeUserInformation(w, pdu.userInformation);
  if (w.o !== size) throw new Error(`internal: A-ASSOCIATE size ${size} but wrote ${w.o}`);
  return w.buf;
}

export function encodeAssociateRj(pdu: AssociateRjPdu): Uint8Array {
  return encodeFixed4(PduType.AssociateRj, pdu.result, pdu.source, pdu.reason);
}

function decodePresentationContextRq(
  b: Uint8Array,
  dv: DataView,
  vs: number,
  ve: number,
): PresentationContextRqItem {
  if (ve - vs < 4) throw invalid(`presentation context item length ${ve - vs} is shorter than 4`);
  const id = dv.getUint8(vs);
  let abstractSyntax: string | undefined;
  const transferSyntaxes: string[] = [];
  let o = vs + 4;
  while (o < ve) {
    const t = dv.getUint8(o);
    const e = itemEnd(dv, o, ve, `presentation context ${id}`);
    if (t === ItemType.AbstractSyntax) {
      if (abstractSyntax !== undefined) throw unexpected(`presentation context ${id}: two abstract syntaxes`);
      abstractSyntax = readUid(b, o + 4, e);
    } else if (t === ItemType.TransferSyntax) {
      transferSyntaxes.push(readUid(b, o + 4, e));
    } else if (isKnownItemType(t)) {
      throw unexpected(`presentation context ${id}: unexpected sub-item ${hex(t)}`);
    } // else: unrecognized items are ignored and skipped (PS3.8 9.3.1)
    o = e;
  }
  if (abstractSyntax === undefined) throw invalid(`presentation context ${id}: no abstract syntax sub-item`);
  return { id, abstractSyntax, transferSyntaxes };
}

function decodePresentationContextAc(
  b: Uint8Array,
  dv: DataView,
  vs: number,
  ve: number,
): PresentationContextAcItem {
  if (ve - vs < 4) throw invalid(`presentation context item length ${ve - vs} is shorter than 4`);
  const id = dv.getUint8(vs);
  const result = dv.getUint8(vs + 2);
  let transferSyntax: string | undefined;
  let o = vs + 4;
  while (o < ve) {
    const t = dv.getUint8(o);
    const e = itemEnd(dv, o, ve, `presentation context ${id}`);
    if (t === ItemType.TransferSyntax) {
      if (transferSyntax !== undefined) throw unexpected(`presentation context ${id}: two transfer syntaxes`);
      transferSyntax = readUid(b, o + 4, e);
    } else if (isKnownItemType(t)) {
      throw unexpected(`presentation context ${id}: unexpected sub-item ${hex(t)}`);
    }
    o = e;
  }
  // A rejected context's transfer syntax is not significant; some peers leave the sub-item out.
  return { id, result, transferSyntax: transferSyntax ?? "" };
}

/** A whole A-ASSOCIATE-RQ or -AC, header included (its length already checked against `b`). */
export function decodeAssociate(b: Uint8Array, dv: DataView, isRq: boolean): AssociateRqPdu | AssociateAcPdu {
  const name = isRq ? "A-ASSOCIATE-RQ" : "A-ASSOCIATE-AC";
  const end = b.length;
  if (end < PDU_HEADER_LENGTH + ASSOCIATE_FIXED_LENGTH) {
    throw invalid(`${name} PDU length ${end - PDU_HEADER_LENGTH} is shorter than its fixed part`);
  }
  const protocolVersion = dv.getUint16(6);
  const calledAeTitle = readAeTitle(b, 10, 26);
  const callingAeTitle = readAeTitle(b, 26, 42);
  let applicationContext: string | undefined;
  let userInformation: UserInformation | undefined;
  const rqContexts: PresentationContextRqItem[] = [];
  const acContexts: PresentationContextAcItem[] = [];
  const ownContextType = isRq ? ItemType.PresentationContextRq : ItemType.PresentationContextAc;

  let o = PDU_HEADER_LENGTH + ASSOCIATE_FIXED_LENGTH;
  while (o < end) {
    const t = dv.getUint8(o);
    const ve = itemEnd(dv, o, end, name);
    const vs = o + 4;
    if (t === ItemType.ApplicationContext) {
      if (applicationContext !== undefined) throw unexpected(`${name}: two application context items`);
      applicationContext = readUid(b, vs, ve);
    } else if (t === ownContextType) {
      if (isRq) rqContexts.push(decodePresentationContextRq(b, dv, vs, ve));
      else acContexts.push(decodePresentationContextAc(b, dv, vs, ve));
    } else if (t === ItemType.UserInformation) {
      if (userInformation !== undefined) throw unexpected(`${name}: two user information items`);
      userInformation = decodeUserInformation(b, dv, vs, ve);
    } else if (isKnownItemType(t)) {
      throw unexpected(`${name}: unexpected item ${hex(t)}`);
    } // else: unrecognized items are ignored and skipped (PS3.8 9.3.1)
    o = ve;
  }
  if (applicationContext === undefined) throw invalid(`${name}: no application context item`);
  const common = {
    protocolVersion,
    calledAeTitle,
    callingAeTitle,
    applicationContext,
    userInformation: userInformation ?? emptyUserInformation(),
  };
  return isRq
    ? { type: PduType.AssociateRq, ...common, presentationContexts: rqContexts }
    : { type: PduType.AssociateAc, ...common, presentationContexts: acContexts };
}

export function decodeAssociateRj(dv: DataView, length: number): AssociateRjPdu {
  checkFixed4("A-ASSOCIATE-RJ", length);
  return {
    type: PduType.AssociateRj,
    result: dv.getUint8(7),
    source: dv.getUint8(8),
    reason: dv.getUint8(9),
  };
}
