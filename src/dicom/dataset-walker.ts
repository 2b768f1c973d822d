// A data set checked to its last byte while it streams. The walker follows every element header and
// length (Implicit VR LE, Explicit VR LE and BE; defined and undefined lengths; sequences, items,
// delimiters and encapsulated fragments, at any depth) and skips values by counting, so a data set
// flows through it at wire speed without being copied or held: its state is a position, a 12-byte
// carry for a header split between chunks, and the stack of open sequences and items
// (open-containers.ts) bounded by maxSequenceDepth. A data set that ends inside an element or header, leaves a sequence or item open,
// runs an element past the end of its item, or holds bytes that are no element is reported with the
// place where it went wrong; the walker never throws on input.
//
// Top-level elements may be shown to a visitor (the attribute scanner), which asks for the values it
// wants; nothing else is ever buffered. A visitor that also follows the structure (the tree reader,
// dataset-tree.ts) is shown the elements at every depth, each fragment, and the containers as they open
// and close: one reader of the data set structure for both.

import {
  type ContainerKind,
  KIND_FRAGMENTS,
  KIND_ITEM,
  KIND_SEQUENCE,
  OpenContainers,
  type StructureVisitor,
} from "./open-containers.ts";
import { isSequenceTag } from "./sequence-tags.ts";
import { ITEM, ITEM_DELIMITER, PIXEL_DATA, SEQUENCE_DELIMITER, tagString, UNDEFINED_LENGTH } from "./tags.ts";
import { transferSyntaxInfo } from "./transfer-syntax.ts";
import { implicitSequence, VR_FORM, VR_OB, VR_OW, VR_SQ, VR_UN } from "./vr.ts";

export const ENC_IMPLICIT_LE = 0;
export const ENC_EXPLICIT_LE = 1;
export const ENC_EXPLICIT_BE = 2;
export type WalkEncoding = typeof ENC_IMPLICIT_LE | typeof ENC_EXPLICIT_LE | typeof ENC_EXPLICIT_BE;

/** The encoding of a data set: Implicit VR is always little endian. */
export function walkEncoding(explicitVr: boolean, littleEndian: boolean): WalkEncoding {
  if (!explicitVr) return ENC_IMPLICIT_LE;
  return littleEndian ? ENC_EXPLICIT_LE : ENC_EXPLICIT_BE;
}

/** The encoding of a transfer syntax's data sets; encapsulated and unknown ones: Explicit VR Little Endian. */
export function walkEncodingOf(transferSyntaxUid: string): WalkEncoding {
  const info = transferSyntaxInfo(transferSyntaxUid);
  return info === undefined ? ENC_EXPLICIT_LE : walkEncoding(info.explicitVr, info.littleEndian);
}

/** What kind of problem stopped the walk: the data ended early, is not DICOM, or exceeds a limit. */
export type WalkProblem = "truncated" | "malformed" | "limit";

export interface WalkLimits {
  /** Sequences (and encapsulated pixel data) nested deeper than this are refused. */
  maxSequenceDepth: number;
}

export const DEFAULT_WALK_LIMITS: Readonly<WalkLimits> = { maxSequenceDepth: 64 };

/**
 * Shown each top-level element (with a StructureVisitor: each element at any depth, and each fragment of
 * encapsulated Pixel Data as an element (FFFE,E000) of VR 0); sees the values it asks for, whole.
 */
export interface ElementVisitor {
  /**
   * An element header (`vr` is 0 in Implicit VR, else its two letters as a 16-bit number, see vr.ts).
   * Returns WANT_VALUE to receive the value through value(), SKIP_VALUE to let it pass, or the text of a
   * problem that ends the walk (malformed).
   */
  element(tag: number, vr: number, length: number): number | string;
  /** The whole value of an element element() wanted: b[start, start + length). */
  value(b: Uint8Array, start: number, length: number): void;
}

export const SKIP_VALUE = 0;
export const WANT_VALUE = 1;

