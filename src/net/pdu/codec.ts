// Encoder/decoder of whole DICOM Upper Layer PDUs, PS3.8 section 9.3 and PS3.7 Annex D.3.3.
//
// Decoding is defensive: every length read from the wire is checked against the bytes actually present
// before anything is read or allocated, and every failure is a PduError carrying the A-ABORT reason.
// Encoding computes the total size first and writes into a single Uint8Array.

import { checkUint, readAeTitle, readUid, writeLatin1, writeU32 } from "./bytes.ts";
import { PduError } from "./errors.ts";
import {
  type AbortPdu,
  AbortReason,
  type AssociateAcPdu,
  type AssociateRjPdu,
  type AssociateRqPdu,
  emptyUserInformation,
  ItemType,
  type PDataPdu,
  type Pdu,
  PduType,
  type Pdv,
  type PresentationContextAcItem,
  type PresentationContextRqItem,
  type SopClassCommonExtendedNegotiation,
  type UserInformation,
} from "./types.ts";

/** Bytes of the common PDU header: type, reserved, uint32 length. */
export const PDU_HEADER_LENGTH = 6;
/** Bytes of a PDV item header: uint32 item length, context id, message control header. */
export const PDV_HEADER_LENGTH = 6;
/** Bytes of the fixed part of A-ASSOCIATE-RQ/AC after the PDU header (PS3.8 Table 9-11 / 9-17). */
const ASSOCIATE_FIXED_LENGTH = 68;
const AE_TITLE_LENGTH = 16;
const MAX_U16 = 0xffff;
const MAX_U32 = 0xffffffff;

// ---------------------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------------------

class Writer {
  readonly buf: Uint8Array;
  private readonly dv: DataView;
  o = 0;

  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.dv = new DataView(this.buf.buffer);
  }

  u8(v: number): void {
    this.buf[this.o++] = v;
  }

  u16(v: number): void {
    this.dv.setUint16(this.o, v);
    this.o += 2;
  }

  u32(v: number): void {
    this.dv.setUint32(this.o, v);
    this.o += 4;
  }

  /** The buffer starts zeroed, so reserved fields are skipped. */
  skip(n: number): void {
    this.o += n;
  }

  str(s: string): void {
    this.o = writeLatin1(this.buf, this.o, s);
  }

  /** uint16 length followed by the string. */
  str16(name: string, s: string): void {
    checkUint(`${name} length`, s.length, MAX_U16);
    this.u16(s.length);
    this.str(s);
  }

  /** uint16 length followed by the bytes. */
  bytes16(name: string, b: Uint8Array): void {
    checkUint(`${name} length`, b.length, MAX_U16);
    this.u16(b.length);
    this.bytes(b);
  }

  bytes(b: Uint8Array): void {
    this.buf.set(b, this.o);
    this.o += b.length;
  }

  aeTitle(name: string, s: string): void {
    if (s.length > AE_TITLE_LENGTH) throw new RangeError(`${name} "${s}" is longer than 16 characters`);
    const end = this.o + AE_TITLE_LENGTH;
    this.str(s);
    this.buf.fill(0x20, this.o, end);
    this.o = end;
  }

  /** Writes an item header with a placeholder length; returns its offset for endItem. */
  beginItem(itemType: number): number {
    const start = this.o;
    this.buf[start] = itemType;
    this.o += 4;
    return start;
  }

  endItem(start: number): void {
    const len = this.o - start - 4;
    if (len > MAX_U16) {
      throw new RangeError(`item 0x${this.buf[start]!.toString(16)} length ${len} exceeds 65535`);
    }
    this.dv.setUint16(start + 2, len);
  }

  /** Item whose value is just a string (UIDs, names). */
  strItem(itemType: number, s: string): void {
    const start = this.beginItem(itemType);
    this.str(s);
    this.endItem(start);
  }
}

function presentationContextRqSize(pc: PresentationContextRqItem): number {
  let n = 4 + 4 + 4 + pc.abstractSyntax.length;
  for (const ts of pc.transferSyntaxes) n += 4 + ts.length;
  return n;
}

function presentationContextAcSize(pc: PresentationContextAcItem): number {
  return 4 + 4 + 4 + pc.transferSyntax.length;
}

