// Our lossless JPEG decoder (src/transcode/jpeg-lossless.ts) against DCMTK's dcmdjpeg, byte for byte:
// codestreams made at test time by dcmcjpeg (every predictor, point transforms, 8/12/16 bits, signed CT,
// RGB, odd sizes, a multi-frame file, 16-bit noise for long codes and difference category 16), by
// gdcmconv, by PVRG-JPEG (precisions 2 to 16, non-interleaved colour scans) and by a small encoder of our
// own (test/helpers/lossless-jpeg.ts: restart intervals, all-ones Huffman codes). What it refuses, and
// corrupt input: jpeg-lossless-refusals.test.ts.

import { beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parsePart10 } from "../../src/dicom/dataset-tree.ts";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { decodeFrame } from "../../src/transcode/codecs.ts";
import { decodeJpegLossless } from "../../src/transcode/jpeg-lossless.ts";
import { pixelInfo, transcodePart10 } from "../../src/transcode/transcode.ts";
import { repoRoot } from "../helpers/dcmtk.ts";
import { corpus } from "../helpers/fixtures.ts";
import { cropImage, type Geometry, writeImage } from "../helpers/images.ts";
import { encodeLosslessJpeg, type LosslessJpegInput, synthetic } from "../helpers/lossless-jpeg.ts";
import { codestreams, nativePixels, referenceDecode } from "../helpers/pixels.ts";
import { mustRun } from "../helpers/tools.ts";

let work = "";
const source = (name: string) => corpus().find((f) => f.includes(name)) ?? "";
const crop = (src: string, name: string, x0: number, y0: number, w: number, h: number) =>
  cropImage(src, join(work, name), x0, y0, w, h);
const ct = () => source("01_ct_s16_explicitLE");
const mr = () => source("02_mr_u12_explicitLE");
const mono8 = () => source("03_sc_mono8_explicitLE");
const rgb8 = () => source("04_sc_rgb8_explicitLE");

/** Samples as little-endian bytes of `bits` > 8, else one byte each. */
function bytesOf(samples: Uint16Array, bits: number): Uint8Array {
  if (bits <= 8) return Uint8Array.from(samples);
  return new Uint8Array(samples.slice().buffer);
}

/** dcmcjpeg with `args` on a native file. */
function dcmcjpeg(src: string, name: string, args: string[]): string {
  const out = join(work, name);
  mustRun("dcmcjpeg", [...args, src, out]);
  return out;
}

function gdcmconv(src: string, name: string): string {
  const out = join(work, name);
  mustRun("gdcmconv", ["-J", src, out]);
  return out;
}

/**
 * PVRG-JPEG in lossless mode on the given samples (planes written as PVRG reads them). PVRG predicts the
 * first line with an imagined line of 2^(P-1) above it and resets differently at restarts, unlike T.81
 * H.1.2.1 and IJG: only predictors 1, 4 and 5 without restarts code the same either way.
 */
function pvrg(
  name: string,
  g: Geometry,
  samples: Uint16Array,
  predictor: number,
  extra: string[] = [],
): string {
  const args = [
    "-iw",
    String(g.columns),
    "-ih",
    String(g.rows),
    "-p",
    String(g.bits),
    "-k",
    String(predictor),
  ];
  const jpg = join(work, `${name}.jpg`);
  args.push(...extra, "-s", jpg);
  const nc = g.samplesPerPixel;
  for (let c = 0; c < nc; c++) {
    const n = g.rows * g.columns;
    const plane = new Uint8Array(n * (g.bits > 8 ? 2 : 1));
    for (let i = 0; i < n; i++) {
      const v = samples[i * nc + c] ?? 0;
      if (g.bits > 8) {
        plane[2 * i] = v >> 8;
        plane[2 * i + 1] = v & 255;
      } else plane[i] = v;
    }
    const f = join(work, `${name}.c${c}.raw`);
    writeFileSync(f, plane);
    args.push(f);
  }
  const r = spawnSync("pvrg-jpeg", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`pvrg-jpeg ${args.join(" ")}: ${r.status}\n${r.stderr}`);
  return writeImage(
    mono8(),
    join(work, `${name}.dcm`),
    g,
    new Uint8Array(readFileSync(jpg)),
    TS.JPEGLossless,
  );
}

