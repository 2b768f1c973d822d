// Writing a file from the write-ahead log behind the answer, in a thread of its own, and hashing it on
// the way. An instance the log carries alone (WalEntry.carries) was never written to its temp file while
// it arrived: one copy of the bytes instead of two on the event loop. Here its ranges are read back from
// the log (still in the page cache) and written to the temp file with O_DIRECT where the file system
// takes it: the file's bytes go from one reused buffer to the disk without taking fresh page-cache pages,
// which on a small edge PC (and in a VM, where new pages are dear) cost more than the copy itself. The
// SHA-256 of the outbox record is computed from the same buffer, so the file is never read again for it.
//
// Where O_DIRECT is refused (tmpfs, some network file systems, no aligned buffer) the thread writes
// through the page cache instead. Where no thread can be started the copy runs on the event loop.
//
// The thread keeps its normal priority, unlike the hasher's and the codecs': the log's space comes back
// only once files are placed, and a copier starved by the senders fills the log, after which instances
// take the slower way. Measured with ten parallel associations on 2 cores: at nice 19, 1.82 s against
// 1.41 s at the normal priority for 1000 instances (bench W2, loopback).

import { createHash } from "node:crypto";
import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { Worker } from "node:worker_threads";

/** What a copy made: the file's SHA-256 (hex). */
export interface Copied {
  sha256: string;
}

/** Bytes read and written per step; a multiple of the direct-I/O alignment. */
const STEP = 1024 * 1024;
/** Direct I/O wants buffer address, offset and length aligned; 4096 covers every sector size. */
const ALIGN = 4096;

