// A file written from a stream of chunks, holding no more than the chunks not yet written. Chunks go
// straight to the page cache while the disk keeps up; when it does not, they are queued in slabs and
// written off the event loop with writev, batched while a write is in flight.

import { closeSync, fstatSync, open, openSync, unlink, writeSync, writev, writevSync } from "node:fs";
import { promisify } from "node:util";
import { durable } from "../util/durable.ts";
import { type TransientBytes, viewWithinTurn } from "../util/transient-bytes.ts";
import { fileIdentity, HeldFile } from "./held-file.ts";

const openAsync = promisify(open);
const unlinkAsync = promisify(unlink);

/** Linux IOV_MAX is 1024; stay well below it. */
const MAX_IOV = 64;

/**
 * Received bytes are copied into 1 MiB slabs, so socket buffers die young (the collector frees them
 * cheaply) instead of living until their write completes, and the disk sees few large writes.
 */
const SLAB_SIZE = 1024 * 1024;
const POOL_MAX = 16;
/** A direct write slower than this means the disk is congested: queue writes for QUEUED_FOR_MS. */
const SLOW_WRITE_MS = 20;
/** Durable files start writeback every this many bytes. */
const EARLY_SYNC = 128 * 1024;
const QUEUED_FOR_MS = 5000;
const PAGE = 4096;
/** A turn's chunks are written at once beyond this (bounded memory whatever the socket delivers). */
const BATCH_MAX = 1024 * 1024;
let queuedUntil = 0;
/** An idle writer does not wait for a full slab once this much is there. */
const EAGER_WRITE = 128 * 1024;
const slabPool: Uint8Array[] = [];

function takeSlab(): Uint8Array {
  return slabPool.pop() ?? new Uint8Array(SLAB_SIZE);
}

function returnSlab(slab: Uint8Array): void {
  if (slabPool.length < POOL_MAX) slabPool.push(slab);
}

/** A filled part of a slab waiting to be written: slab[start, end). */
interface Piece {
  slab: Uint8Array;
  start: number;
  end: number;
}

export class StreamingFile {
  private queue: Piece[] = [];
  /** Chunks of this turn of the event loop, written together at its end (see write()). */
  private batch: Uint8Array[] = [];
  private batchBytes = 0;
  private batchScheduled = false;
  private slab: Uint8Array | null = null;
  private fill = 0;
  private inFlight = false;
  private failure: Error | null = null;
  private waiters: Array<() => void> = [];
  private closed = false;
  /** Bytes accepted by write() that are not on disk yet: the caller's backpressure signal. */
  pendingBytes = 0;
  /** Bytes written to the file so far. */
  size = 0;
  /** Called whenever pendingBytes falls (a write completed). */
  onProgress: (() => void) | null = null;

