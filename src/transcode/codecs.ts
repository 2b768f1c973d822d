// The codec registry: which transfer syntax is decoded and encoded by what. WASM codecs (cornerstone's
// builds of CharLS, OpenJPEG, OpenJPH and libjpeg-turbo; jSquash's build of the MozJPEG encoder) are
// embedded as files and instantiated from their bytes, so they load the same from source and from a
// compiled executable; RLE, sequential DCT JPEG of 12 bits (jpeg-dct.ts) and lossless JPEG
// (jpeg-lossless.ts) are our own code.
// Everything here is synchronous once `loadCodecs()` resolved: it runs inside a pool worker.

import { readFileSync } from "node:fs";
import charlsWasm from "@cornerstonejs/codec-charls/wasm" with { type: "file" };
import charlsFactory from "@cornerstonejs/codec-charls/wasmjs";
import jpegWasm from "@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasm" with { type: "file" };
import jpegFactory from "@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs";
import openjpegWasm from "@cornerstonejs/codec-openjpeg/wasm" with { type: "file" };
import openjpegFactory from "@cornerstonejs/codec-openjpeg/wasmjs";
import openjphWasm from "@cornerstonejs/codec-openjph/wasm" with { type: "file" };
import openjphFactory from "@cornerstonejs/codec-openjph/wasmjs";
import mozjpegUntyped from "@jsquash/jpeg/codec/enc/mozjpeg_enc.js";
import mozjpegWasm from "@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm" with { type: "file" };
import { TS } from "../dicom/transfer-syntax.ts";
import { CodecError, type DecodedFrame, type EncodedFrame, type PixelInfo } from "./codec-types.ts";
import { frameMarker } from "./jpeg-common.ts";
import { decodeJpegDct } from "./jpeg-dct.ts";
import { decodeJpegLossless } from "./jpeg-lossless.ts";
import { rleDecode, rleEncode } from "./rle.ts";

interface FrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
  isUsingColorTransform?: boolean;
}

interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): FrameInfo;
  getDecodedBuffer(): Uint8Array;
  getInterleaveMode?(): number;
  delete(): void;
}

interface WasmEncoder {
  getDecodedBuffer(info: FrameInfo): Uint8Array;
  encode(): void;
  getEncodedBuffer(): Uint8Array;
  setQuality?(lossless: boolean, quality: number): void;
  setNearLossless?(n: number): void;
  setInterleaveMode?(m: number): void;
  setDecompositions?(n: number): void;
  setProgressionOrder?(p: number): void;
  setTLMMarker?(on: boolean): void;
  delete(): void;
}

/** MozJPEG's compressor options as jSquash's glue takes them (its codec/enc/mozjpeg_enc.d.ts). */
export interface MozJpegOptions {
  quality: number;
  baseline: boolean;
  arithmetic: boolean;
  progressive: boolean;
  optimize_coding: boolean;
  smoothing: number;
  /** Colour space of the JPEG components: 1 grayscale, 2 RGB, 3 YCbCr. */
  color_space: number;
  quant_table: number;
  trellis_multipass: boolean;
  trellis_opt_zero: boolean;
  trellis_opt_table: boolean;
  trellis_loops: number;
  auto_subsample: boolean;
  chroma_subsample: number;
  separate_chroma_quality: boolean;
  chroma_quality: number;
}

export interface MozJpegModule {
  /** RGBA in (4 bytes a pixel, whatever the output colour space), a JPEG interchange format stream out. */
  encode(rgba: Uint8Array, width: number, height: number, options: MozJpegOptions): Uint8Array;
}

type Ctor<T> = new () => T;

interface Codecs {
  charls: { JpegLSDecoder: Ctor<WasmDecoder>; JpegLSEncoder: Ctor<WasmEncoder> };
  openjpeg: { J2KDecoder: Ctor<WasmDecoder>; J2KEncoder: Ctor<WasmEncoder> };
  openjph: { HTJ2KDecoder: Ctor<WasmDecoder>; HTJ2KEncoder: Ctor<WasmEncoder> };
  jpeg: { JPEGDecoder: Ctor<WasmDecoder> };
  mozjpeg: MozJpegModule;
}

