import { describe, expect, test } from "bun:test";
import {
  isNativeTransferSyntax,
  TRANSFER_SYNTAXES,
  TS,
  transferSyntaxInfo,
} from "../../src/dicom/transfer-syntax.ts";
import { isValidUid } from "../../src/dicom/uid.ts";

describe("transfer syntaxes", () => {
  test("table is consistent", () => {
    expect(TRANSFER_SYNTAXES.length).toBe(63);
    const uids = new Set(TRANSFER_SYNTAXES.map((t) => t.uid));
    const keywords = new Set(TRANSFER_SYNTAXES.map((t) => t.keyword));
    expect(uids.size).toBe(TRANSFER_SYNTAXES.length);
    expect(keywords.size).toBe(TRANSFER_SYNTAXES.length);
    for (const t of TRANSFER_SYNTAXES) {
      expect(isValidUid(t.uid, { strict: true })).toBe(true);
      expect(transferSyntaxInfo(t.uid)).toBe(t);
      if (t.encapsulated) expect(t.explicitVr && t.littleEndian && !t.deflated).toBe(true);
    }
    for (const [k, uid] of Object.entries(TS)) expect(transferSyntaxInfo(uid)?.keyword).toBe(k);
  });

  test("properties of the common ones", () => {
    expect(transferSyntaxInfo(TS.ImplicitVRLittleEndian)).toMatchObject({
      explicitVr: false,
      littleEndian: true,
    });
    expect(transferSyntaxInfo(TS.ExplicitVRBigEndian)).toMatchObject({
      explicitVr: true,
      littleEndian: false,
      retired: true,
    });
    expect(transferSyntaxInfo(TS.DeflatedExplicitVRLittleEndian)).toMatchObject({
      deflated: true,
      encapsulated: false,
    });
    expect(transferSyntaxInfo(TS.JPEGBaseline8Bit)).toMatchObject({ encapsulated: true, lossy: true });
    expect(transferSyntaxInfo(TS.JPEGLSLossless)).toMatchObject({ encapsulated: true, lossy: false });
    expect(transferSyntaxInfo(TS.HTJ2K)).toMatchObject({ encapsulated: true, lossy: true });
    expect(transferSyntaxInfo(TS.RLELossless)).toMatchObject({ encapsulated: true, lossy: false });
    expect(transferSyntaxInfo("1.2.840.10008.1.2.4.95")).toMatchObject({ deflated: true });
    expect(transferSyntaxInfo("1.2.3")).toBeUndefined();
  });

  test("isNativeTransferSyntax", () => {
    for (const uid of [
      TS.ImplicitVRLittleEndian,
      TS.ExplicitVRLittleEndian,
      TS.ExplicitVRBigEndian,
      TS.DeflatedExplicitVRLittleEndian,
    ]) {
      expect(isNativeTransferSyntax(uid)).toBe(true);
    }
    for (const uid of [
      TS.JPEGBaseline8Bit,
      TS.RLELossless,
      TS.EncapsulatedUncompressedExplicitVRLittleEndian,
      "1.2.840.10008.1.2.4.94",
      "9.9",
    ]) {
      expect(isNativeTransferSyntax(uid)).toBe(false);
    }
  });
});
