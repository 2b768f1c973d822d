// A data set as a tree, for the transcoder, which rewrites the pixel module and carries everything else
// over value for value (PS3.5 7): elements with their values as little-endian bytes (Explicit VR Big
// Endian values swapped by VR on reading), sequences as items of elements, encapsulated Pixel Data as its
// fragments, group lengths left out (retired, and wrong once re-encoded). Read by the data set walker
// (dataset-walker.ts), the one reader of the structure, so a data set is read here as the store checked
// it; values are views of the input. Written back by dataset-writer.ts.

import { inflateRawSync } from "node:zlib";
import {
  DataSetWalker,
  type ElementVisitor,
  SKIP_VALUE,
  WANT_VALUE,
  type WalkLimits,
  walkEncoding,
} from "./dataset-walker.ts";
import { vrOf } from "./dictionary.ts";
import { type ContainerKind, KIND_FRAGMENTS, KIND_ITEM, type StructureVisitor } from "./open-containers.ts";
import { type FileMeta, readFileMeta } from "./part10.ts";
import { PIXEL_DATA } from "./tags.ts";
import { transferSyntaxInfo } from "./transfer-syntax.ts";
import { vrName } from "./vr.ts";

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

export class DataSetError extends Error {}

const EMPTY = new Uint8Array(0);

/** No nesting limit: the tree is read from instances the store has checked under the configured limits. */
const NO_LIMITS: Readonly<WalkLimits> = { maxSequenceDepth: Number.POSITIVE_INFINITY };

/** Byte-swap width of the VRs whose values are numbers wider than a byte. */
const SWAP_WIDTH: Readonly<Record<string, number>> = {
  US: 2,
  SS: 2,
  OW: 2,
  AT: 2,
  UL: 4,
  SL: 4,
  FL: 4,
  OF: 4,
  OL: 4,
  FD: 8,
  OD: 8,
  SV: 8,
  UV: 8,
  OV: 8,
};

function swapped(v: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(v.length);
  const n = v.length - (v.length % width);
  for (let i = 0; i < n; i += width) for (let j = 0; j < width; j++) out[i + j] = v[i + width - 1 - j] ?? 0;
  return out;
}

/** Where what is read next goes: elements (of the data set or an item), a sequence's items, or fragments. */
interface Place {
  elements: Element[];
  items: Element[][];
  fragments: Uint8Array[] | null;
}

/** The walker's visitor at every depth: builds the tree as the elements and containers go by. */
class TreeBuilder implements ElementVisitor, StructureVisitor {
  readonly elements: Element[] = [];
  private place: Place = { elements: this.elements, items: [], fragments: null };
  private readonly outer: Place[] = [];
  /** The element whose value or content comes next; null for one left out. */
  private current: Element | null = null;
  private swapWidth = 0;

  constructor(private readonly bigEndian: boolean) {}

  element(tag: number, vr: number): number {
    const place = this.place;
    if (place.fragments !== null) return WANT_VALUE;
    this.current = null;
    if ((tag & 0xffff) === 0) return SKIP_VALUE;
    const name = vr !== 0 ? vrName(vr) : tag === PIXEL_DATA ? "OW" : vrOf(tag);
    const el: Element = { tag, vr: name, value: EMPTY };
    place.elements.push(el);
    this.current = el;
    if (name === "SQ") {
      // Its items come as containers; an empty sequence has none.
      el.items = [];
      return SKIP_VALUE;
    }
    this.swapWidth = this.bigEndian && vr !== 0 ? (SWAP_WIDTH[name] ?? 0) : 0;
    return WANT_VALUE;
  }

  value(b: Uint8Array, start: number, length: number): void {
    const v = b.subarray(start, start + length);
    const fragments = this.place.fragments;
    if (fragments !== null) fragments.push(v);
    else if (this.current !== null)
      this.current.value = this.swapWidth === 0 ? v : swapped(v, this.swapWidth);
  }

  opened(kind: ContainerKind): void {
    if (kind === KIND_ITEM) {
      const item: Element[] = [];
      this.place.items.push(item);
      this.enter({ elements: item, items: [], fragments: null });
      return;
    }
    // A container under a group length tag is read and left out with it.
    const el: Element = this.current ?? { tag: 0, vr: "", value: EMPTY };
    this.current = null;
    if (kind === KIND_FRAGMENTS) {
      const fragments: Uint8Array[] = [];
      el.vr = "OB";
      el.fragments = fragments;
      this.enter({ elements: [], items: [], fragments });
    } else {
      const items: Element[][] = [];
      el.vr = "SQ";
      el.items = items;
      this.enter({ elements: [], items, fragments: null });
    }
  }

  closed(): void {
    this.place = this.outer.pop() ?? this.place;
  }

  private enter(place: Place): void {
    this.outer.push(this.place);
    this.place = place;
  }
}

export interface ParsedFile {
  meta: FileMeta;
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

/** A data set (no file meta) as elements. Throws DataSetError where it is not whole. */
export function parseDataSet(body: Uint8Array, explicit: boolean, little: boolean): Element[] {
  const tree = new TreeBuilder(explicit && !little);
  const walker = new DataSetWalker(walkEncoding(explicit, little), NO_LIMITS, tree, tree);
  walker.feed(body);
  walker.end();
  if (walker.error !== undefined) throw new DataSetError(walker.error);
  return tree.elements;
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
