// DICOM Part 10 file meta information (PS3.10 7.1): build for storage, parse for tests and the SCU side.

import { trimmedLatin1 } from "../util/bytes.ts";
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from "./implementation.ts";
import { hasShortLength, isVrLetters } from "./vr.ts";

export const PREAMBLE_LENGTH = 128;

export interface FileMetaInput {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  /** (0002,0016) Source Application Entity Title: the AE that wrote the file (usually the calling AE). */
  sourceAeTitle?: string;
  /** (0002,0017) Sending Application Entity Title. */
  sendingAeTitle?: string;
  /** (0002,0018) Receiving Application Entity Title. */
  receivingAeTitle?: string;
}

export interface FileMeta {
  transferSyntaxUid: string;
  mediaStorageSopClassUid?: string;
  mediaStorageSopInstanceUid?: string;
  implementationClassUid?: string;
  implementationVersionName?: string;
  sourceAeTitle?: string;
  sendingAeTitle?: string;
  receivingAeTitle?: string;
}

export interface ParsedFileMeta {
  meta: FileMeta;
  /** Offset of the data set (first byte after group 0002) in the input. */
  dataSetOffset: number;
}

type Piece = { tag: number; vr: string; value: string; pad: number };

/**
 * Preamble (128 zero bytes) + "DICM" + group 0002 in Explicit VR Little Endian, including the
 * (0002,0000) group length. UI values are padded with NUL, others with a space, to even length.
 */
export function buildFileMeta(m: FileMetaInput): Uint8Array {
  const pieces: Piece[] = [
    { tag: 0x00020002, vr: "UI", value: m.sopClassUid, pad: 0 },
    { tag: 0x00020003, vr: "UI", value: m.sopInstanceUid, pad: 0 },
    { tag: 0x00020010, vr: "UI", value: m.transferSyntaxUid, pad: 0 },
    { tag: 0x00020012, vr: "UI", value: IMPLEMENTATION_CLASS_UID, pad: 0 },
    { tag: 0x00020013, vr: "SH", value: IMPLEMENTATION_VERSION_NAME, pad: 0x20 },
  ];
  if (m.sourceAeTitle) pieces.push({ tag: 0x00020016, vr: "AE", value: m.sourceAeTitle, pad: 0x20 });
  if (m.sendingAeTitle) pieces.push({ tag: 0x00020017, vr: "AE", value: m.sendingAeTitle, pad: 0x20 });
  if (m.receivingAeTitle) pieces.push({ tag: 0x00020018, vr: "AE", value: m.receivingAeTitle, pad: 0x20 });

  // (0002,0001) OB: 12-byte header + 2 value bytes.
  let groupLength = 14;
  for (const p of pieces) {
    const len = p.value.length + (p.value.length & 1);
    if (len > 0xffff) throw new RangeError(`file meta value too long for (0002,${hex4(p.tag & 0xffff)})`);
    groupLength += 8 + len;
  }
  // Element (0002,0000) UL itself: 8-byte header + 4.
  const total = PREAMBLE_LENGTH + 4 + 12 + groupLength;
  const out = new Uint8Array(total);
  let o = PREAMBLE_LENGTH;
  out[o++] = 0x44; // D
  out[o++] = 0x49; // I
  out[o++] = 0x43; // C
  out[o++] = 0x4d; // M

  o = writeShortHeader(out, o, 0x00020000, "UL", 4);
  writeU32(out, o, groupLength);
  o += 4;

  // (0002,0001) File Meta Information Version, OB 00\01
  writeTag(out, o, 0x00020001);
  out[o + 4] = 0x4f; // O
  out[o + 5] = 0x42; // B
  // bytes o+6, o+7 reserved = 0
  writeU32(out, o + 8, 2);
  out[o + 12] = 0x00;
  out[o + 13] = 0x01;
  o += 14;

  for (const p of pieces) {
    const n = p.value.length;
    const len = n + (n & 1);
    o = writeShortHeader(out, o, p.tag, p.vr, len);
    for (let i = 0; i < n; i++) out[o + i] = p.value.charCodeAt(i) & 0xff;
    if (n & 1) out[o + n] = p.pad;
    o += len;
  }
  return out;
}