// The package's .d.ts types the factory with a global namespace it never declares (so: any): typed here.
const mozjpegFactory: (moduleArg: {
  wasmBinary: Uint8Array;
  noInitialRun: boolean;
  print: () => void;
  printErr: () => void;
}) => Promise<MozJpegModule> = mozjpegUntyped;

let codecs: Codecs | null = null;
let loading: Promise<Codecs> | null = null;

/** Instantiate every WASM codec (once per thread). */
export function loadCodecs(): Promise<Codecs> {
  if (codecs) return Promise.resolve(codecs);
  loading ??= (async () => {
    // The codecs' own chatter (OpenJPEG's [INFO] lines) would go to stdout: errors come back as exceptions.
    const quiet = { print: () => {}, printErr: () => {} };
    const bin = (p: string) => ({ ...quiet, wasmBinary: new Uint8Array(readFileSync(p)) });
    const [charls, openjpeg, openjph, jpeg, mozjpeg] = await Promise.all([
      charlsFactory(bin(charlsWasm)),
      openjpegFactory(bin(openjpegWasm)),
      openjphFactory(bin(openjphWasm)),
      jpegFactory(bin(jpegWasm)),
      mozjpegFactory({ ...bin(mozjpegWasm), noInitialRun: true }),
    ]);
    codecs = { charls, openjpeg, openjph, jpeg, mozjpeg } as Codecs;
    return codecs;
  })();
  return loading;
}

function loaded(): Codecs {
  if (!codecs) throw new CodecError("codecs not loaded");
  return codecs;
}

/** The JPEG Baseline encoder (src/transcode/jpeg-baseline.ts), once `loadCodecs()` resolved. */
export function mozjpegEncoder(): MozJpegModule {
  return loaded().mozjpeg;
}

/** Decode one frame of an encapsulated transfer syntax. */
export function decodeFrame(ts: string, frame: Uint8Array, p: PixelInfo): DecodedFrame {
  if (p.bitsAllocated !== 8 && p.bitsAllocated !== 16)
    throw new CodecError(`Bits Allocated ${p.bitsAllocated} is not supported`);
  switch (ts) {
    case TS.RLELossless:
      return { pixels: rleDecode(frame, p), photometric: p.photometric };
    case TS.JPEGBaseline8Bit:
    case TS.JPEGExtended12Bit: {
      let r: Uint8Array;
      // libjpeg-turbo's WASM build is 8-bit only: 12-bit JPEG Extended is our own decoder's, and so is any
      // JPEG Baseline frame libjpeg-turbo refuses (a 12-bit codestream under the wrong transfer syntax).
      if (ts === TS.JPEGExtended12Bit) r = jpegDct(frame, p);
      else
        try {
          r = wasmDecode(new (loaded().jpeg.JPEGDecoder)(), frame, p);
        } catch (err) {
          if (!(err instanceof CodecError)) throw err;
          try {
            r = jpegDct(frame, p);
          } catch {
            throw err;
          }
        }
      // Both convert YCbCr to RGB (PS3.5 8.2.1: the decoded image is RGB).
      return { pixels: r, photometric: p.samplesPerPixel === 3 ? "RGB" : p.photometric };
    }
    case TS.JPEGLossless:
    case TS.JPEGLosslessSV1:
      // Some modalities label DCT (lossy) streams as lossless: decoded by what the stream is, as DCMTK
      // and GDCM do, rather than refused.
      if (isDctFrame(frame)) {
        const r = jpegDct(frame, p);
        return { pixels: r, photometric: p.samplesPerPixel === 3 ? "RGB" : p.photometric };
      }
      // Lossless JPEG has no colour transform: the samples are what the Photometric Interpretation says.
      return {
        pixels: decodeJpegLossless(frame, {
          bytesPerSample: p.bitsAllocated === 16 ? 2 : 1,
          expect: { width: p.columns, height: p.rows, components: p.samplesPerPixel },
        }).pixels,
        photometric: p.photometric,
      };
    case TS.JPEGLSLossless:
    case TS.JPEGLSNearLossless:
      return {
        pixels: wasmDecode(new (loaded().charls.JpegLSDecoder)(), frame, p),
        photometric: p.photometric,
      };
    case TS.JPEG2000Lossless:
    case TS.JPEG2000:
      return {
        pixels: wasmDecode(new (loaded().openjpeg.J2KDecoder)(), frame, p),
        photometric: unMct(p.photometric),
      };
    case TS.HTJ2KLossless:
    case TS.HTJ2KLosslessRPCL:
    case TS.HTJ2K:
      return {
        pixels: wasmDecode(new (loaded().openjph.HTJ2KDecoder)(), frame, p),
        photometric: unMct(p.photometric),
      };
    default:
      throw new CodecError(`no decoder for transfer syntax ${ts}`);
  }
}

