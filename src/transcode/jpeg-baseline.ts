// JPEG Baseline (Process 1: 8-bit, sequential DCT, Huffman; 1.2.840.10008.1.2.4.50) as transcode.target,
// encoded by MozJPEG (jSquash's WASM build, loaded with the other codecs in codecs.ts). This is lossy: the
// caller makes the result a new instance (derived.ts). What goes in must be unsigned samples of at most
// 8 bits, monochrome or colour; anything else is refused with a CodecError, and the instance is kept as
// received.

import { CodecError, type EncodedFrame, type PixelInfo } from "./codec-types.ts";
import { type MozJpegOptions, mozjpegEncoder } from "./codecs.ts";

/**
 * Fixed, not configurable: the config has no quality key (how lossy an archive may be is a clinical policy,
 * not a tuning knob). 90 is DCMTK dcmcjpeg's default, the quality operators know from it. To change it,
 * change it here: JPEG_BASELINE_PROFILE changes with it, and with it every derived SOP Instance UID.
 */
export const JPEG_QUALITY = 90;

/**
 * MozJPEG chooses the chroma subsampling from the chroma quality (>= 90: 4:4:4, 80-89: 4:2:2, below:
 * 4:2:0); 89 gets 4:2:2, which is exactly what YBR_FULL_422 names (PS3.3 C.7.6.3.1.2: Cb and Cr at half
 * the horizontal rate) and what IODs with a constrained Photometric Interpretation require of lossy JPEG
 * (e.g. VL images, PS3.3 C.8.12.4.1.5). 4:2:0, MozJPEG's default, is labelled YBR_FULL_422 only by the
 * looser reading of PS3.5 8.2.1 that DCMTK's img2dcm warns about. The photometric written is still read back from
 * the frame header (photometricOf), not assumed.
 */
export const JPEG_CHROMA_QUALITY = 89;

/**
 * The encoder and its settings. Part of the name of every derived SOP Instance UID (derived.ts): the same
 * source through the same encoder gives the same instance; a new encoder version or setting gives new
 * pixels and so must give a new UID. Keep the version in step with package.json (a test checks it).
 */
export const JPEG_BASELINE_PROFILE = `@jsquash/jpeg 1.6.0 baseline q${JPEG_QUALITY} chroma-q${JPEG_CHROMA_QUALITY} flat`;

/** PS3.3 C.7.6.1.1.5.1: Lossy Image Compression Method of ISO/IEC 10918-1. */
export const JPEG_LOSSY_METHOD = "ISO_10918_1";

const OPTIONS: MozJpegOptions = {
  quality: JPEG_QUALITY,
  // Process 1 is 8-bit tables, Huffman coding and one sequential scan; jSquash defaults to progressive.
  baseline: true,
  arithmetic: false,
  progressive: false,
  // Huffman tables optimal for the image; they are written in the stream (PS3.5 A.4.1 asks for that).
  optimize_coding: true,
  smoothing: 0,
  color_space: 3,
  // MozJPEG's flat table, not its default psychovisual one (3): those coarsen the high frequencies an eye
  // on a photo misses and a reader of a medical image looks at (edges, fine detail). On the 8-bit test
  // image at quality 90 the largest error is 7 grey levels instead of 44 (DCMTK's Annex K tables: 17), for
  // a stream the size of DCMTK's at quality 90.
  quant_table: 1,
  trellis_multipass: false,
  trellis_opt_zero: false,
  trellis_opt_table: false,
  trellis_loops: 1,
  auto_subsample: true,
  chroma_subsample: 2,
  separate_chroma_quality: true,
  chroma_quality: JPEG_CHROMA_QUALITY,
};

const GRAYSCALE = 1;
const CODABLE_PHOTOMETRIC = new Set(["MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL"]);

/** Why the pixel module cannot go to JPEG Baseline (checked before anything is decoded), or undefined. */
export function baselineProblem(p: PixelInfo): string | undefined {
  if (p.bitsStored > 8)
    return `JPEG Baseline codes 8-bit samples and Bits Stored is ${p.bitsStored}: a lossy 8-bit copy would lose the dynamic range`;
  if (p.bitsAllocated !== 8 && p.bitsAllocated !== 16)
    return `Bits Allocated ${p.bitsAllocated} is not supported`;
  if (p.pixelRepresentation !== 0) return "JPEG Baseline has no signed samples (Pixel Representation 1)";
  if (p.samplesPerPixel !== 1 && p.samplesPerPixel !== 3)
    return `Samples per Pixel ${p.samplesPerPixel} cannot be coded as JPEG Baseline`;
  return undefined;
}