function userInformationSize(ui: UserInformation): number {
  let n = 4;
  if (ui.maxLength !== undefined) n += 8;
  if (ui.implementationClassUid !== undefined) n += 4 + ui.implementationClassUid.length;
  if (ui.asyncOperationsWindow !== undefined) n += 8;
  for (const r of ui.roleSelections) n += 4 + 2 + r.sopClassUid.length + 2;
  if (ui.implementationVersionName !== undefined) n += 4 + ui.implementationVersionName.length;
  for (const e of ui.extendedNegotiations) {
    n += 4 + 2 + e.sopClassUid.length + e.serviceClassApplicationInformation.length;
  }
  for (const c of ui.commonExtendedNegotiations) {
    n += 4 + 2 + c.sopClassUid.length + 2 + c.serviceClassUid.length + 2;
    for (const r of c.relatedGeneralSopClassUids) n += 2 + r.length;
  }
  if (ui.userIdentityRq !== undefined) {
    n += 4 + 4 + ui.userIdentityRq.primaryField.length + 2 + ui.userIdentityRq.secondaryField.length;
  }
  if (ui.userIdentityAc !== undefined) n += 4 + 2 + ui.userIdentityAc.serverResponse.length;
  for (const u of ui.unknownItems) n += 4 + u.data.length;
  return n;
}

/** Sub-items are written in ascending item type (some old peers expect it), unknown ones last. */
function writeUserInformation(w: Writer, ui: UserInformation): void {
  const start = w.beginItem(ItemType.UserInformation);
  if (ui.maxLength !== undefined) {
    checkUint("maxLength", ui.maxLength, MAX_U32);
    const s = w.beginItem(ItemType.MaximumLength);
    w.u32(ui.maxLength);
    w.endItem(s);
  }
  if (ui.implementationClassUid !== undefined) {
    w.strItem(ItemType.ImplementationClassUid, ui.implementationClassUid);
  }
  if (ui.asyncOperationsWindow !== undefined) {
    const { maxOperationsInvoked, maxOperationsPerformed } = ui.asyncOperationsWindow;
    checkUint("maxOperationsInvoked", maxOperationsInvoked, MAX_U16);
    checkUint("maxOperationsPerformed", maxOperationsPerformed, MAX_U16);
    const s = w.beginItem(ItemType.AsynchronousOperationsWindow);
    w.u16(maxOperationsInvoked);
    w.u16(maxOperationsPerformed);
    w.endItem(s);
  }
  for (const r of ui.roleSelections) {
    const s = w.beginItem(ItemType.RoleSelection);
    w.str16("role selection SOP class UID", r.sopClassUid);
    w.u8(r.scuRole ? 1 : 0);
    w.u8(r.scpRole ? 1 : 0);
    w.endItem(s);
  }
  if (ui.implementationVersionName !== undefined) {
    w.strItem(ItemType.ImplementationVersionName, ui.implementationVersionName);
  }
  for (const e of ui.extendedNegotiations) {
    const s = w.beginItem(ItemType.SopClassExtendedNegotiation);
    w.str16("extended negotiation SOP class UID", e.sopClassUid);
    w.bytes(e.serviceClassApplicationInformation);
    w.endItem(s);
  }
  for (const c of ui.commonExtendedNegotiations) {
    const s = w.beginItem(ItemType.SopClassCommonExtendedNegotiation);
    w.str16("common extended negotiation SOP class UID", c.sopClassUid);
    w.str16("service class UID", c.serviceClassUid);
    const relStart = w.o;
    w.skip(2);
    for (const r of c.relatedGeneralSopClassUids) w.str16("related general SOP class UID", r);
    const relLen = w.o - relStart - 2;
    checkUint("related general SOP class identification length", relLen, MAX_U16);
    w.buf[relStart] = relLen >>> 8;
    w.buf[relStart + 1] = relLen & 0xff;
    w.endItem(s);
  }
  if (ui.userIdentityRq !== undefined) {
    const u = ui.userIdentityRq;
    checkUint("user identity type", u.identityType, 0xff);
    const s = w.beginItem(ItemType.UserIdentityRq);
    w.u8(u.identityType);
    w.u8(u.positiveResponseRequested ? 1 : 0);
    w.bytes16("user identity primary field", u.primaryField);
    w.bytes16("user identity secondary field", u.secondaryField);
    w.endItem(s);
  }
  if (ui.userIdentityAc !== undefined) {
    const s = w.beginItem(ItemType.UserIdentityAc);
    w.bytes16("user identity server response", ui.userIdentityAc.serverResponse);
    w.endItem(s);
  }
  for (const u of ui.unknownItems) {
    checkUint("unknown item type", u.itemType, 0xff);
    const s = w.beginItem(u.itemType);
    w.bytes(u.data);
    w.endItem(s);
  }
  w.endItem(start);
}

