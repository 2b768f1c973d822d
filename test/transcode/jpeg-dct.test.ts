// Our sequential DCT JPEG decoder (src/transcode/jpeg-dct.ts) against DCMTK's dcmdjpeg: codestreams made at
// test time by dcmcjpeg (8 and 12 bits, baseline and extended, 4:4:4 / 4:2:2 / 4:1:1, odd sizes, quality
// extremes, standard Huffman tables) and by PVRG-JPEG (restart intervals, 4:2:0, non-interleaved scans),
// each wrapped in a DICOM file for dcmdjpeg. Corrupt input must end in a CodecError, never a hang or crash.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { CodecError } from "../../src/transcode/codec-types.ts";
import { decodeFrame, loadCodecs } from "../../src/transcode/codecs.ts";
import { decodeJpegDct } from "../../src/transcode/jpeg-dct.ts";
import { transcodePart10 } from "../../src/transcode/transcode.ts";
import { checkTruncations, decodesOrRefuses, fuzzByteChanges } from "../helpers/codec-fuzz.ts";
import { repoRoot } from "../helpers/dcmtk.ts";
import { corpus } from "../helpers/fixtures.ts";
import { cropImage, type Geometry, writeImage } from "../helpers/images.ts";
import { codestreams, diff, type NativePixels, nativePixels, referenceDecode } from "../helpers/pixels.ts";
import { mustRun } from "../helpers/tools.ts";

let work = "";
const source = (name: string) => corpus().find((f) => f.includes(name)) ?? "";
const crop = (src: string, name: string, x0: number, y0: number, w: number, h: number) =>
  cropImage(src, join(work, name), x0, y0, w, h);

/** dcmcjpeg with `args` on a native file. */
function dcmcjpeg(src: string, name: string, args: string[]): string {
  const out = join(work, name);
  mustRun("dcmcjpeg", [...args, src, out]);
  return out;
}

/**
 * PVRG-JPEG on raw planes (8-bit bytes, or 12-bit big-endian words), wrapped as JPEG Extended; `sampling`
 * gives each plane's [h, v] factors.
 */
function pvrg(
  name: string,
  g: Geometry,
  planes: Uint8Array[],
  sampling: Array<[number, number]>,
  extra: string[],
): string {
  const args = ["-iw", String(g.columns), "-ih", String(g.rows), "-p", String(g.bits), ...extra];
  const jpg = join(work, `${name}.jpg`);
  args.push("-s", jpg);
  planes.forEach((p, i) => {
    const [h, v] = sampling[i] ?? [1, 1];
    const f = join(work, `${name}.c${i}.raw`);
    writeFileSync(f, p);
    args.push("-hf", String(h), "-vf", String(v), f);
  });
  const r = spawnSync("pvrg-jpeg", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`pvrg-jpeg ${args.join(" ")}: ${r.status}\n${r.stderr}`);
  const template = source("11_mr_u12_jpegExtended");
  return writeImage(
    template,
    join(work, `${name}.dcm`),
    g,
    new Uint8Array(readFileSync(jpg)),
    TS.JPEGExtended12Bit,
  );
}

/** Plane `c` of a native file's first frame, subsampled by (sx, sy) with edge replication, as PVRG reads it. */
function plane(n: NativePixels, c: number, sx: number, sy: number, bits: number): Uint8Array {
  const w = Math.ceil(n.columns / sx);
  const h = Math.ceil(n.rows / sy);
  const wide = n.bitsAllocated > 8;
  const src = wide ? new Uint16Array(n.data.slice().buffer) : n.data;
  const spp = n.samplesPerPixel;
  const out = new Uint8Array(w * h * (bits > 8 ? 2 : 1));
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let sum = 0;
      for (let dy = 0; dy < sy; dy++)
        for (let dx = 0; dx < sx; dx++) {
          const yy = Math.min(y * sy + dy, n.rows - 1);
          const xx = Math.min(x * sx + dx, n.columns - 1);
          sum += src[(yy * n.columns + xx) * spp + c] ?? 0;
        }
      const v = Math.round(sum / (sx * sy));
      if (bits > 8) {
        out[2 * (y * w + x)] = v >> 8;
        out[2 * (y * w + x) + 1] = v & 255;
      } else out[y * w + x] = v;
    }
  return out;
}