/** Encode one frame (interleaved samples, little endian) as a JPEG Baseline interchange format stream. */
export function encodeJpegBaseline(pixels: Uint8Array, p: PixelInfo, photometric: string): EncodedFrame {
  const problem = baselineProblem(p);
  if (problem) throw new CodecError(problem);
  // PALETTE COLOR indices, and the subsampled YBR forms, are no colour values a DCT may blur.
  if (!CODABLE_PHOTOMETRIC.has(photometric) || photometric.startsWith("MONO") !== (p.samplesPerPixel === 1))
    throw new CodecError(`Photometric Interpretation ${photometric} cannot be coded as lossy JPEG here`);
  const rgba = toRgba(pixels, p, photometric);
  const mono = p.samplesPerPixel === 1;
  let data: Uint8Array;
  try {
    data = mozjpegEncoder()
      .encode(rgba, p.columns, p.rows, mono ? { ...OPTIONS, color_space: GRAYSCALE } : OPTIONS)
      .slice();
  } catch (err) {
    throw new CodecError(`JPEG Baseline encoder failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { data, photometric: mono ? photometric : photometricOf(data) };
}

/** The encoder's input: every pixel as R, G, B, A bytes (grey replicated: MozJPEG's Y of R=G=B is exact). */
function toRgba(pixels: Uint8Array, p: PixelInfo, photometric: string): Uint8Array {
  const n = p.rows * p.columns;
  const spp = p.samplesPerPixel;
  const step = p.bitsAllocated >>> 3;
  if (pixels.length < n * spp * step) throw new CodecError("Pixel Data shorter than the image");
  // Bits above Bits Stored may hold overlays or garbage (PS3.5 8.1.1): not image.
  const mask = (1 << p.bitsStored) - 1;
  const sample = (i: number) => (pixels[i * step] ?? 0) & mask;
  const out = new Uint8Array(n * 4);
  const ybr = photometric === "YBR_FULL";
  for (let i = 0; i < n; i++) {
    const o = 4 * i;
    if (spp === 1) {
      const v = sample(i);
      out[o] = v;
      out[o + 1] = v;
      out[o + 2] = v;
    } else if (ybr) {
      // PS3.3 C.7.6.3.1.2 YBR_FULL, inverted: the encoder converts RGB to its own YCbCr.
      const y = sample(3 * i);
      const cb = sample(3 * i + 1) - 128;
      const cr = sample(3 * i + 2) - 128;
      out[o] = clamp8(y + 1.402 * cr);
      out[o + 1] = clamp8(y - 0.344136 * cb - 0.714136 * cr);
      out[o + 2] = clamp8(y + 1.772 * cb);
    } else {
      out[o] = sample(3 * i);
      out[o + 1] = sample(3 * i + 1);
      out[o + 2] = sample(3 * i + 2);
    }
    out[o + 3] = 255;
  }
  return out;
}

function clamp8(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/** Sampling factors of a JPEG stream's frame header (SOF0 only: anything else is no baseline stream). */
export function baselineSampling(jpeg: Uint8Array): Array<{ h: number; v: number }> {
  for (let i = 2; i + 4 <= jpeg.length; ) {
    if (jpeg[i] !== 0xff) break;
    const marker = jpeg[i + 1] ?? 0;
    const len = ((jpeg[i + 2] ?? 0) << 8) | (jpeg[i + 3] ?? 0);
    if (marker === 0xc0) {
      const count = jpeg[i + 9] ?? 0;
      const out: Array<{ h: number; v: number }> = [];
      for (let c = 0; c < count; c++) {
        const hv = jpeg[i + 11 + 3 * c] ?? 0;
        out.push({ h: hv >>> 4, v: hv & 0x0f });
      }
      return out;
    }
    // Any other frame type (progressive, extended, arithmetic) or the scan itself: not baseline.
    if (
      (marker >= 0xc1 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) ||
      marker === 0xda
    )
      break;
    i += 2 + len;
  }
  throw new CodecError("the encoder did not write a JPEG Baseline (SOF0) frame");
}

/** Photometric Interpretation of a colour baseline stream from its luminance sampling (PS3.5 8.2.1). */
function photometricOf(jpeg: Uint8Array): string {
  const [y, cb, cr] = baselineSampling(jpeg);
  if (!y || !cb || !cr || cb.h !== 1 || cb.v !== 1 || cr.h !== 1 || cr.v !== 1)
    throw new CodecError("unexpected component sampling in the encoded stream");
  if (y.h === 1 && y.v === 1) return "YBR_FULL";
  if (y.h === 2 && y.v === 1) return "YBR_FULL_422";
  throw new CodecError(`chroma subsampled ${y.h}x${y.v}: no Photometric Interpretation describes it exactly`);
}
