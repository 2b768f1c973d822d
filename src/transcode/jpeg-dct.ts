// Sequential DCT JPEG with Huffman coding (ITU T.81 processes 1, 2 and 4: SOF0 and SOF1, 8 and 12 bits),
// in our own code because the libjpeg-turbo WASM build is 8-bit only. The reference is DCMTK's dcmdjpeg
// (IJG 6b), so this follows IJG 6b where it has a choice: the "islow" integer IDCT with its overflow and
// range-limit behaviour, "fancy" (triangle) upsampling of 2:1 chroma and replication otherwise, and IJG's
// YCbCr->RGB tables. Corrupt data is refused (CodecError) where IJG would warn and pad with zeros: a
// transcoder should rather keep the original than store made-up pixels.

import { CodecError } from "./codec-types.ts";
import {
  findMarker,
  hex,
  huffmanCodes,
  readDht,
  STOP,
  u16,
  unsupportedMarker,
  walkSegments,
} from "./jpeg-common.ts";

export interface JpegDctImage {
  width: number;
  height: number;
  components: number;
  precision: number;
  /** Samples interleaved, one byte each or two (little endian) as asked for; colour as RGB. */
  pixels: Uint8Array;
}

export interface JpegDctOptions {
  /** Bytes per output sample (default: 1 for 8-bit codestreams, else 2). */
  bytesPerSample?: 1 | 2;
  /** What the data set says: checked against the frame header before any pixel memory is allocated. */
  expect?: { width: number; height: number; components: number };
}

// Zigzag to natural order, with 16 extra entries so that a run past coefficient 63 in corrupt data lands
// on 63 instead of outside the block (IJG's jpeg_natural_order does the same).
const NATURAL = new Uint8Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7,
  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46,
  53, 60, 61, 54, 47, 55, 62, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
]);

const LOOKAHEAD = 9;
const LOOK_MASK = (1 << LOOKAHEAD) - 1;

interface HuffTable {
  /** (code length << 8) | symbol for codes of at most LOOKAHEAD bits, indexed by the next bits; 0: longer. */
  lut: Uint16Array;
  /**
   * For AC tables: (value << 8) | (run << 4) | (code + value bits) where a code and its value bits both
   * fit in the lookahead, else 0.
   */
  fastAc: Int32Array;
  /** Largest code of each length (index 1..16), -1 when none. */
  maxcode: Int32Array;
  /** huffval index minus the first code, per length. */
  valoffset: Int32Array;
  huffval: Uint8Array;
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  /** Samples per line and lines of this component (T.81 A.1.1). */
  width: number;
  height: number;
  /** The plane covers whole MCUs: blocksWide * 8 samples per line. */
  blocksWide: number;
  blocksHigh: number;
  plane: Uint16Array;
  /** Dequantisation table latched at the component's scan (natural order). */
  quant: Uint16Array;
  pred: number;
  dc: HuffTable | null;
  ac: HuffTable | null;
  decoded: boolean;
}

interface Frame {
  precision: number;
  width: number;
  height: number;
  hmax: number;
  vmax: number;
  mcusX: number;
  mcusY: number;
  comps: Component[];
}

/** Decode one sequential DCT JPEG codestream (baseline or extended, Huffman). */
export function decodeJpegDct(data: Uint8Array, opts: JpegDctOptions = {}): JpegDctImage {
  return new JpegDctDecoder(data, opts).decode();
}

class JpegDctDecoder {
  private readonly data: Uint8Array;
  private readonly end: number;
  private readonly opts: JpegDctOptions;
  private pos = 0;
  private frame: Frame | null = null;
  private readonly quant: (Uint16Array | null)[] = [null, null, null, null];
  private readonly dcTables: (HuffTable | null)[] = [null, null, null, null];
  private readonly acTables: (HuffTable | null)[] = [null, null, null, null];
  private restartInterval = 0;
  private jfif = false;
  private adobeTransform = -1;

  // Entropy decoder state: `buf` holds `bits` valid low bits; `fake` of them are zeros fed past the end of
  // the segment (a marker or the end of the data), which a valid scan never consumes.
  private buf = 0;
  private bits = 0;
  private fake = 0;
  private atMarker = false;
  private readonly block = new Int16Array(64);
  private readonly ws = new Int32Array(64);
  private limit: Uint16Array = new Uint16Array(0);
  /** IJG's PASS1_BITS: 2 for 8-bit samples, 1 for 12-bit. */
  private pass1 = 2;

