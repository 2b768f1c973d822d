// A small DICOM data set reader/writer for the transcoder (PS3.5 7): elements as a tree, values kept as
// little-endian bytes (Explicit VR Big Endian values are swapped by VR on reading), sequences and items
// re-encoded with undefined lengths, encapsulated Pixel Data as its fragments. Only what transcoding needs:
// the pixel module is rewritten, everything else is carried over value for value.

import { inflateRawSync } from "node:zlib";
import { readFileMeta } from "../dicom/part10.ts";
import { transferSyntaxInfo } from "../dicom/transfer-syntax.ts";
import { vrOf } from "./dictionary.ts";

export interface Element {
  tag: number;
  vr: string;
  /** Value bytes, little endian (empty for SQ and encapsulated pixel data). */
  value: Uint8Array;
  /** Items of a sequence. */
  items?: Element[][];
  /** Encapsulated Pixel Data: the Basic Offset Table item first, then the fragments. */
  fragments?: Uint8Array[];
}

export const PIXEL_DATA = 0x7fe00010;
const ITEM = 0xfffee000;
const ITEM_END = 0xfffee00d;
const SEQ_END = 0xfffee0dd;
const UNDEFINED = 0xffffffff;
const LONG_VRS = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"]);
const SWAP2 = new Set(["US", "SS", "OW", "AT"]);
const SWAP4 = new Set(["UL", "SL", "FL", "OF", "OL"]);
const SWAP8 = new Set(["FD", "OD", "SV", "UV", "OV"]);

export class DataSetError extends Error {}

function swapped(v: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(v.length);
  const n = v.length - (v.length % width);
  for (let i = 0; i < n; i += width) for (let j = 0; j < width; j++) out[i + j] = v[i + width - 1 - j] ?? 0;
  return out;
}

class Reader {
  private readonly view: DataView;
  constructor(
    private readonly b: Uint8Array,
    private readonly explicit: boolean,
    private readonly little: boolean,
  ) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  private u16(o: number): number {
    if (o + 2 > this.b.length) throw new DataSetError("data set truncated");
    return this.view.getUint16(o, this.little);
  }
  private u32(o: number): number {
    if (o + 4 > this.b.length) throw new DataSetError("data set truncated");
    return this.view.getUint32(o, this.little);
  }
  private tag(o: number): number {
    return ((this.u16(o) << 16) | this.u16(o + 2)) >>> 0;
  }

  /** Elements from `pos` up to `end`, or up to an item delimiter when `untilItemEnd`. */
  elements(pos: number, end: number, untilItemEnd: boolean): { els: Element[]; pos: number } {
    const els: Element[] = [];
    while (pos < end) {
      const tag = this.tag(pos);
      if (tag === ITEM_END) {
        if (!untilItemEnd) throw new DataSetError("unexpected item delimiter");
        return { els, pos: pos + 8 };
      }
      let vr: string;
      let len: number;
      if (this.explicit && tag !== ITEM && tag !== SEQ_END) {
        vr = String.fromCharCode(this.b[pos + 4] ?? 0, this.b[pos + 5] ?? 0);
        if (LONG_VRS.has(vr)) {
          len = this.u32(pos + 8);
          pos += 12;
        } else if (/^[A-Z]{2}$/.test(vr)) {
          len = this.u16(pos + 6);
          pos += 8;
        } else {
          throw new DataSetError(`bad VR at offset ${pos}`);
        }
      } else {
        vr = tag === PIXEL_DATA ? "OW" : vrOf(tag);
        len = this.u32(pos + 4);
        pos += 8;
      }
      if (tag === PIXEL_DATA && len === UNDEFINED) {
        const r = this.fragments(pos);
        els.push({ tag, vr: "OB", value: new Uint8Array(0), fragments: r.fragments });
        pos = r.pos;
        continue;
      }
      if (vr === "SQ" || len === UNDEFINED) {
        const r = this.sequence(pos, len, vr === "UN" && this.explicit);
        els.push({ tag, vr: "SQ", value: new Uint8Array(0), items: r.items });
        pos = r.pos;
        continue;
      }
      if (pos + len > this.b.length) throw new DataSetError(`value of (${hexTag(tag)}) runs past the end`);
      let value = this.b.subarray(pos, pos + len);
      if (!this.little) {
        if (SWAP2.has(vr)) value = swapped(value, 2);
        else if (SWAP4.has(vr)) value = swapped(value, 4);
        else if (SWAP8.has(vr)) value = swapped(value, 8);
      }
      pos += len;
      // Group lengths are retired and would be wrong once re-encoded.
      if ((tag & 0xffff) !== 0) els.push({ tag, vr, value });
    }
    if (untilItemEnd) throw new DataSetError("item without delimiter");
    return { els, pos };
  }