/** Our encoder's codestream as a DICOM file. */
function ourEncoder(
  name: string,
  g: Geometry,
  input: Omit<LosslessJpegInput, "width" | "height" | "components" | "precision">,
): string {
  const cs = encodeLosslessJpeg({
    width: g.columns,
    height: g.rows,
    components: g.samplesPerPixel,
    precision: g.bits,
    ...input,
  });
  return writeImage(mono8(), join(work, `${name}.dcm`), g, cs, TS.JPEGLossless);
}

/** Our decode of every frame of a JPEG Lossless file, as decodeFrame gives it to the transcoder. */
function ours(file: string): Uint8Array {
  const { meta, elements } = parsePart10(new Uint8Array(readFileSync(file)));
  const p = pixelInfo(elements);
  const frames = codestreams(file).map((cs) => decodeFrame(meta.transferSyntaxUid, cs, p).pixels);
  return Uint8Array.from(Buffer.concat(frames));
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Ours equals dcmdjpeg's decode byte for byte, and the source samples where those are known. */
function compare(file: string, sourceBytes?: Uint8Array): void {
  const ref = referenceDecode(file, TS.JPEGLossless, mkdtempSync(join(work, "ref-"))).pixels;
  const got = ours(file);
  expect(firstDifference(got, ref.data)).toBe(-1);
  if (sourceBytes) expect(firstDifference(got, sourceBytes)).toBe(-1);
}

/** The scan headers' (predictor, point transform) pairs of a codestream. */
function scanParams(cs: Uint8Array): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 2; i + 4 < cs.length; i++)
    if (cs[i] === 0xff && cs[i + 1] === 0xda) {
      const ns = cs[i + 4] ?? 0;
      const q = i + 5 + 2 * ns;
      out.push([cs[q] ?? 0, (cs[q + 2] ?? 0) & 15]);
    }
  return out;
}

/** The first DHT table of a codestream: its symbols, and its longest code. */
function huffmanTable(cs: Uint8Array): { symbols: number[]; longest: number } {
  const at = cs.findIndex((b, i) => b === 0xff && cs[i + 1] === 0xc4);
  const counts = Array.from(cs.subarray(at + 5, at + 21));
  const total = counts.reduce((a, b) => a + b, 0);
  return {
    symbols: Array.from(cs.subarray(at + 21, at + 21 + total)),
    longest: counts.reduce((l, n, i) => (n > 0 ? i + 1 : l), 0),
  };
}

beforeAll(() => {
  corpus();
  work = mkdtempSync(join(repoRoot, "test", ".work", "jpeg-lossless-"));
}, 120_000);

