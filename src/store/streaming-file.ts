// A file written from a stream of chunks without blocking the event loop and without holding more
// than the chunks not yet on disk. Writes are batched with writev: while one write is in flight, the
// chunks that arrive are queued and go out together in the next one.

import { close, fsync, open, unlink, writev } from "node:fs";
import { promisify } from "node:util";

const openAsync = promisify(open);
const closeAsync = promisify(close);
const fsyncAsync = promisify(fsync);
const unlinkAsync = promisify(unlink);

/** Linux IOV_MAX is 1024; stay well below it. */
const MAX_IOV = 256;

export class StreamingFile {
  private queue: Uint8Array[] = [];
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

  private constructor(
    readonly path: string,
    private readonly fd: number,
  ) {}

  /** Create a new file; fails if it exists (temp names are unique, so that means a bug or an attack). */
  static async create(path: string): Promise<StreamingFile> {
    const fd = await openAsync(path, "wx", 0o644);
    return new StreamingFile(path, fd);
  }

  write(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.closed) throw new Error(`write after close of ${this.path}`);
    this.queue.push(chunk);
    this.pendingBytes += chunk.length;
    this.pump();
  }

  private pump(): void {
    if (this.inFlight || this.failure) return;
    if (this.queue.length === 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
      return;
    }
    const batch = this.queue.length <= MAX_IOV ? this.queue : this.queue.slice(0, MAX_IOV);
    this.queue = this.queue.length <= MAX_IOV ? [] : this.queue.slice(MAX_IOV);
    let total = 0;
    for (const b of batch) total += b.length;
    this.inFlight = true;
    writev(this.fd, batch, this.size, (err, written) => {
      this.inFlight = false;
      if (err) {
        this.fail(err);
        return;
      }
      this.size += written;
      this.pendingBytes -= written;
      if (written < total) this.queue.unshift(...remainder(batch, written));
      this.onProgress?.();
      this.pump();
    });
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
    if (this.inFlight || this.queue.length > 0) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (this.failure) throw this.failure;
  }

  /** Flush, optionally fsync, and close. */
  async complete(sync: boolean): Promise<void> {
    try {
      await this.flush();
      if (sync) await fsyncAsync(this.fd);
    } finally {
      await this.closeOnce();
    }
  }

  /** Close and remove the file; used for aborted or refused instances. Never throws. */
  async discard(): Promise<void> {
    this.queue = [];
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
    await closeAsync(this.fd);
  }
}

function remainder(batch: Uint8Array[], written: number): Uint8Array[] {
  const rest: Uint8Array[] = [];
  let skip = written;
  for (const b of batch) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    rest.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return rest;
}