/** The end of a container of undefined length: its delimiter ends it, not a position. */
const UNTIL_DELIMITER = Number.POSITIVE_INFINITY;

// Walker states.
const HEADER = 0;
const SKIP = 1;
const VALUE = 2;
const STOPPED = 3;

/** The 32-bit number at b[o, o + 4), big or little endian. */
function readU32(b: Uint8Array, o: number, be: boolean): number {
  const x0 = b[o] ?? 0;
  const x1 = b[o + 1] ?? 0;
  const x2 = b[o + 2] ?? 0;
  const x3 = b[o + 3] ?? 0;
  return be ? x0 * 0x1000000 + ((x1 << 16) | (x2 << 8) | x3) : x3 * 0x1000000 + ((x2 << 16) | (x1 << 8) | x0);
}

export class DataSetWalker {
  /** First problem; undefined while the data set is fine. */
  error: string | undefined;
  problem: WalkProblem | undefined;

  private state = HEADER;
  /** Data set bytes walked so far: the offset of the next byte. */
  private pos = 0;
  private enc: WalkEncoding;
  private readonly carry = new Uint8Array(12);
  private carryLen = 0;
  private skipRemaining = 0;
  /** Tag and length of the element whose value is being skipped or read (for messages). */
  private curTag = 0;
  private curLen = 0;
  private value: Uint8Array | undefined;
  private valueLen = 0;
  private valueFilled = 0;

  private readonly containers: OpenContainers;

  constructor(
    private readonly baseEnc: WalkEncoding,
    private readonly limits: WalkLimits = DEFAULT_WALK_LIMITS,
    private visitor: ElementVisitor | null = null,
    private readonly structure: StructureVisitor | null = null,
  ) {
    this.enc = baseEnc;
    this.containers = new OpenContainers(structure);
  }

  /** The walk is over: a problem was found, or end() found the data set whole. */
  get stopped(): boolean {
    return this.state === STOPPED;
  }

  /** Bytes walked so far. */
  get position(): number {
    return this.pos;
  }

  /** Stop showing elements to the visitor (it has what it wanted): the walk goes on. */
  detachVisitor(): void {
    this.visitor = null;
  }

  /** Stop with a problem found outside the walker (a limit of the stream it reads, an abort). */
  fail(problem: WalkProblem, message: string): void {
    if (this.state === STOPPED) return;
    this.error = message;
    this.problem = problem;
    this.state = STOPPED;
    this.value = undefined;
  }

  /** Walk the next bytes of the data set. `b` is not kept. */
  feed(b: Uint8Array): void {
    let p = 0;
    const end = b.length;
    while (p < end) {
      const state = this.state;
      if (state === SKIP) {
        const avail = end - p;
        if (this.skipRemaining > avail) {
          this.skipRemaining -= avail;
          this.pos += avail;
          return;
        }
        p += this.skipRemaining;
        this.pos += this.skipRemaining;
        this.skipRemaining = 0;
        this.state = HEADER;
      } else if (state === HEADER) {
        if (this.containers.depth > 0 && this.closeEnded()) return;
        if (this.carryLen === 0) {
          const used = this.header(b, p, end - p);
          if (used > 0) {
            p += used;
            this.pos += used;
          } else if (used === 0) {
            // Fewer bytes left than this header needs (at most 12): keep them for the next chunk.
            this.carry.set(b.subarray(p, end), 0);
            this.carryLen = end - p;
            this.pos += end - p;
            return;
          } else return;
        } else {
          const had = this.carryLen;
          const take = Math.min(12 - had, end - p);
          this.carry.set(b.subarray(p, p + take), had);
          this.carryLen = had + take;
          // The header starts `had` bytes back.
          this.pos -= had;
          const used = this.header(this.carry, 0, this.carryLen);
          if (used === 0) {
            this.pos += this.carryLen;
            return;
          }
          if (used < 0) return;
          p += used - had;
          this.pos += used;
          this.carryLen = 0;
        }
      } else if (state === VALUE) {
        p = this.readValue(b, p, end);
      } else return;
    }
  }