/**
 * Parse the preamble, "DICM" prefix and the group 0002 elements (Explicit VR Little Endian) of a Part 10
 * file. `bytes` needs to hold at least the whole file meta. Throws an Error describing the problem on a
 * non-Part-10 or truncated input.
 */
export function readFileMeta(bytes: Uint8Array): ParsedFileMeta {
  if (
    bytes.length < PREAMBLE_LENGTH + 4 ||
    bytes[128] !== 0x44 ||
    bytes[129] !== 0x49 ||
    bytes[130] !== 0x43 ||
    bytes[131] !== 0x4d
  ) {
    throw new Error('not a DICOM Part 10 file: no "DICM" prefix after the 128-byte preamble');
  }
  const fields: Partial<FileMeta> = {};
  let o = PREAMBLE_LENGTH + 4;
  while (o + 4 <= bytes.length) {
    const group = u16(bytes, o);
    if (group !== 0x0002) break;
    const element = u16(bytes, o + 2);
    const where = `(0002,${hex4(element)})`;
    if (o + 8 > bytes.length) throw new Error(`truncated file meta element ${where}`);
    const v0 = bytes[o + 4] ?? 0;
    const v1 = bytes[o + 5] ?? 0;
    if (!isVrLetters(v0, v1)) {
      throw new Error(`file meta element ${where} is not in Explicit VR Little Endian (no valid VR)`);
    }
    const vr = String.fromCharCode(v0, v1);
    let len: number;
    if (hasShortLength(vr)) {
      len = u16(bytes, o + 6);
      o += 8;
    } else {
      if (o + 12 > bytes.length) throw new Error(`truncated file meta element ${where}`);
      len = u32(bytes, o + 8);
      o += 12;
    }
    if (len === 0xffffffff) throw new Error(`undefined length in file meta element ${where}`);
    if (o + len > bytes.length) throw new Error(`truncated file meta element ${where}`);
    const key = META_KEYS.get(element);
    if (key !== undefined) fields[key] = trimmedLatin1(bytes, o, o + len, vr !== "UI");
    o += len;
  }
  if (o === PREAMBLE_LENGTH + 4) throw new Error("not a DICOM Part 10 file: no group 0002 after DICM");
  if (fields.transferSyntaxUid === undefined || fields.transferSyntaxUid === "") {
    throw new Error("file meta has no Transfer Syntax UID (0002,0010)");
  }
  const meta: FileMeta = { ...fields, transferSyntaxUid: fields.transferSyntaxUid };
  return { meta, dataSetOffset: o };
}

const META_KEYS: ReadonlyMap<number, keyof FileMeta> = new Map<number, keyof FileMeta>([
  [0x0002, "mediaStorageSopClassUid"],
  [0x0003, "mediaStorageSopInstanceUid"],
  [0x0010, "transferSyntaxUid"],
  [0x0012, "implementationClassUid"],
  [0x0013, "implementationVersionName"],
  [0x0016, "sourceAeTitle"],
  [0x0017, "sendingAeTitle"],
  [0x0018, "receivingAeTitle"],
]);

function writeTag(out: Uint8Array, o: number, tag: number): void {
  out[o] = (tag >>> 16) & 0xff;
  out[o + 1] = tag >>> 24;
  out[o + 2] = tag & 0xff;
  out[o + 3] = (tag >>> 8) & 0xff;
}

function writeShortHeader(out: Uint8Array, o: number, tag: number, vr: string, len: number): number {
  writeTag(out, o, tag);
  out[o + 4] = vr.charCodeAt(0);
  out[o + 5] = vr.charCodeAt(1);
  out[o + 6] = len & 0xff;
  out[o + 7] = len >>> 8;
  return o + 8;
}

function writeU32(out: Uint8Array, o: number, v: number): void {
  out[o] = v & 0xff;
  out[o + 1] = (v >>> 8) & 0xff;
  out[o + 2] = (v >>> 16) & 0xff;
  out[o + 3] = v >>> 24;
}

function u16(b: Uint8Array, o: number): number {
  return (b[o] ?? 0) | ((b[o + 1] ?? 0) << 8);
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] ?? 0) | ((b[o + 1] ?? 0) << 8) | ((b[o + 2] ?? 0) << 16) | ((b[o + 3] ?? 0) << 24)) >>> 0;
}

function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, "0");
}
