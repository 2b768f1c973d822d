// Test hooks for a simulated power loss: what the log holds beyond the durable LSN, and spoiling it.

import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { logPath, readCheckpoint } from "./files.ts";
import { align8, HEADER, KIND_PAD, lapRemaining, readHeader } from "./format.ts";

export interface RecordSpan {
  lsn: number;
  /** Offset in the file. */
  at: number;
  size: number;
}

/**
 * The records written from `durableLsn` on, in order, as far as they follow each other (their headers
 * only are checked). `dir` must hold a closed log.
 */
export function unsyncedRecords(dir: string, durableLsn: number): RecordSpan[] {
  const cp = readCheckpoint(dir);
  if (!cp) return [];
  const capacity = cp.capacity;
  const fd = openSync(logPath(dir), "r");
  const spans: RecordSpan[] = [];
  try {
    const head = new Uint8Array(HEADER);
    const view = new DataView(head.buffer);
    for (let p = durableLsn; p - durableLsn < capacity; ) {
      const rem = lapRemaining(p, capacity);
      if (rem < HEADER) {
        p += rem;
        continue;
      }
      const at = p % capacity;
      if (readSync(fd, head, 0, HEADER, at) < HEADER) break;
      const h = readHeader(view, 0);
      if (!h || h.lsn !== p) break;
      const size = h.kind === KIND_PAD ? rem : Math.min(rem, align8(HEADER + h.length));
      spans.push({ lsn: p, at, size });
      p += size;
    }
  } finally {
    closeSync(fd);
  }
  return spans;
}

/** Overwrite with garbage everything the log holds beyond `durableLsn` (what the last mark said). */
export function discardUnsynced(dir: string, durableLsn: number): void {
  const spans = unsyncedRecords(dir, durableLsn);
  if (spans.length === 0) return;
  const fd = openSync(logPath(dir), "r+");
  try {
    for (const s of spans) {
      const junk = new Uint8Array(s.size);
      crypto.getRandomValues(junk.subarray(0, Math.min(junk.length, 65536)));
      writeSync(fd, junk, 0, junk.length, s.at);
    }
  } finally {
    closeSync(fd);
  }
}
