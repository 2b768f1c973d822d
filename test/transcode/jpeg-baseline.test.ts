// JPEG Baseline as transcode target (lossy): what DCMTK makes of our streams (dcmdjpeg decodes them, the
// pixels stay near the source, dciodvfy finds nothing new), the new instance PS3.3 C.7.6.1.1.5 asks for
// (UID, lossy attributes, derivation), what is refused (more than 8 bits, signed, palette), and the
// name-based UID it rests on.

import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type Element,
  find,
  getString,
  getUs,
  parsePart10,
  setElement,
  stringElement,
} from "../../src/dicom/dataset-tree.ts";
import { writeDataSet } from "../../src/dicom/dataset-writer.ts";
import { buildFileMeta } from "../../src/dicom/part10.ts";
import { PIXEL_DATA } from "../../src/dicom/tags.ts";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { isValidUid, nameBasedUid, uuidToUid } from "../../src/dicom/uid.ts";
import { loadCodecs } from "../../src/transcode/codecs.ts";
import { derivedUid } from "../../src/transcode/derived.ts";
import { baselineSampling, JPEG_BASELINE_PROFILE } from "../../src/transcode/jpeg-baseline.ts";
import { transcodePart10 } from "../../src/transcode/transcode.ts";
import { repoRoot } from "../helpers/dcmtk.ts";
import { corpus } from "../helpers/fixtures.ts";
import { diff, nativePixels } from "../helpers/pixels.ts";
import { dciodvfyErrors, tool } from "../helpers/tools.ts";

const work = () => mkdtempSync(join(repoRoot, "test", ".work", "jpegb-"));
const source = (name: string) => corpus().find((f) => f.includes(name)) ?? "";

/** A corpus file with elements changed, written as Explicit VR Little Endian. */
function edited(src: string, out: string, edit: (els: Element[]) => void): string {
  const { meta, elements } = parsePart10(new Uint8Array(readFileSync(src)));
  edit(elements);
  const head = buildFileMeta({
    sopClassUid: meta.mediaStorageSopClassUid ?? "",
    sopInstanceUid: meta.mediaStorageSopInstanceUid ?? "",
    transferSyntaxUid: TS.ExplicitVRLittleEndian,
  });
  writeFileSync(out, Buffer.concat([head, writeDataSet(elements, true)]));
  return out;
}

const T = {
  ImageType: 0x00080008,
  SopClassUid: 0x00080016,
  SopInstanceUid: 0x00080018,
  DerivationDescription: 0x00082111,
  SourceImageSequence: 0x00082112,
  DerivationCodeSequence: 0x00089215,
  Photometric: 0x00280004,
  BitsAllocated: 0x00280100,
  BitsStored: 0x00280101,
  HighBit: 0x00280102,
  Lossy: 0x00282110,
  Ratio: 0x00282112,
  Method: 0x00282114,
  PurposeOfReference: 0x0040a170,
};

beforeAll(async () => {
  corpus();
  await loadCodecs();
}, 120_000);

