// The entropy-decoding stage of the sequential DCT decoder (ITU T.81 F.2.2): Huffman lookup tables built
// from the DHT definitions, and the scans decoded block by block, each block handed to the inverse DCT
// (jpeg-dct-idct.ts) into its component's plane. Restart markers are expected where the interval says.
// The bit buffer of the hot loop (decodeBlock) lives in locals; one lookup gives most AC coefficients'
// run, code and value together.

import { CodecError } from "./codec-types.ts";
import { findMarker, hex, huffmanCodes } from "./jpeg-common.ts";
import { type Component, type Frame, type HuffTable, NATURAL } from "./jpeg-dct-frame.ts";
import { idctDcOnly, idctIslow, idctLimitTable } from "./jpeg-dct-idct.ts";

const LOOKAHEAD = 9;
const LOOK_MASK = (1 << LOOKAHEAD) - 1;

/** Decoding tables of a DHT definition (T.81 C and F.2.2.3), refusing over-full code spaces as IJG does. */
export function buildHuffTable(counts: Uint8Array, huffval: Uint8Array): HuffTable {
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

/** Decodes the scans of one frame: its entropy-coded segments into the component planes. */
export class DctScanDecoder {
  private readonly end: number;
  private pos = 0;
  // Entropy decoder state: `buf` holds `bits` valid low bits; `fake` of them are zeros fed past the end of
  // the segment (a marker or the end of the data), which a valid scan never consumes.
  private buf = 0;
  private bits = 0;
  private fake = 0;
  private atMarker = false;
  private readonly block = new Int16Array(64);
  private readonly ws = new Int32Array(64);
  private readonly limit: Uint16Array;
  /** IJG's PASS1_BITS: 2 for 8-bit samples, 1 for 12-bit. */
  private readonly pass1: number;

  constructor(
    private readonly data: Uint8Array,
    precision: number,
  ) {
    this.end = data.length;
    this.limit = idctLimitTable(precision);
    this.pass1 = precision === 8 ? 2 : 1;
  }

  /**
   * Decode the scan of `comps` (their tables latched) whose entropy-coded data starts at `pos`; returns
   * where the marker after it is. Whatever is left of the last byte is padding.
   */
  decodeScan(f: Frame, comps: Component[], pos: number, restartInterval: number): number {
    this.pos = pos;
    this.buf = 0;
    this.bits = 0;
    this.fake = 0;
    this.atMarker = false;
    if (comps.length === 1) this.decodeNonInterleaved(comps[0] as Component, restartInterval);
    else this.decodeInterleaved(f, comps, restartInterval);
    return this.pos;
  }

  /** The next marker at or after `pos` (bytes before it are skipped); `pos` moves past it. */
  private nextMarker(): number {
    const p = findMarker(this.data, this.pos, this.end);
    if (p < 0) throw new CodecError("JPEG: data ends before the EOI marker");
    this.pos = p;
    return this.data[p - 1] ?? 0;
  }

  private decodeInterleaved(f: Frame, comps: Component[], ri: number): void {
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

  private decodeNonInterleaved(c: Component, ri: number): void {
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
    if (anyAc) idctIslow(blk, c.quant, c.plane, at, stride, this.ws, this.limit, this.pass1);
    else idctDcOnly(blk[0] ?? 0, c.quant[0] ?? 0, c.plane, at, stride, this.limit, this.pass1);
    blk.fill(0);
  }
}
