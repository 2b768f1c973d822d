// Appending records to the ring and knowing how much of it is durable.
//
// Records are built in place in reusable 1 MiB slabs (the one copy of the received bytes), and the part
// of a slab not yet handed to the file is a piece: at most ISSUE_BYTES of records, or less when a commit
// wants its end record on the disk now. Consecutive chunks of one entry extend the record still in the
// slab, so interleaved entries cost a header per switch, not per chunk. A record never spans two
// pieces: handing a piece over closes the record in it.
//
//   dsync      the file is opened with O_DSYNC: a piece is durable when its write completes. Writes run
//              in the thread pool (up to MAX_INFLIGHT at once, adjacent pieces merged) while data still
//              arrives, and can complete out of order: the durable LSN is the end of the longest run of
//              completed pieces from the start.
//   fdatasync  a piece is written into the page cache at once from the event loop, its whole pages handed
//              to the disk (durable.writeback(), Linux), and commits waiting share one durable.syncData:
//              the one running covers what was written before it started, the next one the rest.
//
// The ring never waits for room: an append that does not fit below `limit` (the durable checkpoint plus
// one lap, set by log.ts) or needs a slab when MAX_SLABS are busy fails, and the caller abandons its entry.

import { appendFileSync, write as writeCb, writeSync } from "node:fs";
import { crc32 } from "node:zlib";
import { durable, type StartWriteback } from "../../util/durable.ts";
import {
  align8,
  HEADER,
  KIND_BEGIN,
  KIND_DATA,
  KIND_END,
  KIND_PAD,
  KIND_RELEASE,
  lapRemaining,
  MAX_PAYLOAD,
  PAGE,
  SLAB,
  sealRecord,
  writeHeader,
} from "./format.ts";

export type FlushMode = "dsync" | "fdatasync";

/**
 * A piece is handed to the file once this much has gathered: in fdatasync mode a page-cache write and
 * its writeback, so what the commit's sync still has to write after the last byte is at most this much
 * (measured, 1000 x 0.5 MiB over a 1 Gbit/s link: 4.53 s with 32 KiB, 4.56 s with 64 KiB, 4.65 s with
 * 128 KiB, plain DCMTK 4.44 s; on loopback no worse); in dsync mode a write that waits for the device,
 * and where the device has a volatile cache (no FUA) every such write costs a cache flush, so fewer and
 * larger ones answer sooner.
 */
const ISSUE_BYTES: Record<FlushMode, number> = { fdatasync: 32 * 1024, dsync: 512 * 1024 };
/**
 * fdatasync mode, instances arriving slowly (a network link): a sync is started, beside any commit's,
 * once this much is written and not yet synced, so that the commit's own sync after the last byte
 * flushes only what came since (a disk's flush costs more the more was written since the previous one).
 * Only while the last instance took longer to arrive than EARLY_SYNC_RATIO commit syncs: where data
 * arrives faster than a sync takes, the extra flushes only slow the commits. That is loopback on a disk
 * whose syncs are slow; where they are fast, loopback gains too (W1, same run: 3.04 s, against 3.33 s
 * with early syncs kept off streams faster than 200 MB/s), so the rule looks at the syncs, not the rate.
 */
const EARLY_SYNC_BYTES = 64 * 1024;
const EARLY_SYNC_RATIO = 2;
/** dsync writes in flight at once (each waits for the device). */
const MAX_INFLIGHT = 4;
/** Memory bound: slabs waiting for their writes; beyond it, appends fail. */
const MAX_SLABS = 16;
/** A data record is not started in less room than this before the end of a lap or a slab. */
const MIN_DATA = 512;

interface Slab {
  bytes: Uint8Array;
  view: DataView;
  /** Pieces of it being written. */
  refs: number;
}

interface Piece {
  slab: Slab;
  start: number;
  len: number;
  lsn: number;
  /** LSN after it, including bytes skipped to the next lap. */
  end: number;
  done: boolean;
}

