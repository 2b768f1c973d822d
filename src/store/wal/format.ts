// The write-ahead log's on-disk format: a ring of records in <dir>/log, and two checkpoint blocks in
// <dir>/checkpoint.
//
// A position in the log is an LSN: a logical byte offset that only grows; its byte in the file is
// LSN % capacity. A record starts on an 8-byte boundary and never crosses the end of the ring:
//
//   0  magic   u32 LE  "SWAL"
//   4  crc     u32 LE  CRC-32 of the payload, continued over header bytes 8..40 (a pad: the header only)
//   8  lsn     u64 LE  where it starts: a record left from an earlier lap carries another LSN and is stale
//  16  entry   u64 LE  the entry it belongs to (the LSN of that entry's begin record)
//  24  length  u32 LE  payload bytes (a pad: the bytes it skips after its header)
//  28  kind    u8      begin, data, end (payload: the caller's header), pad (to the end of the ring) or
//                      release (the entry's file is materialised: not replayed even if after the checkpoint)
//  32  gen     u32 LE  which opening of the log wrote it (see scan.ts)
//  40  payload, then zeros to the next multiple of 8
//
// When less than a header remains before the end of the ring, the next record starts at the next lap
// with no pad (the implicit wrap). The checkpoint file holds two 64-byte blocks, at 0 and 4096 (each in
// a page of its own, so a torn write spoils at most one), written alternately; the valid block with the
// highest sequence wins. Block: magic "SWCK", crc (of bytes 8..64), version, gen, sequence, LSN where
// replay starts, capacity.

import { crc32 } from "node:zlib";

export const MAGIC = 0x4c415753;
export const HEADER = 40;
export const KIND_BEGIN = 1;
export const KIND_DATA = 2;
export const KIND_END = 3;
export const KIND_PAD = 4;
export const KIND_RELEASE = 5;
export const PAGE = 4096;
/** Staging buffer size; also the largest record (see ring.ts). */
export const SLAB = 1024 * 1024;
export const MAX_PAYLOAD = SLAB - HEADER;
/** The smallest ring: a few slabs, so that large entries still fit. */
export const MIN_CAPACITY = 64 * 1024;

const TWO32 = 0x1_0000_0000;

export function align8(n: number): number {
  const r = n % 8;
  return r === 0 ? n : n + 8 - r;
}

export function setU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % TWO32, true);
  view.setUint32(at + 4, Math.floor(value / TWO32), true);
}

export function getU64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * TWO32;
}

/** Bytes from `lsn` to the end of its lap. */
export function lapRemaining(lsn: number, capacity: number): number {
  return capacity - (lsn % capacity);
}

/** Fill in a record header at `at` (length and crc follow with sealRecord). */
export function writeHeader(
  view: DataView,
  at: number,
  lsn: number,
  entry: number,
  kind: number,
  gen: number,
): void {
  view.setUint32(at, MAGIC, true);
  setU64(view, at + 8, lsn);
  setU64(view, at + 16, entry);
  view.setUint32(at + 28, kind, true);
  view.setUint32(at + 32, gen, true);
  view.setUint32(at + 36, 0, true);
}

/** Set a header's length and its CRC, given the CRC of its payload (0 for none or a pad). */
export function sealRecord(
  bytes: Uint8Array,
  view: DataView,
  at: number,
  length: number,
  payloadCrc: number,
) {
  view.setUint32(at + 24, length, true);
  view.setUint32(at + 4, crc32(bytes.subarray(at + 8, at + HEADER), payloadCrc), true);
}

export interface RecordHeader {
  crc: number;
  lsn: number;
  entry: number;
  length: number;
  kind: number;
  gen: number;
}

/** The header at `at`, or null when it is no record header at all (magic, kind). */
export function readHeader(view: DataView, at: number): RecordHeader | null {
  if (view.getUint32(at, true) !== MAGIC) return null;
  const kind = view.getUint8(at + 28);
  if (kind < KIND_BEGIN || kind > KIND_RELEASE) return null;
  return {
    crc: view.getUint32(at + 4, true),
    lsn: getU64(view, at + 8),
    entry: getU64(view, at + 16),
    length: view.getUint32(at + 24, true),
    kind,
    gen: view.getUint32(at + 32, true),
  };
}

/** Whether a header's CRC matches, given its payload (none for a pad). */
export function crcMatches(header: Uint8Array, expected: number, payload?: Uint8Array): boolean {
  const seed = payload ? crc32(payload) : 0;
  return crc32(header.subarray(8, HEADER), seed) === expected;
}

// The checkpoint file.

const CP_MAGIC = 0x4b435753;
const CP_VERSION = 1;
export const CP_BLOCK = 64;
export const CP_FILE = 2 * PAGE;

export interface Checkpoint {
  gen: number;
  seq: number;
  lsn: number;
  capacity: number;
}

export function encodeCheckpoint(cp: Checkpoint): Uint8Array {
  const b = new Uint8Array(CP_BLOCK);
  const v = new DataView(b.buffer);
  v.setUint32(0, CP_MAGIC, true);
  v.setUint32(8, CP_VERSION, true);
  v.setUint32(12, cp.gen, true);
  setU64(v, 16, cp.seq);
  setU64(v, 24, cp.lsn);
  setU64(v, 32, cp.capacity);
  v.setUint32(4, crc32(b.subarray(8)), true);
  return b;
}

export function decodeCheckpoint(b: Uint8Array): Checkpoint | null {
  if (b.length < CP_BLOCK) return null;
  const v = new DataView(b.buffer, b.byteOffset, CP_BLOCK);
  if (v.getUint32(0, true) !== CP_MAGIC || v.getUint32(8, true) !== CP_VERSION) return null;
  if (crc32(b.subarray(8, CP_BLOCK)) !== v.getUint32(4, true)) return null;
  return { gen: v.getUint32(12, true), seq: getU64(v, 16), lsn: getU64(v, 24), capacity: getU64(v, 32) };
}

/** Offset of the block a checkpoint with sequence `seq` is written to. */
export function checkpointOffset(seq: number): number {
  return (seq % 2) * PAGE;
}