describe("8-bit sources to JPEG Baseline", () => {
  // [corpus file, the native original its pixels come from, largest and mean sample error allowed].
  // Colour errors peak where colours change sharply within two pixels: 4:2:2 keeps one chroma pair per
  // two pixels (DCMTK's own quality-90 4:2:2 of the same image: 77). Measured: mono 7 / 0.31, colour
  // 58 / 0.65, the YBR_FULL source 66 / 0.70 against its RGB original (one lossy JPEG step before).
  const cases: Array<[string, string, number, number]> = [
    ["03_sc_mono8_explicitLE", "03_sc_mono8_explicitLE", 12, 0.5],
    ["05_mf8_30fr_explicitLE", "05_mf8_30fr_explicitLE", 12, 0.5],
    ["04_sc_rgb8_explicitLE", "04_sc_rgb8_explicitLE", 70, 1],
    ["14_sc_ybrfull8_explicitLE", "04_sc_rgb8_explicitLE", 70, 1.2],
    ["18_sc_rgb8_RLE", "04_sc_rgb8_explicitLE", 70, 1],
    ["22_sc_rgb8_j2k_gdcm", "04_sc_rgb8_explicitLE", 70, 1],
  ];
  for (const [name, original, maxErr, meanErr] of cases) {
    test(`${name}: a new derived instance DCMTK decodes to pixels near the source`, () => {
      const src = source(name);
      const dir = work();
      const out = join(dir, "lossy.dcm");
      const input = new Uint8Array(readFileSync(src));
      const r = transcodePart10(input, TS.JPEGBaseline8Bit);
      writeFileSync(out, r.bytes);
      const before = parsePart10(input).elements;
      const { meta, elements: els } = parsePart10(r.bytes);
      const sourceUid = getString(before, T.SopInstanceUid) ?? "";

      expect(meta.transferSyntaxUid).toBe(TS.JPEGBaseline8Bit);
      expect(r.sopInstanceUid).not.toBe(sourceUid);
      expect(r.sopInstanceUid).toStartWith("2.25.");
      expect(isValidUid(r.sopInstanceUid, { strict: true })).toBe(true);
      expect(meta.mediaStorageSopInstanceUid).toBe(r.sopInstanceUid);
      expect(getString(els, T.SopInstanceUid)).toBe(r.sopInstanceUid);
      // the same source again: the same derived instance
      expect(transcodePart10(input, TS.JPEGBaseline8Bit).sopInstanceUid).toBe(r.sopInstanceUid);

      // 14_ is a DCMTK JPEG decoded again: lossy already, its values come first
      const wasLossy = getString(before, T.Lossy) === "01";
      const values = (tag: number) => getString(els, tag)?.split("\\") ?? [];
      expect(getString(els, T.Lossy)).toBe("01");
      expect(values(T.Ratio).length).toBe(wasLossy ? 2 : 1);
      expect(Number(values(T.Ratio).at(-1))).toBeGreaterThan(2);
      expect(values(T.Method).at(-1)).toBe("ISO_10918_1");
      expect(getString(els, T.DerivationDescription)).toMatch(/JPEG baseline, quality 90, compression ratio/);
      expect(getString(els, T.ImageType)?.split("\\")[0]).toBe("DERIVED");
      // created today (local date), HHMMSS
      const today = new Date();
      const date = `${today.getFullYear()}${String(today.getMonth() + 1).padStart(2, "0")}${String(today.getDate()).padStart(2, "0")}`;
      expect(getString(els, 0x00080012)).toBe(date);
      expect(getString(els, 0x00080013)).toMatch(/^\d{6}$/);
      expect(getString(els, T.ImageType)?.split("\\").slice(1)).toEqual(
        getString(before, T.ImageType)?.split("\\").slice(1) ?? [],
      );
      const code = find(els, T.DerivationCodeSequence)?.items?.[0] ?? [];
      expect([0x00080100, 0x00080102, 0x00080104].map((t) => getString(code, t))).toEqual([
        "113040",
        "DCM",
        "Lossy Compression",
      ]);
      const ref = find(els, T.SourceImageSequence)?.items ?? [];
      expect(ref.length).toBe(1);
      expect(getString(ref[0] ?? [], 0x00081150)).toBe(getString(before, T.SopClassUid));
      expect(getString(ref[0] ?? [], 0x00081155)).toBe(sourceUid);
      const purpose = find(ref[0] ?? [], T.PurposeOfReference)?.items?.[0] ?? [];
      expect(getString(purpose, 0x00080100)).toBe(wasLossy ? undefined : "121320");
      expect([T.BitsAllocated, T.BitsStored, T.HighBit].map((t) => getUs(els, t))).toEqual([8, 8, 7]);

      const streams = find(els, PIXEL_DATA)?.fragments?.slice(1) ?? [];
      const colour = nativePixels(source(original)).samplesPerPixel === 3;
      for (const s of streams) {
        // SOF0: baseline; luminance 2x1 against chroma 1x1 is 4:2:2, what YBR_FULL_422 names
        expect(baselineSampling(s).map((c) => `${c.h}x${c.v}`)).toEqual(
          colour ? ["2x1", "1x1", "1x1"] : ["1x1"],
        );
      }
      expect(getString(els, T.Photometric)).toBe(colour ? "YBR_FULL_422" : "MONOCHROME2");

      const decoded = join(dir, "decoded.dcm");
      expect(tool("dcmdjpeg", [out, decoded]).code).toBe(0);
      const d = diff(nativePixels(decoded), nativePixels(source(original)));
      expect(d.max).toBeLessThanOrEqual(maxErr);
      expect(d.mean).toBeLessThan(meanErr);

      // dciodvfy cannot read every source syntax: the native original's errors count as the source's too
      const known = new Set([...dciodvfyErrors(src), ...dciodvfyErrors(source(original))]);
      expect(dciodvfyErrors(out).filter((e) => !known.has(e))).toEqual([]);
    }, 60_000);
  }
});