interface Waiter {
  lsn: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface RingOptions {
  fd: number;
  capacity: number;
  head: number;
  limit: number;
  gen: number;
  mode: FlushMode;
  marksFile?: string;
}

function addRange(ranges: number[], at: number, n: number): void {
  const last = ranges.length - 2;
  if (last >= 0 && ranges[last]! + ranges[last + 1]! === at) ranges[last + 1] = ranges[last + 1]! + n;
  else ranges.push(at, n);
}

function newSlab(): Slab {
  const bytes = new Uint8Array(SLAB);
  return { bytes, view: new DataView(bytes.buffer), refs: 0 };
}

export class RingWriter {
  /** The next LSN to append at (unaligned while a data record is open). */
  head: number;
  durableLsn: number;
  /** Appends must end at or before this LSN. */
  limit: number;
  failure: Error | null = null;
  /** Bytes of the chunk the last appendData took (all of it, or a first part when it failed). */
  appended = 0;
  private readonly fd: number;
  private readonly capacity: number;
  private readonly gen: number;
  private readonly mode: FlushMode;
  private readonly marksFile: string | undefined;
  private readonly startWriteback: StartWriteback | null;
  private readonly issueBytes: number;
  private slab: Slab = newSlab();
  private slabs = 1;
  private readonly pool: Slab[] = [];
  private fill = 0;
  private pieceStart = 0;
  private pieceLsn: number;
  private openEntry = -1;
  private openHdr = 0;
  private openLen = 0;
  private openCrc = 0;
  /** dsync: pieces not yet known durable, in LSN order; `queued`: those not yet being written. */
  private pending: Piece[] = [];
  private queued: Piece[] = [];
  private inflight = 0;
  private waiters: Waiter[] = [];
  /** fdatasync: everything before this LSN is in the file; writeback was started up to wbLsn. */
  private written: number;
  private wbLsn: number;
  private syncing = false;
  private early = false;
  /** The entry begun last and when (for arrivalMs), the last one's arrival and the last commit sync's time. */
  private lastBegin = -1;
  private lastBeginAt = 0;
  private arrivalMs = 0;
  private syncMs = Number.POSITIVE_INFINITY;
  private halted = false;
  private idle: Array<() => void> = [];

  constructor(o: RingOptions) {
    this.fd = o.fd;
    this.capacity = o.capacity;
    this.gen = o.gen;
    this.mode = o.mode;
    this.marksFile = o.marksFile;
    this.head = o.head;
    this.durableLsn = o.head;
    this.pieceLsn = o.head;
    this.written = o.head;
    this.wbLsn = o.head - (o.head % PAGE);
    this.limit = o.limit;
    this.startWriteback = o.mode === "fdatasync" ? durable.writeback() : null;
    this.issueBytes = ISSUE_BYTES[o.mode];
    // What the scan found is durable: the first mark.
    if (this.marksFile) appendFileSync(this.marksFile, `${o.head}\n`);
  }

  private get usable(): boolean {
    return this.failure === null && !this.halted;
  }

  /** Where the next record starts: the open record's start, or the head. */
  get boundary(): number {
    return this.openEntry >= 0 ? this.head - this.openLen - HEADER : this.head;
  }

  /** Append a begin record; its LSN is the entry's id. -1 when there is no room. */
  appendBegin(): number {
    const id = this.appendBare(KIND_BEGIN, -1);
    this.lastBegin = id;
    this.lastBeginAt = performance.now();
    return id;
  }

  /**
   * Note that a committed entry was released, so that a replay from an older tail skips it. Rides with
   * the next write. False when there is no room for it now (the caller tries again once there is).
   */
  appendRelease(entry: number): boolean {
    return this.appendBare(KIND_RELEASE, entry) >= 0;
  }

  /** A record without payload for `entry` (-1: itself); its LSN, or -1 when there is no room. */
  private appendBare(kind: number, entry: number): number {
    if (!this.usable) return -1;
    this.closeRecord();
    if (!this.place(HEADER)) return -1;
    const lsn = this.head;
    writeHeader(this.slab.view, this.fill, lsn, entry < 0 ? lsn : entry, kind, this.gen);
    sealRecord(this.slab.bytes, this.slab.view, this.fill, 0, 0);
    this.advance(HEADER);
    return lsn;
  }

