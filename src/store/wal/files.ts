// The log's two files on disk: making them (the ring preallocated with zeros, so that later writes change
// no metadata and a data-only sync needs no journal commit), and reading and writing the checkpoint.

import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { durable } from "../../util/durable.ts";
import {
  type Checkpoint,
  CP_BLOCK,
  CP_FILE,
  checkpointOffset,
  decodeCheckpoint,
  encodeCheckpoint,
  PAGE,
} from "./format.ts";

export function logPath(dir: string): string {
  return join(dir, "log");
}

export function checkpointPath(dir: string): string {
  return join(dir, "checkpoint");
}

/**
 * Write a ring of `capacity` bytes, zero-filled (or `sparse`: only its size set, filled later by
 * fill.ts) and, after it is durable, a first checkpoint (renamed into place, so a valid checkpoint file
 * always means a ring of the right size beside it).
 */
export function createLog(dir: string, capacity: number, sparse = false): Checkpoint {
  const fd = openSync(logPath(dir), "w", 0o644);
  try {
    if (sparse) ftruncateSync(fd, capacity);
    else {
      const zeros = new Uint8Array(Math.min(capacity, 1024 * 1024));
      for (let at = 0; at < capacity; )
        at += writeSync(fd, zeros, 0, Math.min(zeros.length, capacity - at), at);
    }
    durable.syncDataSync(fd);
  } finally {
    closeSync(fd);
  }
  const cp: Checkpoint = { gen: 1, seq: 1, lsn: 0, capacity };
  const file = new Uint8Array(CP_FILE);
  file.set(encodeCheckpoint(cp), checkpointOffset(cp.seq));
  durable.replaceFileSync(checkpointPath(dir), file, true, dir);
  return cp;
}

/** The newest valid checkpoint block; null when there is no checkpoint file. */
export function readCheckpoint(dir: string): Checkpoint | null {
  const path = checkpointPath(dir);
  if (!existsSync(path)) return null;
  const bytes = readFileSync(path);
  let best: Checkpoint | null = null;
  for (const at of [0, PAGE]) {
    const cp = decodeCheckpoint(bytes.subarray(at, at + CP_BLOCK));
    if (cp && (!best || cp.seq > best.seq)) best = cp;
  }
  if (!best) throw new Error(`write-ahead log checkpoint ${path} is unreadable (both blocks damaged)`);
  return best;
}

/** Check the ring beside a checkpoint has the size the checkpoint says. */
export function checkLogSize(fd: number, cp: Checkpoint, dir: string): void {
  const size = fstatSync(fd).size;
  if (size !== cp.capacity)
    throw new Error(
      `write-ahead log ${logPath(dir)} has ${size} bytes, its checkpoint says ${cp.capacity}: ` +
        "damaged or replaced; move the directory aside to start an empty log",
    );
}

/**
 * Where a ring still needs its zeros (fill.ts), or null: a ring with fewer bytes allocated than its size
 * (made sparse, its filling cut short by a stop) that has not come round yet. The ring never wrote past
 * its head in its first lap, so the zeros go from there; one that came round was filled before it did.
 */
export function unfilledFrom(fd: number, capacity: number, head: number): number | null {
  if (head >= capacity) return null;
  if (fstatSync(fd).blocks * 512 >= capacity) return null;
  const from = Math.ceil(head / PAGE) * PAGE;
  return from < capacity ? from : null;
}

/** Write `cp` into its block (the other block keeps the previous one). Sync it with durable. */
export function writeCheckpointBlock(fd: number, cp: Checkpoint): void {
  const block = encodeCheckpoint(cp);
  let done = 0;
  const at = checkpointOffset(cp.seq);
  while (done < block.length) done += writeSync(fd, block, done, block.length - done, at + done);
}
