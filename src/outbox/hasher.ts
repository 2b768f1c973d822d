// SHA-256 of the outbox records' files, off the event loop. Hashing on the event loop would slow the
// transfer it shares the loop with, and posting the data to a worker costs nearly as much as hashing it.
// So the worker reads the file itself, from the page cache, as it grows: the event loop posts only
// "N bytes written" every 128 KiB, and the digest is ready about when the file is synced. Where no worker
// can be started, the file is hashed at the end instead.
//
// It also hashes a stored file after the fact: from a descriptor held since the file was written (the
// very bytes of that reception, whatever became of its name), or from its path only while it is still
// the same file (fileIdentity: a later reception replaces a file by rename, so the inode it was written
// to never changes, and a different inode, size or modification time means different bytes).

import { createHash } from "node:crypto";
import { closeSync, createReadStream, fstatSync, openSync, readSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { fileIdentity } from "../store/held-file.ts";

export interface IncrementalHash {
  /** The file has `size` bytes written so far: hash them while more arrive. */
  progress(size: number): void;
  /** Hex digest of the file's first `size` bytes (all of it); ends the hash. */
  digest(size: number): Promise<string>;
  /** Forget it (the file was discarded). */
  abort(): void;
}

export interface Hasher {
  /** Start hashing the file at `path` (being written; it must exist). */
  start(path: string): IncrementalHash;
  /** Hex SHA-256 of an open file's first `size` bytes. The descriptor is the hasher's: it closes it. */
  digestFd(fd: number, size: number): Promise<string>;
  /** Hex SHA-256 of the file at `path` if it is still the file of `identity` (fileIdentity), else null. */
  digestIfSame(path: string, identity: string): Promise<string | null>;
  close(): Promise<void>;
}

/** Progress is posted at most every this many bytes (the worker reads up to it from the page cache). */
const STEP = 128 * 1024;

// Plain JavaScript, evaluated in the worker: runs the same from source and from a compiled executable.
// The worker opens the file itself and reads what was written (a page-cache copy, in its own thread):
// the event loop only posts small messages, no data.
//
// The thread runs at the lowest priority (nice 19, Linux): files are hashed after their answer, while
// more arrive, and on a 2-core edge PC that must take only CPU that receiving does not want. Where a thread cannot be reniced
// (no /proc/thread-self: Windows) it runs at normal priority, which is only slower to yield.
const WORKER_CODE = `
const { parentPort } = require("node:worker_threads");
const identity = ${fileIdentity.toString()};
try {
  const tid = Number(require("node:fs").readlinkSync("/proc/thread-self").split("/").pop());
  require("node:os").setPriority(tid, 19);
} catch (e) { /* normal priority: see the comment above WORKER_CODE */ }
const { createHash } = require("node:crypto");
const { openSync, readSync, closeSync, fstatSync } = require("node:fs");
const files = new Map();
const buf = Buffer.allocUnsafe(1024 * 1024);
function upTo(f, size) {
  while (f.pos < size) {
    const n = readSync(f.fd, buf, 0, Math.min(buf.length, size - f.pos), f.pos);
    if (n === 0) break;
    f.hash.update(buf.subarray(0, n));
    f.pos += n;
  }
}
function end(id) {
  const f = files.get(id);
  files.delete(id);
  if (f && f.fd >= 0) try { closeSync(f.fd); } catch {}
  return f;
}
function whole(fd, size) {
  const f = { fd, pos: 0, hash: createHash("sha256") };
  upTo(f, size);
  if (f.pos !== size) throw new Error("file shorter than expected");
  return f.hash.digest("hex");
}
parentPort.on("message", (m) => {
  if (m.t === 4 || m.t === 5) {
    let fd = m.t === 4 ? m.fd : -1;
    try {
      let d = null;
      if (m.t === 4) d = whole(fd, m.size);
      else {
        fd = openSync(m.path, "r");
        const s = fstatSync(fd, { bigint: true });
        if (identity(s) === m.identity) d = whole(fd, Number(s.size));
      }
      parentPort.postMessage({ id: m.id, d });
    } catch (e) {
      parentPort.postMessage({ id: m.id, e: String(e && e.message || e), c: e && e.code });
    } finally {
      if (fd >= 0) try { closeSync(fd); } catch {}
    }
    return;
  }
  try {
    if (m.t === 0) files.set(m.id, { fd: openSync(m.path, "r"), pos: 0, hash: createHash("sha256") });
    else if (m.t === 1) { const f = files.get(m.id); if (f) upTo(f, m.size); }
    else if (m.t === 2) {
      const f = files.get(m.id);
      if (!f) throw new Error("file was not opened for hashing");
      upTo(f, m.size);
      if (f.pos !== m.size) throw new Error("file shorter than expected");
      end(m.id);
      parentPort.postMessage({ id: m.id, d: f.hash.digest("hex") });
    } else if (m.t === 3) end(m.id);
  } catch (e) {
    end(m.id);
    if (m.t === 2 || m.t === 0) parentPort.postMessage({ id: m.id, e: String(e && e.message || e) });
  }
});`;

type WorkerMessage =
  | { t: 0; id: number; path: string }
  | { t: 1 | 2; id: number; size: number }
  | { t: 3; id: number }
  | { t: 4; id: number; fd: number; size: number }
  | { t: 5; id: number; path: string; identity: string };

class WorkerHasher implements Hasher {
  private thread: Worker | null = null;
  private seq = 0;
  private readonly waiting = new Map<
    number,
    { resolve: (d: string | null) => void; reject: (e: Error) => void }
  >();
  /** Start failures reported before the digest was asked for. */
  private readonly failed = new Map<number, string>();
  private failure: Error | null = null;

  /**
   * The thread, started at the first file to hash: with write-ahead durability most files are hashed
   * as they are written from the log (src/store/wal/copier.ts), and an idle thread still costs memory.
   */
  private get worker(): Worker {
    if (this.thread) return this.thread;
    const worker = new Worker(WORKER_CODE, { eval: true });
    this.thread = worker;
    worker.unref();
    worker.on("message", (m: { id: number; d?: string | null; e?: string; c?: string }) => {
      const w = this.waiting.get(m.id);
      if (!w) {
        if (m.e !== undefined) this.failed.set(m.id, m.e);
        return;
      }
      this.waiting.delete(m.id);
      if (m.d !== undefined) w.resolve(m.d);
      else w.reject(Object.assign(new Error(`hashing failed: ${m.e}`), m.c ? { code: m.c } : {}));
    });
    worker.on("error", (err: Error) => this.fail(err));
    worker.on("exit", () => this.fail(new Error("hash worker exited")));
    return worker;
  }

  private fail(err: Error): void {
    this.failure = err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }

  private post(m: WorkerMessage): void {
    if (this.failure) return;
    try {
      this.worker.postMessage(m);
    } catch (err) {
      // No thread could be started: every hash asked for fails (the records leave with a warning).
      this.fail(err as Error);
    }
  }

  start(path: string): IncrementalHash {
    this.seq += 1;
    const id = this.seq;
    let posted = 0;
    this.post({ t: 0, id, path });
    return {
      progress: (size) => {
        if (size - posted < STEP) return;
        posted = size;
        this.post({ t: 1, id, size });
      },
      digest: (size) => {
        if (this.failure) return Promise.reject(this.failure);
        const early = this.failed.get(id);
        if (early !== undefined) {
          this.failed.delete(id);
          return Promise.reject(new Error(`hashing failed: ${early}`));
        }
        return this.ask({ t: 2, id, size }).then((d) => d ?? "");
      },
      abort: () => {
        this.failed.delete(id);
        this.post({ t: 3, id });
      },
    };
  }

  private ask(m: WorkerMessage): Promise<string | null> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<string | null>((resolve, reject) => {
      this.waiting.set(m.id, { resolve, reject });
      this.post(m);
    });
  }

  digestFd(fd: number, size: number): Promise<string> {
    this.seq += 1;
    if (this.failure) {
      closeQuietly(fd);
      return Promise.reject(this.failure);
    }
    return this.ask({ t: 4, id: this.seq, fd, size }).then((d) => d ?? "");
  }

  digestIfSame(path: string, identity: string): Promise<string | null> {
    this.seq += 1;
    return this.ask({ t: 5, id: this.seq, path, identity });
  }

  async close(): Promise<void> {
    await this.thread?.terminate();
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // nothing to do: the descriptor is gone either way
  }
}