  /**
   * Append `chunk` to `entry`'s data (copied now). False when there is no room: the entry is lost (a
   * first part of the chunk may be in). With `ranges`, where each appended part lies in the file is
   * added to it as (position, length) pairs, adjacent parts merged.
   */
  appendData(entry: number, chunk: Uint8Array, ranges?: number[]): boolean {
    this.appended = 0;
    if (!this.usable) return false;
    const total = chunk.length;
    let pos = 0;
    while (pos < total) {
      if (this.openEntry !== entry) {
        this.closeRecord();
        if (!this.place(HEADER + Math.min(MIN_DATA, align8(total - pos)))) return false;
        writeHeader(this.slab.view, this.fill, this.head, entry, KIND_DATA, this.gen);
        this.openEntry = entry;
        this.openHdr = this.fill;
        this.openLen = 0;
        this.openCrc = 0;
        this.advance(HEADER);
      }
      // An open record at the very start of a lap reached it: it ends there.
      const lapRoom = this.head % this.capacity === 0 ? 0 : lapRemaining(this.head, this.capacity);
      const room = Math.min(SLAB - this.fill, lapRoom, this.limit - this.head, MAX_PAYLOAD - this.openLen);
      if (room <= 0) {
        this.closeRecord();
        continue;
      }
      const n = Math.min(room, total - pos);
      const part = n === total ? chunk : chunk.subarray(pos, pos + n);
      this.slab.bytes.set(part, this.fill);
      this.openCrc = crc32(part, this.openCrc);
      if (ranges) addRange(ranges, this.head % this.capacity, n);
      this.openLen += n;
      this.advance(n);
      pos += n;
      this.appended = pos;
    }
    if (this.head - this.pieceLsn >= this.issueBytes) this.issue();
    return true;
  }

  /**
   * Append `entry`'s end record and hand everything to the file; resolves once it and all before it are
   * durable. Null when there is no room (the entry is lost).
   */
  appendEnd(entry: number, header: Uint8Array): Promise<void> | null {
    if (!this.usable || header.length > MAX_PAYLOAD) return null;
    this.closeRecord();
    const size = align8(HEADER + header.length);
    if (!this.place(size)) return null;
    const { bytes, view } = this.slab;
    if (entry === this.lastBegin) this.arrivalMs = performance.now() - this.lastBeginAt;
    writeHeader(view, this.fill, this.head, entry, KIND_END, this.gen);
    bytes.set(header, this.fill + HEADER);
    bytes.fill(0, this.fill + HEADER + header.length, this.fill + size);
    sealRecord(bytes, view, this.fill, header.length, crc32(header));
    this.advance(size);
    const end = this.head;
    this.issue();
    return this.waitFor(end);
  }

  /**
   * fdatasync mode: write what is appended so far into the file (not durably), so that it can be read
   * back from there. False in dsync mode, whose writes complete later.
   */
  handOver(): boolean {
    if (this.mode !== "fdatasync") return false;
    if (this.usable) this.issue();
    return true;
  }

  /** Close `entry`'s open record, if it has one (it was released or abandoned). */
  closeIfOpen(entry: number): void {
    if (this.openEntry === entry) this.closeRecord();
  }

  private advance(n: number): void {
    this.fill += n;
    this.head += n;
  }

  private closeRecord(): void {
    if (this.openEntry < 0) return;
    sealRecord(this.slab.bytes, this.slab.view, this.openHdr, this.openLen, this.openCrc);
    const pad = align8(this.openLen) - this.openLen;
    this.slab.bytes.fill(0, this.fill, this.fill + pad);
    this.advance(pad);
    this.openEntry = -1;
  }

