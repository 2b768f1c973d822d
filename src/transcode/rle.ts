// DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header of up to 15 segment offsets, one PackBits segment
// per byte plane (most significant byte first, sample by sample), each row encoded on its own.

export interface RleGeometry {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
}

/** Decode one RLE frame to native pixels (interleaved samples, little endian). */
export function rleDecode(frame: Uint8Array, g: RleGeometry): Uint8Array {
  const bytesPer = g.bitsAllocated >>> 3;
  const pixels = g.rows * g.columns;
  const nSeg = g.samplesPerPixel * bytesPer;
  if (frame.length < 64) throw new Error("RLE frame shorter than its header");
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const count = view.getUint32(0, true);
  if (count !== nSeg) throw new Error(`RLE frame has ${count} segments, expected ${nSeg}`);
  const offsets: number[] = [];
  for (let i = 0; i < count; i++) offsets.push(view.getUint32(4 + 4 * i, true));
  const out = new Uint8Array(pixels * nSeg);
  const plane = new Uint8Array(pixels);
  for (let s = 0; s < count; s++) {
    const start = offsets[s] ?? 0;
    const end = s + 1 < count ? (offsets[s + 1] ?? frame.length) : frame.length;
    if (start < 64 || end > frame.length || end < start) throw new Error("RLE segment offsets out of range");
    const n = unpackBits(frame, start, end, plane);
    if (n < pixels) throw new Error(`RLE segment ${s} decodes to ${n} bytes, expected ${pixels}`);
    const sample = Math.floor(s / bytesPer);
    const byteInSample = bytesPer - 1 - (s % bytesPer);
    const stride = nSeg;
    let o = sample * bytesPer + byteInSample;
    for (let i = 0; i < pixels; i++, o += stride) out[o] = plane[i] ?? 0;
  }
  return out;
}

function unpackBits(src: Uint8Array, pos: number, end: number, dst: Uint8Array): number {
  let o = 0;
  const cap = dst.length;
  while (pos < end && o < cap) {
    const n = src[pos++] ?? 0;
    if (n < 128) {
      const len = Math.min(n + 1, cap - o, end - pos);
      dst.set(src.subarray(pos, pos + len), o);
      o += len;
      pos += n + 1;
    } else if (n > 128) {
      const len = Math.min(257 - n, cap - o);
      dst.fill(src[pos++] ?? 0, o, o + len);
      o += len;
    }
  }
  return o;
}

/** Encode native pixels (interleaved samples, little endian) as one RLE frame. */
export function rleEncode(pixels: Uint8Array, g: RleGeometry): Uint8Array {
  const bytesPer = g.bitsAllocated >>> 3;
  const nSeg = g.samplesPerPixel * bytesPer;
  if (nSeg > 15) throw new Error("RLE allows at most 15 segments");
  const n = g.rows * g.columns;
  const segments: Uint8Array[] = [];
  const row = new Uint8Array(g.columns);
  const buf = new Uint8Array(n + g.rows * (Math.ceil(g.columns / 128) + 1) + 16);
  for (let s = 0; s < nSeg; s++) {
    const sample = Math.floor(s / bytesPer);
    const byteInSample = bytesPer - 1 - (s % bytesPer);
    let len = 0;
    for (let r = 0; r < g.rows; r++) {
      let o = (r * g.columns * g.samplesPerPixel + sample) * bytesPer + byteInSample;
      const step = g.samplesPerPixel * bytesPer;
      for (let c = 0; c < g.columns; c++, o += step) row[c] = pixels[o] ?? 0;
      len = packBits(row, buf, len);
    }
    if (len & 1) buf[len++] = 0x80; // pad to even with a no-op
    segments.push(buf.slice(0, len));
  }
  let total = 64;
  for (const seg of segments) total += seg.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, nSeg, true);
  let off = 64;
  segments.forEach((seg, i) => {
    view.setUint32(4 + 4 * i, off, true);
    out.set(seg, off);
    off += seg.length;
  });
  return out;
}

function packBits(src: Uint8Array, dst: Uint8Array, o: number): number {
  const n = src.length;
  let i = 0;
  while (i < n) {
    // a run of at least 3 equal bytes becomes a replicate run
    let run = 1;
    while (i + run < n && run < 128 && src[i + run] === src[i]) run++;
    if (run >= 3 || (run === 2 && i + run === n)) {
      dst[o++] = 257 - run;
      dst[o++] = src[i] ?? 0;
      i += run;
      continue;
    }
    // literal until the next run of 3 (or 128 bytes)
    const start = i;
    while (i < n && i - start < 128) {
      if (i + 2 < n && src[i] === src[i + 1] && src[i] === src[i + 2]) break;
      i++;
    }
    const len = i - start;
    dst[o++] = len - 1;
    dst.set(src.subarray(start, i), o);
    o += len;
  }
  return o;
}
