// The outbox: a durable, segmented, append-only log of records in outbox.dir.
//
//   <dir>/<20-digit seq>.seg   segments of framed records (frame.ts), rolled at SEGMENT_BYTES
//   <dir>/cursor.json          how far the publisher got (segment, offset) and its last error
//   <dir>/corrupt/             bytes that are not valid records, set aside with a log line
//   <dir>/LOCK                 pid of the process that owns the log (one writer at a time)
//   <dir>/<seq>.hashes         SHA-256 of records' files, noted after the answer (src/outbox/hashes.ts);
//                              lives and dies with its segment
//   <dir>/export.*             the hand-over with `outbox export` (src/outbox/handover.ts); the log itself
//                              applies export.done-*.json: records an export committed to a bundle leave
//                              the log as if acknowledged
//
// Appends are constant time (one write at the end of the active segment) and, with `fsync`, resolve only
// once the record is on stable storage: appends that arrive while an fdatasync is in flight share the
// next one (group commit). Memory does not grow with the backlog: only the list of segments is held.
// At open every segment after the cursor is checked; a torn tail of the last segment is set aside and
// truncated, bad records elsewhere are set aside and skipped. Records leave the log when the publisher
// acknowledges them (ack): the cursor moves, and segments it has passed are deleted.
//
// Capacity for a record can be reserved before the record exists (reserve): the active segment is
// extended with zeros, so that the record's bytes are allocated on disk before the instance it
// describes is committed, and its append writes into space it already owns (no ENOSPC then on
// file systems that overwrite in place: ext4, XFS, NTFS, tmpfs). The zero tail is never a record: a
// frame starts with FF; it is cut off at close, at a roll, and at the next open after a crash.

import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  read,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { event, logger } from "../ops/log.ts";
import { durable } from "../util/durable.ts";
import { type BadRange, encodeFrame, HEADER, MAX_PAYLOAD, parseFrames } from "./frame.ts";

const log = logger("outbox");
const readRaw = promisify(read);
const readAsync = async (
  fd: number,
  buf: Uint8Array,
  off: number,
  len: number,
  pos: number,
): Promise<number> => (await readRaw(fd, buf, off, len, pos)).bytesRead;

export const SEGMENT_BYTES = 64 * 1024 * 1024;
/** The active segment is extended by at least this much when reservations need room. */
const PREALLOCATE_STEP = 1024 * 1024;
const ZEROS = new Uint8Array(64 * 1024);
/** Reads cover any whole frame. */
const READ_BYTES = 2 * MAX_PAYLOAD + HEADER;
const SEG_RE = /^(\d{20})\.seg$/;

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

export interface Position {
  segment: number;
  offset: number;
}

export interface Entry {
  payload: Uint8Array;
  /** Position just after this record: ack(end) removes it and everything before it. */
  end: Position;
}

export interface ReadResult {
  entries: Entry[];
  /** Where the next read starts (past bad ranges too). */
  next: Position;
}

/** What the publisher records beside the cursor, for `outbox status` in another process. */
export interface PublishNote {
  last_error: string | null;
  last_error_at: string | null;
  last_publish_at: string | null;
}

interface CursorFile extends PublishNote {
  segment: number;
  offset: number;
}

interface Segment {
  seq: number;
  size: number;
}

const segName = (seq: number): string => `${String(seq).padStart(20, "0")}.seg`;

export class OutboxLockedError extends Error {
  override readonly name = "OutboxLockedError";
}

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

export class OutboxLog {
  private segments: Segment[] = [];
  private fd = -1;
  /** Bytes of the active segment known to be on stable storage (what readers may see). */
  private syncedSize = 0;
  private cursor: Position = { segment: 0, offset: 0 };
  private note: PublishNote = { last_error: null, last_error_at: null, last_publish_at: null };
  private recordCount = 0;
  private syncing = false;
  private nextRound: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private closeAfterRound: number[] = [];
  private readonly reported = new Set<string>();
  private readFd: { seq: number; fd: number } | null = null;
  private closed = false;
  /** End of the last valid record of the last segment, as found at open. */
  private validEnd = 0;
  private readonly segmentBytes: number;
  /** Bytes reserved in the active segment for records not written yet. */
  private reserved = 0;
  /** Size of the active segment's file: its records, then zeros allocated for reservations. */
  private allocated = 0;

