// A small lossless JPEG encoder (ITU T.81 Annex H) for tests: it makes what DCMTK's dcmcjpeg cannot
// (restart intervals, non-interleaved colour scans, Huffman tables with long and all-ones codes) so the
// decoder can be checked against dcmdjpeg and against the source samples on them. Prediction follows
// H.1.2.1 as IJG does: the first line of the scan and of each restart interval uses Ra, after 2^(P-Pt-1)
// for its first sample; a restart inside a line starts a "first line" there, to the end of that line.

export interface LosslessJpegInput {
  width: number;
  height: number;
  components: number;
  precision: number;
  /** Samples, interleaved. */
  samples: Uint16Array;
  predictor: number;
  pointTransform?: number;
  /** Restart interval in MCUs (0: none). */
  restartInterval?: number;
  /** One scan per component instead of one interleaved scan. */
  nonInterleaved?: boolean;
  /** Code lengths (1..16) for the difference categories 0..16, in that order; default: a spread. */
  codeLengths?: number[];
}

const DEFAULT_LENGTHS = [2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 8, 13, 14, 15, 16];

class BitWriter {
  readonly bytes: number[] = [];
  private acc = 0;
  private n = 0;

  bits(value: number, count: number): void {
    for (let i = count - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((value >> i) & 1);
      if (++this.n === 8) this.flushByte();
    }
  }

  private flushByte(): void {
    this.bytes.push(this.acc);
    if (this.acc === 0xff) this.bytes.push(0); // byte stuffing
    this.acc = 0;
    this.n = 0;
  }

  /** Pad the last byte with 1 bits (T.81 F.1.2.3). */
  align(): void {
    while (this.n !== 0) this.bits(1, 1);
  }
}

/** Canonical codes for symbols 0..16 from their lengths (T.81 C.2), and the DHT counts. */
function codes(lengths: number[]): { counts: number[]; order: number[]; code: number[] } {
  const order = lengths.map((_, s) => s).sort((a, b) => (lengths[a] ?? 0) - (lengths[b] ?? 0) || a - b);
  const counts = new Array<number>(16).fill(0);
  for (const l of lengths) counts[l - 1] = (counts[l - 1] ?? 0) + 1;
  const code = new Array<number>(lengths.length).fill(0);
  let c = 0;
  let l = 1;
  for (const s of order) {
    const len = lengths[s] ?? 0;
    while (l < len) {
      c <<= 1;
      l++;
    }
    code[s] = c++;
  }
  return { counts, order, code };
}

export function encodeLosslessJpeg(input: LosslessJpegInput): Uint8Array {
  const { width, height, components: nc, precision, samples, predictor } = input;
  const pt = input.pointTransform ?? 0;
  const ri = input.restartInterval ?? 0;
  const lengths = input.codeLengths ?? DEFAULT_LENGTHS;
  const huff = codes(lengths);
  const out: number[] = [0xff, 0xd8];
  const segment = (marker: number, body: number[]) =>
    out.push(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 255, ...body);
  const sof = [precision, height >> 8, height & 255, width >> 8, width & 255, nc];
  for (let c = 0; c < nc; c++) sof.push(c + 1, 0x11, 0);
  segment(0xc3, sof);
  segment(0xc4, [0x00, ...huff.counts, ...huff.order]);
  if (ri > 0) segment(0xdd, [ri >> 8, ri & 255]);
  const scans = input.nonInterleaved ? Array.from({ length: nc }, (_, c) => [c]) : [[...Array(nc).keys()]];
  const value = (x: number, y: number, c: number) => (samples[(y * width + x) * nc + c] ?? 0) >> pt;
  for (const comps of scans) {
    const sos = [comps.length];
    for (const c of comps) sos.push(c + 1, 0x00);
    sos.push(predictor, 0, pt);
    segment(0xda, sos);
    const w = new BitWriter();
    let mcu = 0;
    let rst = 0;
    let ry = 0;
    let rx = 0;
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++, mcu++) {
        if (ri > 0 && mcu > 0 && mcu % ri === 0) {
          w.align();
          w.bytes.push(0xff, 0xd0 + rst);
          rst = (rst + 1) & 7;
          ry = y;
          rx = x;
        }
        for (const c of comps) {
          const ra = x > 0 ? value(x - 1, y, c) : 0;
          const rb = y > 0 ? value(x, y - 1, c) : 0;
          const rc = x > 0 && y > 0 ? value(x - 1, y - 1, c) : 0;
          let pred: number;
          if (y === ry && x === rx) pred = 1 << (precision - pt - 1);
          else if (y === ry) pred = ra;
          else if (x === 0) pred = rb;
          else
            pred = [
              0,
              ra,
              rb,
              rc,
              ra + rb - rc,
              ra + ((rb - rc) >> 1),
              rb + ((ra - rc) >> 1),
              (ra + rb) >> 1,
            ][predictor] as number;
          let diff = (value(x, y, c) - pred) & 0xffff;
          if (diff >= 32768) diff -= 65536;
          const mag = Math.abs(diff);
          const ssss = mag === 0 ? 0 : Math.floor(Math.log2(mag)) + 1;
          w.bits(huff.code[ssss] ?? 0, lengths[ssss] ?? 0);
          // SSSS 16 (only -32768 here) has no extra bits; negative differences are sent minus one.
          if (ssss > 0 && ssss < 16) w.bits(diff < 0 ? diff - 1 : diff, ssss);
        }
      }
    w.align();
    for (const b of w.bytes) out.push(b);
  }
  out.push(0xff, 0xd9);
  return Uint8Array.from(out);
}

/** Deterministic samples: smooth areas, noise, edges and jumps of exactly 2^(bits-1) (category 16 at 16 bits). */
export function synthetic(w: number, h: number, nc: number, bits: number, seed: number): Uint16Array {
  let s = seed >>> 0 || 1;
  const rnd = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const max = (1 << bits) - 1;
  const out = new Uint16Array(w * h * nc);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < nc; c++) {
        const i = (y * w + x) * nc + c;
        let v: number;
        if (y < h / 4) v = Math.round(((x + y + c * 7) / (w + h)) * max);
        else if (y < h / 2) {
          // noise whose magnitude classes are geometrically rare: an optimal table has codes of all lengths
          let k = 0;
          while (k < bits - 1 && rnd() < 0.5) k++;
          v = (max + 1) / 2 + (rnd() < 0.5 ? -1 : 1) * (2 ** k + rnd() * 2 ** k) - 0.5;
        } else if (y < (3 * h) / 4) v = ((x >> 2) + (y >> 2) + c) & 1 ? max : 0;
        else v = (x + c) & 1 ? 1 << (bits - 1) : 0;
        out[i] = Math.min(max, Math.max(0, Math.floor(v)));
      }
  return out;
}
