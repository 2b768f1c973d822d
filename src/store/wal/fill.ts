// Zeros for a log made sparse (at its first start, or at a new size): the server listens at once instead
// of writing the whole ring first (a GiB takes seconds on a small PC), and the ring fills behind it.
// Writes into filled blocks change no metadata, so their data-only sync needs no journal commit; the
// ring appends only below what is filled and synced (log.ts: an instance finding no room there is made
// durable as with `file`). The writes go through the thread pool, a FILL_SYNC at a time each synced, so
// the event loop never waits for them and each log sync carries at most that much of the filling.

import { write as writeCb } from "node:fs";
import { durable } from "../../util/durable.ts";

const CHUNK = 1024 * 1024;
const FILL_SYNC = 8 * 1024 * 1024;

export class LogFiller {
  private stopped = false;
  private writing: Promise<unknown> = Promise.resolve();

  /**
   * Fill `fd` with zeros from `from` to `to` (page-aligned), calling `filled(upTo)` each time a part is
   * durable, `failed(err)` on an error (the ring then stays limited to what was filled).
   */
  constructor(
    private readonly fd: number,
    from: number,
    private readonly to: number,
    private readonly filled: (upTo: number) => void,
    private readonly failed: (err: Error) => void,
  ) {
    void this.run(from).catch((err: Error) => {
      if (!this.stopped) this.failed(err);
    });
  }

  /**
   * No further writes; resolves once the write under way (if any) ended, so that the file may be
   * closed. A sync under way is not waited for: a stop must not wait for the disk's flush.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.writing;
  }

  private async run(from: number): Promise<void> {
    const zeros = new Uint8Array(CHUNK);
    let at = from;
    while (at < this.to && !this.stopped) {
      const end = Math.min(this.to, at + FILL_SYNC);
      while (at < end && !this.stopped) {
        const write = writeAt(this.fd, zeros, Math.min(CHUNK, end - at), at);
        this.writing = write.catch(() => undefined);
        at += await write;
      }
      if (this.stopped) return;
      await durable.syncData(this.fd);
      if (this.stopped) return;
      this.filled(at);
    }
  }
}

function writeAt(fd: number, bytes: Uint8Array, n: number, at: number): Promise<number> {
  return new Promise((resolve, reject) => {
    writeCb(fd, bytes, 0, n, at, (err, written) => {
      if (err) reject(err);
      else if (written === 0) reject(new Error(`write-ahead log: no byte written at ${at}`));
      else resolve(written);
    });
  });
}
