// Reading the log back at start: the records from the checkpoint on, up to the first that is not valid
// (bad magic, CRC or LSN, or an older generation), and the entries among them that were committed.
//
// Generations: every opening of the log takes the next one and writes it to the checkpoint before it
// appends. After a crash the next run starts appending at the first invalid record, but records of the
// crashed run may lie beyond it (written out of order, or around a torn one) with exactly the LSNs the
// new run will reach. A record whose generation is older than the record before it is such a leftover,
// not a continuation: the scan stops there.

import { readSync } from "node:fs";
import {
  align8,
  crcMatches,
  HEADER,
  KIND_BEGIN,
  KIND_DATA,
  KIND_END,
  KIND_PAD,
  KIND_RELEASE,
  lapRemaining,
  MAX_PAYLOAD,
  type RecordHeader,
  readHeader,
  SLAB,
} from "./format.ts";

/** A committed entry found by the scan: where its data lies in the file, in order. */
export interface ScannedEntry {
  id: number;
  header: Uint8Array;
  size: number;
  /** Pairs of (file offset, length) of its data. */
  ranges: number[];
}

export interface ScanResult {
  /** The LSN after the last valid record: where appending resumes. */
  head: number;
  /** Committed entries that began at or after the start, in commit order. */
  committed: ScannedEntry[];
}

/** A window over the file, so most records cost no read of their own. */
class Reader {
  private readonly buf = new Uint8Array(2 * SLAB);
  private readonly view = new DataView(this.buf.buffer);
  private start = 0;
  private end = 0;

  constructor(
    private readonly fd: number,
    private readonly size: number,
  ) {}

  /** The bytes [pos, pos + len) of the file (len ≤ SLAB), valid until the next call. */
  at(pos: number, len: number): { bytes: Uint8Array; view: DataView; offset: number } {
    if (pos < this.start || pos + len > this.end) {
      const want = Math.min(this.buf.length, this.size - pos);
      let got = 0;
      while (got < want) {
        const n = readSync(this.fd, this.buf, got, want - got, pos + got);
        if (n === 0) break;
        got += n;
      }
      this.start = pos;
      this.end = pos + got;
      if (pos + len > this.end) throw new Error(`write-ahead log shorter than expected at ${pos}`);
    }
    return { bytes: this.buf, view: this.view, offset: pos - this.start };
  }
}

interface Open {
  size: number;
  ranges: number[];
}

/** Scan `fd` (a log of `capacity` bytes) from `from`, accepting records of generations up to `maxGen`. */
export function scanLog(fd: number, capacity: number, from: number, maxGen: number): ScanResult {
  const reader = new Reader(fd, capacity);
  const open = new Map<number, Open>();
  const committed: ScannedEntry[] = [];
  const released = new Set<number>();
  let p = from;
  let lastGen = 0;
  for (;;) {
    const rem = lapRemaining(p, capacity);
    if (rem < HEADER) {
      p += rem;
      continue;
    }
    const phys = p % capacity;
    const h = reader.at(phys, HEADER);
    const header = readHeader(h.view, h.offset);
    if (!header || !plausible(header, p, rem, from, capacity, lastGen, maxGen)) break;
    const headerBytes = h.bytes.subarray(h.offset, h.offset + HEADER);
    if (header.kind === KIND_PAD) {
      if (!crcMatches(headerBytes, header.crc)) break;
      lastGen = header.gen;
      p += rem;
      continue;
    }
    // Read header and payload together: the view of the header above may be replaced by this read.
    const r = reader.at(phys, HEADER + header.length);
    const payload = r.bytes.subarray(r.offset + HEADER, r.offset + HEADER + header.length);
    if (!crcMatches(r.bytes.subarray(r.offset, r.offset + HEADER), header.crc, payload)) break;
    lastGen = header.gen;
    if (header.kind === KIND_BEGIN) {
      open.set(p, { size: 0, ranges: [] });
    } else if (header.kind === KIND_DATA) {
      // Data of an entry begun before `from` was materialised already; so was a missing begin.
      const e = open.get(header.entry);
      if (e) {
        e.ranges.push(phys + HEADER, header.length);
        e.size += header.length;
      }
    } else if (header.kind === KIND_END) {
      const e = open.get(header.entry);
      if (e) {
        open.delete(header.entry);
        committed.push({ id: header.entry, header: payload.slice(), size: e.size, ranges: e.ranges });
      }
    } else if (header.kind === KIND_RELEASE) {
      released.add(header.entry);
    }
    p += align8(HEADER + header.length);
  }
  return { head: p, committed: committed.filter((e) => !released.has(e.id)) };
}

/** The checks that need no payload: where it claims to be, its size, its generation, its entry. */
function plausible(
  h: RecordHeader,
  p: number,
  rem: number,
  from: number,
  capacity: number,
  lastGen: number,
  maxGen: number,
): boolean {
  if (h.lsn !== p || h.gen > maxGen || h.gen < lastGen) return false;
  const size = h.kind === KIND_PAD ? rem : align8(HEADER + h.length);
  // Beyond one lap from the start it would have overwritten the start itself: never written so.
  if (p + size - from > capacity) return false;
  if (h.kind === KIND_PAD) return h.length === rem - HEADER;
  if (h.length > MAX_PAYLOAD || size > rem) return false;
  if (h.kind === KIND_BEGIN) return h.entry === p && h.length === 0;
  if (h.kind === KIND_RELEASE) return h.entry < p && h.length === 0;
  return h.entry < p;
}