/** Our decode of a single-frame JPEG DICOM file, laid out like nativePixels() of dcmdjpeg's output. */
function ours(file: string, ref: NativePixels): NativePixels {
  const cs = codestreams(file)[0];
  if (!cs) throw new Error(`${file}: no frame`);
  const img = decodeJpegDct(cs, { bytesPerSample: ref.bitsAllocated > 8 ? 2 : 1 });
  expect([img.width, img.height, img.components]).toEqual([ref.columns, ref.rows, ref.samplesPerPixel]);
  return { ...ref, data: img.pixels };
}

const measured: string[] = [];

function compare(name: string, file: string): void {
  const ref = referenceDecode(file, TS.JPEGExtended12Bit, mkdtempSync(join(work, "ref-"))).pixels;
  const d = diff(ours(file, ref), ref);
  measured.push(`${name}: max ${d.max} mean ${d.mean.toFixed(4)}`);
  expect(d.max).toBeLessThanOrEqual(2);
  expect(d.mean).toBeLessThan(0.5);
}

beforeAll(async () => {
  corpus();
  work = mkdtempSync(join(repoRoot, "test", ".work", "jpeg-dct-"));
  await loadCodecs();
}, 120_000);

describe("decodes like dcmdjpeg", () => {
  const mr = () => source("02_mr_u12_explicitLE");
  const mono8 = () => source("03_sc_mono8_explicitLE");
  const rgb8 = () => source("04_sc_rgb8_explicitLE");
  const cases: Array<[string, () => string]> = [
    ["12-bit MR, dcmcjpeg +ee (corpus)", () => source("11_mr_u12_jpegExtended")],
    ["12-bit MR, +ee +q 100", () => dcmcjpeg(mr(), "mr-q100.dcm", ["+ee", "+q", "100"])],
    ["12-bit MR, +ee +q 5", () => dcmcjpeg(mr(), "mr-q5.dcm", ["+ee", "+q", "5"])],
    [
      "12-bit MR 77x61, +ee",
      () => dcmcjpeg(crop(mr(), "mr-odd.dcm", 90, 100, 77, 61), "mr-odd-ee.dcm", ["+ee"]),
    ],
    ["8-bit mono, +ee", () => dcmcjpeg(mono8(), "mono8-ee.dcm", ["+ee"])],
    ["8-bit mono, +ee +bt (12-bit)", () => dcmcjpeg(mono8(), "mono8-ee12.dcm", ["+ee", "+bt"])],
    ["8-bit mono, +eb -ho (standard tables)", () => dcmcjpeg(mono8(), "mono8-eb-std.dcm", ["+eb", "-ho"])],
    ["8-bit mono (corpus, img2dcm)", () => source("25_img2dcm_sc_jpeg")],
    ["8-bit RGB 4:2:2, +ee", () => dcmcjpeg(rgb8(), "rgb-ee.dcm", ["+ee"])],
    ["8-bit RGB 4:4:4, +eb +s4", () => dcmcjpeg(rgb8(), "rgb-444.dcm", ["+eb", "+s4"])],
    ["8-bit RGB 4:1:1, +eb +n1", () => dcmcjpeg(rgb8(), "rgb-411.dcm", ["+eb", "+n1"])],
    ["12-bit RGB 4:2:2, +ee +bt", () => dcmcjpeg(rgb8(), "rgb-ee12.dcm", ["+ee", "+bt"])],
    [
      "8-bit RGB 67x45 4:2:2, +ee",
      () => dcmcjpeg(crop(rgb8(), "rgb-odd.dcm", 150, 200, 67, 45), "rgb-odd-ee.dcm", ["+ee"]),
    ],
  ];
  for (const [name, make] of cases) test(name, () => compare(name, make()));

  test("PVRG-JPEG: restart intervals, 4:2:0 and 4:4:0, non-interleaved scans, 12-bit, odd sizes", () => {
    const m = nativePixels(crop(mr(), "mr-pvrg.dcm", 90, 100, 77, 61));
    const mono: Geometry = {
      rows: 61,
      columns: 77,
      samplesPerPixel: 1,
      bits: 12,
      photometric: "MONOCHROME2",
    };
    const y12 = [plane(m, 0, 1, 1, 12)];
    compare("PVRG 12-bit 77x61, restart every 5 MCUs", pvrg("p-mr-r5", mono, y12, [[1, 1]], ["-r", "5"]));
    compare("PVRG 12-bit 77x61, restart every MCU", pvrg("p-mr-r1", mono, y12, [[1, 1]], ["-r", "1"]));
    // Any three planes decode the same way: the RGB samples go in as Y, Cb and Cr, and dcmdjpeg converts
    // them as YBR_FULL_422 like we do. PVRG's own Huffman tables fail on subsampled planes: -z (Annex K).
    const c = nativePixels(crop(rgb8(), "rgb-pvrg.dcm", 150, 200, 67, 45));
    const col: Geometry = { rows: 45, columns: 67, samplesPerPixel: 3, bits: 8, photometric: "YBR_FULL_422" };
    const p420 = [plane(c, 0, 1, 1, 8), plane(c, 1, 2, 2, 8), plane(c, 2, 2, 2, 8)];
    const s420: Array<[number, number]> = [
      [2, 2],
      [1, 1],
      [1, 1],
    ];
    compare(
      "PVRG 8-bit 67x45 4:2:0, restart every 3 MCUs",
      pvrg("p-420-r3", col, p420, s420, ["-z", "-r", "3"]),
    );
    compare(
      "PVRG 8-bit 67x45 4:2:0, non-interleaved",
      pvrg("p-420-n", col, p420, s420, ["-z", "-n", "-r", "2"]),
    );
    const p440 = [plane(c, 0, 1, 1, 8), plane(c, 1, 1, 2, 8), plane(c, 2, 1, 2, 8)];
    const s440: Array<[number, number]> = [
      [1, 2],
      [1, 1],
      [1, 1],
    ];
    compare("PVRG 8-bit 67x45 4:4:0", pvrg("p-440", col, p440, s440, ["-z"]));
    // 12 bits: PVRG has no default tables for it, and its own fail on odd sizes and on interleaved scans
    // of different planes (dcmcjpeg +ee +bt above covers those).
    const c64 = nativePixels(crop(rgb8(), "rgb-pvrg64.dcm", 150, 200, 64, 48));
    const col12 = { ...col, rows: 48, columns: 64, bits: 12 };
    const w = (n: NativePixels, ch: number, sx: number, sy: number) => {
      const p = plane(n, ch, sx, sy, 8);
      const out = new Uint8Array(p.length * 2);
      for (let i = 0; i < p.length; i++) {
        const v = (p[i] ?? 0) * 16 + (i % 16);
        out[2 * i] = v >> 8;
        out[2 * i + 1] = v & 255;
      }
      return out;
    };
    const p12 = [w(c64, 0, 1, 1), w(c64, 1, 1, 1), w(c64, 2, 1, 1)];
    const s444: Array<[number, number]> = [
      [1, 1],
      [1, 1],
      [1, 1],
    ];
    compare(
      "PVRG 12-bit 64x48 4:4:4, non-interleaved, restart every 4 MCUs",
      pvrg("p-444-12", col12, p12, s444, ["-n", "-r", "4"]),
    );
  });

  test("the transcoder decodes JPEG Extended with it", () => {
    const src = source("11_mr_u12_jpegExtended");
    const out = join(work, "transcoded.dcm");
    writeFileSync(out, transcodePart10(new Uint8Array(readFileSync(src)), TS.ExplicitVRLittleEndian).bytes);
    const ref = referenceDecode(src, TS.JPEGExtended12Bit, mkdtempSync(join(work, "ref-"))).pixels;
    expect(diff(nativePixels(out), ref).max).toBe(0);
  });

  test("a 12-bit codestream labelled JPEG Baseline: libjpeg-turbo refuses it, we decode it", () => {
    const cs = codestreams(source("11_mr_u12_jpegExtended"))[0] ?? new Uint8Array(0);
    const p = {
      rows: 512,
      columns: 512,
      samplesPerPixel: 1,
      bitsAllocated: 16,
      bitsStored: 12,
      pixelRepresentation: 0,
      photometric: "MONOCHROME2",
    };
    const got = decodeFrame(TS.JPEGBaseline8Bit, cs, p).pixels;
    expect(Buffer.from(got).equals(Buffer.from(decodeJpegDct(cs).pixels))).toBe(true);
  });

  afterAll(() => console.log(measured.join("\n")));
});