// Plain JavaScript, evaluated in the thread: runs the same from source and from a compiled executable.
const THREAD_CODE = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const { createHash } = require("node:crypto");
const STEP = ${STEP}, ALIGN = ${ALIGN};
const logFd = fs.openSync(workerData.logPath, "r");
const raw = new Uint8Array(STEP + ALIGN);
let buf = raw.subarray(0, STEP);
let direct = workerData.direct && (fs.constants.O_DIRECT ?? 0) !== 0;
if (direct) {
  try {
    const { ptr } = require("bun:ffi");
    const skew = Number(BigInt(ptr(raw)) % BigInt(ALIGN));
    buf = raw.subarray(skew === 0 ? 0 : ALIGN - skew, (skew === 0 ? 0 : ALIGN - skew) + STEP);
  } catch {
    direct = false;
  }
}
function copy(job, useDirect) {
  const flags = fs.constants.O_WRONLY | (useDirect ? fs.constants.O_DIRECT : 0);
  const fd = fs.openSync(job.path, flags);
  const hash = createHash("sha256");
  try {
    let fill = 0, out = 0;
    const flush = (n) => {
      const len = useDirect ? Math.ceil(n / ALIGN) * ALIGN : n;
      if (len > n) buf.fill(0, n, len);
      for (let w = 0; w < len; ) w += fs.writeSync(fd, buf, w, len - w, out + w);
      out += n;
    };
    for (let i = 0; i < job.ranges.length; i += 2) {
      let at = job.ranges[i], left = job.ranges[i + 1];
      while (left > 0) {
        const n = fs.readSync(logFd, buf, fill, Math.min(left, STEP - fill), at);
        if (n === 0) throw new Error("write-ahead log ended early at " + at);
        hash.update(buf.subarray(fill, fill + n));
        fill += n; at += n; left -= n;
        if (fill === STEP) { flush(fill); fill = 0; }
      }
    }
    if (fill > 0) flush(fill);
    if (out !== job.size) throw new Error("write-ahead log entry holds " + out + " bytes, " + job.size + " expected");
    // A direct write ends on a whole block: the file is cut back to its size.
    if (useDirect) fs.ftruncateSync(fd, job.size);
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest("hex");
}
function one(job) {
  try {
    let sha256;
    try {
      sha256 = copy(job, direct);
    } catch (err) {
      if (!direct || err.code !== "EINVAL") throw err;
      direct = false;
      sha256 = copy(job, false);
    }
    return { sha256 };
  } catch (err) {
    return { error: String((err && err.message) || err), code: err && err.code };
  }
}
parentPort.on("message", (m) => parentPort.postMessage({ id: m.id, results: m.jobs.map(one) }));`;

/** A file to write from the log: `size` bytes at `ranges` (position, length pairs) into `path`. */
export interface CopyJob {
  ranges: readonly number[];
  size: number;
  path: string;
}

interface Batch {
  resolve: (results: Array<Copied | Error>) => void;
  reject: (err: Error) => void;
}

type Result = { sha256: string } | { error: string; code?: string };
interface Reply {
  id: number;
  results: Result[];
}

export class LogCopier {
  private thread: Worker | null = null;
  private readonly batches = new Map<number, Batch>();
  private queued: Array<{ job: CopyJob; resolve: (c: Copied) => void; reject: (err: Error) => void }> = [];
  private seq = 0;
  private readonly scratch = new Uint8Array(STEP);
  private noThread = false;
  private closed = false;

  /**
   * @param logPath The log file, opened for reading by the thread.
   * @param readLog Reads log ranges on the event loop, where no thread can be started.
   */
  constructor(
    private readonly logPath: string,
    private readonly readLog: (at: number, into: Uint8Array, n: number) => number,
    private readonly direct = process.platform === "linux",
  ) {}

  /**
   * Write the job's bytes from the log to its existing, empty file, from the start; resolves with
   * their SHA-256 once written (not synced). Rejects with the file system's error (its code kept:
   * ENOENT when the file is gone). The jobs of one turn of the event loop go to the thread in one
   * message: each crossing between threads costs.
   */
  copy(job: CopyJob): Promise<Copied> {
    if (this.closed) return Promise.reject(new Error("write-ahead log copier closed"));
    return new Promise((resolve, reject) => {
      this.queued.push({ job, resolve, reject });
      if (this.queued.length === 1) setImmediate(() => this.send());
    });
  }

  private send(): void {
    const queued = this.queued;
    this.queued = [];
    if (this.closed) {
      for (const q of queued) q.reject(new Error("write-ahead log copier closed"));
      return;
    }
    const settle = (results: Array<Copied | Error>): void => {
      for (const [i, q] of queued.entries()) {
        const r = results[i] ?? new Error("write-ahead log copier gave no result");
        if (r instanceof Error) q.reject(r);
        else q.resolve(r);
      }
    };
    const jobs = queued.map((q) => q.job);
    const thread = this.worker();
    if (!thread) {
      settle(jobs.map((j) => this.copyHere(j)));
      return;
    }
    const id = ++this.seq;
    this.batches.set(id, { resolve: settle, reject: (err) => settle(jobs.map(() => err)) });
    if (this.batches.size === 1) thread.ref();
    thread.postMessage({ id, jobs });
  }

  /** Start the thread now rather than at the first copy. */
  warm(): void {
    this.worker();
  }

  async close(): Promise<void> {
    this.closed = true;
    const thread = this.thread;
    this.thread = null;
    this.failAll(new Error("write-ahead log copier closed"));
    await thread?.terminate();
  }

  private worker(): Worker | null {
    if (this.thread || this.noThread) return this.thread;
    let thread: Worker;
    try {
      thread = new Worker(THREAD_CODE, {
        eval: true,
        workerData: { logPath: this.logPath, direct: this.direct },
      });
    } catch {
      this.noThread = true;
      return null;
    }
    thread.unref();
    thread.on("message", (m: Reply) => this.reply(m));
    // A thread that dies takes its jobs with it (they are retried by the caller); the next copy starts another.
    const gone = (err: Error): void => {
      if (this.thread === thread) this.thread = null;
      this.failAll(err);
    };
    thread.on("error", gone);
    thread.on("exit", (code) => gone(new Error(`write-ahead log copier stopped (exit ${code})`)));
    this.thread = thread;
    return thread;
  }

  private reply(m: Reply): void {
    const batch = this.batches.get(m.id);
    if (!batch) return;
    this.batches.delete(m.id);
    if (this.batches.size === 0) this.thread?.unref();
    batch.resolve(
      m.results.map((r) =>
        "sha256" in r
          ? { sha256: r.sha256 }
          : Object.assign(new Error(r.error), r.code ? { code: r.code } : {}),
      ),
    );
  }

  private failAll(err: Error): void {
    const batches = [...this.batches.values()];
    this.batches.clear();
    for (const b of batches) b.reject(err);
  }

  /** The same copy on the event loop, through the page cache. */
  private copyHere(job: CopyJob): Copied | Error {
    try {
      return this.copyFile(job);
    } catch (err) {
      return err as Error;
    }
  }

  private copyFile({ ranges, size, path }: CopyJob): Copied {
    const fd = openSync(path, "r+");
    const hash = createHash("sha256");
    let out = 0;
    try {
      for (let i = 0; i < ranges.length; i += 2) {
        let at = ranges[i]!;
        let left = ranges[i + 1]!;
        while (left > 0) {
          const n = this.readLog(at, this.scratch, Math.min(left, STEP));
          if (n === 0) throw new Error(`write-ahead log ended early at ${at}`);
          const part = this.scratch.subarray(0, n);
          hash.update(part);
          for (let w = 0; w < n; ) w += writeSync(fd, part, w, n - w, out + w);
          at += n;
          out += n;
          left -= n;
        }
      }
      if (out !== size) throw new Error(`write-ahead log entry holds ${out} bytes, ${size} expected`);
      ftruncateSync(fd, size);
    } finally {
      closeSync(fd);
    }
    return { sha256: hash.digest("hex") };
  }
}
