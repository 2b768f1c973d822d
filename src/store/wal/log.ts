// A write-ahead log for instance bytes (storage.durability: wal): each instance's data is appended to a
// preallocated ring at <dir>/log as it arrives, and its C-STORE is answered once the log is durable up
// to the instance's end record: a data-only write into blocks that already exist, so no journal commit.
// The instance's file is synced and renamed behind the answer; then the caller releases the entry and
// its space comes round again. At start the entries committed after the checkpoint are handed back
// (`replay`) for the caller to write their files again.
//
// Format: format.ts. Appending and durability: ring.ts. Reading back: scan.ts.
//
// Space. The tail is the first LSN of the oldest entry not released (the head when there is none). A
// checkpoint records a tail in <dir>/checkpoint; replay starts from the durable checkpoint, so the ring
// may overwrite only what lies before it: appends stop at that checkpoint plus one lap. Checkpoints are
// written off the answer's path, CHECKPOINT_MS after a release, or at once when less than half the ring
// is writable or an entry just found no room. An entry that finds no room is abandoned, never waits.
//
// Capacity. A log made with another capacity is made again at the new one when it holds nothing to
// replay; otherwise it keeps its size for this run (the entries are replayed from it) and changes at the
// next start after they were released.
//
// Flush modes (ring.ts). "fdatasync", the default: buffered writes, one shared data-only sync per commit
// round. "dsync": the ring opened with O_DSYNC; where the platform has no O_DSYNC (Windows) "fdatasync"
// is used instead, whatever was asked. On a disk with a volatile write cache every O_DSYNC write costs a
// cache flush, as much as a whole fdatasync, so dsync answers no sooner and writes slower there
// (bench/wal.ts measures both).

