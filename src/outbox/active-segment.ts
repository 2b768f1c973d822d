// The end of the log where appends go: the active segment, its descriptor, and the order that makes an
// append durable. Appends are constant time (one write at the end of the segment) and, with `fsync`,
// resolve only once the record is on stable storage: appends that arrive while an fdatasync is in
// flight share the next one (group commit). Readers see only what is durable (syncedSize).
//
// Capacity for a record can be reserved before the record exists (reserve): the segment is extended
// with zeros, so that the record's bytes are allocated on disk before the instance it describes is
// committed, and its append writes into space it already owns (no ENOSPC then on file systems that
// overwrite in place: ext4, XFS, NTFS, tmpfs). The zero tail is never a record: a frame starts with FF;
// it is cut off at close, at a roll, and at the next open after a crash (recovery.ts).

import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { durable } from "../util/durable.ts";
import { type Position, type Segment, segmentPath } from "./segments.ts";

/** The segment is extended by at least this much when reservations need room. */
const PREALLOCATE_STEP = 1024 * 1024;
const ZEROS = new Uint8Array(64 * 1024);

/** Bytes of the outbox held for a record not written yet (OutboxLog.reserve). */
export class OutboxReservation {
  private released = false;

  constructor(
    private readonly onRelease: (bytes: number) => void,
    readonly bytes: number,
  ) {}

  /** Give the bytes back (the instance failed, or its record is being written). Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease(this.bytes);
  }
}

export interface ActiveSegmentOptions {
  dir: string;
  /** Sync each append before it resolves. */
  fsync: boolean;
  /** A segment is rolled before it grows past this (unless reserved records were allocated in it). */
  segmentBytes: number;
}

export class ActiveSegment {
  private fd = -1;
  private seg: Segment | null = null;
  /** Bytes of the segment known to be on stable storage (what readers may see). */
  private synced = 0;
  /** Bytes reserved in the segment for records not written yet. */
  private reserved = 0;
  /** Size of the segment's file: its records, then zeros allocated for reservations. */
  private allocated = 0;
  private syncing = false;
  private nextRound: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private closeAfterRound: number[] = [];
  private closed = false;

  constructor(private readonly opts: ActiveSegmentOptions) {}

  /** Bytes held for records reserved and not written yet. */
  get reservedBytes(): number {
    return this.reserved;
  }

  /** The segment appends go to (null until one is resumed or started). */
  get segment(): Segment | null {
    return this.seg;
  }

  /** Bytes of the segment known to be durable. */
  get syncedSize(): number {
    return this.synced;
  }

  /** Go on appending to `seg`, found at open (its records checked, its zero tail cut off). */
  resume(seg: Segment): void {
    this.fd = openSync(segmentPath(this.opts.dir, seg.seq), "r+");
    this.seg = seg;
    this.synced = seg.size;
    this.allocated = seg.size;
  }

  /** Must a record of `bytes` go to a new segment? Never while bytes are reserved in this one. */
  needsRoll(bytes: number): boolean {
    const s = this.seg;
    return !s || (this.reserved === 0 && s.size > 0 && s.size + bytes > this.opts.segmentBytes);
  }

  /**
   * Start segment `seq` (the current one is cut to its records, synced and closed). Room reserved in the
   * old segment moves to the new one: the records it was held for are appended there.
   */
  startNew(seq: number): Segment {
    const prev = this.seg;
    if (this.fd >= 0) {
      if (prev && this.allocated > prev.size) ftruncateSync(this.fd, prev.size);
      if (this.opts.fsync) durable.syncDataSync(this.fd);
      // An fdatasync may still run on it in the thread pool: close it when that round ends.
      if (this.syncing) this.closeAfterRound.push(this.fd);
      else closeSync(this.fd);
    }
    this.fd = openSync(segmentPath(this.opts.dir, seq), "wx");
    if (this.opts.fsync) durable.syncDirSync(this.opts.dir);
    this.seg = { seq, size: 0 };
    this.synced = 0;
    this.allocated = 0;
    if (this.reserved > 0) this.extend(this.reserved);
    return this.seg;
  }

