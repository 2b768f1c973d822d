// The files of the outbox log, by name, and what can be read from them without owning the log.
//
//   <dir>/<20-digit seq>.seg     a segment: framed records (frame.ts) one after the other
//   <dir>/<20-digit seq>.hashes  the hash notes of that segment's records (hashes.ts): they live and die
//                                with their segment
//
// A position in the log is a segment and a byte offset in it; positions order the records. Readers
// that do not own the log (an export) use recordsBetween: the range they read lies in segments their
// owner no longer writes.

import { closeSync, fstatSync, openSync, read, readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { HEADER, MAX_PAYLOAD, parseFrames } from "./frame.ts";

export interface Position {
  segment: number;
  offset: number;
}

/** A record as read from the log. */
export interface Entry {
  payload: Uint8Array;
  /** Position just after this record: ack(end) removes it and everything before it. */
  end: Position;
}

/** A segment of the log and the bytes it holds (its records; for the active one, as written so far). */
export interface Segment {
  seq: number;
  size: number;
}

/** Reads of this many bytes cover any whole frame. */
export const READ_BYTES = 2 * MAX_PAYLOAD + HEADER;
const SEG_RE = /^(\d{20})\.seg$/;
const NOTES_RE = /^(\d{20})\.hashes$/;

const readRaw = promisify(read);
export const readAt = async (
  fd: number,
  buf: Uint8Array,
  off: number,
  len: number,
  pos: number,
): Promise<number> => (await readRaw(fd, buf, off, len, pos)).bytesRead;

/** Is position a before position b? */
export function before(a: Position, b: Position): boolean {
  return a.segment < b.segment || (a.segment === b.segment && a.offset < b.offset);
}

export const segmentName = (seq: number): string => `${String(seq).padStart(20, "0")}.seg`;

export function segmentPath(dir: string, seq: number): string {
  return join(dir, segmentName(seq));
}

/** The sequence numbers of the segments among the file names `names`, in log order. */
export function segmentSeqs(names: readonly string[]): number[] {
  return names
    .map((n) => SEG_RE.exec(n)?.[1])
    .filter((s): s is string => s !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** Where the hash notes of segment `seq` are kept (src/outbox/hashes.ts writes and reads them). */
export function hashNotesPath(dir: string, seq: number): string {
  return join(dir, `${String(seq).padStart(20, "0")}.hashes`);
}

/** The segment a hash notes file belongs to, from its name (null: not a hash notes file). */
export function hashNotesSeq(name: string): number | null {
  const m = NOTES_RE.exec(name);
  return m ? Number(m[1]) : null;
}

/** Delete a segment the cursor has passed, and the files that live and die with it. */
export function dropSegment(dir: string, seq: number): void {
  unlinkSync(segmentPath(dir, seq));
  try {
    unlinkSync(hashNotesPath(dir, seq));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

/**
 * The records of the log in `dir` between two positions, read without owning the log: for an export,
 * whose range lies in segments their owner no longer writes (or that nobody writes). Bad bytes are
 * skipped (the owner sets them aside when it meets them).
 */
export async function* recordsBetween(dir: string, from: Position, to: Position): AsyncGenerator<Entry> {
  const seqs = segmentSeqs(readdirSync(dir)).filter((q) => q >= from.segment && q <= to.segment);
  const buf = new Uint8Array(READ_BYTES);
  for (const seq of seqs) {
    const fd = openSync(segmentPath(dir, seq), "r");
    try {
      const size = fstatSync(fd).size;
      const end = seq === to.segment ? Math.min(to.offset, size) : size;
      let pos = seq === from.segment ? from.offset : 0;
      while (pos < end) {
        const n = await readAt(fd, buf, 0, Math.min(READ_BYTES, end - pos), pos);
        if (n === 0) break;
        const parsed = parseFrames(buf.subarray(0, n), pos, pos + n >= end);
        for (const f of parsed.frames)
          yield { payload: f.payload.slice(), end: { segment: seq, offset: f.end } };
        if (parsed.consumed === 0) break;
        pos += parsed.consumed;
      }
    } finally {
      closeSync(fd);
    }
  }
}