  private sequence(pos: number, len: number, implicitItems: boolean): { items: Element[][]; pos: number } {
    const items: Element[][] = [];
    const end = len === UNDEFINED ? this.b.length : pos + len;
    const inner = implicitItems ? new Reader(this.b, false, true) : this;
    while (pos < end) {
      const tag = this.tag(pos);
      const ilen = this.u32(pos + 4);
      pos += 8;
      if (tag === SEQ_END) return { items, pos };
      if (tag !== ITEM) throw new DataSetError(`expected an item, found (${hexTag(tag)})`);
      if (ilen === UNDEFINED) {
        const r = inner.elements(pos, this.b.length, true);
        items.push(r.els);
        pos = r.pos;
      } else {
        items.push(inner.elements(pos, pos + ilen, false).els);
        pos += ilen;
      }
    }
    if (len === UNDEFINED) throw new DataSetError("sequence without delimiter");
    return { items, pos };
  }

  private fragments(pos: number): { fragments: Uint8Array[]; pos: number } {
    const fragments: Uint8Array[] = [];
    for (;;) {
      const tag = this.tag(pos);
      const len = this.u32(pos + 4);
      pos += 8;
      if (tag === SEQ_END) return { fragments, pos };
      if (tag !== ITEM || len === UNDEFINED) throw new DataSetError("bad Pixel Data item");
      if (pos + len > this.b.length) throw new DataSetError("Pixel Data fragment runs past the end");
      fragments.push(this.b.subarray(pos, pos + len));
      pos += len;
    }
  }
}

export function hexTag(tag: number): string {
  const h = tag.toString(16).toUpperCase().padStart(8, "0");
  return `${h.slice(0, 4)},${h.slice(4)}`;
}

export interface ParsedFile {
  meta: ReturnType<typeof readFileMeta>["meta"];
  elements: Element[];
}

/** A Part-10 file: its meta and its data set as elements (deflated and big endian handled). */
export function parsePart10(bytes: Uint8Array): ParsedFile {
  const { meta, dataSetOffset } = readFileMeta(bytes);
  const info = transferSyntaxInfo(meta.transferSyntaxUid);
  let body = bytes.subarray(dataSetOffset);
  if (info?.deflated) body = new Uint8Array(inflateRawSync(body));
  const explicit = info ? info.explicitVr : true;
  const little = info ? info.littleEndian : true;
  return { meta, elements: parseDataSet(body, explicit, little) };
}

export function parseDataSet(body: Uint8Array, explicit: boolean, little: boolean): Element[] {
  return new Reader(body, explicit, little).elements(0, body.length, false).els;
}

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
      header(out, e.tag, "SQ", UNDEFINED, explicit);
      for (const item of e.items) {
        out.tag(ITEM);
        out.u32(UNDEFINED);
        writeElements(out, item, explicit);
        out.tag(ITEM_END);
        out.u32(0);
      }
      out.tag(SEQ_END);
      out.u32(0);
    } else if (e.fragments) {
      header(out, e.tag, "OB", UNDEFINED, explicit);
      for (const f of e.fragments) {
        out.tag(ITEM);
        out.u32(f.length + (f.length & 1));
        out.bytes(f);
        if (f.length & 1) out.bytes(new Uint8Array(1));
      }
      out.tag(SEQ_END);
      out.u32(0);
    } else {
      const odd = e.value.length & 1;
      let vr = e.vr;
      if (!LONG_VRS.has(vr) && e.value.length + odd > 0xffff) vr = "UN";
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
  if (LONG_VRS.has(vr)) {
    out.u16(0);
    out.u32(len);
  } else {
    out.u16(len);
  }
}

// ---- value helpers ----

export function find(els: Element[], tag: number): Element | undefined {
  return els.find((e) => e.tag === tag);
}

export function getUs(els: Element[], tag: number): number | undefined {
  const e = find(els, tag);
  if (!e || e.value.length < 2) return undefined;
  return (e.value[0] ?? 0) | ((e.value[1] ?? 0) << 8);
}

export function getString(els: Element[], tag: number): string | undefined {
  const e = find(els, tag);
  if (!e) return undefined;
  return new TextDecoder("latin1")
    .decode(e.value)
    .replace(/[\0 ]+$/, "")
    .trim();
}

export function setElement(els: Element[], el: Element): void {
  const i = els.findIndex((e) => e.tag === el.tag);
  if (i >= 0) els[i] = el;
  else els.push(el);
}

export function removeElement(els: Element[], tag: number): void {
  const i = els.findIndex((e) => e.tag === tag);
  if (i >= 0) els.splice(i, 1);
}

export function usElement(tag: number, v: number): Element {
  return { tag, vr: "US", value: Uint8Array.of(v & 0xff, (v >>> 8) & 0xff) };
}

export function stringElement(tag: number, vr: string, s: string): Element {
  const b = new TextEncoder().encode(s);
  const padded = new Uint8Array(b.length + (b.length & 1));
  padded.set(b);
  if (b.length & 1) padded[b.length] = vr === "UI" ? 0 : 0x20;
  return { tag, vr, value: padded };
}