  /**
   * Hold `bytes` of the segment for a record to be appended later (with the reservation), by allocating
   * them on disk now. Throws (e.g. ENOSPC) when the space cannot be had; nothing is held then.
   */
  reserve(bytes: number): OutboxReservation {
    const s = this.seg;
    if (!s) throw new Error("outbox has no active segment");
    const need = s.size + this.reserved + bytes;
    if (need > this.allocated) this.extend(need);
    this.reserved += bytes;
    return new OutboxReservation((n) => {
      this.reserved -= n;
    }, bytes);
  }

  /** Grow the segment's file with zeros to at least `need` bytes (a step more when possible). */
  private extend(need: number): void {
    const from = this.allocated;
    for (const target of [Math.max(need, from + PREALLOCATE_STEP), need]) {
      try {
        for (let at = from; at < target; ) {
          at += writeSync(this.fd, ZEROS, 0, Math.min(ZEROS.length, target - at), at);
        }
        this.allocated = target;
        return;
      } catch (err) {
        // Not even that much room: give back what was taken and try the bare need, then give up.
        ftruncateSync(this.fd, from);
        if (target === need) throw err;
      }
    }
  }

  /**
   * Write one frame at the end of the segment; the position just after it. Throws on a write error
   * (e.g. ENOSPC), leaving the segment as it was.
   */
  write(frame: Uint8Array): Position {
    const s = this.seg;
    if (!s) throw new Error("outbox has no active segment");
    const start = s.size;
    try {
      let done = 0;
      while (done < frame.length) done += writeSync(this.fd, frame, done, frame.length - done, start + done);
    } catch (err) {
      // Leave no partial record behind (and no space reserved behind it: later appends extend again).
      try {
        ftruncateSync(this.fd, start);
        this.allocated = start;
      } catch {
        // a torn tail is handled at the next open
      }
      throw err;
    }
    s.size += frame.length;
    if (s.size > this.allocated) this.allocated = s.size;
    return { segment: s.seq, offset: s.size };
  }

  /** Resolves with `at` once what was written up to it is durable (with fsync; at once without). */
  durableAt(at: Position): Promise<Position> {
    if (!this.opts.fsync) {
      this.synced = this.seg?.size ?? 0;
      return Promise.resolve(at);
    }
    return new Promise<Position>((resolve, reject) => {
      this.nextRound.push({ resolve: () => resolve(at), reject });
      if (!this.syncing) this.startRound();
    });
  }

  /** One fdatasync for every append that arrived since the last one started. */
  private startRound(): void {
    this.syncing = true;
    const waiters = this.nextRound;
    this.nextRound = [];
    const seq = this.seg?.seq;
    const upTo = this.seg?.size ?? 0;
    const settle = (err: Error | null): void => {
      this.syncing = false;
      for (const fd of this.closeAfterRound.splice(0)) closeSync(fd);
      if (err) for (const w of waiters) w.reject(err);
      else {
        if (this.seg?.seq === seq) this.synced = Math.max(this.synced, upTo);
        for (const w of waiters) w.resolve();
      }
      if (this.nextRound.length > 0 && !this.closed) this.startRound();
    };
    durable.syncData(this.fd).then(() => settle(null), settle);
  }

  /** Make everything written so far durable now (for bulk appends made without per-record sync). */
  syncNow(): void {
    if (this.fd < 0) return;
    durable.syncDataSync(this.fd);
    this.synced = this.seg?.size ?? 0;
  }

  /** Resolves when no sync runs and none waits to start. */
  async idle(): Promise<void> {
    while (this.syncing || this.nextRound.length > 0) {
      if (!this.syncing) this.startRound();
      await new Promise<void>((r) => setTimeout(r, 2));
    }
  }

  /** No more appends: the zero tail cut off, the descriptor closed (after idle()). */
  close(): void {
    this.closed = true;
    const s = this.seg;
    if (this.fd >= 0 && s && this.allocated > s.size) ftruncateSync(this.fd, s.size);
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
