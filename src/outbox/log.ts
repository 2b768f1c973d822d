// The outbox: a durable, segmented, append-only log of records in outbox.dir.
//
//   <dir>/<20-digit seq>.seg   segments of framed records (frame.ts), rolled at SEGMENT_BYTES; their names
//                              and reading them without owning the log: segments.ts
//   <dir>/cursor.json          how far the publisher got (segment, offset) and its last error (cursor.ts)
//   <dir>/corrupt/             bytes that are not valid records, set aside with a log line (recovery.ts)
//   <dir>/LOCK                 pid of the process that owns the log (one writer at a time: lock.ts)
//   <dir>/<seq>.hashes         SHA-256 of records' files, noted after the answer (src/outbox/hashes.ts);
//                              lives and dies with its segment
//   <dir>/export.*             the hand-over with `outbox export` (src/outbox/handover-files.ts); the log
//                              itself applies export.done-*.json (export-marker.ts): records an export
//                              committed to a bundle leave the log as if acknowledged
//
// Appends are constant time (one write at the end of the active segment) and, with `fsync`, resolve only
// once the record is on stable storage: appends that arrive while an fdatasync is in flight share the
// next one (group commit, active-segment.ts). Memory does not grow with the backlog: only the list of
// segments is held. At open every segment after the cursor is checked; a torn tail of the last segment
// is set aside and truncated, bad records elsewhere are set aside and skipped (recovery.ts). Records
// leave the log when the publisher acknowledges them (ack): the cursor moves, and segments it has
// passed are deleted.
//
// Capacity for a record can be reserved before the record exists (reserve): its bytes are allocated on
// disk before the instance it describes is committed, so that its append cannot fail for want of
// space on file systems that overwrite in place (active-segment.ts).

import { closeSync, mkdirSync, openSync, readdirSync, statSync } from "node:fs";
import { ActiveSegment, type OutboxReservation } from "./active-segment.ts";
import { NO_NOTE, type PublishNote, readCursor, writeCursor } from "./cursor.ts";
import { clearExportDone, exportedTo } from "./export-marker.ts";
import { encodeFrame, parseFrames } from "./frame.ts";
import { lockDir, unlockDir } from "./lock.ts";
import { CorruptRanges, checkSegment, dropOrphanNotes } from "./recovery.ts";
import {
  before,
  dropSegment,
  type Entry,
  type Position,
  READ_BYTES,
  readAt,
  type Segment,
  segmentPath,
  segmentSeqs,
} from "./segments.ts";

// OutboxLog.open throws it: it stays importable from here, beside the log.
export { OutboxLockedError } from "./lock.ts";

export const SEGMENT_BYTES = 64 * 1024 * 1024;

export interface OutboxLogOptions {
  dir: string;
  /** Above this many bytes of backlog the outbox counts as full (outbox.max_mb). */
  maxBytes: number;
  /** Sync each append before it resolves (follows storage.fsync). */
  fsync: boolean;
  segmentBytes?: number;
  /** Only look (status): no lock, no truncation, nothing set aside or deleted. */
  readOnly?: boolean;
  /**
   * How long to wait for a lock held by a live process before giving up (default 0). The server waits:
   * `outbox export|import` take the log for a moment when no server runs, and a server started just
   * then must not fail.
   */
  lockWaitMs?: number;
}

export interface ReadResult {
  entries: Entry[];
  /** Where the next read starts (past bad ranges too). */
  next: Position;
}

export class OutboxLog {
  private segments: Segment[] = [];
  private readonly active: ActiveSegment;
  private readonly corrupt: CorruptRanges;
  private cursor: Position = { segment: 0, offset: 0 };
  private note: PublishNote = { ...NO_NOTE };
  private recordCount = 0;
  private readFd: { seq: number; fd: number } | null = null;
  private closed = false;
  /** End of the last valid record of the last segment, as found at open. */
  private validEnd = 0;
  private readonly segmentBytes: number;

  private constructor(private readonly opts: OutboxLogOptions) {
    this.segmentBytes = opts.segmentBytes ?? SEGMENT_BYTES;
    this.active = new ActiveSegment({ dir: opts.dir, fsync: opts.fsync, segmentBytes: this.segmentBytes });
    this.corrupt = new CorruptRanges(opts.dir, opts.readOnly === true);
  }

