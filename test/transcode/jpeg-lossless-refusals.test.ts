// What our lossless JPEG decoder (src/transcode/jpeg-lossless.ts) refuses: frame headers that disagree
// with the data set, samples that do not fit, DCT codestreams (which the codec registry decodes by what
// they are); and corrupt input, which must end in a CodecError, never a hang or another exception.

import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { parsePart10 } from "../../src/dicom/dataset-tree.ts";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { CodecError, type PixelInfo } from "../../src/transcode/codec-types.ts";
import { decodeFrame } from "../../src/transcode/codecs.ts";
import { frameMarker } from "../../src/transcode/jpeg-common.ts";
import { decodeJpegDct } from "../../src/transcode/jpeg-dct.ts";
import { decodeJpegLossless } from "../../src/transcode/jpeg-lossless.ts";
import { pixelInfo } from "../../src/transcode/transcode.ts";
import { checkTruncations, decodesOrRefuses, fuzzByteChanges } from "../helpers/codec-fuzz.ts";
import { repoRoot } from "../helpers/dcmtk.ts";
import { corpus } from "../helpers/fixtures.ts";
import { cropImage } from "../helpers/images.ts";
import { encodeLosslessJpeg, synthetic } from "../helpers/lossless-jpeg.ts";
import { codestreams } from "../helpers/pixels.ts";
import { mustRun } from "../helpers/tools.ts";

let work = "";
const source = (name: string) => corpus().find((f) => f.includes(name)) ?? "";

beforeAll(() => {
  corpus();
  work = mkdtempSync(join(repoRoot, "test", ".work", "jpeg-lossless-refusals-"));
}, 120_000);

/** A native corpus file cut to a small image and compressed by dcmcjpeg with `args`. */
function smallLossless(name: string, x0: number, y0: number, w: number, h: number, args: string[]): string {
  const cropped = cropImage(source(name), join(work, `${name}-crop.dcm`), x0, y0, w, h);
  const out = join(work, `${name}-${args.join("")}.dcm`);
  mustRun("dcmcjpeg", [...args, cropped, out]);
  return out;
}

describe("refuses what does not fit", () => {
  const p: PixelInfo = {
    rows: 512,
    columns: 512,
    samplesPerPixel: 1,
    bitsAllocated: 16,
    bitsStored: 16,
    pixelRepresentation: 1,
    photometric: "MONOCHROME2",
  };
  const cs = () => codestreams(source("09_ct_s16_jpegLL_SV1"))[0] ?? new Uint8Array(0);

  test("a frame header that disagrees with the data set", () => {
    expect(() => decodeFrame(TS.JPEGLosslessSV1, cs(), { ...p, rows: 256 })).toThrow(CodecError);
    expect(() => decodeFrame(TS.JPEGLosslessSV1, cs(), { ...p, samplesPerPixel: 3 })).toThrow(CodecError);
  });

  test("16-bit samples for Bits Allocated 8", () => {
    expect(() => decodeFrame(TS.JPEGLosslessSV1, cs(), { ...p, bitsAllocated: 8, bitsStored: 8 })).toThrow(
      /do not fit in 8 bits/,
    );
  });

  test("a DCT codestream: CodecError naming the process", () => {
    const dct = codestreams(source("11_mr_u12_jpegExtended"))[0] ?? new Uint8Array(0);
    expect(() => decodeJpegLossless(dct)).toThrow(/extended sequential DCT \(SOF1\) is not supported/);
  });
});

describe("corrupt input: CodecError, never a hang or another exception", () => {
  let small: Uint8Array[] = [];
  beforeAll(() => {
    small = [
      codestreams(smallLossless("01_ct_s16_explicitLE", 200, 200, 40, 24, ["+el", "+sv", "6"]))[0] ??
        new Uint8Array(0),
      codestreams(smallLossless("04_sc_rgb8_explicitLE", 100, 100, 37, 21, ["+e1"]))[0] ?? new Uint8Array(0),
      encodeLosslessJpeg({
        width: 23,
        height: 17,
        components: 1,
        precision: 16,
        samples: synthetic(23, 17, 1, 16, 23),
        predictor: 1,
        restartInterval: 23,
      }),
      encodeLosslessJpeg({
        width: 13,
        height: 11,
        components: 3,
        precision: 12,
        samples: synthetic(13, 11, 3, 12, 29),
        predictor: 7,
        restartInterval: 6,
        nonInterleaved: true,
      }),
    ];
  });

  /** Decodes, or throws a CodecError: anything else fails the property. */
  const decodes = (b: Uint8Array): boolean => decodesOrRefuses(decodeJpegLossless, b);

  test("random bytes, bare or after a lossless frame header", () => {
    const head = (small[0] ?? new Uint8Array(0)).subarray(0, 200);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.integer({ min: 0, max: 2 }), (b, kind) => {
        const data =
          kind === 0
            ? b
            : kind === 1
              ? Uint8Array.from([0xff, 0xd8, ...b])
              : Uint8Array.from([...head, ...b]);
        decodes(data);
      }),
      { numRuns: 500 },
    );
  });

  test("every truncation before the end of the entropy-coded data", () => {
    for (const cs of small) {
      const eoi = checkTruncations(decodeJpegLossless, cs);
      // without its EOI marker, the image is still whole
      expect(decodes(cs.subarray(0, eoi))).toBe(true);
    }
  });

  test("random byte changes decode to something or throw CodecError", () => {
    expect(small.length).toBe(4);
    fuzzByteChanges(decodeJpegLossless, small, 1500);
  });

  test("a header that claims more samples than the data could hold is refused before allocating", () => {
    const cs = (small[0] ?? new Uint8Array(0)).slice();
    const sof = cs.findIndex((b, i) => b === 0xff && cs[i + 1] === 0xc3);
    cs[sof + 5] = 0xff; // height 65535
    cs[sof + 6] = 0xff;
    cs[sof + 7] = 0xff; // width 65535
    cs[sof + 8] = 0xff;
    expect(() => decodeJpegLossless(cs)).toThrow(/too little data/);
  });
});

describe("a DCT stream labelled lossless", () => {
  test("is decoded by what the stream is (SOF0), as DCMTK does, not refused", () => {
    const f = source("12_sc_mono8_jpegBaseline");
    const frame = codestreams(f)[0] ?? new Uint8Array(0);
    const p = pixelInfo(parsePart10(new Uint8Array(readFileSync(f))).elements);
    const asLossless = decodeFrame(TS.JPEGLosslessSV1, frame, p);
    expect(asLossless.pixels).toEqual(decodeJpegDct(frame, { bytesPerSample: 1 }).pixels);
    expect(frameMarker(frame)).toBe(0xc0);
    expect(frameMarker(codestreams(source("09_ct_s16_jpegLL_SV1"))[0] ?? new Uint8Array(0))).toBe(0xc3);
    expect(frameMarker(new Uint8Array([0xff, 0xd8, 0xff, 0xd9]))).toBe(null);
  });
});
