// Streaming extraction of a few top-level attributes from a data set that arrives in chunks
// (C-STORE P-DATA fragments). Never holds the data set: unwanted values are skipped by counting bytes;
// only element headers split across chunks and the (small) values of wanted elements are buffered.

import { createInflateRaw, type InflateRaw } from "node:zlib";
import { copyOf, latin1 } from "../util/bytes.ts";
import { transferSyntaxInfo } from "./transfer-syntax.ts";

export interface InstanceAttributes {
  /** (0008,0005), raw (multi-valued values keep their backslashes). */
  specificCharacterSet?: string;
  /** (0008,0016) */
  sopClassUid?: string;
  /** (0008,0018) */
  sopInstanceUid?: string;
  /** (0008,0020), raw (not validated). */
  studyDate?: string;
  /** (0008,0050) */
  accessionNumber?: string;
  /** (0008,0060) */
  modality?: string;
  /** (0010,0020) */
  patientId?: string;
  /** (0020,000D) */
  studyInstanceUid?: string;
  /** (0020,000E) */
  seriesInstanceUid?: string;
  /** (0028,0008) IS as an integer; undefined when absent, empty or not an integer string. */
  numberOfFrames?: number;
}

/** Wanted values longer than this are reported as an error instead of being buffered. */
export const MAX_WANTED_VALUE_LENGTH = 64 * 1024;

/** Past this tag (0028,0008 Number of Frames) at the top level nothing more is wanted. */
const LAST_WANTED_TAG = 0x00280008;
const UNDEFINED_LENGTH = 0xffffffff;

const ENC_IMPLICIT_LE = 0;
const ENC_EXPLICIT_LE = 1;
const ENC_EXPLICIT_BE = 2;

const HEADER = 0;
const SKIP = 1;
const VALUE = 2;

// Wanted attributes: index into WANTED_KEYS.
const W_CHARSET = 0;
const W_SOP_CLASS = 1;
const W_SOP_INSTANCE = 2;
const W_STUDY_DATE = 3;
const W_ACCESSION = 4;
const W_MODALITY = 5;
const W_PATIENT_ID = 6;
const W_STUDY_UID = 7;
const W_SERIES_UID = 8;
const W_FRAMES = 9;

const WANTED: ReadonlyMap<number, number> = new Map([
  [0x00080005, W_CHARSET],
  [0x00080016, W_SOP_CLASS],
  [0x00080018, W_SOP_INSTANCE],
  [0x00080020, W_STUDY_DATE],
  [0x00080050, W_ACCESSION],
  [0x00080060, W_MODALITY],
  [0x00100020, W_PATIENT_ID],
  [0x0020000d, W_STUDY_UID],
  [0x0020000e, W_SERIES_UID],
  [LAST_WANTED_TAG, W_FRAMES],
]);

/**
 * Explicit VR header form, indexed by (c0 - 0x41) * 26 + (c1 - 0x41) for two upper-case letters:
 * 1 = 2-byte length, 2 = reserved + 4-byte length. VRs unknown to this table use the 4-byte form,
 * as DCMTK does (they are read as UN).
 */
const VR_FORM: Uint8Array = (() => {
  const t = new Uint8Array(26 * 26).fill(2);
  for (const vr of "AE AS AT CS DA DS DT FL FD IS LO LT PN SH SL SS ST TM UI UL US".split(" ")) {
    t[(vr.charCodeAt(0) - 0x41) * 26 + (vr.charCodeAt(1) - 0x41)] = 1;
  }
  return t;
})();

const VR_SQ = 0x5351;
const VR_UN = 0x554e;
const VR_OB = 0x4f42;
const VR_OW = 0x4f57;

interface Container {
  /** Tag of the undefined-length element (sequence) this container belongs to. */
  readonly tag: number;
  /** An undefined-length item (ends at FFFE,E00D) rather than the sequence level (items, then FFFE,E0DD). */
  readonly isItem: boolean;
  readonly enc: number;
}

const utf8 = new TextDecoder("utf-8");

function tagString(tag: number): string {
  const g = Math.floor(tag / 0x10000);
  const e = tag % 0x10000;
  return `(${g.toString(16).toUpperCase().padStart(4, "0")},${e.toString(16).toUpperCase().padStart(4, "0")})`;
}

/** Synchronous byte-level parser over the (inflated) data set stream. */
class DataSetParser {
  stopped = false;
  error: string | undefined;

  private readonly stack: Container[] = [];
  private enc: number;
  private state = HEADER;
  private readonly carry = new Uint8Array(12);
  private carryLen = 0;
  private skipRemaining = 0;
  private curTag = 0;
  private valueKey = 0;
  private valueLen = 0;
  private value: Uint8Array | undefined;
  private valueFilled = 0;

