// The containers a data set walk is inside, innermost last: sequences, their items and encapsulated
// Pixel Data, each with its tag, the encoding of its content and where it ends (Infinity for an
// undefined length). Kept in typed arrays grown by doubling, allocated at the first sequence so that a
// data set without any costs nothing; the innermost defined end is kept as `limit`, past which nothing
// may run. A StructureVisitor is told of each container as it opens and closes.

import { tagString } from "./tags.ts";

/** A sequence: items, then (undefined length) its delimiter, or (defined) its end. */
export const KIND_SEQUENCE = 0;
/** An item: data elements, then (undefined length) its delimiter, or (defined) its end. */
export const KIND_ITEM = 1;
/** Encapsulated pixel data: defined-length fragments, then the sequence delimiter. */
export const KIND_FRAGMENTS = 2;
export type ContainerKind = typeof KIND_SEQUENCE | typeof KIND_ITEM | typeof KIND_FRAGMENTS;

/** Shown the containers as they open and close (see DataSetWalker). */
export interface StructureVisitor {
  /**
   * A container opened: the element just shown holds items (KIND_SEQUENCE) or fragments
   * (KIND_FRAGMENTS), or an item of the innermost sequence begins (KIND_ITEM).
   */
  opened(kind: ContainerKind): void;
  /** The innermost open container ended. */
  closed(): void;
}

const NO_BYTES = new Uint8Array(0);
const NO_NUMBERS = new Float64Array(0);

export class OpenContainers {
  /** Containers open. */
  depth = 0;
  /** Sequences and encapsulated Pixel Data open, items not counted: the nesting a limit bounds. */
  sequences = 0;
  kinds = NO_BYTES;
  /** The encoding of each container's content (a walk encoding). */
  encs = NO_BYTES;
  tags = NO_NUMBERS;
  /** Absolute end of a defined-length container, Infinity for an undefined length. */
  ends = NO_NUMBERS;
  /** Where the innermost defined-length container ends: nothing may run past it. */
  limit = Number.POSITIVE_INFINITY;

  constructor(private readonly structure: StructureVisitor | null) {}

  push(kind: ContainerKind, tag: number, enc: number, end: number): void {
    const d = this.depth;
    if (d === this.kinds.length) this.grow();
    this.kinds[d] = kind;
    this.encs[d] = enc;
    this.tags[d] = tag;
    this.ends[d] = end;
    this.depth = d + 1;
    if (kind !== KIND_ITEM) this.sequences += 1;
    if (end < this.limit) this.limit = end;
    this.structure?.opened(kind);
  }

  /** Close the innermost container; returns the encoding inside the one now innermost (`base` at the top). */
  pop(base: number): number {
    const d = this.depth - 1;
    if (this.kinds[d] !== KIND_ITEM) this.sequences -= 1;
    this.depth = d;
    let limit = Number.POSITIVE_INFINITY;
    for (let i = d - 1; i >= 0; i--) {
      const e = this.ends[i] ?? Number.POSITIVE_INFINITY;
      if (e !== Number.POSITIVE_INFINITY) {
        limit = e;
        break;
      }
    }
    this.limit = limit;
    this.structure?.closed();
    return d > 0 ? (this.encs[d - 1] ?? base) : base;
  }

  /** " in sequence (gggg,eeee)" for the innermost open sequence, with the top-level one it is in. */
  where(): string {
    let inner = -1;
    let outer = -1;
    for (let i = 0; i < this.depth; i++) {
      if (this.kinds[i] === KIND_ITEM) continue;
      if (outer < 0) outer = i;
      inner = i;
    }
    if (inner < 0) return "";
    const innerTag = tagString(this.tags[inner] ?? 0);
    return inner === outer
      ? ` in sequence ${innerTag}`
      : ` in sequence ${innerTag} within ${tagString(this.tags[outer] ?? 0)}`;
  }

  private grow(): void {
    const n = Math.max(8, this.kinds.length * 2);
    const kinds = new Uint8Array(n);
    kinds.set(this.kinds);
    const encs = new Uint8Array(n);
    encs.set(this.encs);
    const tags = new Float64Array(n);
    tags.set(this.tags);
    const ends = new Float64Array(n);
    ends.set(this.ends);
    this.kinds = kinds;
    this.encs = encs;
    this.tags = tags;
    this.ends = ends;
  }
}
