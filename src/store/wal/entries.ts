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
  /**
   * Whether the log alone holds the bytes written so far (nothing else was given them): true from the
   * start when the log can be read back at once (see readBack), until stopCarrying() or a failed write.
   * A carrying entry keeps its space after a failed write until it is released, so that its bytes can
   * still be read back.
   */
  readonly carries: boolean;
  /** Data bytes appended so far. */
  readonly size: number;
  /** Where the data lies in the log file: (position, length) pairs, in order. */
  readonly ranges: readonly number[];
  /** The chunk is needed only until the call returns (copied into the log's slab). */
  write(chunk: Uint8Array): void;
  /** The data appended so far, read back from the log (synchronous). */
  readBack(): Uint8Array;
  /** From now on the caller keeps its own copy of the bytes as well. */
  stopCarrying(): void;
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
  /** Whether entries may carry their bytes alone (the ring can hand its writes over at once). */
  readonly carrying: boolean;
  /** Read `size` bytes of data ranges back from the log file. */
  read(ranges: readonly number[], size: number): Uint8Array;
  /** The entry no longer needs its records (released, or abandoned when `lost`; `committed`: it was). */
  done(id: number, lost: boolean, committed: boolean): void;
  /** Copy a replayed entry's data ranges to `fd`. */
  copy(ranges: readonly number[], fd: number): void;
}

export class LogEntry implements WalEntry {
  private ended = false;
  private released = false;
  /** Its space was let go (released, or abandoned while not carrying). */
  private spaceFreed = false;
  carries: boolean;
  readonly ranges: number[] = [];
  size = 0;

  constructor(
    private readonly host: EntryHost,
    readonly id: number,
    public logged: boolean,
  ) {
    this.carries = logged && host.carrying;
    this.spaceFreed = !logged;
  }

  write(chunk: Uint8Array): void {
    if (!this.logged || this.ended || chunk.length === 0) return;
    const ok = this.host.ring.appendData(this.id, chunk, this.ranges);
    this.size += this.host.ring.appended;
    if (!ok) this.abandon();
  }

  readBack(): Uint8Array {
    if (this.spaceFreed) throw new Error(`write-ahead log entry ${this.id} no longer holds its bytes`);
    return this.host.read(this.ranges, this.size);
  }

  stopCarrying(): void {
    this.carries = false;
    if (!this.logged) this.freeSpace(true);
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
    this.freeSpace(!this.logged);
  }

  private abandon(): void {
    this.logged = false;
    // Its records are worthless now: the space goes at once, unless they are the only copy of its
    // bytes (carrying), which stay readable until the caller has them elsewhere and releases it.
    if (!this.carries) this.freeSpace(true);
  }

  private freeSpace(lost: boolean): void {
    if (this.spaceFreed) return;
    this.spaceFreed = true;
    this.host.done(this.id, lost, this.ended && !lost);
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
