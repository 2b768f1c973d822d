// A data set tree (dataset-tree.ts) written as Explicit or Implicit VR Little Endian: elements sorted by
// tag, sequences and items with undefined lengths (so nothing needs measuring first), encapsulated Pixel
// Data as its fragments, odd values padded to even length. Header forms by the same VR table the readers
// use (vr.ts), so what is written is read back the same.

import type { Element } from "./dataset-tree.ts";
import { ITEM, ITEM_DELIMITER, SEQUENCE_DELIMITER, UNDEFINED_LENGTH } from "./tags.ts";
import { hasShortLength } from "./vr.ts";

/** Growable output buffer. */
class Out {
  private buf = new Uint8Array(1 << 16);
  length = 0;
  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf[this.length++] = v & 0xff;
    this.buf[this.length++] = (v >>> 8) & 0xff;
  }
  u32(v: number): void {
    this.u16(v & 0xffff);
    this.u16(v >>> 16);
  }
  tag(t: number): void {
    this.u16(t >>> 16);
    this.u16(t & 0xffff);
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** Encode elements (sorted by tag) as Explicit or Implicit VR Little Endian. */
export function writeDataSet(els: Element[], explicit: boolean): Uint8Array {
  const out = new Out();
  writeElements(out, els, explicit);
  return out.result();
}

function writeElements(out: Out, els: Element[], explicit: boolean): void {
  const sorted = [...els].sort((a, b) => a.tag - b.tag);
  for (const e of sorted) {
    if (e.items) {
      header(out, e.tag, "SQ", UNDEFINED_LENGTH, explicit);
      for (const item of e.items) {
        out.tag(ITEM);
        out.u32(UNDEFINED_LENGTH);
        writeElements(out, item, explicit);
        out.tag(ITEM_DELIMITER);
        out.u32(0);
      }
      out.tag(SEQUENCE_DELIMITER);
      out.u32(0);
    } else if (e.fragments) {
      header(out, e.tag, "OB", UNDEFINED_LENGTH, explicit);
      for (const f of e.fragments) {
        out.tag(ITEM);
        out.u32(f.length + (f.length & 1));
        out.bytes(f);
        if (f.length & 1) out.bytes(new Uint8Array(1));
      }
      out.tag(SEQUENCE_DELIMITER);
      out.u32(0);
    } else {
      const odd = e.value.length & 1;
      let vr = e.vr;
      if (hasShortLength(vr) && e.value.length + odd > 0xffff) vr = "UN";
      header(out, e.tag, vr, e.value.length + odd, explicit);
      out.bytes(e.value);
      if (odd) out.bytes(Uint8Array.of(padByte(vr)));
    }
  }
}

function padByte(vr: string): number {
  return [
    "AE",
    "AS",
    "CS",
    "DA",
    "DS",
    "DT",
    "IS",
    "LO",
    "LT",
    "PN",
    "SH",
    "ST",
    "TM",
    "UC",
    "UR",
    "UT",
  ].includes(vr)
    ? 0x20
    : 0;
}

function header(out: Out, tag: number, vr: string, len: number, explicit: boolean): void {
  out.tag(tag);
  if (!explicit) {
    out.u32(len);
    return;
  }
  out.u16(vr.charCodeAt(0) | (vr.charCodeAt(1) << 8));
  if (hasShortLength(vr)) {
    out.u16(len);
  } else {
    out.u16(0);
    out.u32(len);
  }
}