describe("refuses what it does not decode", () => {
  test("progressive and lossless JPEG: CodecError naming the process", () => {
    const prog = codestreams(dcmcjpeg(source("03_sc_mono8_explicitLE"), "prog.dcm", ["+ep"]))[0];
    expect(() => decodeJpegDct(prog ?? new Uint8Array(0))).toThrow(
      /progressive DCT \(SOF2\) is not supported/,
    );
    const ll = codestreams(source("09_ct_s16_jpegLL_SV1"))[0];
    expect(() => decodeJpegDct(ll ?? new Uint8Array(0))).toThrow(/lossless \(SOF3\) is not supported/);
  });

  test("a frame header that disagrees with the data set", () => {
    const cs = codestreams(source("11_mr_u12_jpegExtended"))[0] ?? new Uint8Array(0);
    expect(() => decodeJpegDct(cs, { expect: { width: 512, height: 256, components: 1 } })).toThrow(
      CodecError,
    );
    expect(() => decodeJpegDct(cs, { bytesPerSample: 1 })).toThrow(/12-bit samples do not fit/);
  });
});

describe("corrupt input: CodecError, never a hang or another exception", () => {
  let small: Uint8Array[] = [];
  beforeAll(() => {
    const mr = crop(source("02_mr_u12_explicitLE"), "fuzz-mr.dcm", 200, 200, 40, 24);
    const rgb = crop(source("04_sc_rgb8_explicitLE"), "fuzz-rgb.dcm", 100, 100, 37, 21);
    const g: Geometry = { rows: 24, columns: 40, samplesPerPixel: 1, bits: 12, photometric: "MONOCHROME2" };
    const restarts = pvrg("fuzz-mr-r2", g, [plane(nativePixels(mr), 0, 1, 1, 12)], [[1, 1]], ["-r", "2"]);
    small = [
      codestreams(dcmcjpeg(mr, "fuzz-mr-ee.dcm", ["+ee"]))[0] ?? new Uint8Array(0),
      codestreams(dcmcjpeg(rgb, "fuzz-rgb-ee.dcm", ["+ee"]))[0] ?? new Uint8Array(0),
      codestreams(restarts)[0] ?? new Uint8Array(0),
    ];
  });

  /** Decodes, or throws a CodecError: anything else fails the property. */
  const decodes = (b: Uint8Array): boolean => decodesOrRefuses(decodeJpegDct, b);

  test("random bytes, with and without an SOI marker", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.boolean(), (b, soi) => {
        const data = soi ? Uint8Array.from([0xff, 0xd8, ...b]) : b;
        expect(decodes(data)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  test("every truncation before the end of the entropy-coded data", () => {
    // DCMTK and PVRG write nothing between the scan and EOI (and the fragment may have a pad byte)
    for (const cs of small) checkTruncations(decodeJpegDct, cs);
  });

  test("random byte changes decode to something or throw CodecError", () => {
    expect(small.length).toBe(3);
    fuzzByteChanges(decodeJpegDct, small, 1000);
  });
});
