// Test images built from corpus files: a template's data set with its pixel module and Pixel Data
// replaced (native samples, or one encapsulated frame made by an encoder under test), and windows cut
// out of native images, for odd sizes.

import { readFileSync, writeFileSync } from "node:fs";
import {
  type Element,
  parsePart10,
  removeElement,
  setElement,
  stringElement,
  usElement,
} from "../../src/dicom/dataset-tree.ts";
import { writeDataSet } from "../../src/dicom/dataset-writer.ts";
import { buildFileMeta } from "../../src/dicom/part10.ts";
import { PIXEL_DATA } from "../../src/dicom/tags.ts";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { pixelInfo } from "../../src/transcode/transcode.ts";
import { nativePixels } from "./pixels.ts";

export interface Geometry {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bits: number;
  signed?: boolean;
  photometric: string;
}

/**
 * A Part-10 file at `out` from `template` with its pixel module and Pixel Data (native, or one frame
 * encoded in `ts`) replaced; window and pixel-range attributes, which no longer hold, are dropped.
 */
export function writeImage(
  template: string,
  out: string,
  g: Geometry,
  pixels: Uint8Array,
  ts?: string,
): string {
  const { meta, elements } = parsePart10(new Uint8Array(readFileSync(template)));
  const set = (tag: number, v: number) => setElement(elements, usElement(tag, v));
  set(0x00280002, g.samplesPerPixel);
  set(0x00280010, g.rows);
  set(0x00280011, g.columns);
  set(0x00280100, g.bits > 8 ? 16 : 8);
  set(0x00280101, g.bits);
  set(0x00280102, g.bits - 1);
  set(0x00280103, g.signed ? 1 : 0);
  setElement(elements, stringElement(0x00280004, "CS", g.photometric));
  if (g.samplesPerPixel > 1) set(0x00280006, 0);
  else removeElement(elements, 0x00280006);
  removeElement(elements, 0x00280008);
  for (const tag of [0x00281050, 0x00281051, 0x00280106, 0x00280107]) removeElement(elements, tag);
  const px: Element = ts
    ? { tag: PIXEL_DATA, vr: "OB", value: new Uint8Array(0), fragments: [new Uint8Array(0), pixels] }
    : { tag: PIXEL_DATA, vr: g.bits > 8 ? "OW" : "OB", value: pixels };
  setElement(elements, px);
  const head = buildFileMeta({
    sopClassUid: meta.mediaStorageSopClassUid ?? "",
    sopInstanceUid: meta.mediaStorageSopInstanceUid ?? "",
    transferSyntaxUid: ts ?? TS.ExplicitVRLittleEndian,
  });
  writeFileSync(out, Buffer.concat([head, writeDataSet(elements, true)]));
  return out;
}

/** A w x h window at (x0, y0) of a native image (colour-by-pixel), as a new native file at `out`. */
export function cropImage(src: string, out: string, x0: number, y0: number, w: number, h: number): string {
  const n = nativePixels(src);
  const bpp = n.samplesPerPixel * (n.bitsAllocated >>> 3);
  const window = new Uint8Array(w * h * bpp);
  for (let y = 0; y < h; y++)
    window.set(
      n.data.subarray(((y0 + y) * n.columns + x0) * bpp, ((y0 + y) * n.columns + x0 + w) * bpp),
      y * w * bpp,
    );
  const p = pixelInfo(parsePart10(new Uint8Array(readFileSync(src))).elements);
  const g: Geometry = {
    rows: h,
    columns: w,
    samplesPerPixel: n.samplesPerPixel,
    bits: p.bitsStored,
    signed: p.pixelRepresentation === 1,
    photometric: n.photometric,
  };
  return writeImage(src, out, g, window);
}
