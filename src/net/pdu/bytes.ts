// Byte-level primitives shared by the PDU codec and the streaming reader.
// Everything on the wire is Big Endian (PS3.8 9.3.1); strings are single-byte characters.

import { trimmedLatin1 } from "../../util/bytes.ts";

/** Reads a big-endian uint16 at `o` (caller has checked bounds). */
export function readU16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

/** Reads a big-endian uint32 at `o` (caller has checked bounds). */
export function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Writes a big-endian uint32 at `o`. */
export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** Writes `s` one byte per character at `o`; returns the offset after it. Throws RangeError past U+00FF. */
export function writeLatin1(b: Uint8Array, o: number, s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff)
      throw new RangeError(`character U+${c.toString(16).padStart(4, "0")} cannot be encoded in a PDU`);
    b[o + i] = c;
  }
  return o + n;
}

/** A UID (or other string field) without its trailing NUL/space padding. */
export function readUid(b: Uint8Array, start: number, end: number): string {
  return trimmedLatin1(b, start, end, false);
}

/** An AE title field without leading spaces and trailing space/NUL padding. */
export function readAeTitle(b: Uint8Array, start: number, end: number): string {
  return trimmedLatin1(b, start, end, true);
}

/** Throws RangeError unless `v` is an integer in [0, max]. */
export function checkUint(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max)
    throw new RangeError(`${name} ${v} is not an integer in 0..${max}`);
}
