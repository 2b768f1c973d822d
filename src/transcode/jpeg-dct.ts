// Sequential DCT JPEG with Huffman coding (ITU T.81 processes 1, 2 and 4: SOF0 and SOF1, 8 and 12 bits),
// in our own code because the libjpeg-turbo WASM build is 8-bit only. The reference is DCMTK's dcmdjpeg
// (IJG 6b), so this follows IJG 6b where it has a choice: the "islow" integer IDCT with its overflow and
// range-limit behaviour, "fancy" (triangle) upsampling of 2:1 chroma and replication otherwise, and IJG's
// YCbCr->RGB tables. Corrupt data is refused (CodecError) where IJG would warn and pad with zeros: a
// transcoder should rather keep the original than store made-up pixels.
//
// This module reads the marker segments (frame header, tables, restart interval, colour markers) into
// the frame; its stages do the rest: entropy decoding (jpeg-dct-huffman.ts), the inverse DCT
// (jpeg-dct-idct.ts), upsampling and colour conversion (jpeg-dct-colour.ts).

import { CodecError } from "./codec-types.ts";
import type { JpegDecodeOptions, JpegImage } from "./jpeg-common.ts";
import { readDht, readDri, readFrameHeader, STOP, unsupportedMarker, walkSegments } from "./jpeg-common.ts";
import { dctImage } from "./jpeg-dct-colour.ts";
import { type Component, type Frame, type HuffTable, NATURAL } from "./jpeg-dct-frame.ts";
import { buildHuffTable, DctScanDecoder } from "./jpeg-dct-huffman.ts";

function precisionProblem(bits: number): string | null {
  return bits === 8 || bits === 12 ? null : `JPEG: ${bits}-bit DCT samples (only 8 and 12 are defined)`;
}

function componentsProblem(n: number): string | null {
  return n === 1 || n === 3 ? null : `JPEG: ${n} components (only 1 and 3 are supported)`;
}

/** Decode one sequential DCT JPEG codestream (baseline or extended, Huffman). */
export function decodeJpegDct(data: Uint8Array, opts: JpegDecodeOptions = {}): JpegImage {
  return new JpegDctDecoder(data, opts).decode();
}

class JpegDctDecoder {
  private readonly data: Uint8Array;
  private readonly end: number;
  private readonly opts: JpegDecodeOptions;
  private pos = 0;
  private frame: Frame | null = null;
  private scans: DctScanDecoder | null = null;
  private readonly quant: (Uint16Array | null)[] = [null, null, null, null];
  private readonly dcTables: (HuffTable | null)[] = [null, null, null, null];
  private readonly acTables: (HuffTable | null)[] = [null, null, null, null];
  private restartInterval = 0;
  private jfif = false;
  private adobeTransform = -1;

  constructor(data: Uint8Array, opts: JpegDecodeOptions) {
    this.data = data;
    this.end = data.length;
    this.opts = opts;
  }

  decode(): JpegImage {
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
        else if (m === 0xdd) this.restartInterval = readDri(d, seg, segEnd);
        else if (m === 0xda) {
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
    return dctImage(f, { jfif: this.jfif, adobeTransform: this.adobeTransform }, this.opts.bytesPerSample);
  }

  private readSof(p: number, end: number): void {
    if (this.frame) throw new CodecError("JPEG: more than one frame header");
    const d = this.data;
    const header = readFrameHeader(d, p, end, this.opts.expect, precisionProblem, componentsProblem);
    const { precision, height, width, components: n } = header;
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
    this.scans = new DctScanDecoder(d, precision);
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
    const scans = this.scans;
    if (!f || !scans) throw new CodecError("JPEG: scan before the frame header");
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
    this.pos = scans.decodeScan(f, comps, this.pos, this.restartInterval);
    for (const c of comps) c.decoded = true;
  }
}