  constructor(data: Uint8Array, opts: JpegDctOptions) {
    this.data = data;
    this.end = data.length;
    this.opts = opts;
  }

  decode(): JpegDctImage {
    const d = this.data;
    walkSegments(d, {
      strayRestart: "error",
      complete: () => this.frame?.comps.every((c) => c.decoded) ?? false,
      segment: (m, seg, segEnd) => {
        this.pos = segEnd;
        const len = segEnd - seg + 2;
        if (m === 0xc0 || m === 0xc1) this.readSof(seg, segEnd);
        else if (m === 0xc4) this.readDht(seg, segEnd);
        else if (m === 0xdb) this.readDqt(seg, segEnd);
        else if (m === 0xdd) {
          if (len !== 4) throw new CodecError("JPEG: bad DRI length");
          this.restartInterval = u16(d, seg, segEnd);
        } else if (m === 0xda) {
          this.readSos(seg, segEnd);
          // EOI may be missing: the image is complete
          if (this.frame?.comps.every((c) => c.decoded)) return STOP;
        } else if (m === 0xe0) {
          if (
            len >= 7 &&
            d[seg] === 0x4a &&
            d[seg + 1] === 0x46 &&
            d[seg + 2] === 0x49 &&
            d[seg + 3] === 0x46
          )
            this.jfif = true;
        } else if (m === 0xee) {
          if (
            len >= 14 &&
            d[seg] === 0x41 &&
            d[seg + 1] === 0x64 &&
            d[seg + 2] === 0x6f &&
            d[seg + 3] === 0x62
          )
            this.adobeTransform = d[seg + 11] ?? 0;
        } else {
          const unsupported = unsupportedMarker(m, "this decoder");
          if (unsupported) throw unsupported;
        }
        // APPn, COM and other segments: skipped
        return this.pos;
      },
    });
    const f = this.frame;
    if (!f) throw new CodecError("JPEG: no frame header (SOF0/SOF1)");
    if (!f.comps.every((c) => c.decoded)) throw new CodecError("JPEG: a component has no scan");
    return this.output(f);
  }

  /** The next marker at or after `pos` (bytes before it are skipped); `pos` moves past it. */
  private nextMarker(): number {
    const p = findMarker(this.data, this.pos, this.end);
    if (p < 0) throw new CodecError("JPEG: data ends before the EOI marker");
    this.pos = p;
    return this.data[p - 1] ?? 0;
  }

  private readSof(p: number, end: number): void {
    if (this.frame) throw new CodecError("JPEG: more than one frame header");
    const d = this.data;
    if (end - p < 6) throw new CodecError("JPEG: short SOF segment");
    const precision = d[p] ?? 0;
    const height = u16(d, p + 1, end);
    const width = u16(d, p + 3, end);
    const n = d[p + 5] ?? 0;
    if (precision !== 8 && precision !== 12)
      throw new CodecError(`JPEG: ${precision}-bit DCT samples (only 8 and 12 are defined)`);
    if (height === 0)
      throw new CodecError("JPEG: DNL marker (height defined after the scan) is not supported");
    if (width === 0) throw new CodecError("JPEG: image width 0");
    if (n !== 1 && n !== 3) throw new CodecError(`JPEG: ${n} components (only 1 and 3 are supported)`);
    if (end - p !== 6 + 3 * n) throw new CodecError("JPEG: bad SOF length");
    const ex = this.opts.expect;
    if (ex && (ex.width !== width || ex.height !== height || ex.components !== n))
      throw new CodecError(
        `codestream is ${width}x${height}x${n}, the data set says ${ex.width}x${ex.height}x${ex.components}`,
      );
    const raw: Array<{ id: number; h: number; v: number; tq: number }> = [];
    for (let i = 0; i < n; i++) {
      const q = p + 6 + 3 * i;
      const hv = d[q + 1] ?? 0;
      const c = { id: d[q] ?? 0, h: hv >> 4, v: hv & 15, tq: d[q + 2] ?? 0 };
      if (c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4) throw new CodecError("JPEG: bad sampling factors");
      if (c.tq > 3) throw new CodecError("JPEG: bad quantisation table selector");
      raw.push(c);
    }
    const hmax = Math.max(...raw.map((c) => c.h));
    const vmax = Math.max(...raw.map((c) => c.v));
    for (const c of raw)
      if (hmax % c.h !== 0 || vmax % c.v !== 0)
        throw new CodecError("JPEG: sampling factors that are not integral ratios are not supported");
    const mcusX = Math.ceil(width / (8 * hmax));
    const mcusY = Math.ceil(height / (8 * vmax));
    // Each coded block takes at least two bits (a DC and an AC code): refuse headers that promise more pixels
    // than the data could hold, before allocating for them.
    let minBlocks = 0;
    for (const c of raw)
      minBlocks +=
        Math.ceil(Math.ceil((width * c.h) / hmax) / 8) * Math.ceil(Math.ceil((height * c.v) / vmax) / 8);
    if (minBlocks * 2 > this.end * 8) throw new CodecError("JPEG: too little data for the frame size");
    const comps: Component[] = raw.map((c) => {
      const blocksWide = mcusX * c.h;
      const blocksHigh = mcusY * c.v;
      return {
        ...c,
        width: Math.ceil((width * c.h) / hmax),
        height: Math.ceil((height * c.v) / vmax),
        blocksWide,
        blocksHigh,
        plane: new Uint16Array(blocksWide * blocksHigh * 64),
        quant: new Uint16Array(64),
        pred: 0,
        dc: null,
        ac: null,
        decoded: false,
      };
    });
    this.frame = { precision, width, height, hmax, vmax, mcusX, mcusY, comps };
    this.limit = idctLimitTable(precision);
    this.pass1 = precision === 8 ? 2 : 1;
  }