  constructor(
    private readonly baseEnc: number,
    private readonly attrs: InstanceAttributes,
  ) {
    this.enc = baseEnc;
  }

  feed(b: Uint8Array): void {
    let pos = 0;
    const end = b.length;
    while (pos < end && !this.stopped) {
      if (this.state === SKIP) {
        const avail = end - pos;
        if (this.skipRemaining > avail) {
          this.skipRemaining -= avail;
          return;
        }
        pos += this.skipRemaining;
        this.skipRemaining = 0;
        this.state = HEADER;
        continue;
      }
      if (this.state === VALUE) {
        let v = this.value;
        if (v === undefined) {
          if (end - pos >= this.valueLen) {
            this.store(b, pos, this.valueLen);
            pos += this.valueLen;
            this.state = HEADER;
            continue;
          }
          v = new Uint8Array(this.valueLen);
          this.value = v;
          this.valueFilled = 0;
        }
        const n = Math.min(v.length - this.valueFilled, end - pos);
        v.set(b.subarray(pos, pos + n), this.valueFilled);
        this.valueFilled += n;
        pos += n;
        if (this.valueFilled === v.length) {
          this.store(v, 0, v.length);
          this.value = undefined;
          this.state = HEADER;
        }
        continue;
      }
      // HEADER
      if (this.carryLen === 0) {
        const used = this.header(b, pos, end - pos);
        if (used > 0) {
          pos += used;
        } else if (used === 0) {
          // Fewer than 12 bytes left (a header is at most 12): keep them for the next chunk.
          this.carry.set(b.subarray(pos, end), 0);
          this.carryLen = end - pos;
          return;
        } else {
          return;
        }
      } else {
        const had = this.carryLen;
        const take = Math.min(12 - had, end - pos);
        this.carry.set(b.subarray(pos, pos + take), had);
        this.carryLen = had + take;
        const used = this.header(this.carry, 0, this.carryLen);
        if (used === 0) return; // all of this chunk went into the carry
        if (used < 0) return;
        // The header needed more than `had` bytes (or it would have been parsed before).
        pos += used - had;
        this.carryLen = 0;
      }
    }
  }

  /** End of the data set. */
  end(): void {
    if (this.stopped) return;
    const inSeq = this.stack.length > 0 ? ` in sequence ${tagString(this.stack[0]?.tag ?? 0)}` : "";
    if (this.state === SKIP || this.state === VALUE) {
      this.fail(`truncated element ${tagString(this.curTag)}${inSeq}`);
    } else if (this.carryLen > 0) {
      this.fail(`truncated element header (${this.carryLen} bytes)${inSeq}`);
    } else if (this.stack.length > 0) {
      this.fail(`truncated sequence ${tagString(this.stack[0]?.tag ?? 0)}: missing delimiter`);
    } else {
      this.stopped = true;
    }
  }

  fail(message: string): false {
    if (!this.stopped) {
      this.error = message;
      this.stopped = true;
    }
    return false;
  }

  /** Parse an element header at b[o..o+avail): bytes consumed, 0 = need more bytes, -1 = stopped. */
  private header(b: Uint8Array, o: number, avail: number): number {
    if (avail < 4) return 0;
    const enc = this.enc;
    const be = enc === ENC_EXPLICIT_BE;
    const b0 = b[o] ?? 0;
    const b1 = b[o + 1] ?? 0;
    const b2 = b[o + 2] ?? 0;
    const b3 = b[o + 3] ?? 0;
    const group = be ? (b0 << 8) | b1 : (b1 << 8) | b0;
    const tag = group * 0x10000 + (be ? (b2 << 8) | b3 : (b3 << 8) | b2);
    const depth = this.stack.length;
    if (depth === 0 && tag > LAST_WANTED_TAG) {
      this.stopped = true;
      return -1;
    }
    if (avail < 8) return 0;
    if (group === 0xfffe) {
      return this.delimiter(tag, readU32(b, o + 4, be)) ? 8 : -1;
    }
    if (enc === ENC_IMPLICIT_LE) {
      return this.element(tag, 0, readU32(b, o + 4, false)) ? 8 : -1;
    }
    const c0 = b[o + 4] ?? 0;
    const c1 = b[o + 5] ?? 0;
    if (c0 < 0x41 || c0 > 0x5a || c1 < 0x41 || c1 > 0x5a) {
      this.fail(`invalid VR for element ${tagString(tag)}`);
      return -1;
    }
    const vr = (c0 << 8) | c1;
    if (VR_FORM[(c0 - 0x41) * 26 + (c1 - 0x41)] === 1) {
      const len = be ? ((b[o + 6] ?? 0) << 8) | (b[o + 7] ?? 0) : ((b[o + 7] ?? 0) << 8) | (b[o + 6] ?? 0);
      return this.element(tag, vr, len) ? 8 : -1;
    }
    if (avail < 12) return 0;
    return this.element(tag, vr, readU32(b, o + 8, be)) ? 12 : -1;
  }

