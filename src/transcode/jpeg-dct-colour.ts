// The last stage of the sequential DCT decoder: the output image from the component planes, as IJG 6b
// makes it (jdsample.c, jdcolor.c): "fancy" (triangle) upsampling of 2:1 chroma and replication otherwise,
// then YCbCr to RGB with IJG's fixed-point tables, unless the markers say the components are RGB.

import { CodecError } from "./codec-types.ts";
import type { JpegDecodeOptions, JpegImage } from "./jpeg-common.ts";
import type { Component, Frame } from "./jpeg-dct-frame.ts";

/** What the codestream's APPn markers say about its colour space. */
export interface ColourMarkers {
  /** A JFIF APP0 marker: the components are YCbCr. */
  jfif: boolean;
  /** The transform flag of an Adobe APP14 marker (0: none, RGB), -1 without one. */
  adobeTransform: number;
}

/** The decoded frame's samples, interleaved, one or two bytes each (little endian); colour as RGB. */
export function dctImage(
  f: Frame,
  markers: ColourMarkers,
  bytesPerSample: JpegDecodeOptions["bytesPerSample"],
): JpegImage {
  const { width, height, precision } = f;
  const n = f.comps.length;
  const bytes = bytesPerSample ?? (precision > 8 ? 2 : 1);
  if (bytes === 1 && precision > 8)
    throw new CodecError(`JPEG: ${precision}-bit samples do not fit in 8 bits`);
  const out = new Uint8Array(width * height * n * bytes);
  const dst: Uint8Array | Uint16Array =
    bytes === 1 ? out : new Uint16Array(out.buffer, 0, width * height * n);
  const rows = f.comps.map((c) => new Uint16Array(c.h === f.hmax && c.v === f.vmax ? 0 : width + 8));
  const line = (ci: number, y: number): Uint16Array => {
    const c = f.comps[ci] as Component;
    return upsampledRow(c, f, y, rows[ci] as Uint16Array);
  };
  if (n === 1) {
    for (let y = 0; y < height; y++) dst.set(line(0, y).subarray(0, width), y * width);
  } else {
    // IJG's guess of the colour space (jdapimin.c), as libjpeg-turbo decodes JPEG Baseline for us.
    const ids = f.comps.map((c) => c.id).join(",");
    const rgb = markers.jfif
      ? false
      : markers.adobeTransform >= 0
        ? markers.adobeTransform === 0
        : ids === "82,71,66";
    const tables = rgb ? null : yccTables(precision);
    const max = (1 << precision) - 1;
    for (let y = 0; y < height; y++) {
      const l0 = line(0, y);
      const l1 = line(1, y);
      const l2 = line(2, y);
      let o = y * width * 3;
      if (!tables)
        for (let x = 0; x < width; x++, o += 3) {
          dst[o] = l0[x] ?? 0;
          dst[o + 1] = l1[x] ?? 0;
          dst[o + 2] = l2[x] ?? 0;
        }
      else {
        const { crR, cbB, crG, cbG } = tables;
        for (let x = 0; x < width; x++, o += 3) {
          const yy = l0[x] ?? 0;
          const cb = l1[x] ?? 0;
          const cr = l2[x] ?? 0;
          const r = yy + (crR[cr] ?? 0);
          const g = yy + (((cbG[cb] ?? 0) + (crG[cr] ?? 0)) >> 16);
          const b = yy + (cbB[cb] ?? 0);
          dst[o] = Math.min(Math.max(r, 0), max);
          dst[o + 1] = Math.min(Math.max(g, 0), max);
          dst[o + 2] = Math.min(Math.max(b, 0), max);
        }
      }
    }
  }
  return { width, height, components: n, precision, pixels: out };
}

const yccCache = new Map<number, { crR: Int32Array; cbB: Int32Array; crG: Int32Array; cbG: Int32Array }>();

/** IJG's YCbCr->RGB tables (jdcolor.c, 16-bit fixed point). */
function yccTables(precision: number): {
  crR: Int32Array;
  cbB: Int32Array;
  crG: Int32Array;
  cbG: Int32Array;
} {
  let t = yccCache.get(precision);
  if (t) return t;
  const n = 1 << precision;
  const center = n >> 1;
  const fix = (x: number) => Math.floor(x * 65536 + 0.5);
  t = { crR: new Int32Array(n), cbB: new Int32Array(n), crG: new Int32Array(n), cbG: new Int32Array(n) };
  for (let i = 0; i < n; i++) {
    const x = i - center;
    t.crR[i] = (fix(1.402) * x + 32768) >> 16;
    t.cbB[i] = (fix(1.772) * x + 32768) >> 16;
    t.crG[i] = -fix(0.71414) * x;
    t.cbG[i] = -fix(0.34414) * x + 32768;
  }
  yccCache.set(precision, t);
  return t;
}

/**
 * Row `y` of the output image for component `c`: its own plane row when full size, else upsampled into
 * `buf` like IJG 6b (jdsample.c): triangle filters for 2:1 horizontally (and vertically), replication for
 * other ratios and for components at most 2 samples wide; edges repeat the last real sample and line.
 */
function upsampledRow(c: Component, f: Frame, y: number, buf: Uint16Array): Uint16Array {
  const stride = c.blocksWide * 8;
  const hr = f.hmax / c.h;
  const vr = f.vmax / c.v;
  const plane = c.plane;
  if (hr === 1 && vr === 1) return plane.subarray(y * stride, y * stride + stride);
  const w = c.width;
  const fancy = hr === 2 && (vr === 1 || vr === 2) && w > 2;
  if (!fancy) {
    const row = ((y / vr) | 0) * stride;
    for (let x = 0, o = 0; x < w; x++) {
      const v = plane[row + x] ?? 0;
      for (let k = 0; k < hr; k++) buf[o++] = v;
    }
    return buf;
  }
  if (vr === 1) {
    const row = y * stride;
    for (let x = 0; x < w; x++) {
      const v3 = (plane[row + x] ?? 0) * 3;
      const left = plane[row + (x > 0 ? x - 1 : 0)] ?? 0;
      const right = plane[row + (x < w - 1 ? x + 1 : x)] ?? 0;
      buf[2 * x] = (v3 + left + 1) >> 2;
      buf[2 * x + 1] = (v3 + right + 2) >> 2;
    }
    return buf;
  }
  const r = y >> 1;
  const other = y & 1 ? Math.min(r + 1, c.height - 1) : Math.max(r - 1, 0);
  const near = r * stride;
  const far = other * stride;
  const col = (x: number) => (plane[near + x] ?? 0) * 3 + (plane[far + x] ?? 0);
  let last = col(0);
  let cur = last;
  for (let x = 0; x < w; x++) {
    const next = x < w - 1 ? col(x + 1) : cur;
    buf[2 * x] = (cur * 3 + last + 8) >> 4;
    buf[2 * x + 1] = (cur * 3 + next + 7) >> 4;
    last = cur;
    cur = next;
  }
  return buf;
}
