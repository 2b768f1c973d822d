// What our two JPEG decoders (jpeg-dct.ts: sequential DCT; jpeg-lossless.ts: lossless) share: what they
// take and give, finding markers, reading the frame header, DRI and DHT segments, and deriving canonical
// Huffman codes (ITU T.81 Annex C). Each decoder builds its own lookup tables from the codes, shaped for
// its own hot loop.

import { CodecError } from "./codec-types.ts";

export interface JpegDecodeOptions {
  /** Bytes per output sample (default: 1 up to 8-bit precision, else 2). */
  bytesPerSample?: 1 | 2;
  /** What the data set says: checked against the frame header before any pixel memory is allocated. */
  expect?: { width: number; height: number; components: number };
}

export interface JpegImage {
  width: number;
  height: number;
  components: number;
  precision: number;
  /** Samples interleaved, one byte each or two (little endian) as asked for; DCT colour as RGB. */
  pixels: Uint8Array;
}

/** Names of the frame types, for refusing the ones a decoder does not implement. */
export const SOF_NAMES: ReadonlyMap<number, string> = new Map<number, string>([
  [0xc0, "baseline DCT (SOF0)"],
  [0xc1, "extended sequential DCT (SOF1)"],
  [0xc2, "progressive DCT (SOF2)"],
  [0xc3, "lossless (SOF3)"],
  [0xc5, "differential sequential DCT (SOF5)"],
  [0xc6, "differential progressive DCT (SOF6)"],
  [0xc7, "differential lossless (SOF7)"],
  [0xc9, "arithmetic-coded sequential DCT (SOF9)"],
  [0xca, "arithmetic-coded progressive DCT (SOF10)"],
  [0xcb, "arithmetic-coded lossless (SOF11)"],
  [0xcd, "arithmetic-coded differential sequential DCT (SOF13)"],
  [0xce, "arithmetic-coded differential progressive DCT (SOF14)"],
  [0xcf, "arithmetic-coded differential lossless (SOF15)"],
]);

export function hex(m: number): string {
  return m.toString(16).toUpperCase().padStart(2, "0");
}

/** Big-endian 16 bits at `at`, which must lie before `end`. */
export function u16(d: Uint8Array, at: number, end: number): number {
  if (at + 2 > end) throw new CodecError("JPEG: data ends inside a segment");
  return ((d[at] ?? 0) << 8) | (d[at + 1] ?? 0);
}

/**
 * The position just past the next marker at or after `p` (the marker code is the byte before it), or -1
 * when the data ends first. Bytes that are not a marker are skipped, and so are fill bytes (0xFF runs).
 */
export function findMarker(d: Uint8Array, p: number, end: number): number {
  for (;;) {
    while (p < end && d[p] !== 0xff) p++;
    while (p < end && d[p] === 0xff) p++;
    if (p >= end) return -1;
    if (d[p++] !== 0) return p;
  }
}

/** What walkSegments reports each marker segment to. */
export interface SegmentVisitor {
  /**
   * A marker segment (not SOI, EOI, TEM or RSTn): its marker and content [seg, segEnd), after the
   * length. Returns where the walk goes on (segEnd, or past a scan's entropy-coded data), or STOP.
   */
  segment(marker: number, seg: number, segEnd: number): number;
  /** An RSTn between segments: some encoders leave one after a scan's last interval. */
  strayRestart: "skip" | "error";
  /** Whether the image is whole: then a codestream that ends without EOI is no error. */
  complete(): boolean;
}

/** Returned by SegmentVisitor.segment to end the walk. */
export const STOP = -1;

/** The marker segments of a codestream, from SOI to EOI (T.81 B.2), in order. */
export function walkSegments(d: Uint8Array, v: SegmentVisitor): void {
  const end = d.length;
  if (end < 4 || d[0] !== 0xff || d[1] !== 0xd8) throw new CodecError("JPEG: no SOI marker");
  let pos = 2;
  for (;;) {
    const p = findMarker(d, pos, end);
    if (p < 0) {
      if (v.complete()) return;
      throw new CodecError("JPEG: data ends before the EOI marker");
    }
    pos = p;
    const m = d[p - 1] ?? 0;
    if (m === 0xd9) return; // EOI
    if (m === 0xd8) throw new CodecError("JPEG: SOI inside the codestream");
    if (m >= 0xd0 && m <= 0xd7) {
      if (v.strayRestart === "error") throw new CodecError("JPEG: restart marker outside a scan");
      continue;
    }
    if (m === 0x01) continue; // TEM: no segment
    const len = u16(d, p, end);
    if (len < 2 || p + len > end) throw new CodecError(`JPEG: segment 0xFF${hex(m)} overruns the data`);
    pos = v.segment(m, p + 2, p + len);
    if (pos === STOP) return;
  }
}

/** The fixed part of a frame header (T.81 B.2.2), before the component specifications. */
export interface FrameHeader {
  precision: number;
  height: number;
  width: number;
  components: number;
}

/**
 * Read the frame header in the SOFn segment [p, end) and check it, in this order: the sample precision
 * and the number of components (each by the decoder's own rule: the problem, or null), the height (0: a
 * DNL marker would give it, not supported), the width, the segment length, and what the data set says.
 */