  /**
   * Make room for a record of `need` bytes at the head (no record open): end the lap when too little of
   * it is left (a pad record, or the implicit wrap), take a fresh slab when this one is full.
   */
  private place(need: number): boolean {
    // A piece is one write at one place in the file: it ends where a lap does.
    if (this.head % this.capacity === 0 && this.head !== this.pieceLsn) this.issue();
    const rem = lapRemaining(this.head, this.capacity);
    if (rem < need) {
      if (this.head + rem > this.limit) return false;
      if (rem >= HEADER) {
        if (SLAB - this.fill < HEADER && !this.nextSlab()) return false;
        writeHeader(this.slab.view, this.fill, this.head, 0, KIND_PAD, this.gen);
        sealRecord(this.slab.bytes, this.slab.view, this.fill, rem - HEADER, 0);
        this.fill += HEADER;
      }
      this.head += rem;
      // The piece's end covers the skipped bytes; the next piece starts at the lap's first byte.
      this.issue();
    }
    if (SLAB - this.fill < need && !this.nextSlab()) return false;
    return this.head + need <= this.limit;
  }

  private nextSlab(): boolean {
    this.issue();
    if (this.slab.refs === 0) {
      this.fill = 0;
      this.pieceStart = 0;
      return true;
    }
    let slab = this.pool.pop();
    if (!slab) {
      if (this.slabs >= MAX_SLABS) return false;
      slab = newSlab();
      this.slabs += 1;
    }
    this.slab = slab;
    this.fill = 0;
    this.pieceStart = 0;
    return true;
  }

  /** Hand the piece gathered so far to the file. */
  private issue(): void {
    this.closeRecord();
    const len = this.fill - this.pieceStart;
    if (len === 0 && this.head === this.pieceLsn) return;
    const piece: Piece = {
      slab: this.slab,
      start: this.pieceStart,
      len,
      lsn: this.pieceLsn,
      end: this.head,
      done: len === 0,
    };
    this.pieceLsn = this.head;
    this.pieceStart = this.fill;
    if (this.mode === "fdatasync") {
      this.writeNow(piece);
      return;
    }
    this.pending.push(piece);
    if (piece.done) {
      this.settle();
      return;
    }
    this.slab.refs += 1;
    this.queued.push(piece);
    this.pump();
  }