  /** A data element header (not an item/delimiter). `vr` is 0 in implicit VR. False when stopped. */
  private element(tag: number, vr: number, len: number): boolean {
    this.curTag = tag;
    const top = this.stack[this.stack.length - 1];
    if (top === undefined) {
      const key = WANTED.get(tag);
      if (key !== undefined) {
        if (len === UNDEFINED_LENGTH)
          return this.fail(`undefined length on non-SQ element ${tagString(tag)}`);
        if (len > MAX_WANTED_VALUE_LENGTH) {
          return this.fail(`value of ${tagString(tag)} too long (${len} bytes)`);
        }
        if (len === 0) {
          this.store(this.carry, 0, 0, key);
        } else {
          this.state = VALUE;
          this.valueKey = key;
          this.valueLen = len;
        }
        return true;
      }
    } else if (!top.isItem) {
      return this.fail(`unexpected element ${tagString(tag)} in sequence ${tagString(top.tag)}`);
    }
    if (len === UNDEFINED_LENGTH) return this.open(tag, vr);
    if (len > 0) {
      this.state = SKIP;
      this.skipRemaining = len;
    }
    return true;
  }

  /** An undefined-length element: a sequence (or encapsulated pixel data) whose items we walk. */
  private open(tag: number, vr: number): boolean {
    let enc = this.enc;
    if (enc !== ENC_IMPLICIT_LE) {
      if (vr === VR_UN) {
        // PS3.5 6.2.2: UN of undefined length holds a sequence in Implicit VR Little Endian.
        enc = ENC_IMPLICIT_LE;
      } else if (vr !== VR_SQ && vr !== VR_OB && vr !== VR_OW) {
        return this.fail(`undefined length on non-SQ element ${tagString(tag)}`);
      }
    }
    this.stack.push({ tag, isItem: false, enc });
    this.enc = enc;
    return true;
  }

  /** (FFFE,E000) item, (FFFE,E00D) item delimiter, (FFFE,E0DD) sequence delimiter. */
  private delimiter(tag: number, len: number): boolean {
    this.curTag = tag;
    const top = this.stack[this.stack.length - 1];
    if (top === undefined) return this.fail(`unexpected ${tagString(tag)} outside a sequence`);
    if (top.isItem) {
      if (tag !== 0xfffee00d) {
        return this.fail(`unexpected ${tagString(tag)} in an item of sequence ${tagString(top.tag)}`);
      }
      this.pop();
      return true;
    }
    if (tag === 0xfffee0dd) {
      this.pop();
      return true;
    }
    if (tag !== 0xfffee000) {
      return this.fail(`unexpected ${tagString(tag)} in sequence ${tagString(top.tag)}`);
    }
    if (len === UNDEFINED_LENGTH) {
      this.stack.push({ tag: top.tag, isItem: true, enc: top.enc });
    } else if (len > 0) {
      this.state = SKIP;
      this.skipRemaining = len;
    }
    return true;
  }

  private pop(): void {
    this.stack.pop();
    this.enc = this.stack[this.stack.length - 1]?.enc ?? this.baseEnc;
  }

  private store(b: Uint8Array, start: number, len: number, key: number = this.valueKey): void {
    let s = start;
    let e = start + len;
    while (e > s && (b[e - 1] === 0x20 || b[e - 1] === 0x00)) e--;
    const uid = key === W_SOP_CLASS || key === W_SOP_INSTANCE || key === W_STUDY_UID || key === W_SERIES_UID;
    if (!uid) while (s < e && b[s] === 0x20) s++;
    const a = this.attrs;
    if (key === W_FRAMES) {
      const t = latin1(b, s, e);
      a.numberOfFrames = /^[+-]?\d{1,12}$/.test(t) ? Number.parseInt(t, 10) : undefined;
      return;
    }
    // PN/LO/SH values depend on the character set; everything else wanted here is ASCII.
    const text =
      (key === W_PATIENT_ID || key === W_ACCESSION) && a.specificCharacterSet === "ISO_IR 192"
        ? utf8.decode(b.subarray(s, e))
        : latin1(b, s, e);
    switch (key) {
      case W_CHARSET:
        a.specificCharacterSet = text;
        break;
      case W_SOP_CLASS:
        a.sopClassUid = text;
        break;
      case W_SOP_INSTANCE:
        a.sopInstanceUid = text;
        break;
      case W_STUDY_DATE:
        a.studyDate = text;
        break;
      case W_ACCESSION:
        a.accessionNumber = text;
        break;
      case W_MODALITY:
        a.modality = text;
        break;
      case W_PATIENT_ID:
        a.patientId = text;
        break;
      case W_STUDY_UID:
        a.studyInstanceUid = text;
        break;
      case W_SERIES_UID:
        a.seriesInstanceUid = text;
        break;
    }
  }
}

