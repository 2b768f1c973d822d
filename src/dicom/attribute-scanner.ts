// Streaming extraction of a few top-level attributes from a data set that arrives in chunks
// (C-STORE P-DATA fragments), and the check that the data set is whole: every chunk goes through the
// data set walker (dataset-walker.ts), which follows the structure to the last byte; this module is
// its visitor until the identifying attributes have been read. Never holds the data set: only the
// (small) values of wanted elements are buffered. Deflated data sets are inflated as they arrive,
// within a bound on the inflated size and on the inflation ratio.

import { createInflateRaw, type InflateRaw } from "node:zlib";
import { copyOf, latin1 } from "../util/bytes.ts";
import {
  DataSetWalker,
  type ElementVisitor,
  SKIP_VALUE,
  WANT_VALUE,
  type WalkProblem,
  walkEncodingOf,
} from "./dataset-walker.ts";
import { tagString, UNDEFINED_LENGTH } from "./tags.ts";
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

const utf8 = new TextDecoder("utf-8");

/** The walker's visitor until (0028,0008) is passed: keeps the wanted values in `attrs`. */
class WantedAttributes implements ElementVisitor {
  /** The identifying attributes have all been seen (or cannot be anymore). */
  done = false;
  private valueKey = 0;

  constructor(private readonly attrs: InstanceAttributes) {}

  element(tag: number, _vr: number, len: number): number | string {
    if (tag > LAST_WANTED_TAG) {
      this.done = true;
      return SKIP_VALUE;
    }
    const key = WANTED.get(tag);
    if (key === undefined) return SKIP_VALUE;
    if (len === UNDEFINED_LENGTH) return `undefined length on non-SQ element ${tagString(tag)}`;
    if (len > MAX_WANTED_VALUE_LENGTH) return `value of ${tagString(tag)} too long (${len} bytes)`;
    this.valueKey = key;
    return WANT_VALUE;
  }

  value(b: Uint8Array, start: number, len: number): void {
    this.store(b, start, len, this.valueKey);
  }

