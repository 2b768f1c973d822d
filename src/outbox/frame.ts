// Framing of outbox records on disk (segments and export bundles): a 12-byte header, then the payload.
//
//   magic   4 bytes  FF 4F 42 58 ("\xFFOBX"; 0xFF never occurs in UTF-8, so never inside a JSON payload)
//   length  u32 LE   payload bytes (at most MAX_PAYLOAD)
//   crc     u32 LE   CRC-32 (ISO-HDLC, as zlib) of the payload
//
// Parsing is pure: bytes in, valid frames and the byte ranges that are not valid frames out. After a bad
// frame the parser resynchronises on the next magic that starts a frame with a good checksum.

import { crc32 } from "node:zlib";

export const HEADER = 12;
export const MAX_PAYLOAD = 1024 * 1024;
const M0 = 0xff;
const M1 = 0x4f;
const M2 = 0x42;
const M3 = 0x58;

export function encodeFrame(payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_PAYLOAD) throw new Error(`outbox record of ${payload.length} bytes is too large`);
  const out = new Uint8Array(HEADER + payload.length);
  const dv = new DataView(out.buffer);
  out[0] = M0;
  out[1] = M1;
  out[2] = M2;
  out[3] = M3;
  dv.setUint32(4, payload.length, true);
  dv.setUint32(8, crc32(payload), true);
  out.set(payload, HEADER);
  return out;
}

export interface Frame {
  /** Offset of the frame's header in the parsed buffer (plus the base given to parseFrames). */
  offset: number;
  /** Offset just after the frame. */
  end: number;
  payload: Uint8Array;
}

export interface BadRange {
  offset: number;
  length: number;
}

export interface Parsed {
  frames: Frame[];
  bad: BadRange[];
  /** Bytes of the buffer accounted for (frames and bad ranges); the rest needs more data. */
  consumed: number;
}

function magicAt(buf: Uint8Array, p: number): boolean {
  return buf[p] === M0 && buf[p + 1] === M1 && buf[p + 2] === M2 && buf[p + 3] === M3;
}

type Probe = "frame" | "short" | "bad";

/** Is there a frame at p: complete and valid, cut off by the end of the buffer, or not a frame? */
function probe(buf: Uint8Array, p: number): Probe {
  if (buf.length - p < HEADER) return magicPrefix(buf, p) ? "short" : "bad";
  if (!magicAt(buf, p)) return "bad";
  const dv = new DataView(buf.buffer, buf.byteOffset + p, HEADER);
  const len = dv.getUint32(4, true);
  if (len > MAX_PAYLOAD) return "bad";
  if (p + HEADER + len > buf.length) return "short";
  return crc32(buf.subarray(p + HEADER, p + HEADER + len)) === dv.getUint32(8, true) ? "frame" : "bad";
}

function magicPrefix(buf: Uint8Array, p: number): boolean {
  const m = [M0, M1, M2, M3];
  for (let i = 0; i < 4 && p + i < buf.length; i++) if (buf[p + i] !== m[i]) return false;
  return true;
}

/**
 * Split `buf` into frames and bad ranges. With `final`, the buffer ends where the data ends (a segment's
 * last bytes): a frame cut off there is bad (a torn tail). Without it, parsing stops before a frame that
 * may continue in the next read. Offsets are reported plus `base`.
 */
export function parseFrames(buf: Uint8Array, base = 0, final = true): Parsed {
  const frames: Frame[] = [];
  const bad: BadRange[] = [];
  let p = 0;
  while (p < buf.length) {
    const kind = probe(buf, p);
    if (kind === "frame") {
      const len = new DataView(buf.buffer, buf.byteOffset + p + 4, 4).getUint32(0, true);
      frames.push({
        offset: base + p,
        end: base + p + HEADER + len,
        payload: buf.subarray(p + HEADER, p + HEADER + len),
      });
      p += HEADER + len;
      continue;
    }
    if (kind === "short" && !final) break;
    // Not a frame here: skip to the next position where one starts (or may start, in the next read).
    let q = p + 1;
    let stop = false;
    for (; q < buf.length; q++) {
      if (buf[q] !== M0) continue;
      const k = probe(buf, q);
      if (k === "frame") break;
      if (k === "short" && !final) {
        stop = true;
        break;
      }
    }
    bad.push({ offset: base + p, length: q - p });
    p = q;
    if (stop) break;
  }
  return { frames, bad, consumed: p };
}