function isDctFrame(frame: Uint8Array): boolean {
  const m = frameMarker(frame);
  return m === 0xc0 || m === 0xc1;
}

function jpegDct(frame: Uint8Array, p: PixelInfo): Uint8Array {
  return decodeJpegDct(frame, {
    bytesPerSample: p.bitsAllocated === 16 ? 2 : 1,
    expect: { width: p.columns, height: p.rows, components: p.samplesPerPixel },
  }).pixels;
}

/** JPEG 2000 decoders undo the component transform: the pixels are RGB. */
function unMct(photometric: string): string {
  return photometric === "YBR_RCT" || photometric === "YBR_ICT" ? "RGB" : photometric;
}

function wasmDecode(d: WasmDecoder, frame: Uint8Array, p: PixelInfo): Uint8Array {
  try {
    d.getEncodedBuffer(frame.length).set(frame);
    try {
      d.decode();
    } catch (err) {
      throw new CodecError(`decoder failed: ${errText(err)}`);
    }
    const fi = d.getFrameInfo();
    if (fi.width !== p.columns || fi.height !== p.rows || fi.componentCount !== p.samplesPerPixel)
      throw new CodecError(
        `codestream is ${fi.width}x${fi.height}x${fi.componentCount}, the data set says ${p.columns}x${p.rows}x${p.samplesPerPixel}`,
      );
    const decodedBytesPer = fi.bitsPerSample > 8 ? 2 : 1;
    const src = d.getDecodedBuffer();
    const n = p.rows * p.columns * p.samplesPerPixel;
    if (src.length < n * decodedBytesPer) throw new CodecError("decoder returned too few pixels");
    const wantBytesPer = p.bitsAllocated >>> 3;
    let out: Uint8Array;
    if (decodedBytesPer === wantBytesPer) out = src.slice(0, n * wantBytesPer);
    else if (decodedBytesPer === 1) {
      out = new Uint8Array(n * 2);
      for (let i = 0; i < n; i++) out[2 * i] = src[i] ?? 0;
    } else throw new CodecError(`codestream has ${fi.bitsPerSample} bits, Bits Allocated is 8`);
    const interleave = d.getInterleaveMode?.();
    if (interleave === 0 && p.samplesPerPixel > 1) out = planarToInterleaved(out, p);
    return out;
  } finally {
    d.delete();
  }
}

function errText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === "number") return `WASM exception ${err}`;
  return String(err);
}

/** Colour-by-plane (Planar Configuration 1) to colour-by-pixel. */
export function planarToInterleaved(src: Uint8Array, p: PixelInfo): Uint8Array {
  const bytesPer = p.bitsAllocated >>> 3;
  const spp = p.samplesPerPixel;
  const n = p.rows * p.columns;
  const out = new Uint8Array(n * spp * bytesPer);
  for (let s = 0; s < spp; s++)
    for (let i = 0; i < n; i++)
      for (let b = 0; b < bytesPer; b++)
        out[(i * spp + s) * bytesPer + b] = src[(s * n + i) * bytesPer + b] ?? 0;
  return out;
}

