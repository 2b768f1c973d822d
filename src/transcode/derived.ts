// A lossy transcode makes a new instance (PS3.3 C.7.6.1.1.5): a new SOP Instance UID, Lossy Image
// Compression "01" with the ratio and method appended to what earlier lossy steps recorded, Image Type
// DERIVED, and the derivation described (General Image Module: Derivation Description, Derivation Code
// Sequence, Source Image Sequence referencing the instance as received), as DCMTK's dcmcjpeg does.

import { type Element, find, getString, setElement, stringElement } from "../dicom/dataset-tree.ts";
import { nameBasedUid } from "../dicom/uid.ts";

const T = {
  ImageType: 0x00080008,
  InstanceCreationDate: 0x00080012,
  InstanceCreationTime: 0x00080013,
  SopClassUid: 0x00080016,
  SopInstanceUid: 0x00080018,
  CodeValue: 0x00080100,
  CodingSchemeDesignator: 0x00080102,
  CodeMeaning: 0x00080104,
  ReferencedSopClassUid: 0x00081150,
  ReferencedSopInstanceUid: 0x00081155,
  DerivationDescription: 0x00082111,
  SourceImageSequence: 0x00082112,
  DerivationCodeSequence: 0x00089215,
  LossyImageCompression: 0x00282110,
  LossyImageCompressionRatio: 0x00282112,
  LossyImageCompressionMethod: 0x00282114,
  PurposeOfReferenceCodeSequence: 0x0040a170,
} as const;

/**
 * Namespace of the name-based UIDs of instances this product derives (a random UUID, fixed forever):
 * nobody else's name-based UIDs can collide with ours.
 */
const DERIVED_UID_NAMESPACE = "ca98e6f2-fb3b-47e9-aeda-be25bef9ccbf";

/** ST holds at most 1024 characters (PS3.5 6.2). */
const ST_MAX = 1024;

export interface LossyStep {
  /** Transfer syntax of the lossy coding, and the encoder profile: both name the derived UID. */
  target: string;
  profile: string;
  /** PS3.3 C.7.6.1.1.5.1 Defined Term, e.g. ISO_10918_1. */
  method: string;
  /** Uncompressed bytes of the pixels over the compressed ones. */
  ratio: number;
  /** What was done, in words (Derivation Description). */
  description: string;
  /** Whether the transfer syntax received is a lossy one, even when (0028,2110) does not say "01". */
  sourceLossy: boolean;
}

/**
 * The SOP Instance UID of the instance derived from `sourceUid` by this step. Name-based, not random: a
 * modality that resends the same instance (its C-STORE-RSP lost) gets the same derived instance, under
 * the same path and sop_uid, instead of a duplicate image in the study.
 */
export function derivedUid(sourceUid: string, step: Pick<LossyStep, "target" | "profile">): string {
  return nameBasedUid(DERIVED_UID_NAMESPACE, `${sourceUid}\n${step.target}\n${step.profile}`);
}

/** DS value of a ratio: 5 significant digits, as DCMTK writes it (e.g. "9.8765", "35.115"). */
export function ratioText(ratio: number): string {
  return String(Number(ratio.toPrecision(5)));
}

/**
 * Rewrite the data set as the new, lossy-compressed instance derived from it. Returns the new SOP
 * Instance UID; the pixel module itself is the caller's. `now` is when the new instance was made.
 */
export function makeLossyDerived(els: Element[], step: LossyStep, now: Date = new Date()): string {
  const sourceClass = getString(els, T.SopClassUid) ?? "";
  const sourceUid = getString(els, T.SopInstanceUid) ?? "";
  const uid = derivedUid(sourceUid, step);
  const wasLossy = step.sourceLossy || getString(els, T.LossyImageCompression) === "01";
  setElement(els, stringElement(T.SopInstanceUid, "UI", uid));
  // SOP Common: this instance is created now (local time, as modalities and DCMTK write it).
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  setElement(
    els,
    stringElement(
      T.InstanceCreationDate,
      "DA",
      `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}`,
    ),
  );
  setElement(
    els,
    stringElement(
      T.InstanceCreationTime,
      "TM",
      `${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`,
    ),
  );

  // PS3.3 C.7.6.1.1.2: lossy compression makes the image DERIVED; the other values stay.
  const imageType = getString(els, T.ImageType);
  if (imageType !== undefined && imageType !== "") {
    const values = imageType.split("\\");
    values[0] = "DERIVED";
    setElement(els, stringElement(T.ImageType, "CS", values.join("\\")));
  }

  // PS3.3 C.7.6.1.1.5: once lossy, always "01"; ratio and method get one value per lossy step, in order.
  setElement(els, stringElement(T.LossyImageCompression, "CS", "01"));
  setElement(
    els,
    stringElement(
      T.LossyImageCompressionRatio,
      "DS",
      appended(els, T.LossyImageCompressionRatio, ratioText(step.ratio)),
    ),
  );
  setElement(
    els,
    stringElement(
      T.LossyImageCompressionMethod,
      "CS",
      appended(els, T.LossyImageCompressionMethod, step.method),
    ),
  );

  const before = getString(els, T.DerivationDescription);
  const description = before
    ? `${before.slice(0, Math.max(0, ST_MAX - step.description.length - 2))}; ${step.description}`
    : step.description;
  setElement(els, stringElement(T.DerivationDescription, "ST", description.slice(0, ST_MAX)));

  // CID 7203 "Image Derivation": 113040 Lossy Compression, once.
  const lossy = code("113040", "DCM", "Lossy Compression");
  const derivation = find(els, T.DerivationCodeSequence)?.items ?? [];
  if (
    !derivation.some(
      (item) =>
        getString(item, T.CodeValue) === "113040" && getString(item, T.CodingSchemeDesignator) === "DCM",
    )
  )
    derivation.push(lossy);
  setElement(els, { tag: T.DerivationCodeSequence, vr: "SQ", value: new Uint8Array(0), items: derivation });

  // The instance this one was made from: the one received (its own sources are not ours to repeat). CID
  // 7202's "Uncompressed predecessor" is only true when the received one was not lossy itself; the
  // purpose is Type 3, so it is left out then.
  const reference: Element[] = [
    stringElement(T.ReferencedSopClassUid, "UI", sourceClass),
    stringElement(T.ReferencedSopInstanceUid, "UI", sourceUid),
  ];
  if (!wasLossy)
    reference.push({
      tag: T.PurposeOfReferenceCodeSequence,
      vr: "SQ",
      value: new Uint8Array(0),
      items: [code("121320", "DCM", "Uncompressed predecessor")],
    });
  setElement(els, { tag: T.SourceImageSequence, vr: "SQ", value: new Uint8Array(0), items: [reference] });
  return uid;
}

function appended(els: Element[], tag: number, value: string): string {
  const before = getString(els, tag);
  return before ? `${before}\\${value}` : value;
}

function code(value: string, scheme: string, meaning: string): Element[] {
  return [
    stringElement(T.CodeValue, "SH", value),
    stringElement(T.CodingSchemeDesignator, "SH", scheme),
    stringElement(T.CodeMeaning, "LO", meaning),
  ];
}
