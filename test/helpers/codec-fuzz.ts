// Corrupt input for a decoder: it must decode to something or throw a CodecError, never hang or throw
// anything else. Shared by the JPEG decoders' tests.

import { expect } from "bun:test";
import fc from "fast-check";
import { CodecError } from "../../src/transcode/codec-types.ts";

/** Whether `decode` decodes `b` (true) or refuses it with a CodecError (false); anything else is thrown. */
export function decodesOrRefuses(decode: (b: Uint8Array) => unknown, b: Uint8Array): boolean {
  try {
    decode(b);
    return true;
  } catch (err) {
    if (err instanceof CodecError) return false;
    throw err;
  }
}

/** Up to 8 random byte changes in one of `inputs`: decoded or refused, `numRuns` times. */
export function fuzzByteChanges(
  decode: (b: Uint8Array) => unknown,
  inputs: readonly Uint8Array[],
  numRuns: number,
): void {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: inputs.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      (which, edits) => {
        const b = (inputs[which] ?? new Uint8Array(0)).slice();
        for (const [at, v] of edits) b[at % b.length] = v;
        decodesOrRefuses(decode, b);
      },
    ),
    { numRuns },
  );
}

/**
 * `cs` decodes, and every prefix of it that ends before its EOI marker (within its last 4 bytes: the
 * encoders write nothing after the scan, a fragment may have a pad byte) is refused. Returns where EOI is.
 */
export function checkTruncations(decode: (b: Uint8Array) => unknown, cs: Uint8Array): number {
  expect(decodesOrRefuses(decode, cs)).toBe(true);
  let eoi = cs.length - 2;
  while (eoi > 0 && !(cs[eoi] === 0xff && cs[eoi + 1] === 0xd9)) eoi--;
  expect(eoi).toBeGreaterThan(cs.length - 4);
  for (let n = 0; n < eoi; n++) expect([n, decodesOrRefuses(decode, cs.subarray(0, n))]).toEqual([n, false]);
  return eoi;
}