  private writeNow(piece: Piece): void {
    try {
      let done = 0;
      const at = piece.lsn % this.capacity;
      while (done < piece.len)
        done += writeSync(this.fd, piece.slab.bytes, piece.start + done, piece.len - done, at + done);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.written = piece.end;
    // Nothing refers to the slab's bytes any more: fill it again from its start.
    this.fill = 0;
    this.pieceStart = 0;
    const wb = this.startWriteback;
    // Whole pages only: a page under writeback may make the next write into it wait.
    const upTo = this.written - (this.written % PAGE);
    if (wb && upTo > this.wbLsn) {
      for (let from = Math.max(this.wbLsn, upTo - this.capacity); from < upTo; ) {
        const at = from % this.capacity;
        const n = Math.min(upTo - from, this.capacity - at);
        wb(this.fd, at, n);
        from += n;
      }
      this.wbLsn = upTo;
    }
    if (
      !this.early &&
      !this.syncing &&
      this.written - this.durableLsn >= EARLY_SYNC_BYTES &&
      this.arrivalMs > EARLY_SYNC_RATIO * this.syncMs &&
      !this.failure
    )
      this.startSync(true);
  }

  private pump(): void {
    while (this.inflight < MAX_INFLIGHT && this.queued.length > 0 && !this.halted) {
      const first = this.queued.shift()!;
      const group = [first];
      let len = first.len;
      for (let next = this.queued[0]; next; next = this.queued[0]) {
        const adjacent =
          next.slab === first.slab &&
          next.start === first.start + len &&
          next.lsn === first.lsn + len &&
          next.lsn % this.capacity !== 0;
        if (!adjacent) break;
        group.push(this.queued.shift()!);
        len += next.len;
      }
      this.inflight += 1;
      this.writeGroup(group, first.slab.bytes, first.start, len, first.lsn % this.capacity);
    }
  }

  private writeGroup(group: Piece[], bytes: Uint8Array, offset: number, len: number, at: number): void {
    writeCb(this.fd, bytes, offset, len, at, (err, n) => {
      if (!err && n < len) {
        this.writeGroup(group, bytes, offset + n, len - n, at + n);
        return;
      }
      this.inflight -= 1;
      if (err) this.fail(err);
      else {
        for (const p of group) {
          p.done = true;
          p.slab.refs -= 1;
          if (p.slab.refs === 0) this.recycle(p.slab);
        }
        this.settle();
        this.pump();
      }
      this.checkIdle();
    });
  }

  private recycle(slab: Slab): void {
    if (slab !== this.slab) this.pool.push(slab);
    else if (this.fill === this.pieceStart) {
      this.fill = 0;
      this.pieceStart = 0;
    }
  }

  /** dsync: advance the durable LSN over the completed pieces at the front. */
  private settle(): void {
    let i = 0;
    let d = this.durableLsn;
    while (i < this.pending.length && this.pending[i]!.done) d = this.pending[i++]!.end;
    if (i > 0) this.pending.splice(0, i);
    if (d > this.durableLsn) this.setDurable(d);
  }

  private setDurable(lsn: number): void {
    this.durableLsn = lsn;
    if (this.marksFile) appendFileSync(this.marksFile, `${lsn}\n`);
    let i = 0;
    while (i < this.waiters.length && this.waiters[i]!.lsn <= lsn) this.waiters[i++]!.resolve();
    if (i > 0) this.waiters.splice(0, i);
  }

  private waitFor(lsn: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.durableLsn >= lsn) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ lsn, resolve, reject }));
    if (this.mode === "fdatasync") this.requestSync();
    return p;
  }

  private requestSync(): void {
    if (this.syncing || this.failure || this.written <= this.durableLsn) return;
    this.startSync(false);
  }

  /**
   * A data-only sync covering what is written now: a commit's (one at a time, timed for EARLY_SYNC_RATIO)
   * or an early one (EARLY_SYNC_BYTES), which runs beside a commit's instead of holding it back.
   */
  private startSync(early: boolean): void {
    if (early) this.early = true;
    else this.syncing = true;
    const target = this.written;
    const started = performance.now();
    const ended = (): void => {
      if (early) this.early = false;
      else this.syncing = false;
    };
    durable.syncData(this.fd).then(
      () => {
        ended();
        if (!early) this.syncMs = performance.now() - started;
        this.setDurable(Math.max(this.durableLsn, target));
        if (this.waiters.length > 0 && !this.halted) this.requestSync();
        this.checkIdle();
      },
      (err: Error) => {
        ended();
        this.fail(err);
        this.checkIdle();
      },
    );
  }

  /** Hand what is appended to the file and make it durable; resolves once it is. */
  flush(): Promise<void> {
    if (!this.usable) return Promise.resolve();
    this.closeRecord();
    this.issue();
    return this.waitFor(this.head);
  }

  fail(err: Error): void {
    if (!this.failure) this.failure = err;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
  }

  /** Hand over what is gathered and wait until everything appended is durable (or the log failed). */
  drain(): Promise<void> {
    if (this.usable) this.issue();
    return this.whenIdle();
  }

  /** Test hook (a crash): append nothing more, write nothing queued, wait for the writes under way. */
  halt(): Promise<void> {
    this.halted = true;
    for (const p of this.queued) p.slab.refs -= 1;
    this.queued = [];
    return this.whenIdle();
  }

  private whenIdle(): Promise<void> {
    return new Promise((resolve) => {
      this.idle.push(resolve);
      this.checkIdle();
    });
  }

  private checkIdle(): void {
    if (this.idle.length === 0 || this.inflight > 0 || this.syncing || this.early || this.queued.length > 0)
      return;
    if (this.mode === "fdatasync" && this.usable && this.written > this.durableLsn) {
      this.requestSync();
      return;
    }
    const idle = this.idle;
    this.idle = [];
    for (const w of idle) w();
  }
}
