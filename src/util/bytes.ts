/** The parts one after another in one new buffer (the only part itself when there is just one). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1 && parts[0]) return parts[0];
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Buffer's own Latin-1 decoder (Bun and Node), applicable to any Uint8Array; absent elsewhere. */
const nativeLatin1 = (
  Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string }
).latin1Slice;

/**
 * bytes[start, end) as ISO 8859-1 code points, one character per byte, so any byte sequence survives a
 * decode/encode round trip. Not TextDecoder("latin1"): WHATWG maps that label to windows-1252.
 */
export function latin1(bytes: Uint8Array, start = 0, end = bytes.length): string {
  // Native: several times faster than the apply below on UIDs, and it runs several times per instance
  // (command set, file meta, attributes).
  if (nativeLatin1 !== undefined) return nativeLatin1.call(bytes, start, end);
  // One call per 8 KiB instead of a string built byte by byte (apply takes a bounded argument count).
  let out = "";
  for (let i = start; i < end; i += 8192) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + 8192)) as unknown as number[]);
  }
  return out;
}

/**
 * A DICOM text value without its padding: trailing NULs and spaces and, with `leading`, leading spaces
 * (UIDs keep theirs: a leading space there is an error the caller should see).
 */
export function trimmedLatin1(bytes: Uint8Array, start: number, end: number, leading: boolean): string {
  let s = start;
  let e = end;
  while (e > s && (bytes[e - 1] === 0x00 || bytes[e - 1] === 0x20)) e--;
  if (leading) while (s < e && bytes[s] === 0x20) s++;
  return latin1(bytes, s, e);
}

/**
 * A copy of `b` in memory of its own. Not `b.slice()`: on a Buffer (what sockets deliver) that is a
 * view of the same memory.
 */
export function copyOf(b: Uint8Array): Uint8Array {
  // Not Uint8Array.prototype.slice either: it builds the copy through the species (Buffer's) constructor.
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}