  /** With `durable`, the disk starts writing while data still arrives (writeback() or startEarlySync). */
  private writeback: Promise<void> | null = null;
  /** Bytes known to be on stable storage (an early writeback covered them). */
  private writebackFrom = 0;
  /** Bytes handed to startWriteback so far (whole pages). */
  private submitted = 0;
  /** complete() runs: no new early writeback starts. */
  private finishing = false;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    private readonly durable: boolean,
  ) {}

  /**
   * Create a new file; fails if it exists (temp names are unique, so that means a bug or an attack).
   * Opened for reading too: the descriptor may outlive the file's commit (complete(sync, true)), to
   * hash what was written.
   */
  static create(path: string, durable = false): StreamingFile {
    // Synchronous: the received data would otherwise wait in memory for a thread-pool round trip.
    // Storage keeps a spare per busy directory (created in the background with createAsync) so this
    // is rarely on the path of an instance at all.
    const fd = openSync(path, "wx+", 0o644);
    return new StreamingFile(path, fd, durable);
  }

  /** As create(), off the event loop. */
  static async createAsync(path: string, durable = false): Promise<StreamingFile> {
    const fd = await openAsync(path, "wx+", 0o644);
    return new StreamingFile(path, fd, durable);
  }

  /**
   * Write a chunk. The chunk must stay as it is until the end of the current turn (microtasks
   * included), and no longer: what is not written by then is copied. While the disk keeps up, the
   * chunks written during one turn of the event loop (the PDVs of one socket read) are kept and written together with
   * one writev when the turn ends (a microtask), so the file sees a few large writes per instance, not
   * one per PDV, which costs less than many small ones. They go to the page cache from the event loop
   * (short, and cheaper than a round trip through the thread pool). When a write is slow (a congested or failing disk), writes move off
   * the event loop for a while, so one slow disk cannot stall every association's timers and answers.
   */
  write(bytes: TransientBytes): void {
    if (bytes.length === 0) return;
    // Held until the end of this turn at the latest: written then, or copied into a slab now.
    const chunk = viewWithinTurn(bytes);
    if (this.closed) throw new Error(`write after close of ${this.path}`);
    if (this.failure) return;
    if (this.queue.length === 0 && !this.inFlight && this.fill === 0 && performance.now() >= queuedUntil) {
      this.batch.push(chunk);
      this.batchBytes += chunk.length;
      this.pendingBytes += chunk.length;
      // Bounded in bytes and in pieces (writev takes at most IOV_MAX; tiny PDVs could make many).
      if (this.batchBytes >= BATCH_MAX || this.batch.length >= MAX_IOV) this.writeBatch();
      else if (!this.batchScheduled) {
        this.batchScheduled = true;
        queueMicrotask(this.endOfTurn);
      }
      return;
    }
    this.writeBatch();
    this.writeQueued(chunk);
  }

  private readonly endOfTurn = (): void => {
    this.batchScheduled = false;
    this.writeBatch();
  };

  /** Write the chunks gathered this turn now, in order, before anything that follows them. */
  writeBatch(): void {
    if (this.batch.length === 0) return;
    const chunks = this.batch;
    const bytes = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    this.pendingBytes -= bytes;
    if (this.failure || this.closed) return;
    // A chunk freed before its turn ended (see write()) reads as empty: fail loudly, never store less.
    let present = 0;
    for (const c of chunks) present += c.length;
    if (present !== bytes) {
      this.fail(
        new Error(`internal error: ${bytes - present} received bytes were released before being written`),
      );
      return;
    }
    this.writeDirect(chunks);
    // A socket paused for these bytes may read again.
    this.onProgress?.();
  }

  private writeDirect(chunks: Uint8Array[]): void {
    const started = performance.now();
    try {
      let n = chunks.length === 1 ? 0 : writevSync(this.fd, chunks, this.size);
      this.size += n;
      // A short writev (rare on local files) is finished piece by piece.
      for (const chunk of chunks) {
        if (n >= chunk.length) {
          n -= chunk.length;
          continue;
        }
        let pos = n;
        n = 0;
        while (pos < chunk.length) {
          const w = writeSync(this.fd, chunk, pos, chunk.length - pos, this.size);
          pos += w;
          this.size += w;
        }
      }
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    const startWriteback = this.durable ? durable.writeback() : null;
    if (startWriteback) {
      // Whole pages only: a write into a page under writeback waits for the disk (stable pages), so
      // the partial last page goes with the next chunk.
      const upTo = this.size - (this.size % PAGE);
      if (upTo > this.submitted) {
        startWriteback(this.fd, this.submitted, upTo - this.submitted);
        this.submitted = upTo;
      }
    }
    if (performance.now() - started > SLOW_WRITE_MS) queuedUntil = performance.now() + QUEUED_FOR_MS;
    this.startEarlySync();
  }

  /**
   * For durable files where pages cannot be handed to the disk as they come (durable.writeback()), or
   * for the writes queued
   * off the event loop: an fdatasync in the background every EARLY_SYNC bytes, so the disk writes the
   * data while the rest arrives and the fdatasync before the answer has little left to do.
   */
  private startEarlySync(direct = true): void {
    if (!this.durable || (direct && durable.writeback())) return;
    if (this.finishing || this.writeback || this.size - this.writebackFrom < EARLY_SYNC) return;
    const upTo = this.size;
    this.writeback = durable.syncData(this.fd).then(
      () => {
        this.writeback = null;
        this.writebackFrom = upTo;
        if (!this.closed) this.startEarlySync(false);
      },
      (err: Error) => {
        this.writeback = null;
        this.fail(err);
      },
    );
  }

  private writeQueued(chunk: Uint8Array): void {
    this.pendingBytes += chunk.length;
    let pos = 0;
    while (pos < chunk.length) {
      if (!this.slab) {
        this.slab = takeSlab();
        this.fill = 0;
      }
      const n = Math.min(chunk.length - pos, SLAB_SIZE - this.fill);
      this.slab.set(n === chunk.length ? chunk : chunk.subarray(pos, pos + n), this.fill);
      this.fill += n;
      pos += n;
      if (this.fill === SLAB_SIZE) this.seal();
    }
    // Keep the disk busy while data arrives: an idle writer takes what has accumulated.
    if (!this.inFlight && this.queue.length === 0 && this.fill >= EAGER_WRITE) this.seal();
    this.pump();
  }

  /** Queue the slab being filled for writing. */
  private seal(): void {
    if (this.slab && this.fill > 0) this.queue.push({ slab: this.slab, start: 0, end: this.fill });
    else if (this.slab) returnSlab(this.slab);
    this.slab = null;
    this.fill = 0;
  }

  private pump(): void {
    if (this.inFlight || this.failure) return;
    if (this.queue.length === 0) {
      if (this.fill === 0) {
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w();
      }
      return;
    }
    const batch = this.queue.splice(0, MAX_IOV);
    let total = 0;
    for (const p of batch) total += p.end - p.start;
    this.inFlight = true;
    writev(
      this.fd,
      batch.map((p) => p.slab.subarray(p.start, p.end)),
      this.size,
      (err, written) => {
        this.inFlight = false;
        if (err) {
          this.fail(err);
          return;
        }
        this.size += written;
        this.pendingBytes -= written;
        let skip = written;
        const rest: Piece[] = [];
        for (const p of batch) {
          const len = p.end - p.start;
          if (skip >= len) {
            skip -= len;
            returnSlab(p.slab);
          } else {
            rest.push({ slab: p.slab, start: p.start + skip, end: p.end });
            skip = 0;
          }
        }
        if (written < total) this.queue.unshift(...rest);
        this.onProgress?.();
        this.startEarlySync(false);
        this.pump();
      },
    );
  }

  private fail(err: Error): void {
    this.failure = err;
    this.queue = [];
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Wait until every chunk written so far is in the file (not necessarily on stable storage). */
  async flush(): Promise<void> {
    this.writeBatch();
    this.seal();
    this.pump();
    if (this.inFlight || this.queue.length > 0) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (this.failure) throw this.failure;
  }

  /** Flush, optionally fsync, and close. */
  async complete(sync: boolean): Promise<void> {
    await this.finishFile(sync, false);
  }

  /**
   * As complete(), but the descriptor stays open and is returned with the file's identity (its new
   * owner closes it: HeldFile.release).
   */
  async completeHeld(sync: boolean): Promise<HeldFile> {
    const held = await this.finishFile(sync, true);
    if (!held) throw new Error(`internal error: ${this.path} was not held`);
    return held;
  }

  private async finishFile(sync: boolean, hold: boolean): Promise<HeldFile | undefined> {
    let held: HeldFile | undefined;
    try {
      await this.flush();
      this.finishing = true;
      while (this.writeback) await this.writeback;
      if (this.failure) throw this.failure;
      // fdatasync: the data and the size, which is all a reader needs; timestamps may lag. Skipped when
      // the last early writeback started after the last byte was written.
      if (sync && this.writebackFrom < this.size) await durable.syncData(this.fd);
      // After the last write: the modification time is final (one fstat, a few microseconds).
      // Windows does not let a name be replaced while a handle is open on its file: there the
      // descriptor is not held, and the file is hashed by path while its identity is unchanged.
      if (hold) {
        const identity = fileIdentity(fstatSync(this.fd, { bigint: true }));
        held = new HeldFile(process.platform === "win32" ? -1 : this.fd, identity, this.size);
      }
    } finally {
      if (held && process.platform !== "win32") this.closed = true;
      else await this.closeOnce();
    }
    return held;
  }

  /**
   * Whether the file still has a name (its directory was not removed meanwhile): fstat of the open
   * descriptor, no path lookup.
   */
  linked(): boolean {
    try {
      return fstatSync(this.fd).nlink > 0;
    } catch {
      // A descriptor that cannot be inspected cannot be trusted with an instance either.
      return false;
    }
  }

  /** Close and remove the file; used for aborted or refused instances. Never throws. */
  async discard(): Promise<void> {
    this.pendingBytes -= this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    for (const p of this.queue) returnSlab(p.slab);
    this.queue = [];
    if (this.slab) returnSlab(this.slab);
    this.slab = null;
    this.fill = 0;
    try {
      await this.flush();
    } catch {
      // The write failure is moot: the file is being removed.
    }
    await this.closeOnce().catch(() => undefined);
    await unlinkAsync(this.path).catch(() => undefined);
  }

  private async closeOnce(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}