import {
  closeSync,
  existsSync,
  constants as fsConstants,
  mkdirSync,
  openSync,
  readSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { event, logger } from "../../ops/log.ts";
import { durable } from "../../util/durable.ts";
import { type EntryHost, LogEntry, type ReplayEntry, Replayed, type WalEntry } from "./entries.ts";
import {
  checkLogSize,
  checkpointPath,
  createLog,
  logPath,
  readCheckpoint,
  unfilledFrom,
  writeCheckpointBlock,
} from "./files.ts";
import { LogFiller } from "./fill.ts";
import { type Checkpoint, MIN_CAPACITY, PAGE, SLAB } from "./format.ts";
import { type FlushMode, RingWriter } from "./ring.ts";
import { scanLog } from "./scan.ts";

export { discardUnsynced, unsyncedRecords } from "./discard.ts";
export type { ReplayEntry, WalEntry } from "./entries.ts";
export type { FlushMode } from "./ring.ts";

export interface WalOptions {
  dir: string;
  capacityBytes: number;
  /**
   * "dsync": the log is opened with O_DSYNC and a write is durable once it completes (writes are issued
   * as data accumulates, overlapping arrival). "fdatasync": buffered writes, their pages handed to the
   * disk as they come, one data-only sync shared by all commits waiting. Default "fdatasync" (see the header).
   */
  flush?: FlushMode;
  /**
   * "background": a log made now (or found not yet filled) is made sparse and filled with zeros behind
   * the start (fill.ts); until then instances the filled part has no room for go the `file` way.
   * "now" (default): made whole before open() returns.
   */
  fill?: "now" | "background";
  /** Test hook: after every durability point, append the durable LSN (decimal + "\n") to this file. */
  marksFile?: string;
}

const log = logger("store");
const CHECKPOINT_MS = 500;
const FLUSH_RELEASES_MS = 20;

/** The flush mode this platform can give. */
function flushModeFor(wanted: FlushMode): FlushMode {
  if (wanted === "dsync" && (process.platform === "win32" || !fsConstants.O_DSYNC)) return "fdatasync";
  return wanted;
}

export class WriteAheadLog {
  readonly replay: readonly ReplayEntry[];
  readonly capacity: number;
  readonly flush: FlushMode;
  private readonly ring: RingWriter;
  /** Entries not released, by first LSN, oldest first (Map keeps insertion order; ids only grow). */
  private readonly live = new Map<number, true>();
  private readonly host: EntryHost;
  private seq: number;
  private readonly gen: number;
  /** LSN of the newest checkpoint written (durable or being synced). */
  private cpWritten: number;
  private cpBusy: Promise<void> | null = null;
  private cpTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private unlogged = 0;
  /** This run's released entries whose release record may not be durable yet: id -> LSN after it. */
  private readonly releasedAt = new Map<number, number>();
  /** Released entries whose release record found no room yet (appended once a checkpoint makes some). */
  private readonly releaseWaiting = new Set<number>();
  /** The tail of the newest durable checkpoint: every entry before it is released. */
  private cpDurable: number;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly scratch: Uint8Array;
  /** Appends must end before the durable checkpoint plus one lap... */
  private cpLimit: number;
  /** ...and, while the ring is being filled with zeros, before what is filled. */
  private filledTo = Number.POSITIVE_INFINITY;
  private filler: LogFiller | null = null;

  private constructor(
    /** The ring file. */
    readonly path: string,
    private readonly readFd: number,
    private readonly writeFd: number,
    private readonly cpFd: number,
    cp: Checkpoint,
    head: number,
    scanned: ReturnType<typeof scanLog>["committed"],
    flush: FlushMode,
    marksFile: string | undefined,
    fillFrom: number | null,
  ) {
    this.capacity = cp.capacity;
    this.flush = flush;
    this.seq = cp.seq;
    this.gen = cp.gen;
    this.cpWritten = cp.lsn;
    this.cpDurable = cp.lsn;
    this.scratch = new Uint8Array(Math.min(SLAB, cp.capacity));
    this.cpLimit = cp.lsn + cp.capacity;
    if (fillFrom !== null) this.filledTo = fillFrom;
    this.ring = new RingWriter({
      fd: writeFd,
      capacity: cp.capacity,
      head,
      limit: Math.min(this.cpLimit, this.filledTo),
      gen: cp.gen,
      mode: flush,
      marksFile,
    });
    this.host = {
      ring: this.ring,
      carrying: flush === "fdatasync",
      read: (ranges, size) => this.read(ranges, size),
      done: (id, lost, committed) => this.entryDone(id, lost, committed),
      copy: (ranges, fd) => this.copy(ranges, fd),
    };
    for (const id of scanned.map((e) => e.id).sort((a, b) => a - b)) this.live.set(id, true);
    this.replay = scanned.map((e) => new Replayed(this.host, e));
    if (fillFrom !== null) this.startFilling(fillFrom);
  }

  /** Zeros from `from` to the ring's end, behind the start (fill.ts); appends follow what is filled. */
  private startFilling(from: number): void {
    const started = performance.now();
    event(log, "info", "wal-filling", {
      path: this.path,
      mb: Math.round((this.capacity - from) / 2 ** 20),
      detail:
        "until it is filled, instances the filled part of the log has no room for are synced file by file",
    });
    this.filler = new LogFiller(
      this.readFd,
      from,
      this.capacity,
      (upTo) => {
        this.filledTo = upTo >= this.capacity ? Number.POSITIVE_INFINITY : upTo;
        this.applyLimit();
        if (upTo >= this.capacity) {
          this.filler = null;
          event(log, "info", "wal-filled", {
            path: this.path,
            seconds: ((performance.now() - started) / 1000).toFixed(1),
          });
        }
      },
      (err) => {
        this.filler = null;
        event(log, "error", "wal-fill-failed", {
          path: this.path,
          error: err.message,
          action: "the log keeps the part filled; the rest of each instance is synced file by file",
        });
      },
    );
  }

  private applyLimit(): void {
    this.ring.limit = Math.min(this.cpLimit, this.filledTo);
  }

  /**
   * Open the log in `opts.dir`, making it on first use (preallocated: `capacityBytes` of zeros, rounded
   * down to whole pages, synced with its directory). Synchronous: called once at start.
   */
  static open(opts: WalOptions): WriteAheadLog {
    const dir = opts.dir;
    const wanted = opts.capacityBytes - (opts.capacityBytes % PAGE);
    if (wanted < MIN_CAPACITY) throw new Error(`write-ahead log of ${opts.capacityBytes} bytes is too small`);
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true });
      durable.syncDirSync(dirname(dir));
    }
    const sparse = opts.fill === "background";
    let cp = readCheckpoint(dir) ?? createLog(dir, wanted, sparse);
    let readFd = openSync(logPath(dir), "r+");
    let scan: ReturnType<typeof scanLog>;
    try {
      checkLogSize(readFd, cp, dir);
      scan = scanLog(readFd, cp.capacity, cp.lsn, cp.gen);
      if (cp.capacity !== wanted && scan.committed.length === 0) {
        closeSync(readFd);
        // Without the checkpoint the directory reads as never made, should this stop half-way.
        unlinkSync(checkpointPath(dir));
        durable.syncDirSync(dir);
        cp = createLog(dir, wanted, sparse);
        readFd = openSync(logPath(dir), "r+");
        scan = { head: 0, committed: [] };
      }
    } catch (err) {
      closeSync(readFd);
      throw err;
    }
    const fillFrom = sparse ? unfilledFrom(readFd, cp.capacity, scan.head) : null;
    const flush = flushModeFor(opts.flush ?? "fdatasync");
    const writeFd =
      flush === "dsync" ? openSync(logPath(dir), fsConstants.O_RDWR | fsConstants.O_DSYNC) : readFd;
    // This run's generation, durable before its first append (see scan.ts); replay starts at the tail.
    let tail = scan.head;
    for (const e of scan.committed) tail = Math.min(tail, e.id);
    const next: Checkpoint = { gen: cp.gen + 1, seq: cp.seq + 1, lsn: tail, capacity: cp.capacity };
    const cpFd = openSync(checkpointPath(dir), "r+");
    writeCheckpointBlock(cpFd, next);
    durable.syncDataSync(cpFd);
    return new WriteAheadLog(
      logPath(dir),
      readFd,
      writeFd,
      cpFd,
      next,
      scan.head,
      scan.committed,
      flush,
      opts.marksFile,
      fillFrom,
    );
  }

  /** Start an entry (a begin record). Not logged when there is no room: the caller goes the old way. */
  begin(): WalEntry {
    const id = this.closed ? -1 : this.ring.appendBegin();
    if (id < 0) {
      this.unlogged += 1;
      if (!this.closed) this.checkpointSoon(true);
      return new LogEntry(this.host, -this.unlogged, false);
    }
    this.live.set(id, true);
    return new LogEntry(this.host, id, true);
  }

  /** Bytes that can be appended now without a newer checkpoint. */
  get free(): number {
    return Math.max(0, this.ring.limit - this.ring.head);
  }

  /** The LSN up to which the log is durable (what the marks file records). */
  get durableLsn(): number {
    return this.ring.durableLsn;
  }

  /**
   * Whether entry `id` is released for good: its release record (or a checkpoint past it) is durable,
   * so a restart will not hand it back. Entries of earlier runs not replayed are.
   */
  releasedDurably(id: number): boolean {
    if (this.live.has(id)) return false;
    if (this.releaseWaiting.has(id)) {
      if (this.cpDurable <= id) return false;
      this.releaseWaiting.delete(id);
      return true;
    }
    const at = this.releasedAt.get(id);
    if (at === undefined) return true;
    if (this.ring.durableLsn < at && this.cpDurable <= id) return false;
    this.releasedAt.delete(id);
    return true;
  }

  /**
   * Write the data of committed entry `id` (not released) to `fd` from position 0, read back from the
   * log: for a file whose temp copy was lost before it was placed. False when the log does not hold it.
   */
  copyLive(id: number, fd: number): boolean {
    if (this.closed || !this.live.has(id)) return false;
    const found = scanLog(this.readFd, this.capacity, this.cpDurable, this.gen).committed.find(
      (e) => e.id === id,
    );
    if (!found) return false;
    this.copy(found.ranges, fd);
    return true;
  }

  /** Every release so far made durable (before an export takes records that name entries). */
  async syncReleases(): Promise<void> {
    if (!this.closed) await this.ring.flush();
  }

  /** Wait for the writes under way, and leave a final checkpoint. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearTimer();
    await this.filler?.stop();
    try {
      await this.ring.drain();
      while (this.cpBusy) await this.cpBusy;
      const tail = this.tail();
      if (tail > this.cpWritten && !this.ring.failure) {
        this.seq += 1;
        writeCheckpointBlock(this.cpFd, { gen: this.gen, seq: this.seq, lsn: tail, capacity: this.capacity });
        await durable.syncData(this.cpFd);
        this.checkpointDurable(tail);
      }
      // Releases that found no room: the last checkpoint made some, or passed them.
      if (!this.ring.failure && this.appendWaitingReleases()) await this.ring.drain();
    } finally {
      this.closeFds();
    }
  }

  /**
   * Test hook (a crash): stop appending, drop what was not handed to the file, wait for the writes and
   * the checkpoint under way, close without a final checkpoint. discardUnsynced then loses the rest.
   */
  async simulateCrash(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearTimer();
    // At once: the ring stops appending before the filler's write (or sync) under way has ended.
    const halted = this.ring.halt();
    await this.filler?.stop();
    await halted;
    while (this.cpBusy) await this.cpBusy;
    this.closeFds();
  }

  private closeFds(): void {
    closeSync(this.cpFd);
    if (this.writeFd !== this.readFd) closeSync(this.writeFd);
    closeSync(this.readFd);
  }

  private tail(): number {
    for (const id of this.live.keys()) return id;
    return this.ring.boundary;
  }

  private entryDone(id: number, lost: boolean, committed: boolean): void {
    this.ring.closeIfOpen(id);
    if (!this.live.delete(id) || this.closed) return;
    if (committed) {
      this.release(id);
      this.flushSoon();
    }
    this.checkpointSoon(lost);
  }

  /**
   * A release record for `id`. Without room for it (the ring is full up to the durable checkpoint) it
   * waits: a restart would hand the entry back, so its record stays in the outbox (releasedDurably)
   * until the record is appended after the next checkpoint, or a checkpoint passes the entry.
   */
  private release(id: number): void {
    if (this.ring.appendRelease(id)) this.releasedAt.set(id, this.ring.head);
    else this.releaseWaiting.add(id);
  }

  /** The release records that found no room, appended now that a checkpoint made some; true if any. */
  private appendWaitingReleases(): boolean {
    let any = false;
    for (const id of this.releaseWaiting) {
      if (id < this.cpDurable) this.releaseWaiting.delete(id);
      else if (this.ring.appendRelease(id)) {
        this.releaseWaiting.delete(id);
        this.releasedAt.set(id, this.ring.head);
        any = true;
      }
    }
    return any;
  }

  /** A checkpoint of tail `lsn` is durable: nothing before it is replayed, so it may be overwritten. */
  private checkpointDurable(lsn: number): void {
    this.cpDurable = Math.max(this.cpDurable, lsn);
    this.cpLimit = Math.max(this.cpLimit, lsn + this.capacity);
    this.applyLimit();
  }

  /**
   * Release records ride with the next commit's sync; when no commit comes (the last instances of a
   * transfer) they are synced a moment later, so that their records may leave (releasedDurably).
   */
  private flushSoon(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      if (!this.closed) this.ring.flush().catch(() => undefined);
    }, FLUSH_RELEASES_MS);
    this.flushTimer.unref?.();
  }

  /** Record a newer tail: now when space is short, else within CHECKPOINT_MS. */
  private checkpointSoon(urgent: boolean): void {
    if (this.tail() <= this.cpWritten || this.cpBusy) return;
    if (urgent || this.free < this.capacity / 2) {
      this.writeCheckpoint();
      return;
    }
    if (!this.cpTimer) {
      this.cpTimer = setTimeout(() => {
        this.cpTimer = null;
        if (!this.closed) this.checkpointSoon(true);
      }, CHECKPOINT_MS);
      this.cpTimer.unref?.();
    }
  }

  private writeCheckpoint(): void {
    this.clearTimer();
    const cp: Checkpoint = { gen: this.gen, seq: this.seq + 1, lsn: this.tail(), capacity: this.capacity };
    try {
      writeCheckpointBlock(this.cpFd, cp);
    } catch (err) {
      this.ring.fail(err as Error);
      return;
    }
    this.seq = cp.seq;
    this.cpWritten = cp.lsn;
    this.cpBusy = durable.syncData(this.cpFd).then(
      () => {
        this.cpBusy = null;
        this.checkpointDurable(cp.lsn);
        if (this.closed) return;
        if (this.appendWaitingReleases()) this.flushSoon();
        this.checkpointSoon(false);
      },
      (err: Error) => {
        this.cpBusy = null;
        this.ring.fail(err);
      },
    );
  }

  private clearTimer(): void {
    if (this.cpTimer) clearTimeout(this.cpTimer);
    this.cpTimer = null;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
  }

  /** Up to `n` bytes of the log file at `at` into `into` (LogCopier's copy on the event loop). */
  readAt(at: number, into: Uint8Array, n: number): number {
    if (this.closed) throw new Error("write-ahead log is closed");
    return readSync(this.readFd, into, 0, n, at);
  }

  /** Data ranges of a live entry read back (what is appended is handed to the file first). */
  private read(ranges: readonly number[], size: number): Uint8Array {
    if (this.closed) throw new Error("write-ahead log is closed");
    if (!this.ring.handOver()) throw new Error("write-ahead log cannot be read back in dsync mode");
    if (this.ring.failure) throw this.ring.failure;
    const out = new Uint8Array(size);
    let pos = 0;
    for (let i = 0; i < ranges.length && pos < size; i += 2) {
      const len = Math.min(ranges[i + 1]!, size - pos);
      for (let got = 0; got < len; ) {
        const n = readSync(this.readFd, out, pos + got, len - got, ranges[i]! + got);
        if (n === 0) throw new Error(`write-ahead log ended early at ${ranges[i]! + got}`);
        got += n;
      }
      pos += len;
    }
    return out;
  }

  private copy(ranges: readonly number[], fd: number): void {
    if (this.closed) throw new Error("write-ahead log is closed");
    let out = 0;
    for (let i = 0; i < ranges.length; i += 2) {
      let at = ranges[i]!;
      let left = ranges[i + 1]!;
      while (left > 0) {
        const n = readSync(this.readFd, this.scratch, 0, Math.min(left, this.scratch.length), at);
        if (n === 0) throw new Error(`write-ahead log ended early at ${at}`);
        for (let w = 0; w < n; ) w += writeSync(fd, this.scratch, w, n - w, out + w);
        at += n;
        out += n;
        left -= n;
      }
    }
  }
}