  /** The data set ended here: anything left open is a truncation. Check `error` afterwards. */
  end(): void {
    if (this.state === STOPPED) return;
    if (this.state === HEADER && this.carryLen === 0 && this.containers.depth > 0 && this.closeEnded())
      return;
    const where = this.containers.where();
    if (this.state === SKIP || this.state === VALUE) {
      const missing = this.state === SKIP ? this.skipRemaining : this.valueLen - this.valueFilled;
      this.fail(
        "truncated",
        `truncated in ${tagString(this.curTag)}: ${missing} of ${this.curLen} bytes missing${where}`,
      );
    } else if (this.carryLen > 0) {
      this.fail(
        "truncated",
        `truncated in an element header (${this.carryLen} bytes after the last element)${where}`,
      );
    } else if (this.containers.depth > 0) {
      const top = this.containers.depth - 1;
      const what =
        this.containers.kinds[top] === KIND_ITEM
          ? `an item of ${tagString(this.containers.tags[top] ?? 0)}`
          : `sequence ${tagString(this.containers.tags[top] ?? 0)}`;
      this.fail("truncated", `truncated: ${what} not closed (no delimiter)`);
    } else {
      this.state = STOPPED;
    }
  }

  // ---- headers ------------------------------------------------------------------------------------

  /** An element header at b[o, o + avail): bytes consumed, 0 = need more bytes, -1 = stopped. */
  private header(b: Uint8Array, o: number, avail: number): number {
    if (avail < 8) return 0;
    const enc = this.enc;
    const be = enc === ENC_EXPLICIT_BE;
    const b0 = b[o] ?? 0;
    const b1 = b[o + 1] ?? 0;
    const b2 = b[o + 2] ?? 0;
    const b3 = b[o + 3] ?? 0;
    const group = be ? (b0 << 8) | b1 : (b1 << 8) | b0;
    const tag = group * 0x10000 + (be ? (b2 << 8) | b3 : (b3 << 8) | b2);
    if (group === 0xfffe) return this.itemTag(tag, readU32(b, o + 4, be)) ? 8 : -1;
    const containers = this.containers;
    const top = containers.depth - 1;
    if (top >= 0 && containers.kinds[top] !== KIND_ITEM) {
      return this.bad(
        `element ${tagString(tag)} in sequence ${tagString(containers.tags[top] ?? 0)} outside an item`,
      );
    }
    if (enc === ENC_IMPLICIT_LE) return this.element(tag, 0, readU32(b, o + 4, false), 8) ? 8 : -1;
    const c0 = b[o + 4] ?? 0;
    const c1 = b[o + 5] ?? 0;
    // isVrLetters, written out: this runs for every header, where a call measurably costs.
    if (c0 < 0x41 || c0 > 0x5a || c1 < 0x41 || c1 > 0x5a) {
      return this.bad(`invalid VR for element ${tagString(tag)}${this.containers.where()}`);
    }
    const vr = (c0 << 8) | c1;
    if (VR_FORM[(c0 - 0x41) * 26 + (c1 - 0x41)] === 1) {
      const len = be ? ((b[o + 6] ?? 0) << 8) | (b[o + 7] ?? 0) : ((b[o + 7] ?? 0) << 8) | (b[o + 6] ?? 0);
      return this.element(tag, vr, len, 8) ? 8 : -1;
    }
    if (avail < 12) return 0;
    return this.element(tag, vr, readU32(b, o + 8, be), 12) ? 12 : -1;
  }

  private bad(message: string): -1 {
    this.fail("malformed", message);
    return -1;
  }

