// Shared test data sets for the scanner and Part-10 tests.

import type { InstanceAttributes } from "../../src/dicom/attribute-scanner.ts";
import { bin, type DsNode, type ItemNode, item as rawItem, seq, str, tagOf } from "./encode.ts";

/** An item with its elements in ascending tag order (as DCMTK expects). */
const item = (elements: DsNode[], undefinedLength: boolean): ItemNode =>
  rawItem(
    [...elements].sort((a, b) => a.tag - b.tag),
    undefinedLength,
  );

export const SOP_CLASS = "1.2.840.10008.5.1.4.1.1.2";
export const SOP_INSTANCE = "1.2.826.0.1.3680043.8.498.1234567890123";
export const STUDY_UID = "1.2.826.0.1.3680043.8.498.1";
export const SERIES_UID = "1.2.826.0.1.3680043.8.498.12";

/** Decoy values: present only inside sequences, never at the top level. */
const decoys = (depth: number): DsNode[] => [
  str(tagOf(0x0008, 0x0016), "UI", `9.9.${depth}`),
  str(tagOf(0x0008, 0x0018), "UI", `9.9.9.${depth}`),
  str(tagOf(0x0010, 0x0020), "LO", `WRONG${depth}`),
  str(tagOf(0x0020, 0x000d), "UI", `8.8.${depth}`),
  str(tagOf(0x0028, 0x0008), "IS", `${depth + 100}`),
];

/**
 * A data set with everything the scanner must cope with before (0028,0008): sequences of both length
 * forms nested 3 deep (holding decoys), private elements/sequences, an UN sequence, encapsulated pixel
 * data inside an item; then Rows and a large Pixel Data element.
 */
export function richDataSet(pixelBytes = 1 << 20, nestedEncapsulated = true): DsNode[] {
  const deep = (undef: boolean): DsNode =>
    seq(
      tagOf(0x0008, 0x1115),
      [
        item(
          [
            ...decoys(1),
            seq(
              tagOf(0x0008, 0x1140),
              [item([...decoys(2), seq(tagOf(0x0040, 0xa730), [item(decoys(3), undef)], undef)], !undef)],
              !undef,
            ),
          ],
          undef,
        ),
        item(decoys(1), !undef),
      ],
      undef,
    );
  const pixel = new Uint8Array(pixelBytes);
  for (let i = 0; i < pixel.length; i++) pixel[i] = (i * 7) & 0xff;
  return [
    str(tagOf(0x0008, 0x0005), "CS", "ISO_IR 192"),
    str(tagOf(0x0008, 0x0008), "CS", "ORIGINAL\\PRIMARY\\AXIAL"),
    str(tagOf(0x0008, 0x0016), "UI", SOP_CLASS),
    str(tagOf(0x0008, 0x0018), "UI", SOP_INSTANCE),
    str(tagOf(0x0008, 0x0020), "DA", "20240131"),
    str(tagOf(0x0008, 0x0050), "SH", " ACC 42"),
    str(tagOf(0x0008, 0x0060), "CS", "CT"),
    seq(tagOf(0x0008, 0x1032), [item([deep(true)], true)], true),
    seq(tagOf(0x0008, 0x1110), [item([deep(false)], false), item(decoys(0), true)], false),
    str(tagOf(0x0009, 0x0010), "LO", "ACME 1.0"),
    bin(tagOf(0x0009, 0x1001), "OB", new Uint8Array(1000).fill(0xfe)),
    seq(tagOf(0x0009, 0x1002), [item(decoys(1), true), item([], true)], true),
    seq(tagOf(0x0009, 0x1003), [item([...decoys(1), deep(true)], true)], true, "UN"),
    seq(tagOf(0x0009, 0x1004), [], true),
    seq(tagOf(0x0009, 0x1005), [], false),
    seq(
      tagOf(0x0009, 0x1006),
      [
        item(
          [
            str(tagOf(0x0028, 0x0004), "CS", "MONOCHROME2"),
            // DCMTK refuses to convert a data set with encapsulated pixel data to a native syntax.
            nestedEncapsulated
              ? {
                  kind: "encapsulated",
                  tag: tagOf(0x7fe0, 0x0010),
                  fragments: [new Uint8Array(0), new Uint8Array(300).fill(0xff)],
                }
              : bin(tagOf(0x7fe0, 0x0010), "OB", new Uint8Array(300)),
          ],
          true,
        ),
      ],
      true,
    ),
    str(tagOf(0x0010, 0x0010), "PN", "Doe^John"),
    str(tagOf(0x0010, 0x0020), "LO", "PID-\u00fc\u00df"),
    seq(tagOf(0x0010, 0x1002), [item(decoys(1), true)], false),
    str(tagOf(0x0018, 0x0015), "CS", "HEAD"),
    str(tagOf(0x0020, 0x000d), "UI", STUDY_UID),
    str(tagOf(0x0020, 0x000e), "UI", SERIES_UID),
    str(tagOf(0x0020, 0x0013), "IS", "1"),
    bin(tagOf(0x0028, 0x0002), "US", Uint8Array.of(0, 1)),
    str(tagOf(0x0028, 0x0008), "IS", " 12 "),
    bin(tagOf(0x0028, 0x0010), "US", Uint8Array.of(0, 2)),
    bin(tagOf(0x0028, 0x0011), "US", Uint8Array.of(0, 2)),
    bin(tagOf(0x7fe0, 0x0010), "OB", pixel),
  ];
}

export const RICH_EXPECTED: InstanceAttributes = {
  specificCharacterSet: "ISO_IR 192",
  sopClassUid: SOP_CLASS,
  sopInstanceUid: SOP_INSTANCE,
  studyDate: "20240131",
  accessionNumber: "ACC 42",
  modality: "CT",
  patientId: "PID-\u00fc\u00df",
  studyInstanceUid: STUDY_UID,
  seriesInstanceUid: SERIES_UID,
  numberOfFrames: 12,
};
