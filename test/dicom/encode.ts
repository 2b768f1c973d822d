// Test-only DICOM data set encoder: just enough to build data sets (sequences of any length form, nested
// items, UN sequences, encapsulated pixel data) in the native transfer syntaxes.

import { deflateRawSync } from "node:zlib";
import { TS } from "../../src/dicom/transfer-syntax.ts";

export type Encoding = "implicitLE" | "explicitLE" | "explicitBE";

export interface ValueNode {
  kind: "value";
  tag: number;
  vr: string;
  value: Uint8Array;
  /** Encode the header with undefined length (malformed, for error tests). */
  undefinedLength?: boolean;
}
export interface SeqNode {
  kind: "seq";
  tag: number;
  /** "UN": in explicit VR, an UN element whose content is encoded in Implicit VR LE (PS3.5 6.2.2). */
  vr: "SQ" | "UN";
  items: ItemNode[];
  undefinedLength: boolean;
}
export interface ItemNode {
  elements: DsNode[];
  undefinedLength: boolean;
}
export interface EncapsulatedNode {
  kind: "encapsulated";
  tag: number;
  /** Including the basic offset table (may be empty) as the first. */
  fragments: Uint8Array[];
}
export type DsNode = ValueNode | SeqNode | EncapsulatedNode;

/** VRs with a 2-byte length in explicit VR; all others (and unknown ones) use the 4-byte form. */
const SHORT = new Set("AE AS AT CS DA DS DT FL FD IS LO LT PN SH SL SS ST TM UI UL US".split(" "));

export function tagOf(group: number, element: number): number {
  return group * 0x10000 + element;
}

/** A string value, padded to even length with NUL (UI) or space. */
export function str(tag: number, vr: string, value: string): ValueNode {
  let bytes = new TextEncoder().encode(value);
  if (bytes.length & 1) {
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes);
    padded[bytes.length] = vr === "UI" ? 0 : 0x20;
    bytes = padded;
  }
  return { kind: "value", tag, vr, value: bytes };
}

export function bin(tag: number, vr: string, value: Uint8Array): ValueNode {
  return { kind: "value", tag, vr, value };
}

export function seq(
  tag: number,
  items: ItemNode[],
  undefinedLength: boolean,
  vr: "SQ" | "UN" = "SQ",
): SeqNode {
  return { kind: "seq", tag, vr, items, undefinedLength };
}

export function item(elements: DsNode[], undefinedLength: boolean): ItemNode {
  return { elements, undefinedLength };
}

class Writer {
  private chunks: Uint8Array[] = [];
  length = 0;
  constructor(readonly be: boolean) {}
  bytes(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  u16(v: number): void {
    this.bytes(this.be ? Uint8Array.of(v >>> 8, v & 0xff) : Uint8Array.of(v & 0xff, v >>> 8));
  }
  u32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, !this.be);
    this.bytes(b);
  }
  tag(t: number): void {
    this.u16(Math.floor(t / 0x10000));
    this.u16(t % 0x10000);
  }
  ascii(s: string): void {
    this.bytes(new Uint8Array([...s].map((c) => c.charCodeAt(0))));
  }
  result(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

const UNDEF = 0xffffffff;

function header(w: Writer, enc: Encoding, tag: number, vr: string, len: number): void {
  w.tag(tag);
  if (enc === "implicitLE") {
    w.u32(len);
  } else if (!SHORT.has(vr) || len > 0xffff) {
    w.ascii(vr);
    w.u16(0);
    w.u32(len);
  } else {
    w.ascii(vr);
    w.u16(len);
  }
}

export function encode(nodes: DsNode[], enc: Encoding): Uint8Array {
  const w = new Writer(enc === "explicitBE");
  for (const n of nodes) encodeNode(w, n, enc);
  return w.result();
}

function encodeNode(w: Writer, n: DsNode, enc: Encoding): void {
  switch (n.kind) {
    case "value":
      header(w, enc, n.tag, n.vr, n.undefinedLength ? UNDEF : n.value.length);
      w.bytes(n.value);
      return;
    case "encapsulated":
      header(w, enc, n.tag, "OB", UNDEF);
      for (const f of n.fragments) {
        w.tag(0xfffee000);
        w.u32(f.length);
        w.bytes(f);
      }
      w.tag(0xfffee0dd);
      w.u32(0);
      return;
    case "seq": {
      const inner: Encoding = n.vr === "UN" ? "implicitLE" : enc;
      const body = encodeItems(n.items, inner, n.undefinedLength);
      header(w, enc, n.tag, enc === "implicitLE" ? "SQ" : n.vr, n.undefinedLength ? UNDEF : body.length);
      w.bytes(body);
      return;
    }
  }
}

function encodeItems(items: ItemNode[], enc: Encoding, undefinedLength: boolean): Uint8Array {
  const w = new Writer(enc === "explicitBE");
  for (const it of items) {
    const body = encode(it.elements, enc);
    w.tag(0xfffee000);
    w.u32(it.undefinedLength ? UNDEF : body.length);
    w.bytes(body);
    if (it.undefinedLength) {
      w.tag(0xfffee00d);
      w.u32(0);
    }
  }
  if (undefinedLength) {
    w.tag(0xfffee0dd);
    w.u32(0);
  }
  return w.result();
}

/** The data set in the given transfer syntax (native ones, deflated, or an encapsulated one = explicit LE). */
export function encodeFor(nodes: DsNode[], transferSyntaxUid: string): Uint8Array {
  switch (transferSyntaxUid) {
    case TS.ImplicitVRLittleEndian:
      return encode(nodes, "implicitLE");
    case TS.ExplicitVRBigEndian:
      return encode(nodes, "explicitBE");
    case TS.DeflatedExplicitVRLittleEndian:
      return new Uint8Array(deflateRawSync(encode(nodes, "explicitLE")));
    default:
      return encode(nodes, "explicitLE");
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