  private store(b: Uint8Array, start: number, len: number, key: number): void {
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

export interface DataSetLimits {
  /** Sequences nested deeper than this are refused (limits.max_sequence_depth). */
  maxSequenceDepth: number;
  /** Deflated data sets: inflated bytes beyond this are refused (limits.max_inflated_mb). */
  maxInflatedBytes: number;
  /** Deflated data sets: inflated / received bytes beyond this are refused (limits.max_inflate_ratio)... */
  maxInflateRatio: number;
  /** ... once this many bytes have been inflated: small, very compressible data sets always pass. */
  inflateRatioFloorBytes: number;
}

export const DEFAULT_DATA_SET_LIMITS: Readonly<DataSetLimits> = {
  maxSequenceDepth: 64,
  maxInflatedBytes: 2048 * 1024 * 1024,
  maxInflateRatio: 200,
  inflateRatioFloorBytes: 16 * 1024 * 1024,
};

/**
 * Reads the attributes listed in {@link InstanceAttributes} from the top level of a data set (no file
 * meta) pushed in chunks of any size, and checks the whole data set's structure to its end (see
 * dataset-walker.ts). Supports Implicit VR LE, Explicit VR LE/BE and the deflated syntaxes;
 * encapsulated and unknown transfer syntaxes are parsed as Explicit VR Little Endian.
 */
export class AttributeScanner {
  readonly attributes: InstanceAttributes = {};
  /** Called when inflater input waiting in memory (pendingBytes) went down. */
  onProgress: (() => void) | null = null;
  private readonly wanted: WantedAttributes;
  private readonly walker: DataSetWalker;
  private seen = 0;
  private finished = false;
  private inflater: InflateRaw | undefined;
  private inflateSettled: Promise<void> | undefined;
  private settleInflate: (() => void) | undefined;
  private inflated = 0;
  private inflateEnded = false;
  private lastByte = 0;

  constructor(
    transferSyntaxUid: string,
    private readonly limits: DataSetLimits = DEFAULT_DATA_SET_LIMITS,
  ) {
    this.wanted = new WantedAttributes(this.attributes);
    this.walker = new DataSetWalker(walkEncodingOf(transferSyntaxUid), limits, this.wanted);
    if (transferSyntaxInfo(transferSyntaxUid)?.deflated) this.startInflater();
  }

  /** Data set bytes pushed so far (compressed bytes for the deflated syntaxes), including after `done`. */
  get bytesSeen(): number {
    return this.seen;
  }

  /**
   * True once the identifying attributes are known: a top-level tag greater than (0028,0008) was seen
   * (or the end, or a problem). For the deflated syntaxes this becomes true asynchronously, as inflated
   * output arrives. The data set is still checked after that, to its end.
   */
  get done(): boolean {
    return this.wanted.done || this.walker.stopped;
  }

  /** First problem (structure, limits, deflate); undefined while fine. Final once finish() resolved. */
  get error(): string | undefined {
    return this.walker.error;
  }

  /** What kind of problem `error` is. */
  get problem(): WalkProblem | undefined {
    return this.walker.problem;
  }

  /** Deflated input waiting for the inflater, held in memory (counted as the association's buffer). */
  get pendingBytes(): number {
    return this.inflater?.writableLength ?? 0;
  }

  /** Feed the next chunk of the data set. The chunk may be reused by the caller after this returns. */
  push(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n === 0) return;
    this.seen += n;
    if (this.walker.stopped || this.finished) return;
    const inflater = this.inflater;
    if (inflater === undefined) {
      this.walker.feed(chunk);
      if (this.wanted.done) this.walker.detachVisitor();
      return;
    }
    this.lastByte = chunk[n - 1] ?? 0;
    // zlib works asynchronously and keeps a reference: copy.
    inflater.write(copyOf(chunk));
  }

  /** End of data set; resolves with what was found. Never rejects. */
  async finish(): Promise<InstanceAttributes> {
    if (!this.finished) {
      this.finished = true;
      const inflater = this.inflater;
      if (inflater !== undefined && this.inflateSettled !== undefined) {
        if (!this.walker.stopped) inflater.end();
        await this.inflateSettled;
        this.checkDeflateEnd(inflater);
      }
      this.walker.end();
      this.wanted.done = true;
    }
    return this.attributes;
  }

  /** Give up (e.g. the association was aborted): release the inflater. `done` becomes true. */
  abort(): void {
    this.finished = true;
    this.walker.fail("truncated", "aborted");
    this.stopInflater();
  }

  private startInflater(): void {
    const inflater = createInflateRaw();
    this.inflater = inflater;
    this.inflateSettled = new Promise<void>((resolve) => {
      this.settleInflate = resolve;
      inflater.on("data", (d: Uint8Array) => this.inflatedChunk(d));
      inflater.on("drain", () => this.onProgress?.());
      inflater.once("error", (e: Error) => {
        this.walker.fail("malformed", `deflate: ${e.message}`);
        resolve();
      });
      inflater.once("end", () => {
        this.inflateEnded = true;
        resolve();
      });
      inflater.once("close", () => resolve());
    });
  }

  private inflatedChunk(d: Uint8Array): void {
    const walker = this.walker;
    if (!walker.stopped) {
      this.inflated += d.length;
      const l = this.limits;
      if (this.inflated > l.maxInflatedBytes) {
        walker.fail(
          "limit",
          `inflates to more than ${Math.round(l.maxInflatedBytes / 1048576)} MB (limits.max_inflated_mb)`,
        );
      } else if (this.inflated > l.inflateRatioFloorBytes && this.inflated > l.maxInflateRatio * this.seen) {
        walker.fail("limit", `inflates over ${l.maxInflateRatio}x its size (limits.max_inflate_ratio)`);
      } else {
        walker.feed(d);
        if (this.wanted.done) walker.detachVisitor();
      }
    }
    // Nothing more to learn from it: release its memory and stop spending CPU on it.
    if (walker.stopped) this.stopInflater();
  }

  /**
   * The deflated bitstream must end where the data set does: bytes after it are not part of the data
   * set, except the one 00H that pads an odd-length bitstream (PS3.5 A.5).
   */
  private checkDeflateEnd(inflater: InflateRaw): void {
    if (this.walker.stopped || !this.inflateEnded) return;
    const extra = this.seen - inflater.bytesWritten;
    if (extra > 1 || (extra === 1 && this.lastByte !== 0)) {
      this.walker.fail("malformed", `${extra} bytes after the end of the deflated data set`);
    }
  }

  private stopInflater(): void {
    const inflater = this.inflater;
    if (inflater !== undefined && !inflater.destroyed) {
      inflater.removeAllListeners("data");
      inflater.destroy();
      this.onProgress?.();
    }
    this.settleInflate?.();
  }
}
