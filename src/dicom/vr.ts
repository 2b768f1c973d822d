// Value Representations as an element header carries them (PS3.5 6.2, 7.1.2): which VRs have a 2-byte
// length in Explicit VR, and which Implicit VR elements are sequences. One table for every reader and
// writer of headers, so that a header is read the way it is written.

import { isSequenceTag } from "./sequence-tags.ts";

/** Two VR letters as one number: (first << 8) | second. */
export const VR_SQ = 0x5351;
export const VR_UN = 0x554e;
export const VR_OB = 0x4f42;
export const VR_OW = 0x4f57;

/**
 * Explicit VR header form by (c0 - 0x41) * 26 + (c1 - 0x41): 1 = 2-byte length; 2 = reserved bytes and a
 * 4-byte length, which is also the form of every VR PS3.5 does not (yet) define (6.2: new VRs take the
 * 4-byte form), as DCMTK reads them.
 */
export const VR_FORM: Uint8Array = (() => {
  const t = new Uint8Array(26 * 26).fill(2);
  for (const vr of "AE AS AT CS DA DS DT FL FD IS LO LT PN SH SL SS ST TM UI UL US".split(" ")) {
    t[(vr.charCodeAt(0) - 0x41) * 26 + (vr.charCodeAt(1) - 0x41)] = 1;
  }
  return t;
})();

/** Whether an Explicit VR header of this VR (two capital letters) has a 2-byte length. */
export function hasShortLength(vr: string): boolean {
  return VR_FORM[(vr.charCodeAt(0) - 0x41) * 26 + (vr.charCodeAt(1) - 0x41)] === 1;
}

/** Two capital letters, the only VR an Explicit VR header may hold. */
export function isVrLetters(c0: number, c1: number): boolean {
  return c0 >= 0x41 && c0 <= 0x5a && c1 >= 0x41 && c1 <= 0x5a;
}

/** The VR's letters from its number. */
export function vrName(vr: number): string {
  return String.fromCharCode(vr >>> 8, vr & 0xff);
}

/**
 * Whether an Implicit VR element of undefined length is a sequence: PS3.6 says SQ, or it is a private
 * data element (unknown VR: read as a sequence, PS3.5 6.2.2, as DCMTK does). Group lengths, private
 * creators, the groups PS3.5 7.8.1 forbids and the other standard elements cannot be.
 */
export function implicitSequence(tag: number): boolean {
  if (isSequenceTag(tag)) return true;
  const group = Math.floor(tag / 0x10000);
  const element = tag % 0x10000;
  return (group & 1) === 1 && group > 0x0008 && group !== 0xffff && element > 0x00ff;
}
