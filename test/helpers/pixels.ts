// Pixel comparison for the transcoder's tests and bench: native pixels of a file (colour-by-pixel), and
// reference decodes by the native tools (DCMTK, GDCM, OpenJPH).

import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { find, parsePart10 } from "../../src/dicom/dataset-tree.ts";
import { PIXEL_DATA } from "../../src/dicom/tags.ts";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { planarToInterleaved } from "../../src/transcode/codecs.ts";
import { pixelInfo, splitFrames } from "../../src/transcode/transcode.ts";
import { dcmtkEnv } from "./dcmtk.ts";

export interface NativePixels {
  ts: string;
  photometric: string;
  bitsAllocated: number;
  samplesPerPixel: number;
  rows: number;
  columns: number;
  frames: number;
  /** All frames, colour-by-pixel, little endian. */
  data: Uint8Array;
}

/** The pixels of a native file (any native transfer syntax), normalised to colour-by-pixel. */
export function nativePixels(path: string): NativePixels {
  const { meta, elements } = parsePart10(new Uint8Array(readFileSync(path)));
  const p = pixelInfo(elements);
  const el = find(elements, PIXEL_DATA);
  if (!el || el.fragments) throw new Error(`${path}: no native Pixel Data`);
  const frameSize = p.rows * p.columns * p.samplesPerPixel * (p.bitsAllocated >>> 3);
  let data = el.value.subarray(0, frameSize * p.frames);
  if (p.planar === 1 && p.samplesPerPixel > 1) {
    const out = new Uint8Array(data.length);
    for (let i = 0; i < p.frames; i++)
      out.set(planarToInterleaved(data.subarray(i * frameSize, (i + 1) * frameSize), p), i * frameSize);
    data = out;
  }
  return { ts: meta.transferSyntaxUid, ...p, data };
}

/** The codestreams of an encapsulated file, one per frame. */
export function codestreams(path: string): Uint8Array[] {
  const { elements } = parsePart10(new Uint8Array(readFileSync(path)));
  const el = find(elements, PIXEL_DATA);
  if (!el?.fragments) throw new Error(`${path}: Pixel Data not encapsulated`);
  return splitFrames(el.fragments, pixelInfo(elements).frames);
}

function run(cmd: string, args: string[]): { ms: number } {
  const t = performance.now();
  const r = spawnSync(cmd, args, { env: dcmtkEnv(), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.status}\n${r.stdout}\n${r.stderr}`);
  return { ms: performance.now() - t };
}

/** Which native tool decodes a transfer syntax. */
export function referenceTool(ts: string): string {
  if ([TS.JPEGBaseline8Bit, TS.JPEGExtended12Bit, TS.JPEGLossless, TS.JPEGLosslessSV1].includes(ts as never))
    return "dcmdjpeg";
  if (ts === TS.JPEGLSLossless || ts === TS.JPEGLSNearLossless) return "dcmdjpls";
  if (ts === TS.RLELossless) return "dcmdrle";
  if (ts === TS.JPEG2000Lossless || ts === TS.JPEG2000) return "gdcmconv";
  if (ts === TS.HTJ2KLossless || ts === TS.HTJ2KLosslessRPCL || ts === TS.HTJ2K) return "ojph_expand";
  return "dcmconv";
}

/**
 * Decode `src` with the native tool for its syntax into `workDir`; the pixels, and the tool's wall time.
 * OpenJPH's ojph_expand decodes bare codestreams: each frame goes through a PGM/PPM file.
 */
export function referenceDecode(
  src: string,
  ts: string,
  workDir: string,
): { pixels: NativePixels; ms: number } {
  const tool = referenceTool(ts);
  const out = join(workDir, "ref.dcm");
  if (tool === "ojph_expand") {
    const head = nativeHeader(src);
    const frames: Uint8Array[] = [];
    let ms = 0;
    codestreams(src).forEach((cs, i) => {
      const j2c = join(workDir, `f${i}.j2c`);
      const img = join(workDir, `f${i}.${head.samplesPerPixel === 3 ? "ppm" : "pgm"}`);
      writeFileSync(j2c, cs);
      ms += run("ojph_expand", ["-i", j2c, "-o", img]).ms;
      frames.push(readPnm(readFileSync(img)));
    });
    const data = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let o = 0;
    for (const f of frames) {
      data.set(f, o);
      o += f.length;
    }
    return { pixels: { ...head, ts: TS.ExplicitVRLittleEndian, data }, ms };
  }
  const args =
    tool === "gdcmconv" ? ["--raw", src, out] : tool === "dcmconv" ? ["+te", src, out] : [src, out];
  const { ms } = run(tool, args);
  return { pixels: nativePixels(out), ms };
}

function nativeHeader(path: string): Omit<NativePixels, "data" | "ts"> {
  const { elements } = parsePart10(new Uint8Array(readFileSync(path)));
  return pixelInfo(elements);
}

/** PGM/PPM (P5/P6) pixels as little-endian samples. */
function readPnm(b: Uint8Array): Uint8Array {
  const text = new TextDecoder("latin1").decode(b.subarray(0, 64));
  const m = /^P[56]\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(text);
  if (!m) throw new Error("not a PGM/PPM file");
  const max = Number(m[3]);
  const body = b.subarray(m[0].length);
  if (max < 256) return body.slice();
  const out = new Uint8Array(body.length);
  for (let i = 0; i + 1 < body.length; i += 2) {
    out[i] = body[i + 1] ?? 0;
    out[i + 1] = body[i] ?? 0;
  }
  return out;
}

export interface Diff {
  max: number;
  mean: number;
}

/** Sample-wise difference of two pixel buffers of the same layout. */
export function diff(a: NativePixels, b: NativePixels): Diff {
  if (a.data.length !== b.data.length)
    throw new Error(`pixel data lengths differ: ${a.data.length} vs ${b.data.length}`);
  const wide = a.bitsAllocated > 8;
  const n = wide ? a.data.length >>> 1 : a.data.length;
  const va = wide ? new Uint16Array(a.data.slice().buffer) : a.data;
  const vb = wide ? new Uint16Array(b.data.slice().buffer) : b.data;
  let max = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const d = Math.abs((va[i] ?? 0) - (vb[i] ?? 0));
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / n };
}
