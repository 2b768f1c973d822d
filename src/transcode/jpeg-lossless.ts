// Lossless JPEG (ITU T.81 Annex H: process 14, SOF3, Huffman coding), the codec of the JPEG Lossless
// transfer syntaxes (.4.57, and .4.70 for predictor 1). The reference is DCMTK's dcmdjpeg (IJG 6b with
// the lossless patch): reconstruction modulo 2^16, predictors in 32-bit arithmetic, SSSS 16 meaning a
// difference of 32768 without extra bits, all-ones Huffman codes accepted, samples shifted left by the
// point transform. Corrupt data is refused (CodecError) where IJG would warn and make up samples.
//
// Speed: the entropy-coded segments are first copied without their stuffed zero bytes (and split at the
// restart markers), so the bit reader is a plain byte stream whose state stays in locals; one lookup in
// a 12-bit table gives most samples' code and extra bits together. Predictor 1 of one component (all of
// .4.70) is decoded and reconstructed in one loop; otherwise each line is entropy-decoded into a row of
// differences, then undifferenced by a loop per predictor.

import { CodecError } from "./codec-types.ts";
import { huffmanCodes, readDht, STOP, u16, unsupportedMarker, walkSegments } from "./jpeg-common.ts";

export interface JpegLosslessImage {
  width: number;
  height: number;
  components: number;
  precision: number;
  /** Samples interleaved, one byte each or two (little endian) as asked for. */
  pixels: Uint8Array;
}

export interface JpegLosslessOptions {
  /** Bytes per output sample (default: 1 up to 8-bit precision, else 2). */
  bytesPerSample?: 1 | 2;
  /** What the data set says: checked against the frame header before any pixel memory is allocated. */
  expect?: { width: number; height: number; components: number };
}

/** Decode one lossless JPEG codestream. */
export function decodeJpegLossless(data: Uint8Array, opts: JpegLosslessOptions = {}): JpegLosslessImage {
  return new JpegLosslessDecoder(data, opts).decode();
}

// Fast table entries, indexed by the next FAST_BITS bits:
//   COMPLETE set: (difference << 8) | COMPLETE | bits of code and extra bits together;
//   COMPLETE clear, non-zero: (SSSS << 8) | code length, the extra bits do not fit (or SSSS is invalid);
//   zero: the code is longer than FAST_BITS (or not a code).
const FAST_BITS = 12;
const FAST_MASK = (1 << FAST_BITS) - 1;
const COMPLETE = 0x80;

interface LosslessTable {
  fast: Int32Array;
  maxcode: Int32Array;
  valoffset: Int32Array;
  huffval: Uint8Array;
}