function encodeAssociate(pdu: AssociateRqPdu | AssociateAcPdu): Uint8Array {
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

function encodeFixed4(type: number, b7: number, b8: number, b9: number): Uint8Array {
  checkUint("PDU field", b7, 0xff);
  checkUint("PDU field", b8, 0xff);
  checkUint("PDU field", b9, 0xff);
  return Uint8Array.of(type, 0, 0, 0, 0, 4, 0, b7, b8, b9);
}

function encodePData(pdu: PDataPdu): Uint8Array {
  let size = PDU_HEADER_LENGTH;
  for (const pdv of pdu.pdvs) size += PDV_HEADER_LENGTH + pdv.data.length;
  checkUint("P-DATA-TF PDU length", size - PDU_HEADER_LENGTH, MAX_U32);
  const w = new Writer(size);
  w.u8(PduType.PData);
  w.skip(1);
  w.u32(size - PDU_HEADER_LENGTH);
  for (const pdv of pdu.pdvs) {
    checkUint("presentation context id", pdv.presentationContextId, 0xff);
    w.u32(pdv.data.length + 2);
    w.u8(pdv.presentationContextId);
    w.u8((pdv.isCommand ? 1 : 0) | (pdv.isLast ? 2 : 0));
    w.bytes(pdv.data);
  }
  return w.buf;
}

/** Encodes one whole PDU, header included. Throws RangeError on values the wire format cannot carry. */
export function encodePdu(pdu: Pdu): Uint8Array {
  switch (pdu.type) {
    case PduType.AssociateRq:
    case PduType.AssociateAc:
      return encodeAssociate(pdu);
    case PduType.AssociateRj:
      return encodeFixed4(PduType.AssociateRj, pdu.result, pdu.source, pdu.reason);
    case PduType.PData:
      return encodePData(pdu);
    case PduType.ReleaseRq:
    case PduType.ReleaseRp:
      return encodeFixed4(pdu.type, 0, 0, 0);
    case PduType.Abort:
      return encodeFixed4(PduType.Abort, 0, pdu.source, pdu.reason);
  }
}

/** Bytes of a P-DATA-TF PDU carrying one PDV, up to (excluding) the PDV's data. */
export const PDATA_PDV_HEADER_LENGTH = PDU_HEADER_LENGTH + PDV_HEADER_LENGTH;

/**
 * The 12 bytes (PDU header, PDV item length, context id, message control header) of a P-DATA-TF PDU
 * holding a single PDV of `dataLength` bytes; send the data right after them, uncopied.
 */
export function encodePDataPdvHeader(
  contextId: number,
  isCommand: boolean,
  isLast: boolean,
  dataLength: number,
): Uint8Array {
  checkUint("presentation context id", contextId, 0xff);
  checkUint("PDV data length", dataLength, MAX_U32 - PDV_HEADER_LENGTH);
  const b = new Uint8Array(PDATA_PDV_HEADER_LENGTH);
  b[0] = PduType.PData;
  writeU32(b, 2, dataLength + PDV_HEADER_LENGTH);
  writeU32(b, 6, dataLength + 2);
  b[10] = contextId;
  b[11] = (isCommand ? 1 : 0) | (isLast ? 2 : 0);
  return b;
}

// ---------------------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------------------

function invalid(message: string): PduError {
  return new PduError(message, AbortReason.InvalidPduParameterValue);
}

function unexpected(message: string): PduError {
  return new PduError(message, AbortReason.UnexpectedPduParameter);
}

function hex(t: number): string {
  return `0x${t.toString(16).padStart(2, "0")}`;
}

/**
 * Checks the item header at `o` (type, reserved, uint16 length) lies within [o, end) and so does its
 * value; returns the offset just past the value.
 */
function itemEnd(dv: DataView, o: number, end: number, where: string): number {
  if (end - o < 4) throw invalid(`${where}: truncated item header (${end - o} bytes left)`);
  const valueEnd = o + 4 + dv.getUint16(o + 2);
  if (valueEnd > end) {
    throw invalid(
      `${where}: item ${hex(dv.getUint8(o))} length ${valueEnd - o - 4} runs past its parent (${end - o - 4} bytes left)`,
    );
  }
  return valueEnd;
}

/** A cursor over one sub-item's value, for the few sub-items with inner length-prefixed fields. */
class FieldReader {
  constructor(
    private readonly b: Uint8Array,
    private readonly dv: DataView,
    public o: number,
    private readonly end: number,
    private readonly where: string,
  ) {}

  need(n: number): void {
    if (this.end - this.o < n) {
      throw invalid(`${this.where}: field of ${n} bytes runs past the item (${this.end - this.o} left)`);
    }
  }

  u8(): number {
    this.need(1);
    return this.dv.getUint8(this.o++);
  }

  u16(): number {
    this.need(2);
    const v = this.dv.getUint16(this.o);
    this.o += 2;
    return v;
  }

  /** uint16 length, then that many bytes as a UID. */
  uid16(): string {
    const n = this.u16();
    this.need(n);
    const s = readUid(this.b, this.o, this.o + n);
    this.o += n;
    return s;
  }

  /** uint16 length, then that many bytes (copied). */
  bytes16(): Uint8Array {
    const n = this.u16();
    this.need(n);
    const v = this.b.slice(this.o, this.o + n);
    this.o += n;
    return v;
  }

  /** The item must be consumed exactly. */
  done(): void {
    if (this.o !== this.end) throw invalid(`${this.where}: ${this.end - this.o} unexpected trailing bytes`);
  }
}

function fixedLength(where: string, len: number, expected: number): void {
  if (len !== expected) throw invalid(`${where}: item length ${len}, expected ${expected}`);
}

function duplicate(where: string): PduError {
  return unexpected(`${where}: sub-item appears more than once`);
}

function decodeUserInformation(b: Uint8Array, dv: DataView, start: number, end: number): UserInformation {
  const ui = emptyUserInformation();
  let o = start;
  while (o < end) {
    const t = dv.getUint8(o);
    const ve = itemEnd(dv, o, end, "user information");
    const vs = o + 4;
    const len = ve - vs;
    const where = `user information sub-item ${hex(t)}`;
    switch (t) {
      case ItemType.MaximumLength:
        fixedLength(where, len, 4);
        if (ui.maxLength !== undefined) throw duplicate(where);
        ui.maxLength = dv.getUint32(vs);
        break;
      case ItemType.ImplementationClassUid:
        if (ui.implementationClassUid !== undefined) throw duplicate(where);
        ui.implementationClassUid = readUid(b, vs, ve);
        break;
      case ItemType.AsynchronousOperationsWindow:
        fixedLength(where, len, 4);
        if (ui.asyncOperationsWindow !== undefined) throw duplicate(where);
        ui.asyncOperationsWindow = {
          maxOperationsInvoked: dv.getUint16(vs),
          maxOperationsPerformed: dv.getUint16(vs + 2),
        };
        break;
      case ItemType.RoleSelection: {
        const f = new FieldReader(b, dv, vs, ve, where);
        const sopClassUid = f.uid16();
        const scuRole = f.u8() !== 0;
        const scpRole = f.u8() !== 0;
        f.done();
        ui.roleSelections.push({ sopClassUid, scuRole, scpRole });
        break;
      }
      case ItemType.ImplementationVersionName:
        if (ui.implementationVersionName !== undefined) throw duplicate(where);
        ui.implementationVersionName = readUid(b, vs, ve);
        break;
      case ItemType.SopClassExtendedNegotiation: {
        const f = new FieldReader(b, dv, vs, ve, where);
        const sopClassUid = f.uid16();
        ui.extendedNegotiations.push({ sopClassUid, serviceClassApplicationInformation: b.slice(f.o, ve) });
        break;
      }
      case ItemType.SopClassCommonExtendedNegotiation:
        ui.commonExtendedNegotiations.push(decodeCommonExtendedNegotiation(b, dv, vs, ve, where));
        break;
      case ItemType.UserIdentityRq: {
        if (ui.userIdentityRq !== undefined) throw duplicate(where);
        const f = new FieldReader(b, dv, vs, ve, where);
        const identityType = f.u8();
        const positiveResponseRequested = f.u8() !== 0;
        const primaryField = f.bytes16();
        const secondaryField = f.bytes16();
        f.done();
        ui.userIdentityRq = { identityType, positiveResponseRequested, primaryField, secondaryField };
        break;
      }
      case ItemType.UserIdentityAc: {
        if (ui.userIdentityAc !== undefined) throw duplicate(where);
        const f = new FieldReader(b, dv, vs, ve, where);
        const serverResponse = f.bytes16();
        f.done();
        ui.userIdentityAc = { serverResponse };
        break;
      }
      default:
        ui.unknownItems.push({ itemType: t, data: b.slice(vs, ve) });
    }
    o = ve;
  }
  return ui;
}

function decodeCommonExtendedNegotiation(
  b: Uint8Array,
  dv: DataView,
  vs: number,
  ve: number,
  where: string,
): SopClassCommonExtendedNegotiation {
  const f = new FieldReader(b, dv, vs, ve, where);
  const sopClassUid = f.uid16();
  const serviceClassUid = f.uid16();
  const relLen = f.u16();
  f.need(relLen);
  const relEnd = f.o + relLen;
  if (relEnd !== ve) throw invalid(`${where}: ${ve - relEnd} unexpected trailing bytes`);
  const related = new FieldReader(b, dv, f.o, relEnd, `${where} related general SOP classes`);
  const relatedGeneralSopClassUids: string[] = [];
  while (related.o < relEnd) relatedGeneralSopClassUids.push(related.uid16());
  return { sopClassUid, serviceClassUid, relatedGeneralSopClassUids };
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

const KNOWN_ITEM_TYPES: ReadonlySet<number> = new Set(Object.values(ItemType));

function isKnownItemType(t: number): boolean {
  return KNOWN_ITEM_TYPES.has(t);
}

function decodeAssociate(b: Uint8Array, dv: DataView, isRq: boolean): AssociateRqPdu | AssociateAcPdu {
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

function decodePData(b: Uint8Array, dv: DataView): PDataPdu {
  const end = b.length;
  const pdvs: Pdv[] = [];
  let o = PDU_HEADER_LENGTH;
  while (o < end) {
    if (end - o < PDV_HEADER_LENGTH) throw invalid(`P-DATA-TF: truncated PDV header (${end - o} bytes left)`);
    const len = dv.getUint32(o);
    if (len < 2) throw invalid(`P-DATA-TF: PDV item length ${len} is shorter than 2`);
    if (len > end - o - 4) throw invalid(`P-DATA-TF: PDV item length ${len} runs past the PDU`);
    const mch = dv.getUint8(o + 5);
    pdvs.push({
      presentationContextId: dv.getUint8(o + 4),
      isCommand: (mch & 1) !== 0,
      isLast: (mch & 2) !== 0,
      data: b.subarray(o + PDV_HEADER_LENGTH, o + 4 + len),
    });
    o += 4 + len;
  }
  return { type: PduType.PData, pdvs };
}

function checkFixed4(name: string, length: number): void {
  if (length !== 4) throw invalid(`${name} PDU length ${length}, expected 4`);
}

/** Whether `t` is one of the seven PDU types of PS3.8 Table 9-1. */
export function isKnownPduType(t: number): boolean {
  return t >= PduType.AssociateRq && t <= PduType.Abort;
}

/**
 * Decodes one whole PDU (6-byte header included; `bytes.length` must match the length field).
 * P-DATA-TF PDV data are views into `bytes`; byte fields of the other PDUs are copies.
 * Throws only PduError.
 */
export function decodePdu(bytes: Uint8Array): Pdu {
  if (bytes.length < PDU_HEADER_LENGTH) throw invalid(`truncated PDU header (${bytes.length} bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = dv.getUint8(0);
  if (!isKnownPduType(type))
    throw new PduError(`unrecognized PDU type ${hex(type)}`, AbortReason.UnrecognizedPdu);
  const length = dv.getUint32(2);
  if (length !== bytes.length - PDU_HEADER_LENGTH) {
    throw invalid(
      `PDU length field ${length} disagrees with the ${bytes.length - PDU_HEADER_LENGTH} bytes present`,
    );
  }
  switch (type) {
    case PduType.AssociateRq:
    case PduType.AssociateAc:
      return decodeAssociate(bytes, dv, type === PduType.AssociateRq);
    case PduType.AssociateRj: {
      checkFixed4("A-ASSOCIATE-RJ", length);
      const pdu: AssociateRjPdu = {
        type: PduType.AssociateRj,
        result: dv.getUint8(7),
        source: dv.getUint8(8),
        reason: dv.getUint8(9),
      };
      return pdu;
    }
    case PduType.PData:
      return decodePData(bytes, dv);
    case PduType.ReleaseRq:
      checkFixed4("A-RELEASE-RQ", length);
      return { type: PduType.ReleaseRq };
    case PduType.ReleaseRp:
      checkFixed4("A-RELEASE-RP", length);
      return { type: PduType.ReleaseRp };
    default: {
      checkFixed4("A-ABORT", length);
      const pdu: AbortPdu = { type: PduType.Abort, source: dv.getUint8(8), reason: dv.getUint8(9) };
      return pdu;
    }
  }
}