/** Encode native pixels (interleaved, little endian) losslessly. */
export function encodeFrame(ts: string, pixels: Uint8Array, p: PixelInfo, photometric: string): EncodedFrame {
  if (ts === TS.RLELossless) return { data: rleEncode(pixels, p), photometric };
  const c = loaded();
  const bits = p.bitsStored;
  const signed = p.pixelRepresentation === 1;
  let enc: WasmEncoder;
  let input = pixels;
  switch (ts) {
    case TS.JPEGLSLossless:
      enc = new c.charls.JpegLSEncoder();
      // JPEG-LS has no signed samples: the stored bit patterns are coded (PS3.5 A.4.3).
      if (bits < p.bitsAllocated) input = masked(pixels, p);
      break;
    case TS.JPEG2000Lossless:
      enc = new c.openjpeg.J2KEncoder();
      break;
    case TS.HTJ2KLossless:
    case TS.HTJ2KLosslessRPCL:
    case TS.HTJ2K:
      enc = new c.openjph.HTJ2KEncoder();
      break;
    default:
      throw new CodecError(`no encoder for transfer syntax ${ts}`);
  }
  try {
    const info: FrameInfo = {
      width: p.columns,
      height: p.rows,
      bitsPerSample: bits,
      componentCount: p.samplesPerPixel,
      isSigned: signed && ts !== TS.JPEGLSLossless,
      // No colour transform: the Photometric Interpretation stays RGB (checked below from the COD marker).
      isUsingColorTransform: p.samplesPerPixel === 3,
    };
    enc.getDecodedBuffer(info).set(input);
    if (ts === TS.JPEGLSLossless) {
      enc.setNearLossless?.(0);
      if (p.samplesPerPixel > 1) enc.setInterleaveMode?.(2);
    } else {
      enc.setQuality?.(true, 0);
      if (ts === TS.HTJ2KLosslessRPCL) {
        enc.setProgressionOrder?.(2);
        enc.setTLMMarker?.(true);
      }
    }
    try {
      enc.encode();
    } catch (err) {
      throw new CodecError(`encoder failed: ${errText(err)}`);
    }
    const data = enc.getEncodedBuffer().slice();
    const mct = ts !== TS.JPEGLSLossless && p.samplesPerPixel === 3 && usesMct(data);
    return { data, photometric: mct ? "YBR_RCT" : photometric };
  } finally {
    enc.delete();
  }
}

function masked(pixels: Uint8Array, p: PixelInfo): Uint8Array {
  const out = pixels.slice();
  const mask = (1 << p.bitsStored) - 1;
  if (p.bitsAllocated === 16) {
    const v = new Uint16Array(out.buffer, out.byteOffset, out.length >>> 1);
    for (let i = 0; i < v.length; i++) v[i] = (v[i] ?? 0) & mask;
  } else for (let i = 0; i < out.length; i++) out[i] = (out[i] ?? 0) & mask;
  return out;
}

/** Does a JPEG 2000 codestream's COD marker switch on the multiple component transform? */
export function usesMct(cs: Uint8Array): boolean {
  for (let i = 2; i + 9 < cs.length && i < 4096; ) {
    if (cs[i] !== 0xff) return false;
    const marker = cs[i + 1] ?? 0;
    const len = ((cs[i + 2] ?? 0) << 8) | (cs[i + 3] ?? 0);
    if (marker === 0x52) return (cs[i + 8] ?? 0) !== 0; // Scod(1) prog(1) layers(2) MCT(1)
    if (marker === 0x90 || marker === 0x93) return false;
    i += 2 + len;
  }
  return false;
}