  private readDqt(p: number, end: number): void {
    const d = this.data;
    while (p < end) {
      const pq = (d[p] ?? 0) >> 4;
      const tq = (d[p] ?? 0) & 15;
      p++;
      if (pq > 1 || tq > 3) throw new CodecError("JPEG: bad DQT segment");
      const n = pq ? 128 : 64;
      if (p + n > end) throw new CodecError("JPEG: short DQT segment");
      const t = new Uint16Array(64);
      for (let k = 0; k < 64; k++)
        t[NATURAL[k] ?? 0] = pq ? ((d[p + 2 * k] ?? 0) << 8) | (d[p + 2 * k + 1] ?? 0) : (d[p + k] ?? 0);
      this.quant[tq] = t;
      p += n;
    }
  }

  private readDht(p: number, end: number): void {
    readDht(this.data, p, end, (tc, th, counts, huffval) => {
      // DC categories above 15 only exist in lossless JPEG (and would overflow the coefficients).
      if (tc === 0 && huffval.some((s) => s > 15)) throw new CodecError("JPEG: bad DC Huffman table");
      (tc === 0 ? this.dcTables : this.acTables)[th] = buildHuffTable(counts, huffval);
    });
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
      const t = d[p + 2 + 2 * i] ?? 0;
      const c = f.comps.find((x) => x.id === id);
      if (!c || comps.includes(c)) throw new CodecError("JPEG: scan names an unknown component");
      const dc = this.dcTables[t >> 4];
      const ac = this.acTables[t & 15];
      if (!dc || !ac) throw new CodecError("JPEG: scan uses an undefined Huffman table");
      const q = this.quant[c.tq];
      if (!q) throw new CodecError(`JPEG: quantisation table ${c.tq} is not defined`);
      c.quant.set(q);
      c.dc = dc;
      c.ac = ac;
      c.pred = 0;
      comps.push(c);
    }
    // Ss, Se, Ah/Al: a sequential scan has 0, 63, 0/0; IJG only warns otherwise, and so do we (not at all).
    if (ns > 1 && comps.reduce((n, c) => n + c.h * c.v, 0) > 10)
      throw new CodecError("JPEG: too many blocks in an MCU");
    this.buf = 0;
    this.bits = 0;
    this.fake = 0;
    this.atMarker = false;
    if (ns === 1) this.decodeNonInterleaved(comps[0] as Component);
    else this.decodeInterleaved(f, comps);
    for (const c of comps) c.decoded = true;
    // Whatever is left of the last byte is padding; continue with the marker that follows.
  }

  private decodeInterleaved(f: Frame, comps: Component[]): void {
    const ri = this.restartInterval;
    let n = 0;
    let rst = 0;
    for (let my = 0; my < f.mcusY; my++)
      for (let mx = 0; mx < f.mcusX; mx++) {
        if (ri > 0 && n > 0 && n % ri === 0) {
          this.restart(rst);
          rst = (rst + 1) & 7;
          for (const c of comps) c.pred = 0;
        }
        for (const c of comps) {
          const stride = c.blocksWide * 8;
          for (let v = 0; v < c.v; v++)
            for (let h = 0; h < c.h; h++)
              this.decodeBlock(c, ((my * c.v + v) * 8 * stride + (mx * c.h + h) * 8) | 0, stride);
        }
        if (this.bits < this.fake) throw new CodecError("JPEG: entropy-coded data ends early");
        n++;
      }
  }

  private decodeNonInterleaved(c: Component): void {
    const ri = this.restartInterval;
    const bw = Math.ceil(c.width / 8);
    const bh = Math.ceil(c.height / 8);
    const stride = c.blocksWide * 8;
    let n = 0;
    let rst = 0;
    for (let by = 0; by < bh; by++)
      for (let bx = 0; bx < bw; bx++) {
        if (ri > 0 && n > 0 && n % ri === 0) {
          this.restart(rst);
          rst = (rst + 1) & 7;
          c.pred = 0;
        }
        this.decodeBlock(c, by * 8 * stride + bx * 8, stride);
        if (this.bits < this.fake) throw new CodecError("JPEG: entropy-coded data ends early");
        n++;
      }
  }

  /** Drop the padding bits and expect the restart marker RST`n`. */
  private restart(n: number): void {
    this.buf = 0;
    this.bits = 0;
    this.fake = 0;
    this.atMarker = false;
    const m = this.nextMarker();
    if (m !== 0xd0 + n) throw new CodecError(`JPEG: expected RST${n}, found marker 0xFF${hex(m)}`);
  }

  /** Feed whole bytes until more than 24 bits are buffered; past a marker or the end, zeros. */
  private fill(): void {
    const d = this.data;
    while (this.bits <= 24) {
      let b = 0;
      if (!this.atMarker) {
        const p = this.pos;
        if (p >= this.end) this.atMarker = true;
        else {
          b = d[p] ?? 0;
          if (b !== 0xff) this.pos = p + 1;
          else {
            let q = p + 1;
            while (q < this.end && d[q] === 0xff) q++;
            if (q < this.end && d[q] === 0) this.pos = q + 1;
            else {
              // A marker (or the end): leave `pos` on it for nextMarker().
              this.atMarker = true;
              b = 0;
            }
          }
        }
      }
      if (this.atMarker) this.fake += 8;
      this.buf = (this.buf << 8) | b;
      this.bits += 8;
    }
  }

  /** Decode a Huffman code the table's lookup cannot (codes longer than LOOKAHEAD bits). */
  private slowHuff(t: HuffTable): number {
    if (this.bits < 16) this.fill();
    const buf = this.buf;
    const bits = this.bits;
    for (let l = 1; l <= 16; l++) {
      const code = (buf >>> (bits - l)) & ((1 << l) - 1);
      if (code <= t.maxcode[l]!) {
        this.bits = bits - l;
        return t.huffval[(code + t.valoffset[l]!) & 255] ?? 0;
      }
    }
    throw new CodecError("JPEG: invalid Huffman code");
  }

  /** Decode one block of `c` and write its samples to the plane at `at` (line length `stride`). */
  private decodeBlock(c: Component, at: number, stride: number): void {
    const blk = this.block;
    const dc = c.dc as HuffTable;
    const ac = c.ac as HuffTable;
    const dcLut = dc.lut;
    const acLut = ac.lut;
    const fastAc = ac.fastAc;
    // The bit buffer lives in locals here; fill() and slowHuff() work on the fields, so sync around them.
    let buf = this.buf;
    let bits = this.bits;
    if (bits < 16) {
      this.bits = bits;
      this.fill();
      buf = this.buf;
      bits = this.bits;
    }
    let e = dcLut[(buf >>> (bits - LOOKAHEAD)) & LOOK_MASK]!;
    let t: number;
    if (e !== 0) {
      bits -= e >> 8;
      t = e & 255;
    } else {
      this.bits = bits;
      t = this.slowHuff(dc);
      buf = this.buf;
      bits = this.bits;
    }
    let diff = 0;
    if (t !== 0) {
      if (bits < t) {
        this.bits = bits;
        this.fill();
        buf = this.buf;
        bits = this.bits;
      }
      bits -= t;
      diff = (buf >>> bits) & ((1 << t) - 1);
      if (diff < 1 << (t - 1)) diff -= (1 << t) - 1;
    }
    // The predictor is an int in IJG, the stored coefficient a 16-bit JCOEF: Int16Array truncates alike.
    c.pred += diff;
    blk[0] = c.pred;
    let anyAc = false;
    for (let k = 1; k < 64; ) {
      if (bits < 16) {
        this.bits = bits;
        this.fill();
        buf = this.buf;
        bits = this.bits;
      }
      const look = (buf >>> (bits - LOOKAHEAD)) & LOOK_MASK;
      const fa = fastAc[look]!;
      if (fa !== 0) {
        // code and value within the lookahead: run, length and value from one lookup
        k += (fa >> 4) & 15;
        bits -= fa & 15;
        blk[NATURAL[k]!] = fa >> 8;
        anyAc = true;
        k++;
        continue;
      }
      let rs: number;
      e = acLut[look]!;
      if (e !== 0) {
        bits -= e >> 8;
        rs = e & 255;
      } else {
        this.bits = bits;
        rs = this.slowHuff(ac);
        buf = this.buf;
        bits = this.bits;
      }
      const s = rs & 15;
      if (s === 0) {
        if (rs !== 0xf0) break;
        k += 16;
        continue;
      }
      k += rs >> 4;
      if (bits < s) {
        this.bits = bits;
        this.fill();
        buf = this.buf;
        bits = this.bits;
      }
      bits -= s;
      let v = (buf >>> bits) & ((1 << s) - 1);
      if (v < 1 << (s - 1)) v -= (1 << s) - 1;
      blk[NATURAL[k]!] = v;
      anyAc = true;
      k++;
    }
    this.buf = buf;
    this.bits = bits;
    const pass1 = this.pass1;
    if (anyAc) idctIslow(blk, c.quant, c.plane, at, stride, this.ws, this.limit, pass1);
    else {
      // Both IJG shortcuts (all-zero AC column, then all-zero row) give the same value everywhere.
      const w = ((blk[0] ?? 0) * (c.quant[0] ?? 0)) << pass1;
      const n = pass1 + 3;
      const v = this.limit[((w >> n) + ((w >> (n - 1)) & 1)) & (this.limit.length - 1)] ?? 0;
      for (let y = 0; y < 8; y++) c.plane.fill(v, at + y * stride, at + y * stride + 8);
    }
    blk.fill(0);
  }

  private output(f: Frame): JpegDctImage {
    const { width, height, precision } = f;
    const n = f.comps.length;
    const bytes = this.opts.bytesPerSample ?? (precision > 8 ? 2 : 1);
    if (bytes === 1 && precision > 8)
      throw new CodecError(`JPEG: ${precision}-bit samples do not fit in 8 bits`);
    const out = new Uint8Array(width * height * n * bytes);
    const dst: Uint8Array | Uint16Array =
      bytes === 1 ? out : new Uint16Array(out.buffer, 0, width * height * n);
    const rows = f.comps.map((c) => new Uint16Array(c.h === f.hmax && c.v === f.vmax ? 0 : width + 8));
    const line = (ci: number, y: number): Uint16Array => {
      const c = f.comps[ci] as Component;
      return upsampledRow(c, f, y, rows[ci] as Uint16Array);
    };
    if (n === 1) {
      for (let y = 0; y < height; y++) dst.set(line(0, y).subarray(0, width), y * width);
    } else {
      // IJG's guess of the colour space (jdapimin.c), as libjpeg-turbo decodes JPEG Baseline for us.
      const ids = f.comps.map((c) => c.id).join(",");
      const rgb = this.jfif
        ? false
        : this.adobeTransform >= 0
          ? this.adobeTransform === 0
          : ids === "82,71,66";
      const tables = rgb ? null : yccTables(precision);
      const max = (1 << precision) - 1;
      for (let y = 0; y < height; y++) {
        const l0 = line(0, y);
        const l1 = line(1, y);
        const l2 = line(2, y);
        let o = y * width * 3;
        if (!tables)
          for (let x = 0; x < width; x++, o += 3) {
            dst[o] = l0[x] ?? 0;
            dst[o + 1] = l1[x] ?? 0;
            dst[o + 2] = l2[x] ?? 0;
          }
        else {
          const { crR, cbB, crG, cbG } = tables;
          for (let x = 0; x < width; x++, o += 3) {
            const yy = l0[x] ?? 0;
            const cb = l1[x] ?? 0;
            const cr = l2[x] ?? 0;
            const r = yy + (crR[cr] ?? 0);
            const g = yy + (((cbG[cb] ?? 0) + (crG[cr] ?? 0)) >> 16);
            const b = yy + (cbB[cb] ?? 0);
            dst[o] = Math.min(Math.max(r, 0), max);
            dst[o + 1] = Math.min(Math.max(g, 0), max);
            dst[o + 2] = Math.min(Math.max(b, 0), max);
          }
        }
      }
    }
    return { width, height, components: n, precision, pixels: out };
  }
}