function readU32(b: Uint8Array, o: number, be: boolean): number {
  const x0 = b[o] ?? 0;
  const x1 = b[o + 1] ?? 0;
  const x2 = b[o + 2] ?? 0;
  const x3 = b[o + 3] ?? 0;
  return be ? x0 * 0x1000000 + ((x1 << 16) | (x2 << 8) | x3) : x3 * 0x1000000 + ((x2 << 16) | (x1 << 8) | x0);
}

/**
 * Reads the attributes listed in {@link InstanceAttributes} from the top level of a data set (no file
 * meta) pushed in chunks of any size. Supports Implicit VR LE, Explicit VR LE/BE and the deflated
 * syntaxes; encapsulated and unknown transfer syntaxes are parsed as Explicit VR Little Endian.
 */
export class AttributeScanner {
  readonly attributes: InstanceAttributes = {};
  private readonly parser: DataSetParser;
  private seen = 0;
  private finished = false;
  private inflater: InflateRaw | undefined;
  private inflateSettled: Promise<void> | undefined;
  private settleInflate: (() => void) | undefined;

  constructor(transferSyntaxUid: string) {
    const info = transferSyntaxInfo(transferSyntaxUid);
    const enc =
      info === undefined || info.explicitVr
        ? info?.littleEndian === false
          ? ENC_EXPLICIT_BE
          : ENC_EXPLICIT_LE
        : ENC_IMPLICIT_LE;
    this.parser = new DataSetParser(enc, this.attributes);
    if (info?.deflated) this.startInflater();
  }

  /** Data set bytes pushed so far (compressed bytes for the deflated syntaxes), including after `done`. */
  get bytesSeen(): number {
    return this.seen;
  }

  /**
   * True once parsing stopped: a top-level tag greater than (0028,0008) was seen (or the end, or an
   * error). For the deflated syntaxes this becomes true asynchronously, as inflated output arrives.
   */
  get done(): boolean {
    return this.parser.stopped;
  }

  /** First parse problem; undefined when fine. */
  get error(): string | undefined {
    return this.parser.error;
  }

  /** Feed the next chunk of the data set. The chunk may be reused by the caller after this returns. */
  push(chunk: Uint8Array): void {
    this.seen += chunk.length;
    if (this.parser.stopped || this.finished) return;
    const inflater = this.inflater;
    if (inflater === undefined) {
      this.parser.feed(chunk);
    } else {
      // zlib works asynchronously and keeps a reference: copy.
      inflater.write(copyOf(chunk));
    }
  }

  /** End of data set; resolves with what was found. Never rejects. */
  async finish(): Promise<InstanceAttributes> {
    if (!this.finished) {
      this.finished = true;
      const inflater = this.inflater;
      if (inflater !== undefined && this.inflateSettled !== undefined) {
        if (!this.parser.stopped) inflater.end();
        await this.inflateSettled;
      }
      this.parser.end();
    }
    return this.attributes;
  }

  /** Give up (e.g. the association was aborted): release the inflater. `done` becomes true. */
  abort(): void {
    this.finished = true;
    if (!this.parser.stopped) this.parser.fail("aborted");
    this.stopInflater();
  }

  private startInflater(): void {
    const inflater = createInflateRaw();
    this.inflater = inflater;
    this.inflateSettled = new Promise<void>((resolve) => {
      this.settleInflate = resolve;
      inflater.on("data", (d: Uint8Array) => {
        if (!this.parser.stopped) this.parser.feed(d);
        if (this.parser.stopped) this.stopInflater();
      });
      inflater.once("error", (e: Error) => {
        this.parser.fail(`deflate: ${e.message}`);
        resolve();
      });
      inflater.once("end", () => resolve());
      inflater.once("close", () => resolve());
    });
  }

  private stopInflater(): void {
    const inflater = this.inflater;
    if (inflater !== undefined && !inflater.destroyed) {
      inflater.removeAllListeners("data");
      inflater.destroy();
    }
    this.settleInflate?.();
  }
}
