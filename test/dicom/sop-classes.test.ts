import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  generate,
  isStorageRow,
  isValidUid,
  parsePart06Xml,
  parsePydicomUidDict,
  parseSource,
} from "../../build/gen-sop-classes.ts";
import {
  isStorageSopClass,
  STORAGE_SOP_CLASSES,
  sopClassName,
  VERIFICATION_SOP_CLASS,
} from "../../src/dicom/sop-classes.ts";

const ROOT = join(import.meta.dir, "..", "..");
const SOURCE_LABEL = "build/sources/pydicom_uid_dict_sop_classes.py";
const DEBIAN_PYDICOM = "/usr/lib/python3/dist-packages/pydicom/_uid_dict.py";

describe("STORAGE_SOP_CLASSES", () => {
  test("has well over 150 classes, some retired", () => {
    expect(STORAGE_SOP_CLASSES.length).toBeGreaterThan(200);
    const retired = STORAGE_SOP_CLASSES.filter((c) => c.retired);
    expect(retired.length).toBeGreaterThan(10);
    expect(retired.length).toBeLessThan(STORAGE_SOP_CLASSES.length / 4);
  });

  test("no duplicate UIDs or keywords", () => {
    const uids = STORAGE_SOP_CLASSES.map((c) => c.uid);
    const keywords = STORAGE_SOP_CLASSES.map((c) => c.keyword);
    expect(new Set(uids).size).toBe(uids.length);
    expect(new Set(keywords).size).toBe(keywords.length);
  });

  test("every UID is a valid standard DICOM UID and every entry is named", () => {
    for (const c of STORAGE_SOP_CLASSES) {
      expect(isValidUid(c.uid)).toBe(true);
      expect(c.uid.length).toBeLessThanOrEqual(64);
      expect(c.uid.startsWith("1.2.840.10008.")).toBe(true);
      expect(c.name).toMatch(/Storage/);
      expect(c.keyword).toMatch(/^[A-Za-z][A-Za-z0-9]*$/);
    }
  });

  test("is frozen", () => {
    expect(Object.isFrozen(STORAGE_SOP_CLASSES)).toBe(true);
  });

  const expected: ReadonlyArray<[string, string]> = [
    ["1.2.840.10008.5.1.4.1.1.2", "CT Image Storage"],
    ["1.2.840.10008.5.1.4.1.1.2.1", "Enhanced CT Image Storage"],
    ["1.2.840.10008.5.1.4.1.1.4", "MR Image Storage"],
    ["1.2.840.10008.5.1.4.1.1.4.1", "Enhanced MR Image Storage"],
    ["1.2.840.10008.5.1.4.1.1.1", "Computed Radiography Image Storage"],
    ["1.2.840.10008.5.1.4.1.1.1.1", "Digital X-Ray Image Storage - For Presentation"],
    ["1.2.840.10008.5.1.4.1.1.1.2.1", "Digital Mammography X-Ray Image Storage - For Processing"],
    ["1.2.840.10008.5.1.4.1.1.6.1", "Ultrasound Image Storage"],
    ["1.2.840.10008.5.1.4.1.1.7", "Secondary Capture Image Storage"],
    ["1.2.840.10008.5.1.4.1.1.7.2", "Multi-frame Grayscale Byte Secondary Capture Image Storage"],
    ["1.2.840.10008.5.1.4.1.1.7.3", "Multi-frame Grayscale Word Secondary Capture Image Storage"],
    ["1.2.840.10008.5.1.4.1.1.13.1.3", "Breast Tomosynthesis Image Storage"],
    ["1.2.840.10008.5.1.4.1.1.77.1.6", "VL Whole Slide Microscopy Image Storage"],
    ["1.2.840.10008.5.1.4.1.1.104.1", "Encapsulated PDF Storage"],
    ["1.2.840.10008.5.1.4.1.1.88.11", "Basic Text SR Storage"],
    ["1.2.840.10008.5.1.4.1.1.88.59", "Key Object Selection Document Storage"],
    ["1.2.840.10008.5.1.4.1.1.88.67", "X-Ray Radiation Dose SR Storage"],
    ["1.2.840.10008.5.1.4.1.1.481.5", "RT Plan Storage"],
    ["1.2.840.10008.5.1.4.1.1.481.3", "RT Structure Set Storage"],
    ["1.2.840.10008.5.1.4.1.1.77.1.5.4", "Ophthalmic Tomography Image Storage"],
    ["1.2.840.10008.5.1.4.1.1.128", "Positron Emission Tomography Image Storage"],
    ["1.2.840.10008.5.1.4.1.1.20", "Nuclear Medicine Image Storage"],
    ["1.2.840.10008.5.1.4.1.1.66.4", "Segmentation Storage"],
    ["1.2.840.10008.5.1.4.1.1.9.1.1", "12-lead ECG Waveform Storage"],
    // recent additions (2022-2024)
    ["1.2.840.10008.5.1.4.1.1.6.3", "Photoacoustic Image Storage"],
    ["1.2.840.10008.5.1.4.1.1.201.1", "Inventory Storage"],
    ["1.2.840.10008.5.1.4.1.1.77.1.8", "Confocal Microscopy Image Storage"],
    ["1.2.840.10008.5.1.4.1.1.77.1.9", "Confocal Microscopy Tiled Pyramidal Image Storage"],
    ["1.2.840.10008.5.1.4.1.1.66.7", "Label Map Segmentation Storage"],
    ["1.2.840.10008.5.1.4.1.1.66.8", "Height Map Segmentation Storage"],
    ["1.2.840.10008.5.1.4.1.1.88.77", "Waveform Annotation SR Storage"],
    ["1.2.840.10008.5.1.4.1.1.481.23", "Enhanced RT Image Storage"],
    ["1.2.840.10008.5.1.4.1.1.601.3", "Thermography Image Storage"],
    // C-STORE-based classes of sibling service classes
    ["1.2.840.10008.5.1.4.38.1", "Hanging Protocol Storage"],
    ["1.2.840.10008.5.1.4.39.1", "Color Palette Storage"],
    ["1.2.840.10008.5.1.4.34.7", "RT Beams Delivery Instruction Storage"],
  ];
  for (const [uid, name] of expected) {
    test(`includes ${name} (${uid})`, () => {
      expect(isStorageSopClass(uid)).toBe(true);
      expect(sopClassName(uid)).toBe(name);
    });
  }

  test("keeps retired classes, flagged", () => {
    const byUid = new Map(STORAGE_SOP_CLASSES.map((c) => [c.uid, c]));
    for (const uid of [
      "1.2.840.10008.5.1.4.1.1.3", // Ultrasound Multi-frame Image Storage (Retired)
      "1.2.840.10008.5.1.4.1.1.5", // Nuclear Medicine Image Storage (Retired)
      "1.2.840.10008.5.1.4.1.1.6", // Ultrasound Image Storage (Retired)
      "1.2.840.10008.5.1.4.1.1.12.3", // X-Ray Angiographic Bi-Plane Image Storage
      "1.2.840.10008.5.1.4.1.1.88.1", // Text SR Storage - Trial
      "1.2.840.10008.5.1.1.29", // Hardcopy Grayscale Image Storage SOP Class
    ]) {
      expect(isStorageSopClass(uid)).toBe(true);
      expect(byUid.get(uid)?.retired).toBe(true);
    }
    expect(byUid.get("1.2.840.10008.5.1.4.1.1.2")?.retired).toBe(false);
    expect(byUid.get("1.2.840.10008.5.1.4.1.1.3")?.keyword).toBe("UltrasoundMultiFrameImageStorageRetired");
  });

  test("excludes non-storage SOP classes", () => {
    for (const uid of [
      "1.2.840.10008.1.20.1", // Storage Commitment Push Model
      "1.2.840.10008.1.20.2", // Storage Commitment Pull Model
      "1.2.840.10008.1.3.10", // Media Storage Directory Storage (DICOMDIR, media only)
      "1.2.840.10008.5.1.4.1.1.201.5", // Inventory Creation (Storage Management)
      "1.2.840.10008.5.1.4.1.1.201.2", // Inventory - FIND
      "1.2.840.10008.5.1.4.1.2.2.1", // Study Root Q/R - FIND
      "1.2.840.10008.5.1.4.1.2.2.2", // Study Root Q/R - MOVE
      "1.2.840.10008.5.1.4.31", // Modality Worklist - FIND
      "1.2.840.10008.3.1.2.3.3", // MPPS
      "1.2.840.10008.5.1.4.34.6.1", // UPS Push
      "1.2.840.10008.5.1.1.1", // Basic Film Session
      "1.2.840.10008.1.2", // a Transfer Syntax
      VERIFICATION_SOP_CLASS,
      "",
      "1.2.840.10008.5.1.4.1.1.2 ",
      "1.2.840.10008.5.1.4.1.1.2.99",
      "1.2.3.4",
    ]) {
      expect(isStorageSopClass(uid)).toBe(false);
    }
  });
});