/** Decoding tables of a DHT definition (T.81 C and F.2.2.3), refusing over-full code spaces as IJG does. */
function buildHuffTable(counts: Uint8Array, huffval: Uint8Array): HuffTable {
  // A length's codes must leave its all-ones code unused (T.81 C); IJG 6b rejects tables that do not.
  const { code, size, maxcode, valoffset } = huffmanCodes(counts, huffval, false);
  const lut = new Uint16Array(1 << LOOKAHEAD);
  for (let k = 0; k < huffval.length; k++) {
    const l = size[k] ?? 0;
    if (l > LOOKAHEAD) break;
    const shift = LOOKAHEAD - l;
    const c = code[k] ?? 0;
    lut.fill((l << 8) | (huffval[k] ?? 0), c << shift, (c + 1) << shift);
  }
  const fastAc = new Int32Array(1 << LOOKAHEAD);
  for (let i = 0; i < fastAc.length; i++) {
    const e = lut[i] ?? 0;
    const l = e >> 8;
    const s = e & 15;
    if (e === 0 || s === 0 || l + s > LOOKAHEAD) continue;
    let v = (i >> (LOOKAHEAD - l - s)) & ((1 << s) - 1);
    if (v < 1 << (s - 1)) v -= (1 << s) - 1;
    fastAc[i] = v * 256 + (((e & 255) >> 4) << 4) + l + s;
  }
  return { lut, maxcode, valoffset, huffval, fastAc };
}

