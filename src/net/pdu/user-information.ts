// The User Information item (0x50) of A-ASSOCIATE-RQ/AC and its sub-items, PS3.8 9.3.2.3 / 9.3.3.3
// and PS3.7 Annex D.3.3: maximum length, implementation class UID and version name, asynchronous
// operations window, role selection, (common) extended negotiation and user identity. Sub-items we do
// not know are kept, so they round-trip and can be logged.

import { checkUint, readUid } from "./bytes.ts";
import type { PduError } from "./errors.ts";
import {
  FieldReader,
  hex,
  invalid,
  itemEnd,
  MAX_U16,
  MAX_U32,
  unexpected,
  type Writer,
} from "./primitives.ts";
import {
  emptyUserInformation,
  ItemType,
  type SopClassCommonExtendedNegotiation,
  type UserInformation,
} from "./types.ts";

/** Bytes of the whole item, header included. */
export function userInformationSize(ui: UserInformation): number {
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
export function writeUserInformation(w: Writer, ui: UserInformation): void {
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

function fixedLength(where: string, len: number, expected: number): void {
  if (len !== expected) throw invalid(`${where}: item length ${len}, expected ${expected}`);
}

function duplicate(where: string): PduError {
  return unexpected(`${where}: sub-item appears more than once`);
}

/** The value of a User Information item, b[start, end). */
export function decodeUserInformation(
  b: Uint8Array,
  dv: DataView,
  start: number,
  end: number,
): UserInformation {
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
