// The entropy-decoding stage of the lossless JPEG decoder (ITU T.81 H.2, F.2.2): the scan's data copied
// without its stuffed zero bytes (split at the restart markers), so that the bit reader is a plain byte
// stream whose state stays in locals; one lookup in a 12-bit table gives most samples' code and extra
// bits together. Predictor 1 of one component (all of .4.70) is decoded and reconstructed in one loop
// (decodeLineRa); otherwise a line is decoded into a row of differences for jpeg-lossless-predict.ts.

import { CodecError } from "./codec-types.ts";
import { huffmanCodes } from "./jpeg-common.ts";

// Fast table entries, indexed by the next FAST_BITS bits:
//   COMPLETE set: (difference << 8) | COMPLETE | bits of code and extra bits together;
//   COMPLETE clear, non-zero: (SSSS << 8) | code length, the extra bits do not fit (or SSSS is invalid);
//   zero: the code is longer than FAST_BITS (or not a code).
const FAST_BITS = 12;
const FAST_MASK = (1 << FAST_BITS) - 1;
const COMPLETE = 0x80;

export interface LosslessTable {
  fast: Int32Array;
  maxcode: Int32Array;
  valoffset: Int32Array;
  huffval: Uint8Array;
}

export function buildLosslessTable(counts: Uint8Array, huffval: Uint8Array): LosslessTable {
  const { code, size, maxcode, valoffset } = huffmanCodes(counts, huffval, true);
  const fast = new Int32Array(1 << FAST_BITS);
  for (let k = 0; k < huffval.length; k++) {
    const l = size[k] ?? 0;
    if (l > FAST_BITS) break;
    const s = huffval[k] ?? 0;
    const span = 1 << (FAST_BITS - l);
    const base = (code[k] ?? 0) << (FAST_BITS - l);
    if (s === 0 || s === 16) fast.fill(((s === 16 ? 32768 : 0) << 8) | COMPLETE | l, base, base + span);
    else if (s > 16 || l + s > FAST_BITS) fast.fill((s << 8) | l, base, base + span);
    else
      for (let i = 0; i < span; i++) {
        let v = (i >> (FAST_BITS - l - s)) & ((1 << s) - 1);
        if (v < 1 << (s - 1)) v -= (1 << s) - 1;
        fast[base + i] = (v << 8) | COMPLETE | (l + s);
      }
  }
  return { fast, maxcode, valoffset, huffval };
}

/**
 * The bit reader over the unstuffed entropy-coded data: `buf` holds `bits` valid low bits. `u` extends
 * far enough past the data that a line of samples can never read outside it; whether a line read past
 * its segment is checked after each line and at each restart.
 */
export interface BitState {
  u: Uint8Array;
  pos: number;
  buf: number;
  bits: number;
}

/** Decode the differences of `n` samples of one component into `out` from index `at`. */
export function decodeRun1(st: BitState, t: LosslessTable, out: Int32Array, at: number, n: number): void {
  const u = st.u;
  const fast = t.fast;
  let pos = st.pos;
  let buf = st.buf;
  let bits = st.bits;
  for (let i = at, end = at + n; i < end; i++) {
    if (bits < 16) {
      buf = (buf << 16) | (u[pos]! << 8) | u[pos + 1]!;
      pos += 2;
      bits += 16;
    }
    const e = fast[(buf >> (bits - FAST_BITS)) & FAST_MASK]!;
    if ((e & COMPLETE) !== 0) {
      bits -= e & 31;
      out[i] = e >> 8;
      continue;
    }
    st.pos = pos;
    st.buf = buf;
    st.bits = bits;
    out[i] = slowDiff(st, t, e);
    pos = st.pos;
    buf = st.buf;
    bits = st.bits;
  }
  st.pos = pos;
  st.buf = buf;
  st.bits = bits;
}

/**
 * Decode and undifference `n` samples of one component with predictor 1 (Ra) into `out` from `o` (every
 * `stride`th), the first sample predicted by `pred`: the common case, without a row of differences.
 */
export function decodeLineRa(
  st: BitState,
  t: LosslessTable,
  out: Uint16Array,
  o: number,
  stride: number,
  n: number,
  pred: number,
): void {
  const u = st.u;
  const fast = t.fast;
  let pos = st.pos;
  let buf = st.buf;
  let bits = st.bits;
  for (const end = o + n * stride; o < end; o += stride) {
    if (bits < 16) {
      buf = (buf << 16) | (u[pos]! << 8) | u[pos + 1]!;
      pos += 2;
      bits += 16;
    }
    const e = fast[(buf >> (bits - FAST_BITS)) & FAST_MASK]!;
    if ((e & COMPLETE) !== 0) {
      bits -= e & 31;
      pred = (pred + (e >> 8)) & 0xffff;
    } else {
      st.pos = pos;
      st.buf = buf;
      st.bits = bits;
      pred = (pred + slowDiff(st, t, e)) & 0xffff;
      pos = st.pos;
      buf = st.buf;
      bits = st.bits;
    }
    out[o] = pred;
  }
  st.pos = pos;
  st.buf = buf;
  st.bits = bits;
}