/** IJG's post-IDCT range limit (jdmaster.c): clamps to [0, 2^P-1] around the centre, wraps far outside. */
function idctLimitTable(precision: number): Uint16Array {
  const size = 4 << precision;
  const max = (1 << precision) - 1;
  const center = 1 << (precision - 1);
  const t = new Uint16Array(size);
  for (let x = 0; x < size; x++) {
    const s = x < size >> 1 ? x : x - size;
    const v = s + center;
    t[x] = Math.min(Math.max(v, 0), max);
  }
  return t;
}

const yccCache = new Map<number, { crR: Int32Array; cbB: Int32Array; crG: Int32Array; cbG: Int32Array }>();

/** IJG's YCbCr->RGB tables (jdcolor.c, 16-bit fixed point). */
function yccTables(precision: number): {
  crR: Int32Array;
  cbB: Int32Array;
  crG: Int32Array;
  cbG: Int32Array;
} {
  let t = yccCache.get(precision);
  if (t) return t;
  const n = 1 << precision;
  const center = n >> 1;
  const fix = (x: number) => Math.floor(x * 65536 + 0.5);
  t = { crR: new Int32Array(n), cbB: new Int32Array(n), crG: new Int32Array(n), cbG: new Int32Array(n) };
  for (let i = 0; i < n; i++) {
    const x = i - center;
    t.crR[i] = (fix(1.402) * x + 32768) >> 16;
    t.cbB[i] = (fix(1.772) * x + 32768) >> 16;
    t.crG[i] = -fix(0.71414) * x;
    t.cbG[i] = -fix(0.34414) * x + 32768;
  }
  yccCache.set(precision, t);
  return t;
}