export function readFrameHeader(
  d: Uint8Array,
  p: number,
  end: number,
  expect: JpegDecodeOptions["expect"],
  precisionProblem: (precision: number) => string | null,
  componentsProblem: (n: number) => string | null,
): FrameHeader {
  if (end - p < 6) throw new CodecError("JPEG: short SOF segment");
  const precision = d[p] ?? 0;
  const height = u16(d, p + 1, end);
  const width = u16(d, p + 3, end);
  const n = d[p + 5] ?? 0;
  const badPrecision = precisionProblem(precision);
  if (badPrecision !== null) throw new CodecError(badPrecision);
  if (height === 0) throw new CodecError("JPEG: DNL marker (height defined after the scan) is not supported");
  if (width === 0) throw new CodecError("JPEG: image width 0");
  const badComponents = componentsProblem(n);
  if (badComponents !== null) throw new CodecError(badComponents);
  if (end - p !== 6 + 3 * n) throw new CodecError("JPEG: bad SOF length");
  if (expect && (expect.width !== width || expect.height !== height || expect.components !== n))
    throw new CodecError(
      `codestream is ${width}x${height}x${n}, the data set says ${expect.width}x${expect.height}x${expect.components}`,
    );
  return { precision, height, width, components: n };
}

/** The restart interval of a DRI segment [p, end) (T.81 B.2.4.4). */
export function readDri(d: Uint8Array, p: number, end: number): number {
  if (end - p !== 2) throw new CodecError("JPEG: bad DRI length");
  return u16(d, p, end);
}

/** Whether a marker starts a frame header (SOFn: 0xC0-0xCF but DHT, JPG and DAC). */
export function isSof(m: number): boolean {
  return m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
}

/** A frame type a decoder does not implement (other SOFn, arithmetic coding, DNL): the reason. */
export function unsupportedMarker(m: number, decoder: string): CodecError | null {
  if (m === 0xcc) return new CodecError("JPEG: arithmetic coding is not supported");
  if (m === 0xdc) return new CodecError("JPEG: DNL marker (height defined after the scan) is not supported");
  if (isSof(m))
    return new CodecError(`JPEG: ${SOF_NAMES.get(m) ?? `SOF 0x${hex(m)}`} is not supported by ${decoder}`);
  return null;
}

/**
 * The frame type of a codestream: the code of its first SOFn marker, or null when there is none before
 * the first scan or the codestream cannot be walked.
 */
export function frameMarker(d: Uint8Array): number | null {
  let found: number | null = null;
  try {
    walkSegments(d, {
      strayRestart: "skip",
      complete: () => false,
      segment: (m, _seg, segEnd) => {
        if (isSof(m)) found = m;
        return found !== null || m === 0xda ? STOP : segEnd;
      },
    });
  } catch (err) {
    if (!(err instanceof CodecError)) throw err;
  }
  return found;
}

/** The canonical Huffman code of a DHT table definition, per symbol and as F.2.2.3's decoding tables. */
export interface HuffCodes {
  /** Symbols in code order (HUFFVAL). */
  huffval: Uint8Array;
  /** Code of each symbol of `huffval` (HUFFCODE), and its length in bits (HUFFSIZE), shortest first. */
  code: Int32Array;
  size: Uint8Array;
  /** Largest code of each length (index 1..16), -1 when none. */
  maxcode: Int32Array;
  /** huffval index minus the first code, per length. */
  valoffset: Int32Array;
}

/**
 * Derive the codes of a table (T.81 C.2), refusing over-full code spaces. Whether a length's all-ones code
 * may be used differs between references: IJG 6b refuses it (sequential DCT), DCMTK's 16-bit IJG accepts
 * it (lossless encoders use it), hence `allowAllOnes`.
 */
export function huffmanCodes(counts: Uint8Array, huffval: Uint8Array, allowAllOnes: boolean): HuffCodes {
  const n = huffval.length;
  const code = new Int32Array(n);
  const size = new Uint8Array(n);
  const maxcode = new Int32Array(18).fill(-1);
  const valoffset = new Int32Array(18);
  let c = 0;
  let k = 0;
  for (let l = 1; l <= 16; l++) {
    const count = counts[l - 1] ?? 0;
    if (count > 0) {
      valoffset[l] = k - c;
      for (let i = 0; i < count; i++, k++, c++) {
        code[k] = c;
        size[k] = l;
      }
      maxcode[l] = c - 1;
      if (allowAllOnes ? c > 1 << l : c >= 1 << l) throw new CodecError("JPEG: bad Huffman table");
    }
    c <<= 1;
  }
  return { huffval, code, size, maxcode, valoffset };
}

/** Read the table definitions of a DHT segment [p, end) and hand each to `define` (class 0: DC, 1: AC). */
export function readDht(
  d: Uint8Array,
  p: number,
  end: number,
  define: (tc: number, th: number, counts: Uint8Array, huffval: Uint8Array) => void,
): void {
  while (p < end) {
    if (p + 17 > end) throw new CodecError("JPEG: short DHT segment");
    const tc = (d[p] ?? 0) >> 4;
    const th = (d[p] ?? 0) & 15;
    if (tc > 1 || th > 3) throw new CodecError("JPEG: bad DHT segment");
    const counts = d.subarray(p + 1, p + 17);
    let total = 0;
    for (let i = 0; i < 16; i++) total += counts[i] ?? 0;
    p += 17;
    if (total > 256 || p + total > end) throw new CodecError("JPEG: bad DHT segment");
    define(tc, th, counts, d.slice(p, p + total));
    p += total;
  }
}