describe("Verification and sopClassName", () => {
  test("VERIFICATION_SOP_CLASS", () => {
    expect(VERIFICATION_SOP_CLASS).toBe("1.2.840.10008.1.1");
    expect(sopClassName(VERIFICATION_SOP_CLASS)).toBe("Verification SOP Class");
  });

  test("unknown or non-storage UIDs have no name", () => {
    expect(sopClassName("1.2.840.10008.1.20.1")).toBeUndefined();
    expect(sopClassName("1.2.3.4.5")).toBeUndefined();
    expect(sopClassName("")).toBeUndefined();
  });
});

describe("generator", () => {
  test("src/dicom/sop-classes.ts is up to date with its source", () => {
    const source = readFileSync(join(ROOT, SOURCE_LABEL), "utf8");
    const current = readFileSync(join(ROOT, "src/dicom/sop-classes.ts"), "utf8");
    expect(generate(source, SOURCE_LABEL)).toBe(current);
  });

  test("the source excerpt holds only SOP Class rows, and they parse", () => {
    const rows = parsePydicomUidDict(readFileSync(join(ROOT, SOURCE_LABEL), "utf8"));
    expect(rows.length).toBeGreaterThan(300);
    expect(rows.every((r) => r.type === "SOP Class")).toBe(true);
  });

  test("parses a part06.xml-style Table A-1", () => {
    const xml = `<?xml version="1.0" encoding="utf-8"?>
<book xmlns="http://docbook.org/ns/docbook" label="PS3.6">
  <table frame="box" rules="all" xml:id="table_A-1"><caption>UID Values</caption>
    <thead><tr><th><para>UID Value</para></th><th><para>UID Name</para></th><th><para>UID Keyword</para></th><th><para>UID Type</para></th><th><para>Part</para></th></tr></thead>
    <tbody>
      <tr valign="top"><td><para>1.2.840.10008.1.1</para></td><td><para>Verification SOP Class</para></td><td><para>Verification</para></td><td><para>SOP Class</para></td><td><para><olink targetdoc="PS3.4"/></para></td></tr>
      <tr valign="top"><td><para>1.2.840.10008.1.20.1</para></td><td><para>Storage Commitment Push Model SOP Class</para></td><td><para>StorageCommitmentPushModel</para></td><td><para>SOP Class</para></td><td><para/></td></tr>
      <tr valign="top"><td><para>1.2.840.10008.5.1.4.1.1.2</para></td><td><para>CT&#8203; Image Storage</para></td><td><para>CTImageStorage</para></td><td><para>SOP Class</para></td><td><para/></td></tr>
      <tr valign="top"><td><para>1.2.840.10008.5.1.4.1.1.3</para></td><td><para><emphasis role="italic">Ultrasound Multi-frame Image Storage (Retired)</emphasis></para></td><td><para>UltrasoundMultiFrameImageStorageRetired</para></td><td><para>SOP Class</para></td><td><para/></td></tr>
      <tr valign="top"><td><para>1.2.840.10008.1.2.1</para></td><td><para>Explicit VR Little Endian</para></td><td><para>ExplicitVRLittleEndian</para></td><td><para>Transfer Syntax</para></td><td><para/></td></tr>
    </tbody>
  </table>
</book>`;
    const rows = parsePart06Xml(xml);
    expect(rows).toHaveLength(5);
    expect(parseSource(xml)).toEqual(rows);
    expect(rows[2]).toEqual({
      uid: "1.2.840.10008.5.1.4.1.1.2",
      name: "CT Image Storage",
      type: "SOP Class",
      keyword: "CTImageStorage",
      retired: false,
    });
    expect(rows[3]?.retired).toBe(true);
    expect(rows[3]?.name).toBe("Ultrasound Multi-frame Image Storage");
    expect(rows.filter(isStorageRow).map((r) => r.uid)).toEqual([
      "1.2.840.10008.5.1.4.1.1.2",
      "1.2.840.10008.5.1.4.1.1.3",
    ]);
    const out = generate(xml, "part06.xml");
    expect(out).toContain('uid: "1.2.840.10008.5.1.4.1.1.2"');
    expect(out).not.toContain("1.2.840.10008.1.20.1");
  });

  test("rejects a source without Verification", () => {
    expect(() => generate("UID_dictionary = {}\n", "empty")).toThrow(/Verification/);
  });
});

describe("cross-check against Debian's python3-pydicom (older dictionary)", () => {
  test.skipIf(!existsSync(DEBIAN_PYDICOM))("every pydicom storage class is in ours, same name", () => {
    const rows = parsePydicomUidDict(readFileSync(DEBIAN_PYDICOM, "utf8"));
    const sopClasses = rows.filter((r) => r.type === "SOP Class");
    expect(sopClasses.length).toBeGreaterThan(250);
    const theirs = sopClasses.filter(
      (r) =>
        /Storage/.test(r.name) &&
        !/Storage Commitment|Storage Management/.test(r.name) &&
        r.uid !== "1.2.840.10008.1.3.10",
    );
    expect(theirs.length).toBeGreaterThan(150);
    const ours = new Map(STORAGE_SOP_CLASSES.map((c) => [c.uid, c]));
    const missing = theirs.filter((r) => !ours.has(r.uid)).map((r) => `${r.uid} ${r.name}`);
    expect(missing).toEqual([]);
    for (const r of theirs) {
      expect(ours.get(r.uid)?.name).toBe(r.name);
      expect(ours.get(r.uid)?.retired).toBe(r.retired);
    }
  });
});