  /** A data element header of `hlen` bytes at this.pos. False when the walk stopped. */
  private element(tag: number, vr: number, len: number, hlen: number): boolean {
    this.curTag = tag;
    this.curLen = len;
    const start = this.pos;
    const containers = this.containers;
    const limit = containers.limit;
    if (start + hlen > limit) {
      return this.failed(
        "malformed",
        `element header ${tagString(tag)} runs past the end of its item${containers.where()}`,
      );
    }
    let wanted = false;
    const visitor = this.visitor;
    if (visitor !== null && (containers.depth === 0 || this.structure !== null)) {
      const v = visitor.element(tag, vr, len);
      if (typeof v === "string") return this.failed("malformed", v);
      wanted = v === WANT_VALUE;
    }
    if (len === UNDEFINED_LENGTH) {
      if (this.enc === ENC_IMPLICIT_LE) {
        if (tag === PIXEL_DATA) return this.open(KIND_FRAGMENTS, tag, ENC_IMPLICIT_LE, UNTIL_DELIMITER);
        if (implicitSequence(tag)) return this.open(KIND_SEQUENCE, tag, ENC_IMPLICIT_LE, UNTIL_DELIMITER);
        return this.failed(
          "malformed",
          `undefined length on non-SQ element ${tagString(tag)}${containers.where()}`,
        );
      }
      if (vr === VR_SQ) return this.open(KIND_SEQUENCE, tag, this.enc, UNTIL_DELIMITER);
      // PS3.5 6.2.2: UN of undefined length holds a sequence in Implicit VR Little Endian.
      if (vr === VR_UN) return this.open(KIND_SEQUENCE, tag, ENC_IMPLICIT_LE, UNTIL_DELIMITER);
      if ((vr === VR_OB || vr === VR_OW) && tag === PIXEL_DATA) {
        return this.open(KIND_FRAGMENTS, tag, this.enc, UNTIL_DELIMITER);
      }
      return this.failed(
        "malformed",
        `undefined length on non-SQ element ${tagString(tag)}${containers.where()}`,
      );
    }
    const end = start + hlen + len;
    if (end > limit) {
      return this.failed(
        "malformed",
        `element ${tagString(tag)} runs ${end - limit} bytes past the end of its item${containers.where()}`,
      );
    }
    if (len > 0 && (vr === VR_SQ || (this.enc === ENC_IMPLICIT_LE && isSequenceTag(tag)))) {
      return this.open(KIND_SEQUENCE, tag, this.enc, end);
    }
    if (wanted) return this.startValue(len, true);
    if (len > 0) {
      this.state = SKIP;
      this.skipRemaining = len;
    }
    return true;
  }

  /** The value of `len` bytes after the header just read: read for the visitor, or skipped. */
  private startValue(len: number, wanted: boolean): boolean {
    if (wanted) {
      this.state = VALUE;
      this.valueLen = len;
      this.valueFilled = 0;
      // A value of 0 bytes is complete already; the next header (or end) delivers it.
      if (len === 0) this.deliver(this.carry, 0, 0);
      return true;
    }
    if (len > 0) {
      this.state = SKIP;
      this.skipRemaining = len;
    }
    return true;
  }