  private constructor(private readonly opts: OutboxLogOptions) {
    this.segmentBytes = opts.segmentBytes ?? SEGMENT_BYTES;
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
    const seqs = names
      .map((n) => SEG_RE.exec(n)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    this.readCursor();
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
        if (!this.opts.readOnly) this.dropSegment(seq);
        continue;
      }
      this.segments.push({ seq, size: statSync(this.segPath(seq)).size });
    }
    const first = this.segments[0];
    if (!first || first.seq !== this.cursor.segment) this.cursor = { segment: first?.seq ?? 1, offset: 0 };
    if (first && this.cursor.offset > first.size) this.cursor.offset = first.size;
    for (const [i, s] of this.segments.entries()) {
      const last = i === this.segments.length - 1;
      await this.check(s, s.seq === this.cursor.segment ? this.cursor.offset : 0, last);
    }
    if (this.opts.readOnly) {
      this.syncedSize = this.segments.at(-1)?.size ?? 0;
      return;
    }
    this.dropOrphanNotes(seqs);
    const active = this.segments.at(-1);
    if (!active || active.size >= this.segmentBytes) this.roll();
    else {
      this.fd = openSync(this.segPath(active.seq), "r+");
      this.syncedSize = active.size;
      this.allocated = active.size;
    }
  }

  /** Count and verify a segment's records from `from`; set bad ranges aside; truncate a torn tail. */
  private async check(s: Segment, from: number, last: boolean): Promise<void> {
    const fd = openSync(this.segPath(s.seq), "r");
    try {
      // Zeros at the end are space reserved for records that were never written (a crash): no record.
      const end = await dataEnd(fd, s.size, from);
      if (end < s.size) {
        if (!this.opts.readOnly) {
          const wfd = openSync(this.segPath(s.seq), "r+");
          try {
            ftruncateSync(wfd, end);
          } finally {
            closeSync(wfd);
          }
        }
        s.size = end;
      }
      let pos = from;
      let validEnd = from;
      const buf = new Uint8Array(READ_BYTES);
      while (pos < s.size) {
        const n = await readAsync(fd, buf, 0, Math.min(READ_BYTES, s.size - pos), pos);
        const finalRead = pos + n >= s.size;
        const parsed = parseFrames(buf.subarray(0, n), pos, finalRead);
        this.recordCount += parsed.frames.length;
        const lastFrame = parsed.frames.at(-1);
        if (lastFrame) validEnd = lastFrame.end;
        for (const b of parsed.bad) {
          const tail = last && b.offset + b.length === s.size && b.offset >= validEnd;
          this.setAside(s.seq, b, buf.subarray(b.offset - pos, b.offset - pos + b.length), tail);
        }
        if (n === 0 || parsed.consumed === 0) break;
        pos += parsed.consumed;
      }
      if (last) this.validEnd = validEnd;
      if (last && validEnd < s.size && !this.opts.readOnly) {
        // A torn tail (a write cut short by a crash): set aside above, cut off here, so appends follow
        // the last good record.
        const wfd = openSync(this.segPath(s.seq), "r+");
        try {
          ftruncateSync(wfd, validEnd);
          durable.syncDataSync(wfd);
        } finally {
          closeSync(wfd);
        }
        s.size = validEnd;
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Keep bytes that are not a valid record in corrupt/, once, with a log line an operator will see. */
  private setAside(seq: number, bad: BadRange, bytes: Uint8Array, tornTail: boolean): void {
    const key = `${seq}:${bad.offset}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    if (this.opts.readOnly) return;
    const dir = join(this.opts.dir, "corrupt");
    const file = join(dir, `${segName(seq)}@${bad.offset}.bin`);
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, bytes);
    }
    event(log, tornTail ? "warning" : "error", tornTail ? "outbox-torn-tail" : "outbox-record-corrupt", {
      segment: segName(seq),
      offset: bad.offset,
      bytes: bad.length,
      set_aside: file,
    });
  }

  private readCursor(): void {
    const p = join(this.opts.dir, "cursor.json");
    if (!existsSync(p)) return;
    try {
      const c = JSON.parse(readFileSync(p, "utf8")) as Partial<CursorFile>;
      if (Number.isSafeInteger(c.segment) && Number.isSafeInteger(c.offset)) {
        this.cursor = { segment: c.segment ?? 0, offset: c.offset ?? 0 };
      }
      this.note = {
        last_error: c.last_error ?? null,
        last_error_at: c.last_error_at ?? null,
        last_publish_at: c.last_publish_at ?? null,
      };
    } catch (err) {
      // At-least-once: without a cursor everything still in the segments is published again.
      event(log, "error", "outbox-cursor-unreadable", { file: p, error: (err as Error).message });
    }
  }

  private writeCursor(sync = false): void {
    if (this.opts.readOnly) return;
    const body: CursorFile = { ...this.cursor, ...this.note };
    durable.replaceFileSync(
      join(this.opts.dir, "cursor.json"),
      `${JSON.stringify(body)}\n`,
      sync,
      this.opts.dir,
    );
  }

  private segPath(seq: number): string {
    return join(this.opts.dir, segName(seq));
  }

  /** Delete a segment the cursor has passed, and the files that live and die with it. */
  private dropSegment(seq: number): void {
    unlinkSync(this.segPath(seq));
    try {
      unlinkSync(hashNotesPath(this.opts.dir, seq));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }

  /** Hash notes whose segment is gone (deleted by a process that crashed before it deleted them). */
  private dropOrphanNotes(seqs: readonly number[]): void {
    const live = new Set(seqs.filter((q) => q >= this.cursor.segment));
    for (const n of readdirSync(this.opts.dir)) {
      const m = NOTES_RE.exec(n);
      if (m && !live.has(Number(m[1]))) unlinkSync(join(this.opts.dir, n));
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Appending

  /** Start a new active segment (the old one is synced and closed). Never while bytes are reserved. */
  private roll(): void {
    const prev = this.segments.at(-1);
    if (this.fd >= 0) {
      if (prev && this.allocated > prev.size) ftruncateSync(this.fd, prev.size);
      if (this.opts.fsync) durable.syncDataSync(this.fd);
      // An fdatasync may still run on it in the thread pool: close it when that round ends.
      if (this.syncing) this.closeAfterRound.push(this.fd);
      else closeSync(this.fd);
    }
    const seq = Math.max((prev?.seq ?? 0) + 1, this.cursor.segment);
    this.fd = openSync(this.segPath(seq), "wx");
    if (this.opts.fsync) durable.syncDirSync(this.opts.dir);
    this.segments.push({ seq, size: 0 });
    this.syncedSize = 0;
    this.allocated = 0;
  }

  /**
   * Hold `bytes` of the active segment for a record to be appended later (with the reservation), by
   * allocating them on disk now. Throws (e.g. ENOSPC) when the space cannot be had; the log is then as
   * it was.
   */
  reserve(bytes: number): OutboxReservation {
    if (this.closed || this.opts.readOnly) throw new Error("outbox is closed");
    let active = this.segments.at(-1);
    // Roll here rather than at the append: a reservation's bytes must be in the segment it is written to.
    if (!active || (this.reserved === 0 && active.size > 0 && active.size + bytes > this.segmentBytes)) {
      this.roll();
      active = this.segments.at(-1);
    }
    if (!active) throw new Error("outbox has no active segment");
    const need = active.size + this.reserved + bytes;
    if (need > this.allocated) this.extend(need);
    this.reserved += bytes;
    return new OutboxReservation((n) => {
      this.reserved -= n;
    }, bytes);
  }

  /** Grow the active segment's file with zeros to at least `need` bytes (a step more when possible). */
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
    this.roll();
    // Records reserved before the seal are appended after it, in the new segment: their room moves with them.
    if (this.reserved > 0) this.extend(this.reserved);
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
    let active = this.segments.at(-1);
    // While records are reserved the segment may grow past segmentBytes: they were allocated in it.
    if (
      !active ||
      (this.reserved === 0 && active.size > 0 && active.size + frame.length > this.segmentBytes)
    ) {
      this.roll();
      active = this.segments.at(-1);
    }
    if (!active) return Promise.reject(new Error("outbox has no active segment"));
    const start = active.size;
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
      return Promise.reject(err as Error);
    }
    active.size += frame.length;
    if (active.size > this.allocated) this.allocated = active.size;
    this.recordCount += 1;
    const at: Position = { segment: active.seq, offset: active.size };
    if (!this.opts.fsync) {
      this.syncedSize = active.size;
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
    const active = this.segments.at(-1);
    const seq = active?.seq;
    const upTo = active?.size ?? 0;
    const settle = (err: Error | null): void => {
      this.syncing = false;
      for (const fd of this.closeAfterRound.splice(0)) closeSync(fd);
      if (err) for (const w of waiters) w.reject(err);
      else {
        if (this.segments.at(-1)?.seq === seq) this.syncedSize = Math.max(this.syncedSize, upTo);
        for (const w of waiters) w.resolve();
      }
      if (this.nextRound.length > 0 && !this.closed) this.startRound();
    };
    durable.syncData(this.fd).then(() => settle(null), settle);
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
      const end = isActive ? this.syncedSize : seg.size;
      if (pos.offset >= end) {
        if (isActive || i === this.segments.length - 1) break;
        pos = { segment: this.segments[i + 1]?.seq ?? pos.segment + 1, offset: 0 };
        continue;
      }
      const fd = this.readerFd(seg.seq);
      const want = Math.min(READ_BYTES, end - pos.offset);
      const buf = new Uint8Array(want);
      const n = await readAsync(fd, buf, 0, want, pos.offset);
      if (n === 0) break;
      const parsed = parseFrames(buf.subarray(0, n), pos.offset, pos.offset + n >= end && !isActive);
      for (const b of parsed.bad) {
        this.setAside(
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
    this.readFd = { seq, fd: openSync(this.segPath(seq), "r") };
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
        this.dropSegment(head.seq);
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
      const end = i === this.segments.length - 1 && !this.opts.readOnly ? this.syncedSize : seg.size;
      if (end === 0) continue;
      // A frame is at most READ_BYTES / 2 long: the last whole one is in the last READ_BYTES.
      const from = Math.max(0, end - READ_BYTES);
      const buf = new Uint8Array(end - from);
      const fd = openSync(this.segPath(seg.seq), "r");
      try {
        const n = await readAsync(fd, buf, 0, buf.length, from);
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
    if (this.fd < 0) return;
    durable.syncDataSync(this.fd);
    this.syncedSize = this.segments.at(-1)?.size ?? 0;
  }

  /** Wait for a running sync, close descriptors, release the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.syncing || this.nextRound.length > 0) {
      if (!this.syncing) this.startRound();
      await new Promise<void>((r) => setTimeout(r, 2));
    }
    this.closed = true;
    const active = this.segments.at(-1);
    if (this.fd >= 0 && active && this.allocated > active.size) ftruncateSync(this.fd, active.size);
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    if (this.readFd) closeSync(this.readFd.fd);
    this.readFd = null;
    if (!this.opts.readOnly) unlockDir(this.opts.dir);
  }
}

/**
 * Where the data of a segment ends: `size` less the zero bytes at its end (space reserved for records
 * that were never written). A record never ends in a zero byte (its payload is a JSON object). Reads
 * backwards only through the zeros; never below `floor`.
 */
async function dataEnd(fd: number, size: number, floor: number): Promise<number> {
  const buf = new Uint8Array(64 * 1024);
  let end = size;
  while (end > floor) {
    const n = Math.min(buf.length, end - floor);
    const got = await readAsync(fd, buf, 0, n, end - n);
    if (got !== n) return end;
    let i = got - 1;
    while (i >= 0 && buf[i] === 0) i--;
    if (i >= 0) return end - n + i + 1;
    end -= n;
  }
  return end;
}

/**
 * The records of the log in `dir` between two positions, read without owning the log: for an export,
 * whose range lies in segments their owner no longer writes (or that nobody writes). Bad bytes are
 * skipped (the owner sets them aside when it meets them).
 */
export async function* recordsBetween(dir: string, from: Position, to: Position): AsyncGenerator<Entry> {
  const seqs = readdirSync(dir)
    .map((n) => SEG_RE.exec(n)?.[1])
    .filter((x): x is string => x !== undefined)
    .map(Number)
    .filter((q) => q >= from.segment && q <= to.segment)
    .sort((a, b) => a - b);
  const buf = new Uint8Array(READ_BYTES);
  for (const seq of seqs) {
    const fd = openSync(join(dir, segName(seq)), "r");
    try {
      const size = fstatSync(fd).size;
      const end = seq === to.segment ? Math.min(to.offset, size) : size;
      let pos = seq === from.segment ? from.offset : 0;
      while (pos < end) {
        const n = await readAsync(fd, buf, 0, Math.min(READ_BYTES, end - pos), pos);
        if (n === 0) break;
        const parsed = parseFrames(buf.subarray(0, n), pos, pos + n >= end);
        for (const f of parsed.frames)
          yield { payload: f.payload.slice(), end: { segment: seq, offset: f.end } };
        if (parsed.consumed === 0) break;
        pos += parsed.consumed;
      }
    } finally {
      closeSync(fd);
    }
  }
}

/** Is position a before position b? */
export function before(a: Position, b: Position): boolean {
  return a.segment < b.segment || (a.segment === b.segment && a.offset < b.offset);
}

/** Where the hash notes of segment `seq` are kept (src/outbox/hashes.ts writes and reads them). */
export function hashNotesPath(dir: string, seq: number): string {
  return join(dir, `${String(seq).padStart(20, "0")}.hashes`);
}

const NOTES_RE = /^(\d{20})\.hashes$/;

// ---------------------------------------------------------------------------------------------------
// What exports committed. `outbox export` writes export.done-<export id>-<volume>.json into outbox.dir
// once a volume of the bundle is complete ({ "to": position }); whoever owns the log applies it (moves
// the cursor, deletes the segments passed) and removes it. Until then readers count from there too.

export const EXPORT_DONE_PREFIX = "export.done-";

/** The furthest position an export committed, from the export.done-* files, or null. */
export function exportedTo(dir: string): Position | null {
  let best: Position | null = null;
  for (const f of exportDoneFiles(dir)) {
    try {
      const v = JSON.parse(readFileSync(join(dir, f), "utf8")) as { to?: Partial<Position> };
      const to = v.to;
      if (!to || !Number.isSafeInteger(to.segment) || !Number.isSafeInteger(to.offset)) continue;
      const p = { segment: to.segment ?? 0, offset: to.offset ?? 0 };
      if (best === null || before(best, p)) best = p;
    } catch (err) {
      // Written by rename, so never partial: unreadable means someone else's file; leave it.
      event(log, "warning", "outbox-export-note-unreadable", { file: f, error: (err as Error).message });
    }
  }
  return best;
}

export function exportDoneFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => n.startsWith(EXPORT_DONE_PREFIX) && n.endsWith(".json"));
  } catch {
    return [];
  }
}

/** Remove the export.done-* files once their position is in cursor.json (they said no more than `upTo`). */
export function clearExportDone(dir: string, upTo: Position | null): void {
  if (upTo === null) return;
  for (const f of exportDoneFiles(dir)) {
    try {
      const v = JSON.parse(readFileSync(join(dir, f), "utf8")) as { to?: Position };
      if (v.to && before(upTo, v.to)) continue;
      unlinkSync(join(dir, f));
    } catch {
      // left for the next owner
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// One owner at a time: the server, or an `outbox drain|export|import` while the server is stopped.

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The pid of the live process that owns the log of `dir`, or null (none, or it is gone). */
export function lockOwner(dir: string): number | null {
  let text: string;
  try {
    text = readFileSync(join(dir, "LOCK"), "utf8");
  } catch {
    return null;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isSafeInteger(pid) && pid > 0 && alive(pid) ? pid : null;
}

async function lockDir(dir: string, waitMs: number): Promise<void> {
  const p = join(dir, "LOCK");
  const deadline = Date.now() + waitMs;
  let waited = false;
  for (;;) {
    try {
      const fd = openSync(p, "wx");
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let pid = Number.NaN;
      try {
        pid = Number.parseInt(readFileSync(p, "utf8").trim(), 10);
      } catch (e) {
        // Removed in between (its owner closed): try again.
        if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw e;
      }
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        if (Date.now() >= deadline) throw new OutboxLockedError(`outbox ${dir} is in use by process ${pid}`);
        if (!waited) event(log, "info", "outbox-lock-wait", { dir, pid });
        waited = true;
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      // Left by a process that is gone (crash, SIGKILL), or empty (it died writing it): take it over.
      try {
        unlinkSync(p);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      }
    }
  }
}

function unlockDir(dir: string): void {
  try {
    const p = join(dir, "LOCK");
    if (readFileSync(p, "utf8").trim() === String(process.pid)) unlinkSync(p);
  } catch {
    // already gone
  }
}
