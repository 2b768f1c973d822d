// The entries a caller holds: one being written (WalEntry) and one found at start (ReplayEntry). Both
// only forward to the log through EntryHost; the log keeps the state that spans entries.

import type { RingWriter } from "./ring.ts";
import type { ScannedEntry } from "./scan.ts";

export interface WalEntry {
  readonly id: number;
  /**
   * False once the log had no room for a chunk (or never had for the entry): it is abandoned, the caller
   * makes its instance durable the old way, and later writes are ignored.
   */
  readonly logged: boolean;
  /** The chunk is needed only until the call returns (copied into the log's slab). */
  write(chunk: Uint8Array): void;
  /**
   * Append the end record with `header`; resolves when the entry's bytes, its end record and every record
   * before them in the log are durable. Rejects when the entry is not logged (or is lost now for want of
   * room) or the log failed.
   */
  commit(header: Uint8Array): Promise<void>;
  /** Its file is materialised, or it was abandoned or aborted: its space may be recycled. Idempotent. */
  release(): void;
}

export interface ReplayEntry {
  /** The LSN of its first record. */
  readonly id: number;
  /** What commit() was given. */
  readonly header: Uint8Array;
  /** Data bytes written to it. */
  readonly size: number;
  /** Write its data, in order, to `fd` from position 0 (synchronous; reads the log). */
  copyTo(fd: number): void;
  /** Its file is safely materialised (or not wanted): its space may be recycled. */
  release(): void;
}

/** What entries need of the log. */
export interface EntryHost {
  readonly ring: RingWriter;
  /** The entry no longer needs its records (released, or abandoned when `lost`; `committed`: it was). */
  done(id: number, lost: boolean, committed: boolean): void;
  /** Copy a replayed entry's data ranges to `fd`. */
  copy(ranges: readonly number[], fd: number): void;
}

export class LogEntry implements WalEntry {
  private ended = false;
  private released = false;

  constructor(
    private readonly host: EntryHost,
    readonly id: number,
    public logged: boolean,
  ) {}

  write(chunk: Uint8Array): void {
    if (!this.logged || this.ended || chunk.length === 0) return;
    if (!this.host.ring.appendData(this.id, chunk)) this.abandon();
  }

  commit(header: Uint8Array): Promise<void> {
    if (!this.logged) return Promise.reject(new Error("write-ahead log entry is not logged"));
    if (this.ended) return Promise.reject(new Error("write-ahead log entry committed twice"));
    this.ended = true;
    const durable = this.host.ring.appendEnd(this.id, header);
    if (durable) return durable;
    this.abandon();
    return Promise.reject(this.host.ring.failure ?? new Error("write-ahead log has no room for the entry"));
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.logged) this.host.done(this.id, false, this.ended);
  }

  private abandon(): void {
    this.logged = false;
    // Its records are worthless now: let the space go without waiting for the caller's release.
    this.host.done(this.id, true, false);
  }
}

export class Replayed implements ReplayEntry {
  readonly id: number;
  readonly header: Uint8Array;
  readonly size: number;
  private readonly ranges: number[];
  private released = false;

  constructor(
    private readonly host: EntryHost,
    scanned: ScannedEntry,
  ) {
    this.id = scanned.id;
    this.header = scanned.header;
    this.size = scanned.size;
    this.ranges = scanned.ranges;
  }

  copyTo(fd: number): void {
    if (this.released) throw new Error(`write-ahead log entry ${this.id} was released`);
    this.host.copy(this.ranges, fd);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.host.done(this.id, false, true);
  }
}