  /** (FFFE,E000) item, (FFFE,E00D) item delimiter, (FFFE,E0DD) sequence delimiter: 8 bytes at this.pos. */
  private itemTag(tag: number, len: number): boolean {
    this.curTag = tag;
    this.curLen = len;
    const top = this.containers.depth - 1;
    if (top < 0) return this.failed("malformed", `${tagString(tag)} outside a sequence`);
    const kind = this.containers.kinds[top];
    const seqTag = this.containers.tags[top] ?? 0;
    const undefinedContainer = this.containers.ends[top] === UNTIL_DELIMITER;
    if (this.pos + 8 > this.containers.limit) {
      return this.failed(
        "malformed",
        `${tagString(tag)} runs past the end of its item${this.containers.where()}`,
      );
    }
    if (kind === KIND_ITEM) {
      if (tag === ITEM_DELIMITER && undefinedContainer) {
        this.pop();
        return true;
      }
      return this.failed("malformed", `${tagString(tag)} inside an item of ${tagString(seqTag)}`);
    }
    if (tag === SEQUENCE_DELIMITER && undefinedContainer) {
      this.pop();
      return true;
    }
    if (tag !== ITEM) {
      return this.failed("malformed", `${tagString(tag)} in sequence ${tagString(seqTag)}`);
    }
    if (kind === KIND_FRAGMENTS) {
      if (len === UNDEFINED_LENGTH) {
        return this.failed("malformed", `fragment of undefined length in ${tagString(seqTag)}`);
      }
      if (this.pos + 8 + len > this.containers.limit) {
        return this.failed("malformed", `fragment runs past the end of its item${this.containers.where()}`);
      }
      const visitor = this.structure === null ? null : this.visitor;
      if (visitor === null) return this.startValue(len, false);
      const v = visitor.element(ITEM, 0, len);
      if (typeof v === "string") return this.failed("malformed", v);
      return this.startValue(len, v === WANT_VALUE);
    }
    if (len === UNDEFINED_LENGTH) return this.push(KIND_ITEM, seqTag, this.enc, UNTIL_DELIMITER);
    const end = this.pos + 8 + len;
    if (end > this.containers.limit) {
      return this.failed("malformed", `item of ${tagString(seqTag)} runs past the end of its container`);
    }
    if (len > 0) return this.push(KIND_ITEM, seqTag, this.enc, end);
    // An empty item opens nothing to close later: shown as opened and closed at once.
    this.structure?.opened(KIND_ITEM);
    this.structure?.closed();
    return true;
  }

  private failed(problem: WalkProblem, message: string): false {
    this.fail(problem, message);
    return false;
  }

  // ---- the container stack ------------------------------------------------------------------------

  /** Open a sequence or encapsulated pixel data, within the depth limit. */
  private open(kind: ContainerKind, tag: number, enc: WalkEncoding, end: number): boolean {
    if (this.containers.sequences >= this.limits.maxSequenceDepth) {
      return this.failed(
        "limit",
        `nesting deeper than limits.max_sequence_depth (${this.limits.maxSequenceDepth}) at ${tagString(tag)}`,
      );
    }
    return this.push(kind, tag, enc, end);
  }

  private push(kind: ContainerKind, tag: number, enc: WalkEncoding, end: number): boolean {
    this.enc = enc;
    this.containers.push(kind, tag, enc, end);
    return true;
  }

  private pop(): void {
    this.enc = this.containers.pop(this.baseEnc) as WalkEncoding;
  }

  /** Close the defined-length containers that end at this.pos. True when the walk stopped. */
  private closeEnded(): boolean {
    while (this.containers.depth > 0) {
      const end = this.containers.ends[this.containers.depth - 1] ?? UNTIL_DELIMITER;
      if (end !== this.pos) break;
      this.pop();
    }
    // An undefined-length container still open inside a defined one that has ended.
    if (this.pos >= this.containers.limit && this.containers.depth > 0) {
      this.fail(
        "malformed",
        `sequence ${tagString(this.containers.tags[this.containers.depth - 1] ?? 0)} not closed by the end of its item`,
      );
      return true;
    }
    return false;
  }

  // ---- values the visitor wanted ------------------------------------------------------------------

  private readValue(b: Uint8Array, p: number, end: number): number {
    let v = this.value;
    if (v === undefined) {
      if (end - p >= this.valueLen) {
        const n = this.valueLen;
        this.deliver(b, p, n);
        this.pos += n;
        return p + n;
      }
      v = new Uint8Array(this.valueLen);
      this.value = v;
    }
    const n = Math.min(v.length - this.valueFilled, end - p);
    v.set(b.subarray(p, p + n), this.valueFilled);
    this.valueFilled += n;
    this.pos += n;
    if (this.valueFilled === v.length) {
      this.value = undefined;
      this.deliver(v, 0, v.length);
    }
    return p + n;
  }

  private deliver(b: Uint8Array, start: number, len: number): void {
    this.state = HEADER;
    this.visitor?.value(b, start, len);
  }
}