describe("decodes like dcmdjpeg, byte for byte", () => {
  const native = (f: string) => nativePixels(f).data;

  test("the corpus files (SV1 and Process 14 predictor 6, 16-bit signed CT)", () => {
    compare(source("09_ct_s16_jpegLL_SV1"), native(ct()));
    compare(source("10_ct_s16_jpegLL_P14sv6"), native(ct()));
  });

  for (let sv = 1; sv <= 7; sv++)
    test(`16-bit signed CT, dcmcjpeg +el +sv ${sv}`, () => {
      const f = dcmcjpeg(ct(), `ct-sv${sv}.dcm`, ["+el", "+sv", String(sv)]);
      expect(scanParams(codestreams(f)[0] ?? new Uint8Array(0))).toEqual([[sv, 0]]);
      compare(f, native(ct()));
    });

  test("16-bit signed CT 77x61, every predictor", () => {
    const small = crop(ct(), "ct-odd.dcm", 200, 180, 77, 61);
    for (let sv = 1; sv <= 7; sv++)
      compare(dcmcjpeg(small, `ct-odd-sv${sv}.dcm`, ["+el", "+sv", String(sv)]));
  });

  test("point transforms: CT +sv 6 +pt 3, 8-bit +e1 +pt 2, 12-bit +sv 5 +pt 1, RGB +sv 7 +pt 1", () => {
    const cases: Array<[string, string, string[], number, number]> = [
      [ct(), "ct-pt3.dcm", ["+el", "+sv", "6", "+pt", "3"], 6, 3],
      [mono8(), "m8-pt2.dcm", ["+e1", "+pt", "2"], 1, 2],
      [mr(), "mr-pt1.dcm", ["+el", "+sv", "5", "+pt", "1"], 5, 1],
      [rgb8(), "rgb-pt1.dcm", ["+el", "+sv", "7", "+pt", "1"], 7, 1],
    ];
    for (const [src, name, args, sv, pt] of cases) {
      const f = dcmcjpeg(src, name, args);
      expect(scanParams(codestreams(f)[0] ?? new Uint8Array(0))).toEqual([[sv, pt]]);
      compare(f);
      // what was shifted out is zero, the rest is the source
      const got = ours(f);
      const src16 = native(src);
      const wide = nativePixels(src).bitsAllocated > 8;
      for (let i = 0; i < got.length; i += wide ? 2 : 1) {
        const v = wide ? (got[i] ?? 0) | ((got[i + 1] ?? 0) << 8) : (got[i] ?? 0);
        const s = wide ? (src16[i] ?? 0) | ((src16[i + 1] ?? 0) << 8) : (src16[i] ?? 0);
        if (v !== (s >> pt) << pt) throw new Error(`${name}: sample ${i}: ${v}, source ${s}`);
      }
    }
  });

  test("12-bit MR (+e1, +el +sv 4), 8-bit (+e1, +el +sv 2)", () => {
    compare(dcmcjpeg(mr(), "mr-e1.dcm", ["+e1"]), native(mr()));
    compare(dcmcjpeg(mr(), "mr-sv4.dcm", ["+el", "+sv", "4"]), native(mr()));
    compare(dcmcjpeg(mono8(), "m8-e1.dcm", ["+e1"]), native(mono8()));
    compare(dcmcjpeg(mono8(), "m8-sv2.dcm", ["+el", "+sv", "2"]), native(mono8()));
  });

  test("RGB, interleaved: +e1, +el +sv 3, +el +sv 6", () => {
    compare(dcmcjpeg(rgb8(), "rgb-e1.dcm", ["+e1"]), native(rgb8()));
    compare(dcmcjpeg(rgb8(), "rgb-sv3.dcm", ["+el", "+sv", "3"]), native(rgb8()));
    compare(dcmcjpeg(rgb8(), "rgb-sv6.dcm", ["+el", "+sv", "6"]), native(rgb8()));
  });

  test("30 frames of 8 bits", () => {
    const src = source("05_mf8_30fr_explicitLE");
    compare(dcmcjpeg(src, "mf8-e1.dcm", ["+e1"]), native(src));
  });

  test("16-bit noise and 2^15 jumps: difference category 16", () => {
    const g: Geometry = { rows: 64, columns: 96, samplesPerPixel: 1, bits: 16, photometric: "MONOCHROME2" };
    const samples = synthetic(96, 64, 1, 16, 7);
    const src = writeImage(mono8(), join(work, "noise16.dcm"), g, bytesOf(samples, 16));
    for (const sv of [1, 5, 7]) {
      const f = dcmcjpeg(src, `noise16-sv${sv}.dcm`, ["+el", "+sv", String(sv)]);
      expect(huffmanTable(codestreams(f)[0] ?? new Uint8Array(0)).symbols).toContain(16);
      compare(f, bytesOf(samples, 16));
    }
  });

  test("differences whose categories are Fibonacci-distributed: Huffman codes of up to 16 bits", () => {
    // Category k (k = 16..0) occurs F(17-k) times: an optimal code is as deep as JPEG allows.
    const cats: number[] = [];
    for (let k = 16, a = 1, b = 1; k >= 0; k--, [a, b] = [b, a + b]) for (let i = 0; i < a; i++) cats.push(k);
    let seed = 5;
    for (let i = cats.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const j = seed % (i + 1);
      [cats[i], cats[j]] = [cats[j] ?? 0, cats[i] ?? 0];
    }
    const samples = new Uint16Array(cats.length + 1);
    samples[0] = 32768;
    cats.forEach((k, i) => {
      const d = k === 0 ? 0 : k === 16 ? 32768 : (i & 1 ? -1 : 1) * 2 ** (k - 1);
      samples[i + 1] = ((samples[i] ?? 0) + d) & 0xffff;
    });
    const g: Geometry = {
      rows: 1,
      columns: samples.length,
      samplesPerPixel: 1,
      bits: 16,
      photometric: "MONOCHROME2",
    };
    const f = dcmcjpeg(
      writeImage(mono8(), join(work, "fib16.dcm"), g, bytesOf(samples, 16)),
      "fib16-e1.dcm",
      ["+e1"],
    );
    const t = huffmanTable(codestreams(f)[0] ?? new Uint8Array(0));
    expect(t.longest).toBeGreaterThan(13);
    compare(f, bytesOf(samples, 16));
  });

  test("gdcmconv -J: 16-bit signed CT, 12-bit MR, RGB", () => {
    compare(gdcmconv(ct(), "gdcm-ct.dcm"), native(ct()));
    compare(gdcmconv(mr(), "gdcm-mr.dcm"), native(mr()));
    compare(gdcmconv(rgb8(), "gdcm-rgb.dcm"), native(rgb8()));
  });

  test("PVRG-JPEG: precisions 2 to 16, predictors 1, 4 and 5", () => {
    for (const bits of [2, 3, 5, 7, 8, 10, 13, 16]) {
      const g: Geometry = { rows: 23, columns: 37, samplesPerPixel: 1, bits, photometric: "MONOCHROME2" };
      const samples = synthetic(37, 23, 1, bits, bits);
      for (const k of [1, 4, 5]) compare(pvrg(`pvrg-p${bits}-k${k}`, g, samples, k), bytesOf(samples, bits));
    }
  });

  test("PVRG-JPEG: RGB in three non-interleaved scans, 8 and 12 bits", () => {
    for (const bits of [8, 12]) {
      const g: Geometry = { rows: 21, columns: 35, samplesPerPixel: 3, bits, photometric: "RGB" };
      const samples = synthetic(35, 21, 3, bits, 3 + bits);
      const f = pvrg(`pvrg-rgb${bits}-n`, g, samples, 1, ["-n"]);
      expect(scanParams(codestreams(f)[0] ?? new Uint8Array(0))).toHaveLength(3);
      compare(f, bytesOf(samples, bits));
    }
  });

  test("restart intervals of whole lines: every predictor, grey and RGB, interleaved or not", () => {
    const g: Geometry = { rows: 19, columns: 29, samplesPerPixel: 1, bits: 12, photometric: "MONOCHROME2" };
    const samples = synthetic(29, 19, 1, 12, 11);
    for (let predictor = 1; predictor <= 7; predictor++)
      for (const lines of [1, 3]) {
        const f = ourEncoder(`rst-p${predictor}-l${lines}`, g, {
          samples,
          predictor,
          restartInterval: 29 * lines,
        });
        compare(f, bytesOf(samples, 12));
      }
    const c: Geometry = { rows: 17, columns: 23, samplesPerPixel: 3, bits: 16, photometric: "RGB" };
    const rgb = synthetic(23, 17, 3, 16, 5);
    for (const nonInterleaved of [false, true])
      for (const predictor of [1, 6]) {
        const f = ourEncoder(`rst-rgb-${nonInterleaved}-${predictor}`, c, {
          samples: rgb,
          predictor,
          restartInterval: 46,
          nonInterleaved,
          pointTransform: 0,
        });
        compare(f, bytesOf(rgb, 16));
      }
  });

  test("Huffman codes up to 16 bits with an all-ones code (accepted by DCMTK's 16-bit decoder)", () => {
    const g: Geometry = { rows: 40, columns: 50, samplesPerPixel: 1, bits: 16, photometric: "MONOCHROME2" };
    const samples = synthetic(50, 40, 1, 16, 13);
    const codeLengths = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 16];
    compare(ourEncoder("all-ones", g, { samples, predictor: 4, codeLengths }), bytesOf(samples, 16));
  });

  test("the transcoder decodes JPEG Lossless with it", () => {
    const src = source("10_ct_s16_jpegLL_P14sv6");
    const out = join(work, "transcoded.dcm");
    writeFileSync(out, transcodePart10(new Uint8Array(readFileSync(src)), TS.ExplicitVRLittleEndian).bytes);
    expect(firstDifference(nativePixels(out).data, native(ct()))).toBe(-1);
  });
});

describe("beyond dcmdjpeg", () => {
  test("restart intervals that end inside a line (IJG refuses them): the source samples", () => {
    const samples = synthetic(17, 13, 1, 16, 17);
    for (const restartInterval of [1, 5, 16, 40])
      for (const predictor of [1, 2, 7]) {
        const cs = encodeLosslessJpeg({
          width: 17,
          height: 13,
          components: 1,
          precision: 16,
          samples,
          predictor,
          restartInterval,
        });
        const img = decodeJpegLossless(cs);
        expect([restartInterval, predictor, firstDifference(img.pixels, bytesOf(samples, 16))]).toEqual([
          restartInterval,
          predictor,
          -1,
        ]);
      }
    const rgb = synthetic(17, 13, 3, 8, 19);
    const cs = encodeLosslessJpeg({
      width: 17,
      height: 13,
      components: 3,
      precision: 8,
      samples: rgb,
      predictor: 5,
      restartInterval: 7,
    });
    expect(firstDifference(decodeJpegLossless(cs).pixels, bytesOf(rgb, 8))).toBe(-1);
  });
});