  static async open(opts: OutboxLogOptions): Promise<OutboxLog> {
    const l = new OutboxLog(opts);
    if (!opts.readOnly) {
      mkdirSync(opts.dir, { recursive: true });
      await lockDir(opts.dir, opts.lockWaitMs ?? 0);
    }
    try {
      await l.load();
    } catch (err) {
      if (!opts.readOnly) unlockDir(opts.dir);
      throw err;
    }
    return l;
  }

  get dir(): string {
    return this.opts.dir;
  }

  /** Records not yet acknowledged. */
  get records(): number {
    return this.recordCount;
  }

  /** Bytes of the backlog (unacknowledged records, framing included). */
  get bytes(): number {
    let total = 0;
    for (const s of this.segments) total += s.size;
    const head = this.segments[0];
    if (head && head.seq === this.cursor.segment) total -= this.cursor.offset;
    return total;
  }

  /** Above outbox.max_mb: new instances are refused until the publisher catches up. */
  get full(): boolean {
    return this.bytes >= this.opts.maxBytes;
  }

  /**
   * Whether the records reserved and not written yet would take it to outbox.max_mb: a write-ahead
   * burst's files (and so their records) must then be placed now, for the bound to be seen during the
   * burst (src/store/wal/gate.ts).
   */
  get fullOnceWritten(): boolean {
    return this.bytes + this.active.reservedBytes >= this.opts.maxBytes;
  }

  get publishNote(): PublishNote {
    return { ...this.note };
  }

  // -------------------------------------------------------------------------------------------------
  // Opening

  private async load(): Promise<void> {
    let names: string[] = [];
    try {
      names = readdirSync(this.opts.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || !this.opts.readOnly) throw err;
    }
    const seqs = segmentSeqs(names);
    const saved = readCursor(this.opts.dir);
    if (saved) {
      if (saved.cursor) this.cursor = saved.cursor;
      this.note = saved.note;
    }
    // Records an export committed to a bundle are gone, whether or not the owner had applied that yet.
    const exported = exportedTo(this.opts.dir);
    if (exported && before(this.cursor, exported)) {
      this.cursor = exported;
      // Durable before the notes go: they are the only other record of it.
      this.writeCursor(true);
    }
    if (!this.opts.readOnly) clearExportDone(this.opts.dir, exported);
    for (const seq of seqs) {
      if (seq < this.cursor.segment) {
        // Acknowledged before a crash kept it from being deleted.
        if (!this.opts.readOnly) dropSegment(this.opts.dir, seq);
        continue;
      }
      this.segments.push({ seq, size: statSync(segmentPath(this.opts.dir, seq)).size });
    }
    const first = this.segments[0];
    if (!first || first.seq !== this.cursor.segment) this.cursor = { segment: first?.seq ?? 1, offset: 0 };
    if (first && this.cursor.offset > first.size) this.cursor.offset = first.size;
    for (const [i, s] of this.segments.entries()) {
      const last = i === this.segments.length - 1;
      const from = s.seq === this.cursor.segment ? this.cursor.offset : 0;
      const checked = await checkSegment(
        this.opts.dir,
        s,
        from,
        last,
        this.opts.readOnly === true,
        this.corrupt,
      );
      s.size = checked.size;
      this.recordCount += checked.records;
      if (last) this.validEnd = checked.validEnd;
    }
    if (this.opts.readOnly) return;
    dropOrphanNotes(this.opts.dir, new Set(seqs.filter((q) => q >= this.cursor.segment)));
    const active = this.segments.at(-1);
    if (!active || active.size >= this.segmentBytes) this.roll();
    else this.active.resume(active);
  }

  private writeCursor(sync = false): void {
    if (this.opts.readOnly) return;
    writeCursor(this.opts.dir, this.cursor, this.note, sync);
  }

  // -------------------------------------------------------------------------------------------------
  // Appending

  /** Start a new active segment (the old one is synced and closed). */
  private roll(): void {
    const seq = Math.max((this.segments.at(-1)?.seq ?? 0) + 1, this.cursor.segment);
    this.segments.push(this.active.startNew(seq));
  }

  /**
   * Hold `bytes` of the active segment for a record to be appended later (with the reservation), by
   * allocating them on disk now. Throws (e.g. ENOSPC) when the space cannot be had; the log is then as
   * it was.
   */
  reserve(bytes: number): OutboxReservation {
    if (this.closed || this.opts.readOnly) throw new Error("outbox is closed");
    // Roll here rather than at the append: a reservation's bytes must be in the segment it is written to.
    if (this.active.needsRoll(bytes)) this.roll();
    return this.active.reserve(bytes);
  }

