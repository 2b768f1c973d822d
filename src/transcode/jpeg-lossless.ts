// Lossless JPEG (ITU T.81 Annex H: process 14, SOF3, Huffman coding), the codec of the JPEG Lossless
// transfer syntaxes (.4.57, and .4.70 for predictor 1). The reference is DCMTK's dcmdjpeg (IJG 6b with
// the lossless patch): reconstruction modulo 2^16, predictors in 32-bit arithmetic, SSSS 16 meaning a
// difference of 32768 without extra bits, all-ones Huffman codes accepted, samples shifted left by the
// point transform. Corrupt data is refused (CodecError) where IJG would warn and make up samples.
//
// This module reads the marker segments and runs each scan line by line, restart interval by restart
// interval; its stages do the rest: entropy decoding (jpeg-lossless-huffman.ts) and reconstruction from
// the predictors (jpeg-lossless-predict.ts).

import { CodecError } from "./codec-types.ts";
import type { JpegDecodeOptions, JpegImage } from "./jpeg-common.ts";
import { readDht, readDri, readFrameHeader, STOP, unsupportedMarker, walkSegments } from "./jpeg-common.ts";
import {
  type BitState,
  buildLosslessTable,
  decodeLineRa,
  decodeRun1,
  decodeRunN,
  type LosslessTable,
  unstuff,
} from "./jpeg-lossless-huffman.ts";
import { firstLine, nextLine } from "./jpeg-lossless-predict.ts";

/** Decode one lossless JPEG codestream. */
export function decodeJpegLossless(data: Uint8Array, opts: JpegDecodeOptions = {}): JpegImage {
  return new JpegLosslessDecoder(data, opts).decode();
}

function precisionProblem(bits: number): string | null {
  return bits >= 2 && bits <= 16 ? null : `JPEG: ${bits}-bit lossless samples (2 to 16 are defined)`;
}

function componentsProblem(n: number): string | null {
  return n >= 1 && n <= 4 ? null : `JPEG: ${n} components (1 to 4 are supported)`;
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
  private readonly opts: JpegDecodeOptions;
  private pos = 0;
  private frame: Frame | null = null;
  private readonly tables: (LosslessTable | null)[] = [null, null, null, null];
  private restartInterval = 0;

  constructor(data: Uint8Array, opts: JpegDecodeOptions) {
    this.data = data;
    this.end = data.length;
    this.opts = opts;
  }

  decode(): JpegImage {
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
            if (tc === 0) this.tables[th] = buildLosslessTable(counts, huffval);
          });
        else if (m === 0xdd) this.restartInterval = readDri(d, seg, segEnd);
        else if (m === 0xda) {
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
    const header = readFrameHeader(d, p, end, this.opts.expect, precisionProblem, componentsProblem);
    const { precision, height, width, components: n } = header;
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

  private output(f: Frame): JpegImage {
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