/** Decode `n` MCUs of an interleaved scan (one sample of each of `tables.length` components each). */
export function decodeRunN(
  st: BitState,
  tables: LosslessTable[],
  out: Int32Array,
  at: number,
  n: number,
): void {
  const ns = tables.length;
  const u = st.u;
  let pos = st.pos;
  let buf = st.buf;
  let bits = st.bits;
  for (let i = at, end = at + n * ns, k = 0; i < end; i++) {
    const t = tables[k]!;
    if (++k === ns) k = 0;
    if (bits < 16) {
      buf = (buf << 16) | (u[pos]! << 8) | u[pos + 1]!;
      pos += 2;
      bits += 16;
    }
    const e = t.fast[(buf >> (bits - FAST_BITS)) & FAST_MASK]!;
    if ((e & COMPLETE) !== 0) {
      bits -= e & 31;
      out[i] = e >> 8;
      continue;
    }
    st.pos = pos;
    st.buf = buf;
    st.bits = bits;
    out[i] = slowDiff(st, t, e);
    pos = st.pos;
    buf = st.buf;
    bits = st.bits;
  }
  st.pos = pos;
  st.buf = buf;
  st.bits = bits;
}

/** A difference the fast table does not give whole (entry `e`; at least 16 bits are buffered). */
function slowDiff(st: BitState, t: LosslessTable, e: number): number {
  let buf = st.buf;
  let bits = st.bits;
  let l: number;
  let s: number;
  if (e !== 0) {
    l = e & 31;
    s = e >> 8;
  } else {
    // F.16 from the first length the table does not cover: no shorter code matched.
    l = FAST_BITS + 1;
    let code = (buf >> (bits - l)) & ((1 << l) - 1);
    while (code > t.maxcode[l]!) {
      if (++l > 16) throw new CodecError("JPEG: invalid Huffman code");
      code = (buf >> (bits - l)) & ((1 << l) - 1);
    }
    s = t.huffval[code + t.valoffset[l]!] ?? 0;
  }
  if (s > 16) throw new CodecError(`JPEG: difference category ${s} (at most 16)`);
  bits -= l;
  let diff = 0;
  if (s === 16) diff = 32768;
  else if (s !== 0) {
    if (bits < s) {
      const u = st.u;
      buf = (buf << 16) | (u[st.pos]! << 8) | u[st.pos + 1]!;
      st.pos += 2;
      bits += 16;
    }
    bits -= s;
    diff = (buf >> bits) & ((1 << s) - 1);
    if (diff < 1 << (s - 1)) diff -= (1 << s) - 1;
  }
  st.buf = buf;
  st.bits = bits;
  return diff;
}

/** The entropy-coded data of a scan without stuffing, as segments split at restart markers. */
export interface ScanData {
  u: Uint8Array;
  /** Segment i is u[starts[i], ends[i]); segment i > 0 follows the restart marker RST`rst[i]`. */
  starts: number[];
  ends: number[];
  rst: number[];
  /** Where the marker that ends the scan is in the codestream (or its end). */
  next: number;
}

/**
 * Copy the scan's data from `p` up to the first marker other than RSTn, dropping the zero byte after
 * each 0xFF (IJG also takes 0xFF 0xFF... 0x00 as one 0xFF); `pad` zero bytes follow the copy.
 */
export function unstuff(d: Uint8Array, p: number, end: number, pad: number): ScanData {
  const u = new Uint8Array(end - p + pad);
  const starts = [0];
  const ends: number[] = [];
  const rst = [0];
  let o = 0;
  for (;;) {
    let q = d.indexOf(0xff, p);
    if (q < 0 || q > end) q = end;
    u.set(d.subarray(p, q), o);
    o += q - p;
    if (q >= end) {
      ends.push(o);
      return { u, starts, ends, rst, next: end };
    }
    let r = q + 1;
    while (r < end && d[r] === 0xff) r++;
    const m = r < end ? (d[r] ?? 0) : -1;
    if (m === 0) {
      u[o++] = 0xff;
      p = r + 1;
    } else if (m >= 0xd0 && m <= 0xd7) {
      ends.push(o);
      starts.push(o);
      rst.push(m - 0xd0);
      p = r + 1;
    } else {
      ends.push(o);
      return { u, starts, ends, rst, next: q };
    }
  }
}
