// What the per-family PDU codecs share (PS3.8 9.3.1): the common header's size, the writer that fills a
// buffer sized beforehand, the item header check and the field reader used when decoding, and the
// PduErrors a malformed value becomes.
//
// Decoding is defensive: every length read from the wire is checked against the bytes actually present
// before anything is read or allocated, and every failure is a PduError carrying the A-ABORT reason.
// Encoding computes the total size first and writes into a single Uint8Array.

import { checkUint, readUid, writeLatin1 } from "./bytes.ts";
import { PduError } from "./errors.ts";
import { AbortReason, ItemType } from "./types.ts";

/** Bytes of the common PDU header: type, reserved, uint32 length. */
export const PDU_HEADER_LENGTH = 6;
export const MAX_U16 = 0xffff;
export const MAX_U32 = 0xffffffff;
const AE_TITLE_LENGTH = 16;

export class Writer {
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

/** A PDU of the fixed 4-byte-value layout (A-ASSOCIATE-RJ, A-RELEASE-RQ/RP, A-ABORT): bytes 7..9. */
export function encodeFixed4(type: number, b7: number, b8: number, b9: number): Uint8Array {
  checkUint("PDU field", b7, 0xff);
  checkUint("PDU field", b8, 0xff);
  checkUint("PDU field", b9, 0xff);
  return Uint8Array.of(type, 0, 0, 0, 0, 4, 0, b7, b8, b9);
}

export function checkFixed4(name: string, length: number): void {
  if (length !== 4) throw invalid(`${name} PDU length ${length}, expected 4`);
}

export function invalid(message: string): PduError {
  return new PduError(message, AbortReason.InvalidPduParameterValue);
}

export function unexpected(message: string): PduError {
  return new PduError(message, AbortReason.UnexpectedPduParameter);
}

export function hex(t: number): string {
  return `0x${t.toString(16).padStart(2, "0")}`;
}

/**
 * Checks the item header at `o` (type, reserved, uint16 length) lies within [o, end) and so does its
 * value; returns the offset just past the value.
 */
export function itemEnd(dv: DataView, o: number, end: number, where: string): number {
  if (end - o < 4) throw invalid(`${where}: truncated item header (${end - o} bytes left)`);
  const valueEnd = o + 4 + dv.getUint16(o + 2);
  if (valueEnd > end) {
    throw invalid(
      `${where}: item ${hex(dv.getUint8(o))} length ${valueEnd - o - 4} runs past its parent (${end - o - 4} bytes left)`,
    );
  }
  return valueEnd;
}

const KNOWN_ITEM_TYPES: ReadonlySet<number> = new Set(Object.values(ItemType));

export function isKnownItemType(t: number): boolean {
  return KNOWN_ITEM_TYPES.has(t);
}

/** A cursor over one sub-item's value, for the few sub-items with inner length-prefixed fields. */
export class FieldReader {
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
