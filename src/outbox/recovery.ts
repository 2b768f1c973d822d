// What opening the log does with what a crash (or a bad disk) left, and where bytes that are not
// records go. At open every segment after the cursor is checked: zeros at the end of a segment are room
// reserved for records never written and are cut off; a torn tail of the last segment (a write cut short)
// is set aside and truncated, so appends follow the last good record; bad records elsewhere are set
// aside and skipped. Set aside means kept in <dir>/corrupt/, once, with a log line an operator will see:
// nothing is dropped silently.

import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { event, logger } from "../ops/log.ts";
import { durable } from "../util/durable.ts";
import { type BadRange, parseFrames } from "./frame.ts";
import { hashNotesSeq, READ_BYTES, readAt, type Segment, segmentName, segmentPath } from "./segments.ts";

const log = logger("outbox");

/** Where the log in `dir` keeps bytes that are not records. */
export const corruptDir = (dir: string): string => join(dir, "corrupt");

/** How many ranges of bytes have been set aside in corrupt/ (they stay until an operator looks). */
export function setAsideCount(dir: string): number {
  const d = corruptDir(dir);
  return existsSync(d) ? readdirSync(d).length : 0;
}

/** Bytes of the log that are not valid records, kept in <dir>/corrupt/ (nothing is kept read-only). */
export class CorruptRanges {
  private readonly reported = new Set<string>();

  constructor(
    private readonly dir: string,
    private readonly readOnly: boolean,
  ) {}

  /** Keep the bytes of `bad` in corrupt/, once, with a log line an operator will see. */
  setAside(seq: number, bad: BadRange, bytes: Uint8Array, tornTail: boolean): void {
    const key = `${seq}:${bad.offset}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    if (this.readOnly) return;
    const dir = corruptDir(this.dir);
    const file = join(dir, `${segmentName(seq)}@${bad.offset}.bin`);
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, bytes);
    }
    event(log, tornTail ? "warning" : "error", tornTail ? "outbox-torn-tail" : "outbox-record-corrupt", {
      segment: segmentName(seq),
      offset: bad.offset,
      bytes: bad.length,
      set_aside: file,
    });
  }
}

export interface Checked {
  /** The segment's size once checked: without zeros at its end, nor (the last) a torn tail. */
  size: number;
  /** Valid records from the start of the check. */
  records: number;
  /** End of the last valid record. */
  validEnd: number;
}

/**
 * Count and verify the records of segment `s` of the log in `dir` from `from`; set bad ranges aside;
 * truncate the zeros at its end and, for the `last` segment, a torn tail (not `readOnly`).
 */
export async function checkSegment(
  dir: string,
  s: Segment,
  from: number,
  last: boolean,
  readOnly: boolean,
  corrupt: CorruptRanges,
): Promise<Checked> {
  const path = segmentPath(dir, s.seq);
  let size = s.size;
  let records = 0;
  const fd = openSync(path, "r");
  try {
    // Zeros at the end are space reserved for records that were never written (a crash): no record.
    const end = await dataEnd(fd, size, from);
    if (end < size) {
      if (!readOnly) {
        const wfd = openSync(path, "r+");
        try {
          ftruncateSync(wfd, end);
        } finally {
          closeSync(wfd);
        }
      }
      size = end;
    }
    let pos = from;
    let validEnd = from;
    const buf = new Uint8Array(READ_BYTES);
    while (pos < size) {
      const n = await readAt(fd, buf, 0, Math.min(READ_BYTES, size - pos), pos);
      const finalRead = pos + n >= size;
      const parsed = parseFrames(buf.subarray(0, n), pos, finalRead);
      records += parsed.frames.length;
      const lastFrame = parsed.frames.at(-1);
      if (lastFrame) validEnd = lastFrame.end;
      for (const b of parsed.bad) {
        const tail = last && b.offset + b.length === size && b.offset >= validEnd;
        corrupt.setAside(s.seq, b, buf.subarray(b.offset - pos, b.offset - pos + b.length), tail);
      }
      if (n === 0 || parsed.consumed === 0) break;
      pos += parsed.consumed;
    }
    if (last && validEnd < size && !readOnly) {
      // A torn tail (a write cut short by a crash): set aside above, cut off here, so appends follow
      // the last good record.
      const wfd = openSync(path, "r+");
      try {
        ftruncateSync(wfd, validEnd);
        durable.syncDataSync(wfd);
      } finally {
        closeSync(wfd);
      }
      size = validEnd;
    }
    return { size, records, validEnd };
  } finally {
    closeSync(fd);
  }
}

/**
 * Where the data of a segment ends: `size` less the zero bytes at its end (space reserved for records
 * that were never written). A record never ends in a zero byte (its payload is a JSON object). Reads
 * backwards only through the zeros; never below `floor`.
 */
async function dataEnd(fd: number, size: number, floor: number): Promise<number> {
  const buf = new Uint8Array(64 * 1024);
  let end = size;
  while (end > floor) {
    const n = Math.min(buf.length, end - floor);
    const got = await readAt(fd, buf, 0, n, end - n);
    if (got !== n) return end;
    let i = got - 1;
    while (i >= 0 && buf[i] === 0) i--;
    if (i >= 0) return end - n + i + 1;
    end -= n;
  }
  return end;
}

/** Delete hash notes whose segment is gone (deleted by a process that crashed before it deleted them). */
export function dropOrphanNotes(dir: string, liveSeqs: ReadonlySet<number>): void {
  for (const n of readdirSync(dir)) {
    const seq = hashNotesSeq(n);
    if (seq !== null && !liveSeqs.has(seq)) unlinkSync(join(dir, n));
  }
}