  /**
   * Close the active segment to appends (synced) and start a new one: everything appended so far now
   * lies before the position returned, in segments no one writes again. An export reads up to there
   * while appends go on after it.
   */
  seal(): Position {
    if (this.closed || this.opts.readOnly) throw new Error("outbox is closed or read-only");
    const active = this.segments.at(-1);
    if (!active) {
      this.roll();
      return { segment: this.segments.at(-1)?.seq ?? 1, offset: 0 };
    }
    if (active.size === 0) return { segment: active.seq, offset: 0 };
    const end = { segment: active.seq, offset: active.size };
    // Records reserved before the seal are appended after it, in the new segment: their room moves with them.
    this.roll();
    return end;
  }

  /** Just after the last record appended (owner), or the last valid one found at open (read-only). */
  get tail(): Position {
    const last = this.segments.at(-1);
    if (!last) return { ...this.cursor };
    return { segment: last.seq, offset: this.opts.readOnly ? Math.min(this.validEnd, last.size) : last.size };
  }

  /**
   * Append one record, into the space of `reservation` when given. Resolves with the position just
   * after it when it is durable (with fsync) or written (without). Throws on a write error (e.g. ENOSPC),
   * leaving the log as it was.
   */
  append(payload: Uint8Array, reservation?: { release(): void }): Promise<Position> {
    reservation?.release();
    if (this.closed || this.opts.readOnly) return Promise.reject(new Error("outbox is closed"));
    const frame = encodeFrame(payload);
    // While records are reserved the segment may grow past segmentBytes: they were allocated in it.
    if (this.active.needsRoll(frame.length)) this.roll();
    let at: Position;
    try {
      at = this.active.write(frame);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    this.recordCount += 1;
    return this.active.durableAt(at);
  }

  // -------------------------------------------------------------------------------------------------
  // Reading and acknowledging

  /** Where unacknowledged records start. */
  get head(): Position {
    return { ...this.cursor };
  }

  /**
   * Up to `max` records from `from` (default: the cursor), in log order, only records that are durable.
   * Bad ranges met on the way are set aside and skipped.
   */
  async read(max: number, from: Position = this.cursor, maxBytes = 4 * 1024 * 1024): Promise<ReadResult> {
    const entries: Entry[] = [];
    let pos = { ...from };
    let bytes = 0;
    while (entries.length < max && bytes < maxBytes) {
      const i = this.segments.findIndex((s) => s.seq >= pos.segment);
      const seg = this.segments[i];
      if (!seg) break;
      if (seg.seq !== pos.segment) pos = { segment: seg.seq, offset: 0 };
      const isActive = i === this.segments.length - 1 && !this.opts.readOnly;
      const end = isActive ? this.active.syncedSize : seg.size;
      if (pos.offset >= end) {
        if (isActive || i === this.segments.length - 1) break;
        pos = { segment: this.segments[i + 1]?.seq ?? pos.segment + 1, offset: 0 };
        continue;
      }
      const fd = this.readerFd(seg.seq);
      const want = Math.min(READ_BYTES, end - pos.offset);
      const buf = new Uint8Array(want);
      const n = await readAt(fd, buf, 0, want, pos.offset);
      if (n === 0) break;
      const parsed = parseFrames(buf.subarray(0, n), pos.offset, pos.offset + n >= end && !isActive);
      for (const b of parsed.bad) {
        this.corrupt.setAside(
          seg.seq,
          b,
          buf.subarray(b.offset - pos.offset, b.offset - pos.offset + b.length),
          false,
        );
      }
      let consumedTo = pos.offset + parsed.consumed;
      for (const f of parsed.frames) {
        if (entries.length >= max || bytes >= maxBytes) {
          consumedTo = f.offset;
          break;
        }
        entries.push({ payload: f.payload, end: { segment: seg.seq, offset: f.end } });
        bytes += f.payload.length;
      }
      // Bad ranges after the last frame taken are skipped only when nothing was cut short.
      if (entries.length > 0 && consumedTo !== pos.offset + parsed.consumed) {
        pos = { ...(entries.at(-1)?.end ?? pos) };
        break;
      }
      if (parsed.consumed === 0) break;
      pos = { segment: seg.seq, offset: consumedTo };
    }
    return { entries, next: pos };
  }

  private readerFd(seq: number): number {
    if (this.readFd?.seq === seq) return this.readFd.fd;
    if (this.readFd) closeSync(this.readFd.fd);
    this.readFd = { seq, fd: openSync(segmentPath(this.opts.dir, seq), "r") };
    return this.readFd.fd;
  }

  /** The publisher delivered everything before `to` (`count` records): move the cursor, drop segments. */
  ack(to: Position, count: number, note?: Partial<PublishNote>): void {
    if (this.opts.readOnly) throw new Error("outbox opened read-only");
    // Never backwards: an export may have released records past what a publisher read before it.
    if (before(to, this.cursor)) {
      if (note) this.setNote(note);
      return;
    }
    this.recordCount = Math.max(0, this.recordCount - count);
    this.cursor = { ...to };
    if (note) this.note = { ...this.note, ...note };
    // Sealed segments read to their end are done; the active one stays (appends go there).
    while (this.segments.length > 1) {
      const head = this.segments[0];
      if (!head) break;
      if (
        head.seq < this.cursor.segment ||
        (head.seq === this.cursor.segment && this.cursor.offset >= head.size)
      ) {
        const next = this.segments[1];
        if (head.seq === this.cursor.segment && next) this.cursor = { segment: next.seq, offset: 0 };
        this.segments.shift();
        if (this.readFd?.seq === head.seq) {
          closeSync(this.readFd.fd);
          this.readFd = null;
        }
        this.writeCursor();
        dropSegment(this.opts.dir, head.seq);
      } else break;
    }
    this.writeCursor();
  }

  /**
   * Records before `to` left the site another way (an export committed them to a bundle): they leave
   * the log as if acknowledged. Returns how many that was (0 when the cursor is there already).
   */
  async release(to: Position): Promise<number> {
    if (!before(this.cursor, to)) return 0;
    let count = 0;
    let pos = this.head;
    while (before(pos, to)) {
      const r = await this.read(5000, pos, 64 * 1024 * 1024);
      if (r.entries.length === 0 && r.next.segment === pos.segment && r.next.offset === pos.offset) break;
      for (const e of r.entries) if (!before(to, e.end)) count += 1;
      pos = r.next;
    }
    this.ack(to, count);
    return count;
  }

  /**
   * Apply what exports committed since the log was opened (export.done-* files, see exportedTo): those
   * records leave the log. Returns how many.
   */
  async applyExports(): Promise<number> {
    if (this.opts.readOnly) return 0;
    const to = exportedTo(this.opts.dir);
    if (!to) return 0;
    const n = await this.release(to);
    this.writeCursor(true);
    clearExportDone(this.opts.dir, to);
    return n;
  }

  /** Remember the publisher's last error / success for `outbox status` (written with the cursor). */
  setNote(note: Partial<PublishNote>): void {
    this.note = { ...this.note, ...note };
    if (!this.opts.readOnly) this.writeCursor();
  }

  /** created_time of the oldest record in the backlog, if any. */
  async oldest(): Promise<string | null> {
    const r = await this.read(1);
    const first = r.entries[0];
    if (!first) return null;
    try {
      const v = JSON.parse(new TextDecoder().decode(first.payload)) as { created_time?: unknown };
      return typeof v.created_time === "string" ? v.created_time : null;
    } catch {
      return null;
    }
  }

  /**
   * The newest record in the log, acknowledged or not (the active segment keeps its records after they
   * are published), or null when the log holds none.
   */
  async lastRecord(): Promise<Uint8Array | null> {
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const seg = this.segments[i];
      if (!seg) continue;
      const end = i === this.segments.length - 1 && !this.opts.readOnly ? this.active.syncedSize : seg.size;
      if (end === 0) continue;
      // A frame is at most READ_BYTES / 2 long: the last whole one is in the last READ_BYTES.
      const from = Math.max(0, end - READ_BYTES);
      const buf = new Uint8Array(end - from);
      const fd = openSync(segmentPath(this.opts.dir, seg.seq), "r");
      try {
        const n = await readAt(fd, buf, 0, buf.length, from);
        const last = parseFrames(buf.subarray(0, n), from, true).frames.at(-1);
        if (last) return last.payload;
      } finally {
        closeSync(fd);
      }
    }
    return null;
  }

  /** Make everything appended so far durable now (for bulk appends made without per-record sync). */
  syncNow(): void {
    this.active.syncNow();
  }

  /** Wait for a running sync, close descriptors, release the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.active.idle();
    this.closed = true;
    this.active.close();
    if (this.readFd) closeSync(this.readFd.fd);
    this.readFd = null;
    if (!this.opts.readOnly) unlockDir(this.opts.dir);
  }
}