/** SHA-256 of an open file's first `size` bytes, read here (the inline hasher's way). */
function digestOpen(fd: number, size: number): string {
  const h = createHash("sha256");
  const buf = new Uint8Array(1024 * 1024);
  let pos = 0;
  while (pos < size) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
    if (n === 0) throw new Error("file shorter than expected");
    h.update(buf.subarray(0, n));
    pos += n;
  }
  return h.digest("hex");
}

/** Hashes the file at the end, on the event loop (where no worker thread can be started). */
class InlineHasher implements Hasher {
  start(path: string): IncrementalHash {
    return {
      progress: () => {},
      digest: (size) => sha256OfFile(path, size),
      abort: () => {},
    };
  }
  async digestFd(fd: number, size: number): Promise<string> {
    try {
      return digestOpen(fd, size);
    } finally {
      closeQuietly(fd);
    }
  }
  async digestIfSame(path: string, identity: string): Promise<string | null> {
    const fd = openSync(path, "r");
    try {
      const st = fstatSync(fd, { bigint: true });
      return fileIdentity(st) === identity ? digestOpen(fd, Number(st.size)) : null;
    } finally {
      closeQuietly(fd);
    }
  }
  async close(): Promise<void> {}
}

/** A worker-thread hasher, or the event-loop one where workers are unavailable. */
export function createHasher(inline = false): Hasher {
  if (!inline) {
    try {
      return new WorkerHasher();
    } catch {
      // fall through
    }
  }
  return new InlineHasher();
}

/** SHA-256 of a file (its first `size` bytes), streamed: for a lost incremental hash, and for tests. */
export async function sha256OfFile(path: string, size?: number): Promise<string> {
  const h = createHash("sha256");
  const opts = size === undefined ? {} : size === 0 ? { end: -1 } : { end: size - 1 };
  if (size === 0) return h.digest("hex");
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024, ...opts })) {
    h.update(chunk as Buffer);
  }
  return h.digest("hex");
}