test("a source already lossy: ratio and method appended, description kept, no 'uncompressed predecessor'", () => {
  const dir = work();
  const src = edited(source("03_sc_mono8_explicitLE"), join(dir, "was-lossy.dcm"), (els) => {
    setElement(els, stringElement(T.Lossy, "CS", "01"));
    setElement(els, stringElement(T.Ratio, "DS", "2.5"));
    setElement(els, stringElement(T.Method, "CS", "ISO_14495_1"));
    setElement(els, stringElement(T.DerivationDescription, "ST", "near-lossless JPEG-LS by the modality"));
  });
  const r = transcodePart10(new Uint8Array(readFileSync(src)), TS.JPEGBaseline8Bit);
  const { elements: els } = parsePart10(r.bytes);
  expect(getString(els, T.Ratio)).toMatch(/^2\.5\\[0-9.]+$/);
  expect(getString(els, T.Method)).toBe("ISO_14495_1\\ISO_10918_1");
  expect(getString(els, T.DerivationDescription)).toMatch(
    /^near-lossless JPEG-LS by the modality; Lossy compression with JPEG baseline/,
  );
  const ref = find(els, T.SourceImageSequence)?.items?.[0] ?? [];
  expect(find(ref, T.PurposeOfReference)).toBeUndefined();
});

describe("refused, with the reason (the service then keeps the instance as received)", () => {
  test("12-bit and 16-bit samples", () => {
    for (const [name, bits] of [
      ["02_mr_u12_explicitLE", 12],
      ["01_ct_s16_explicitLE", 16],
      ["11_mr_u12_jpegExtended", 12],
    ] as const) {
      expect(() => transcodePart10(new Uint8Array(readFileSync(source(name))), TS.JPEGBaseline8Bit)).toThrow(
        `Bits Stored is ${bits}`,
      );
    }
  });

  test("signed 8-bit samples and palette indices", () => {
    const dir = work();
    const signed = edited(source("03_sc_mono8_explicitLE"), join(dir, "s8.dcm"), (els) =>
      setElement(els, { tag: 0x00280103, vr: "US", value: Uint8Array.of(1, 0) }),
    );
    const palette = edited(source("03_sc_mono8_explicitLE"), join(dir, "pal.dcm"), (els) =>
      setElement(els, stringElement(T.Photometric, "CS", "PALETTE COLOR")),
    );
    expect(() => transcodePart10(new Uint8Array(readFileSync(signed)), TS.JPEGBaseline8Bit)).toThrow(
      /no signed samples/,
    );
    expect(() => transcodePart10(new Uint8Array(readFileSync(palette)), TS.JPEGBaseline8Bit)).toThrow(
      /PALETTE COLOR cannot be coded/,
    );
  });
});

describe("derived UIDs", () => {
  test("name-based UID: RFC 9562's version 5 UUID (its DNS example), as a 2.25 UID", () => {
    expect(nameBasedUid("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com")).toBe(
      uuidToUid("2ed6657d-e927-568b-95e1-2665a8aea6a2"),
    );
  });

  test("one per source and encoder profile; the profile names the installed encoder version", () => {
    const step = { target: TS.JPEGBaseline8Bit, profile: JPEG_BASELINE_PROFILE };
    expect(derivedUid("1.2.3", step)).toBe(derivedUid("1.2.3", step));
    expect(derivedUid("1.2.3", step)).not.toBe(derivedUid("1.2.4", step));
    expect(derivedUid("1.2.3", step)).not.toBe(derivedUid("1.2.3", { ...step, profile: "other" }));
    const pkg = JSON.parse(
      readFileSync(join(repoRoot, "node_modules", "@jsquash", "jpeg", "package.json"), "utf8"),
    ) as { version: string };
    expect(JPEG_BASELINE_PROFILE).toContain(`@jsquash/jpeg ${pkg.version} `);
  });
});