/**
 * Row `y` of the output image for component `c`: its own plane row when full size, else upsampled into
 * `buf` like IJG 6b (jdsample.c): triangle filters for 2:1 horizontally (and vertically), replication for
 * other ratios and for components at most 2 samples wide; edges repeat the last real sample and line.
 */
function upsampledRow(c: Component, f: Frame, y: number, buf: Uint16Array): Uint16Array {
  const stride = c.blocksWide * 8;
  const hr = f.hmax / c.h;
  const vr = f.vmax / c.v;
  const plane = c.plane;
  if (hr === 1 && vr === 1) return plane.subarray(y * stride, y * stride + stride);
  const w = c.width;
  const fancy = hr === 2 && (vr === 1 || vr === 2) && w > 2;
  if (!fancy) {
    const row = ((y / vr) | 0) * stride;
    for (let x = 0, o = 0; x < w; x++) {
      const v = plane[row + x] ?? 0;
      for (let k = 0; k < hr; k++) buf[o++] = v;
    }
    return buf;
  }
  if (vr === 1) {
    const row = y * stride;
    for (let x = 0; x < w; x++) {
      const v3 = (plane[row + x] ?? 0) * 3;
      const left = plane[row + (x > 0 ? x - 1 : 0)] ?? 0;
      const right = plane[row + (x < w - 1 ? x + 1 : x)] ?? 0;
      buf[2 * x] = (v3 + left + 1) >> 2;
      buf[2 * x + 1] = (v3 + right + 2) >> 2;
    }
    return buf;
  }
  const r = y >> 1;
  const other = y & 1 ? Math.min(r + 1, c.height - 1) : Math.max(r - 1, 0);
  const near = r * stride;
  const far = other * stride;
  const col = (x: number) => (plane[near + x] ?? 0) * 3 + (plane[far + x] ?? 0);
  let last = col(0);
  let cur = last;
  for (let x = 0; x < w; x++) {
    const next = x < w - 1 ? col(x + 1) : cur;
    buf[2 * x] = (cur * 3 + last + 8) >> 4;
    buf[2 * x + 1] = (cur * 3 + next + 7) >> 4;
    last = cur;
    cur = next;
  }
  return buf;
}