function buildTable(counts: Uint8Array, huffval: Uint8Array): LosslessTable {
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
interface BitState {
  u: Uint8Array;
  pos: number;
  buf: number;
  bits: number;
}

/** Decode the differences of `n` samples of one component into `out` from index `at`. */
function decodeRun1(st: BitState, t: LosslessTable, out: Int32Array, at: number, n: number): void {
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
function decodeLineRa(
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
function decodeRunN(st: BitState, tables: LosslessTable[], out: Int32Array, at: number, n: number): void {
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

/**
 * Undifference `n` samples of a line that starts a scan or restart interval (or its rest from a restart
 * inside the line): the first predicted by `initial` = 2^(P-Pt-1), the others by Ra.
 */
function firstLine(
  out: Uint16Array,
  o: number,
  stride: number,
  d: Int32Array,
  di: number,
  dStride: number,
  n: number,
  initial: number,
): void {
  let ra = initial;
  for (let j = 0; j < n; j++, o += stride, di += dStride) {
    ra = (ra + d[di]!) & 0xffff;
    out[o] = ra;
  }
}

/**
 * Undifference the first `n` samples of a line below another (`up` is the line above): the first sample
 * predicted by Rb, the others by predictor `psv` (T.81 Table H.1, in 32-bit arithmetic as IJG).
 */
function nextLine(
  out: Uint16Array,
  o: number,
  up: number,
  stride: number,
  d: Int32Array,
  di: number,
  dStride: number,
  n: number,
  psv: number,
): void {
  if (n <= 0) return;
  let rb = out[up]!;
  let ra = (rb + d[di]!) & 0xffff;
  out[o] = ra;
  const end = o + n * stride;
  o += stride;
  up += stride;
  di += dStride;
  switch (psv) {
    case 1:
      for (; o < end; o += stride, di += dStride) {
        ra = (ra + d[di]!) & 0xffff;
        out[o] = ra;
      }
      break;
    case 2:
      for (; o < end; o += stride, up += stride, di += dStride) out[o] = (out[up]! + d[di]!) & 0xffff;
      break;
    case 3:
      for (; o < end; o += stride, up += stride, di += dStride) {
        const rc = rb;
        rb = out[up]!;
        out[o] = (rc + d[di]!) & 0xffff;
      }
      break;
    case 4:
      for (; o < end; o += stride, up += stride, di += dStride) {
        const rc = rb;
        rb = out[up]!;
        ra = (ra + rb - rc + d[di]!) & 0xffff;
        out[o] = ra;
      }
      break;
    case 5:
      for (; o < end; o += stride, up += stride, di += dStride) {
        const rc = rb;
        rb = out[up]!;
        ra = (ra + ((rb - rc) >> 1) + d[di]!) & 0xffff;
        out[o] = ra;
      }
      break;
    case 6:
      for (; o < end; o += stride, up += stride, di += dStride) {
        const rc = rb;
        rb = out[up]!;
        ra = (rb + ((ra - rc) >> 1) + d[di]!) & 0xffff;
        out[o] = ra;
      }
      break;
    default:
      for (; o < end; o += stride, up += stride, di += dStride) {
        rb = out[up]!;
        ra = (((ra + rb) >> 1) + d[di]!) & 0xffff;
        out[o] = ra;
      }
  }
}

/** The entropy-coded data of a scan without stuffing, as segments split at restart markers. */
interface ScanData {
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
function unstuff(d: Uint8Array, p: number, end: number, pad: number): ScanData {
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

interface Component {
  id: number;
  table: LosslessTable | null;
  /** Point transform of the component's scan: samples are shifted left by it at the end. */
  pt: number;
  decoded: boolean;
}

interface Frame {
  precision: number;
  width: number;
  height: number;
  comps: Component[];
  /** Reconstructed samples, interleaved, before the point transform. */
  samples: Uint16Array;
}

class JpegLosslessDecoder {
  private readonly data: Uint8Array;
  private readonly end: number;
  private readonly opts: JpegLosslessOptions;
  private pos = 0;
  private frame: Frame | null = null;
  private readonly tables: (LosslessTable | null)[] = [null, null, null, null];
  private restartInterval = 0;

  constructor(data: Uint8Array, opts: JpegLosslessOptions) {
    this.data = data;
    this.end = data.length;
    this.opts = opts;
  }

  decode(): JpegLosslessImage {
    const d = this.data;
    walkSegments(d, {
      // Some encoders leave an RSTn after a scan's last interval.
      strayRestart: "skip",
      complete: () => this.complete(),
      segment: (m, seg, segEnd) => {
        this.pos = segEnd;
        if (m === 0xc3) this.readSof(seg, segEnd);
        else if (m === 0xc4)
          readDht(d, seg, segEnd, (tc, th, counts, huffval) => {
            // A lossless scan uses DC tables only (IJG does not even derive the others).
            if (tc === 0) this.tables[th] = buildTable(counts, huffval);
          });
        else if (m === 0xdd) {
          if (segEnd - seg !== 2) throw new CodecError("JPEG: bad DRI length");
          this.restartInterval = u16(d, seg, segEnd);
        } else if (m === 0xda) {
          this.readSos(seg, segEnd);
          if (this.complete()) return STOP; // EOI may be missing: the image is complete
        } else {
          const unsupported = unsupportedMarker(m, "the lossless decoder");
          if (unsupported) throw unsupported;
        }
        // APPn, COM, DQT and other segments: skipped
        return this.pos;
      },
    });
    const f = this.frame;
    if (!f) throw new CodecError("JPEG: no lossless frame header (SOF3)");
    if (!f.comps.every((c) => c.decoded)) throw new CodecError("JPEG: a component has no scan");
    return this.output(f);
  }

  private complete(): boolean {
    return this.frame?.comps.every((c) => c.decoded) ?? false;
  }

  private readSof(p: number, end: number): void {
    if (this.frame) throw new CodecError("JPEG: more than one frame header");
    const d = this.data;
    if (end - p < 6) throw new CodecError("JPEG: short SOF segment");
    const precision = d[p] ?? 0;
    const height = u16(d, p + 1, end);
    const width = u16(d, p + 3, end);
    const n = d[p + 5] ?? 0;
    if (precision < 2 || precision > 16)
      throw new CodecError(`JPEG: ${precision}-bit lossless samples (2 to 16 are defined)`);
    if (height === 0)
      throw new CodecError("JPEG: DNL marker (height defined after the scan) is not supported");
    if (width === 0) throw new CodecError("JPEG: image width 0");
    if (n < 1 || n > 4) throw new CodecError(`JPEG: ${n} components (1 to 4 are supported)`);
    if (end - p !== 6 + 3 * n) throw new CodecError("JPEG: bad SOF length");
    const ex = this.opts.expect;
    if (ex && (ex.width !== width || ex.height !== height || ex.components !== n))
      throw new CodecError(
        `codestream is ${width}x${height}x${n}, the data set says ${ex.width}x${ex.height}x${ex.components}`,
      );
    const comps: Component[] = [];
    for (let i = 0; i < n; i++) {
      const q = p + 6 + 3 * i;
      const id = d[q] ?? 0;
      const hv = d[q + 1] ?? 0;
      if (comps.some((c) => c.id === id)) throw new CodecError("JPEG: two components with one identifier");
      // One component is one sample per MCU whatever its factors say; several must all be full size.
      if (n > 1 && hv !== 0x11)
        throw new CodecError("JPEG: subsampled components are not supported in lossless JPEG");
      comps.push({ id, table: null, pt: 0, decoded: false });
    }
    // Every sample takes at least one bit (its Huffman code): refuse headers that promise more samples
    // than the data could hold, before allocating for them.
    if (width * height * n > this.end * 8) throw new CodecError("JPEG: too little data for the frame size");
    this.frame = { precision, width, height, comps, samples: new Uint16Array(width * height * n) };
  }

  private readSos(p: number, end: number): void {
    const f = this.frame;
    if (!f) throw new CodecError("JPEG: scan before the frame header");
    const d = this.data;
    const ns = d[p] ?? 0;
    if (ns < 1 || ns > 4 || end - p !== 4 + 2 * ns) throw new CodecError("JPEG: bad SOS segment");
    const comps: Component[] = [];
    for (let i = 0; i < ns; i++) {
      const id = d[p + 1 + 2 * i] ?? 0;
      const td = (d[p + 2 + 2 * i] ?? 0) >> 4;
      const c = f.comps.find((x) => x.id === id);
      if (!c || comps.includes(c)) throw new CodecError("JPEG: scan names an unknown component");
      if (c.decoded) throw new CodecError("JPEG: a component in two scans");
      const t = td < 4 ? this.tables[td] : null;
      if (!t) throw new CodecError("JPEG: scan uses an undefined Huffman table");
      c.table = t;
      comps.push(c);
    }
    const q = p + 1 + 2 * ns;
    const psv = d[q] ?? 0; // Ss
    const pt = (d[q + 2] ?? 0) & 15; // Al; Se and Ah have no meaning here (IJG checks, the coding ignores)
    if (psv < 1 || psv > 7) throw new CodecError(`JPEG: lossless predictor ${psv} (1 to 7 are defined)`);
    if (pt >= f.precision) throw new CodecError(`JPEG: point transform ${pt} of ${f.precision}-bit samples`);
    for (const c of comps) c.pt = pt;
    this.decodeScan(f, comps, psv, pt);
    for (const c of comps) c.decoded = true;
  }

  private decodeScan(f: Frame, comps: Component[], psv: number, pt: number): void {
    const { width, height, samples } = f;
    const nf = f.comps.length;
    const ns = comps.length;
    const rowSamples = width * ns;
    // A sample takes at most 31 bits, read 16 at a time: 4 bytes each is enough past the data for a line.
    const scan = unstuff(this.data, this.pos, this.end, 4 * rowSamples + 8);
    const st: BitState = { u: scan.u, pos: 0, buf: 0, bits: 0 };
    const tables = comps.map((c) => c.table as LosslessTable);
    const table0 = tables[0] as LosslessTable;
    const cis = comps.map((c) => f.comps.indexOf(c));
    const initial = 1 << (f.precision - pt - 1);
    const diffs = new Int32Array(rowSamples);
    const ri = this.restartInterval;
    let seg = 0;
    let left = ri;
    // Where intervals start in the current line (in MCUs, i.e. pixels): those lines restart prediction.
    const restarts: number[] = [];
    const overrun = () =>
      (st.pos - (scan.starts[seg] ?? 0)) * 8 - st.bits >
      ((scan.ends[seg] ?? 0) - (scan.starts[seg] ?? 0)) * 8;
    const ra = ns === 1 && psv === 1;
    const ci0 = cis[0] ?? 0;
    for (let y = 0; y < height; y++) {
      const line = y * width * nf;
      restarts.length = 0;
      if (y === 0) restarts.push(0);
      for (let x = 0; x < width; ) {
        if (ri > 0 && left === 0) {
          if (overrun()) throw new CodecError("JPEG: entropy-coded data ends early");
          seg++;
          if (seg >= scan.starts.length)
            throw new CodecError(`JPEG: expected RST${(seg - 1) % 8}, the scan's data ends`);
          if (scan.rst[seg] !== (seg - 1) % 8)
            throw new CodecError(`JPEG: expected RST${(seg - 1) % 8}, found RST${scan.rst[seg]}`);
          st.pos = scan.starts[seg] ?? 0;
          st.buf = 0;
          st.bits = 0;
          left = ri;
          restarts.push(x);
        }
        const n = ri > 0 ? Math.min(width - x, left) : width - x;
        if (ra) {
          // Predictor 1 needs no line of differences: the first sample's predictor is all that varies.
          const o = line + x * nf + ci0;
          const restarted = restarts.length > 0 && restarts[restarts.length - 1] === x;
          const pred = restarted ? initial : samples[x === 0 ? o - width * nf : o - nf]!;
          decodeLineRa(st, table0, samples, o, nf, n, pred);
        } else if (ns === 1) decodeRun1(st, table0, diffs, x, n);
        else decodeRunN(st, tables, diffs, x * ns, n);
        x += n;
        if (ri > 0) left -= n;
      }
      if (overrun()) throw new CodecError("JPEG: entropy-coded data ends early");
      if (ra) continue;
      for (let k = 0; k < ns; k++) {
        const o = line + (cis[k] ?? 0);
        const r0 = restarts.length > 0 ? (restarts[0] ?? 0) : width;
        nextLine(samples, o, o - width * nf, nf, diffs, k, ns, r0, psv);
        for (let i = 0; i < restarts.length; i++) {
          const from = restarts[i] ?? 0;
          const to = restarts[i + 1] ?? width;
          firstLine(samples, o + from * nf, nf, diffs, k + from * ns, ns, to - from, initial);
        }
      }
    }
    // Whatever is left of the last byte is padding; continue with the marker that follows.
    this.pos = scan.next;
  }

  private output(f: Frame): JpegLosslessImage {
    const { width, height, precision, samples } = f;
    const nf = f.comps.length;
    for (let ci = 0; ci < nf; ci++) {
      const pt = f.comps[ci]?.pt ?? 0;
      if (pt > 0) for (let i = ci; i < samples.length; i += nf) samples[i] = samples[i]! << pt;
    }
    const bytes = this.opts.bytesPerSample ?? (precision > 8 ? 2 : 1);
    let pixels: Uint8Array;
    if (bytes === 2) pixels = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
    else {
      // Lossless: a sample that needs more than 8 bits cannot be stored in one byte.
      pixels = new Uint8Array(samples.length);
      let max = 0;
      for (let i = 0; i < samples.length; i++) {
        const v = samples[i]!;
        max |= v;
        pixels[i] = v;
      }
      if (max > 255) throw new CodecError(`JPEG: ${precision}-bit samples do not fit in 8 bits`);
    }
    return { width, height, components: nf, precision, pixels };
  }
}
