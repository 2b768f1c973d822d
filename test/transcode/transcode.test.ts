// The transcoder without the network: lossless targets round-trip through the native tools (DCMTK, GDCM,
// OpenJPH), HTJ2K decodes like ojph_expand, RLE by our own code, and the worker pool's time limit and
// recovery.

import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { loadCodecs } from "../../src/transcode/codecs.ts";
import { TranscodePool } from "../../src/transcode/pool.ts";
import { rleDecode, rleEncode } from "../../src/transcode/rle.ts";
import { transcodePart10 } from "../../src/transcode/transcode.ts";
import { repoRoot } from "../helpers/dcmtk.ts";
import { corpus } from "../helpers/fixtures.ts";
import { diff, nativePixels, referenceDecode } from "../helpers/pixels.ts";

const work = () => mkdtempSync(join(repoRoot, "test", ".work", "tc-"));
const source = (name: string) => corpus().find((f) => f.includes(name)) ?? "";

beforeAll(async () => {
  corpus();
  await loadCodecs();
}, 120_000);

describe("lossless targets round-trip through the native decoders", () => {
  const targets = [
    TS.RLELossless,
    TS.JPEGLSLossless,
    TS.JPEG2000Lossless,
    TS.HTJ2KLossless,
    TS.HTJ2KLosslessRPCL,
    TS.HTJ2K,
    TS.ImplicitVRLittleEndian,
  ];
  for (const name of ["01_ct_s16", "02_mr_u12", "04_sc_rgb8", "05_mf8_30fr"]) {
    for (const ts of targets) {
      test(`${name} -> ${ts}`, () => {
        const src = source(`${name}_explicitLE`);
        const dir = work();
        const out = join(dir, "enc.dcm");
        const r = transcodePart10(new Uint8Array(readFileSync(src)), ts);
        writeFileSync(out, r.bytes);
        const orig = nativePixels(src);
        // ojph_expand writes PGM/PPM, which cannot hold signed samples: signed HTJ2K is checked by decoding
        // it back ourselves (OpenJPH's WASM build).
        const signedHt = ts.startsWith("1.2.840.10008.1.2.4.20") && name.includes("s16");
        if (signedHt) {
          const back = join(dir, "back.dcm");
          writeFileSync(back, transcodePart10(r.bytes, TS.ExplicitVRLittleEndian).bytes);
          expect(diff(nativePixels(back), orig).max).toBe(0);
          return;
        }
        const ref = referenceDecode(out, ts, dir).pixels;
        expect(diff(ref, orig).max).toBe(0);
      });
    }
  }
});

test("HTJ2K source decodes as ojph_expand does", () => {
  const src = source("26_mr_u16_HTJ2K");
  const dir = work();
  const out = join(dir, "out.dcm");
  writeFileSync(out, transcodePart10(new Uint8Array(readFileSync(src)), TS.ExplicitVRLittleEndian).bytes);
  const ref = referenceDecode(src, TS.HTJ2KLossless, dir).pixels;
  expect(diff(nativePixels(out), ref).max).toBe(0);
});

test("RLE: own encoder and decoder are inverse, runs and literals, odd sizes", () => {
  const g = { rows: 7, columns: 301, samplesPerPixel: 3, bitsAllocated: 16 };
  const px = new Uint8Array(g.rows * g.columns * 3 * 2);
  for (let i = 0; i < px.length; i++) px[i] = i % 97 < 40 ? 5 : (i * 31) & 0xff;
  expect(Buffer.from(rleDecode(rleEncode(px, g), g)).equals(Buffer.from(px))).toBe(true);
});

describe("worker pool", () => {
  test("a failing job is reported; a job over its time limit fails; the pool recovers and runs the next", async () => {
    const pool = new TranscodePool(1);
    const dir = work();
    const src = source("20_ct_s16_j2k_lossless");
    const job = (input: string, out: string) => ({
      input,
      output: join(dir, out),
      target: TS.ExplicitVRLittleEndian,
      fsync: false,
    });
    await expect(pool.run(job(join(dir, "missing.dcm"), "c.dcm"), 60_000)).rejects.toThrow(
      /ENOENT|no such file/,
    );
    await expect(pool.run(job(src, "a.dcm"), 1)).rejects.toThrow(/time limit/);
    const ok = await pool.run(job(src, "b.dcm"), 60_000);
    expect(ok.frames).toBe(1);
    expect(pool.restarts).toBe(1);
    await pool.close();
  }, 60_000);
});