// IJG jidctint.c ("islow"): 13-bit fixed-point constants.
const FIX_0_298631336 = 2446;
const FIX_0_390180644 = 3196;
const FIX_0_541196100 = 4433;
const FIX_0_765366865 = 6270;
const FIX_0_899976223 = 7373;
const FIX_1_175875602 = 9633;
const FIX_1_501321110 = 12299;
const FIX_1_847759065 = 15137;
const FIX_1_961570560 = 16069;
const FIX_2_053119869 = 16819;
const FIX_2_562915447 = 20995;
const FIX_3_072711026 = 25172;

/**
 * Dequantise and inverse-DCT one block exactly as IJG's jpeg_idct_islow, with its 64-bit intermediates
 * (doubles here: every product stays below 2^53) and its 32-bit work array (Int32Array wraps alike).
 */
function idctIslow(
  blk: Int16Array,
  q: Uint16Array,
  out: Uint16Array,
  at: number,
  stride: number,
  ws: Int32Array,
  limit: Uint16Array,
  pass1: number,
): void {
  const s1 = 13 - pass1;
  const half1 = 2 ** (s1 - 1);
  const inv1 = 2 ** -s1;
  const s2 = 13 + pass1 + 3;
  const half2 = 2 ** (s2 - 1);
  const inv2 = 2 ** -s2;
  const mask = limit.length - 1;
  const rowShift = pass1 + 3;
  for (let i = 0; i < 8; i++) {
    const c1 = blk[8 + i]!;
    const c2 = blk[16 + i]!;
    const c3 = blk[24 + i]!;
    const c4 = blk[32 + i]!;
    const c5 = blk[40 + i]!;
    const c6 = blk[48 + i]!;
    const c7 = blk[56 + i]!;
    if ((c1 | c2 | c3 | c4 | c5 | c6 | c7) === 0) {
      const dcval = (blk[i]! * q[i]!) << pass1;
      for (let k = 0; k < 64; k += 8) ws[k + i] = dcval;
      continue;
    }
    let z2 = c2 * q[16 + i]!;
    let z3 = c6 * q[48 + i]!;
    let z1 = (z2 + z3) * FIX_0_541196100;
    let tmp2 = z1 - z3 * FIX_1_847759065;
    let tmp3 = z1 + z2 * FIX_0_765366865;
    z2 = blk[i]! * q[i]!;
    z3 = c4 * q[32 + i]!;
    let tmp0 = (z2 + z3) * 8192;
    let tmp1 = (z2 - z3) * 8192;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    tmp0 = c7 * q[56 + i]!;
    tmp1 = c5 * q[40 + i]!;
    tmp2 = c3 * q[24 + i]!;
    tmp3 = c1 * q[8 + i]!;
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * FIX_1_175875602;
    tmp0 *= FIX_0_298631336;
    tmp1 *= FIX_2_053119869;
    tmp2 *= FIX_3_072711026;
    tmp3 *= FIX_1_501321110;
    z1 *= -FIX_0_899976223;
    z2 *= -FIX_2_562915447;
    z3 = z3 * -FIX_1_961570560 + z5;
    z4 = z4 * -FIX_0_390180644 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    ws[i] = Math.floor((tmp10 + tmp3 + half1) * inv1);
    ws[56 + i] = Math.floor((tmp10 - tmp3 + half1) * inv1);
    ws[8 + i] = Math.floor((tmp11 + tmp2 + half1) * inv1);
    ws[48 + i] = Math.floor((tmp11 - tmp2 + half1) * inv1);
    ws[16 + i] = Math.floor((tmp12 + tmp1 + half1) * inv1);
    ws[40 + i] = Math.floor((tmp12 - tmp1 + half1) * inv1);
    ws[24 + i] = Math.floor((tmp13 + tmp0 + half1) * inv1);
    ws[32 + i] = Math.floor((tmp13 - tmp0 + half1) * inv1);
  }
  for (let r = 0; r < 64; r += 8) {
    const o = at + (r >> 3) * stride;
    const w0 = ws[r]!;
    const w1 = ws[r + 1]!;
    const w2 = ws[r + 2]!;
    const w3 = ws[r + 3]!;
    const w4 = ws[r + 4]!;
    const w5 = ws[r + 5]!;
    const w6 = ws[r + 6]!;
    const w7 = ws[r + 7]!;
    if ((w1 | w2 | w3 | w4 | w5 | w6 | w7) === 0) {
      const v = limit[((w0 >> rowShift) + ((w0 >> (rowShift - 1)) & 1)) & mask]!;
      out.fill(v, o, o + 8);
      continue;
    }
    let z1 = (w2 + w6) * FIX_0_541196100;
    let tmp2 = z1 - w6 * FIX_1_847759065;
    let tmp3 = z1 + w2 * FIX_0_765366865;
    let tmp0 = (w0 + w4) * 8192;
    let tmp1 = (w0 - w4) * 8192;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    tmp0 = w7;
    tmp1 = w5;
    tmp2 = w3;
    tmp3 = w1;
    z1 = tmp0 + tmp3;
    let z2 = tmp1 + tmp2;
    let z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * FIX_1_175875602;
    tmp0 *= FIX_0_298631336;
    tmp1 *= FIX_2_053119869;
    tmp2 *= FIX_3_072711026;
    tmp3 *= FIX_1_501321110;
    z1 *= -FIX_0_899976223;
    z2 *= -FIX_2_562915447;
    z3 = z3 * -FIX_1_961570560 + z5;
    z4 = z4 * -FIX_0_390180644 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    out[o] = limit[Math.floor((tmp10 + tmp3 + half2) * inv2) & mask]!;
    out[o + 7] = limit[Math.floor((tmp10 - tmp3 + half2) * inv2) & mask]!;
    out[o + 1] = limit[Math.floor((tmp11 + tmp2 + half2) * inv2) & mask]!;
    out[o + 6] = limit[Math.floor((tmp11 - tmp2 + half2) * inv2) & mask]!;
    out[o + 2] = limit[Math.floor((tmp12 + tmp1 + half2) * inv2) & mask]!;
    out[o + 5] = limit[Math.floor((tmp12 - tmp1 + half2) * inv2) & mask]!;
    out[o + 3] = limit[Math.floor((tmp13 + tmp0 + half2) * inv2) & mask]!;
    out[o + 4] = limit[Math.floor((tmp13 - tmp0 + half2) * inv2) & mask]!;
  }
}
