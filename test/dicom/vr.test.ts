// The VR table every header reader and writer shares: which VRs have a 2-byte length in Explicit VR
// (PS3.5 7.1.2), the others and the VRs PS3.5 does not define taking the 4-byte form (6.2), and which
// Implicit VR elements of undefined length are sequences.

import { expect, test } from "bun:test";
import { buildFileMeta, readFileMeta } from "../../src/dicom/part10.ts";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { hasShortLength, implicitSequence, isVrLetters, VR_SQ, vrName } from "../../src/dicom/vr.ts";

const SHORT = "AE AS AT CS DA DS DT FL FD IS LO LT PN SH SL SS ST TM UI UL US".split(" ");
const LONG = "OB OD OF OL OV OW SQ SV UC UN UR UT UV".split(" ");

test("2-byte lengths for the PS3.5 7.1.2 short VRs; 4-byte for the others and for unknown VRs", () => {
  for (const vr of SHORT) expect([vr, hasShortLength(vr)]).toEqual([vr, true]);
  for (const vr of [...LONG, "XX", "ZZ"]) expect([vr, hasShortLength(vr)]).toEqual([vr, false]);
  expect(isVrLetters(0x41, 0x5a)).toBe(true);
  expect(isVrLetters(0x61, 0x41)).toBe(false);
  expect(vrName(VR_SQ)).toBe("SQ");
});

test("the file meta is read by the same table: an unknown VR takes the 4-byte form", () => {
  const meta = buildFileMeta({
    sopClassUid: "1.2",
    sopInstanceUid: "1.2.3",
    transferSyntaxUid: TS.ExplicitVRLittleEndian,
  });
  // (0002,0100) with VR "XX", 4-byte length 2, then the data set.
  const extra = Uint8Array.of(0x02, 0x00, 0x00, 0x01, 0x58, 0x58, 0, 0, 2, 0, 0, 0, 0x41, 0x42);
  const bytes = new Uint8Array([...meta, ...extra, 0x08, 0x00]);
  const { meta: m, dataSetOffset } = readFileMeta(bytes);
  expect(m.transferSyntaxUid).toBe(TS.ExplicitVRLittleEndian);
  expect(dataSetOffset).toBe(meta.length + extra.length);
});

test("Implicit VR, undefined length: PS3.6 sequences and private data elements are sequences", () => {
  expect(implicitSequence(0x00081115)).toBe(true);
  expect(implicitSequence(0x00091010)).toBe(true);
  expect(implicitSequence(0x00090010)).toBe(false); // a private creator
  expect(implicitSequence(0x00100010)).toBe(false);
  expect(implicitSequence(0x00090000)).toBe(false);
});
