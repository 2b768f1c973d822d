// Starting the disk write of a file range without waiting for it: Linux sync_file_range(2) with
// SYNC_FILE_RANGE_WRITE, called through Bun's FFI (node:fs has no binding for it). With storage.fsync,
// each PDV written to a temp file is handed to the disk at once, so the fdatasync before the C-STORE
// response finds the data written and mostly commits the journal, and waits far less.
//
// The call submits the I/O in the caller's thread (long enough to slow receiving when made on the event
// loop), so a small thread makes it: the event loop only puts (fd, offset, length) in a shared ring
// and wakes it. A range the ring has no room for is skipped: the
// final fdatasync writes it anyway. A descriptor closed and reused before its turn only gets another
// file's range written early, which is harmless.
//
// Linux only: durable.ts decides where it is started. Where it cannot run (Node, a libc that cannot be
// opened, no worker) `writeback()` is null and StreamingFile falls back to background fdatasync rounds.

import { Worker } from "node:worker_threads";

/** Start writing [offset, offset + length) of `fd` to the disk, soon, without waiting. */
export type StartWriteback = (fd: number, offset: number, length: number) => void;

/** A power of two: counters wrap as int32 and index by masking. */
const SLOTS = 256;
/**
 * Int32 view: [0] = ranges written by the event loop, [1] = ranges taken by the thread, [2] = 1 while
 * the thread sleeps (only then is it woken: a wake-up crosses cores, dear in a VM).
 */
const HEAD = 0;
const TAIL = 1;
const ASLEEP = 2;

// Plain JavaScript, evaluated in the thread: runs the same from source and from a compiled executable.
const THREAD_CODE = `
const { workerData } = require("node:worker_threads");
const ffi = require("bun:ffi");
const libc = ffi.dlopen("libc.so.6", {
  sync_file_range: { args: [ffi.FFIType.i32, ffi.FFIType.i64, ffi.FFIType.i64, ffi.FFIType.u32], returns: ffi.FFIType.i32 },
});
const sfr = libc.symbols.sync_file_range;
const ctl = new Int32Array(workerData.control);
const ranges = new Float64Array(workerData.ranges);
for (;;) {
  const tail = Atomics.load(ctl, ${TAIL});
  if (Atomics.load(ctl, ${HEAD}) === tail) {
    Atomics.store(ctl, ${ASLEEP}, 1);
    // A range written between the check and the flag is seen here, before sleeping.
    if (Atomics.load(ctl, ${HEAD}) === tail) Atomics.wait(ctl, ${HEAD}, tail);
    Atomics.store(ctl, ${ASLEEP}, 0);
    continue;
  }
  const slot = (tail & ${SLOTS - 1}) * 3;
  sfr(ranges[slot], ranges[slot + 1], ranges[slot + 2], 2);
  Atomics.store(ctl, ${TAIL}, (tail + 1) | 0);
}`;

function load(): StartWriteback | null {
  if (process.env.STORESCP_NO_SYNC_FILE_RANGE === "1") return null;
  if (!(globalThis as { Bun?: unknown }).Bun) return null;
  const control = new SharedArrayBuffer(12);
  const ranges = new SharedArrayBuffer(SLOTS * 3 * 8);
  let thread: Worker;
  try {
    thread = new Worker(THREAD_CODE, { eval: true, workerData: { control, ranges } });
  } catch {
    // No worker threads here: the portable fdatasync rounds are used.
    return null;
  }
  thread.unref();
  let usable = true;
  // dlopen failing (no glibc) ends the thread: from then on the fdatasync rounds take over.
  thread.on("error", () => {
    usable = false;
  });
  const ctl = new Int32Array(control);
  const slots = new Float64Array(ranges);
  return (fd, offset, length) => {
    if (!usable) return;
    const head = Atomics.load(ctl, HEAD);
    if (((head - Atomics.load(ctl, TAIL)) | 0) >= SLOTS) return;
    const slot = (head & (SLOTS - 1)) * 3;
    slots[slot] = fd;
    slots[slot + 1] = offset;
    slots[slot + 2] = length;
    Atomics.store(ctl, HEAD, (head + 1) | 0);
    if (Atomics.load(ctl, ASLEEP) === 1) Atomics.notify(ctl, HEAD);
  };
}

let loaded: StartWriteback | null | undefined;

/** The writeback starter, made on first use (so CLI commands start no thread); null where unavailable. */
export function writeback(): StartWriteback | null {
  if (loaded === undefined) loaded = load();
  return loaded;
}
