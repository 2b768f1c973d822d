// Transfer syntaxes of DICOM PS3.6 Table A-1 (as of the 2024/2025 editions), with the properties the
// parser, the negotiation and the transcoder need.

export interface TransferSyntaxInfo {
  readonly uid: string;
  /** Name as in PS3.6 Table A-1, without the "(Retired)" suffix. */
  readonly name: string;
  /** PS3.6 keyword (pydicom-style for the retired ones, which have none in the standard). */
  readonly keyword: string;
  /** Data set encoded with explicit VR (everything except Implicit VR Little Endian and Papyrus 3). */
  readonly explicitVr: boolean;
  /** Data set byte order (only Explicit VR Big Endian is false). */
  readonly littleEndian: boolean;
  /** The whole data set (after the file meta / in the P-DATA stream) is raw-deflated (RFC 1951). */
  readonly deflated: boolean;
  /** Pixel Data is encapsulated (fragments in items), i.e. compressed or a video/codec stream. */
  readonly encapsulated: boolean;
  /** The syntax permits or mandates lossy compression of pixel data. */
  readonly lossy: boolean;
  /** Retired from the standard (still recognized). */
  readonly retired: boolean;
}

type Flags = Partial<Omit<TransferSyntaxInfo, "uid" | "name" | "keyword">>;

const P = "1.2.840.10008.1.2";

function ts(uid: string, name: string, keyword: string, flags: Flags = {}): TransferSyntaxInfo {
  return Object.freeze({
    uid,
    name,
    keyword,
    explicitVr: flags.explicitVr ?? true,
    littleEndian: flags.littleEndian ?? true,
    deflated: flags.deflated ?? false,
    encapsulated: flags.encapsulated ?? false,
    lossy: flags.lossy ?? false,
    retired: flags.retired ?? false,
  });
}

const enc = { encapsulated: true } as const;
const encLossy = { encapsulated: true, lossy: true } as const;
const encLossyRetired = { encapsulated: true, lossy: true, retired: true } as const;
const encRetired = { encapsulated: true, retired: true } as const;

/** All transfer syntaxes of PS3.6 Table A-1, in table order. */
export const TRANSFER_SYNTAXES: readonly TransferSyntaxInfo[] = Object.freeze([
  ts(P, "Implicit VR Little Endian", "ImplicitVRLittleEndian", { explicitVr: false }),
  ts(`${P}.1`, "Explicit VR Little Endian", "ExplicitVRLittleEndian"),
  ts(
    `${P}.1.98`,
    "Encapsulated Uncompressed Explicit VR Little Endian",
    "EncapsulatedUncompressedExplicitVRLittleEndian",
    enc,
  ),
  ts(`${P}.1.99`, "Deflated Explicit VR Little Endian", "DeflatedExplicitVRLittleEndian", { deflated: true }),
  ts(`${P}.2`, "Explicit VR Big Endian", "ExplicitVRBigEndian", { littleEndian: false, retired: true }),
  ts(`${P}.4.50`, "JPEG Baseline (Process 1)", "JPEGBaseline8Bit", encLossy),
  ts(`${P}.4.51`, "JPEG Extended (Process 2 & 4)", "JPEGExtended12Bit", encLossy),
  ts(`${P}.4.52`, "JPEG Extended (Process 3 & 5)", "JPEGExtended35", encLossyRetired),
  ts(
    `${P}.4.53`,
    "JPEG Spectral Selection, Non-Hierarchical (Process 6 & 8)",
    "JPEGSpectralSelectionNonHierarchical68",
    encLossyRetired,
  ),
  ts(
    `${P}.4.54`,
    "JPEG Spectral Selection, Non-Hierarchical (Process 7 & 9)",
    "JPEGSpectralSelectionNonHierarchical79",
    encLossyRetired,
  ),
  ts(
    `${P}.4.55`,
    "JPEG Full Progression, Non-Hierarchical (Process 10 & 12)",
    "JPEGFullProgressionNonHierarchical1012",
    encLossyRetired,
  ),
  ts(
    `${P}.4.56`,
    "JPEG Full Progression, Non-Hierarchical (Process 11 & 13)",
    "JPEGFullProgressionNonHierarchical1113",
    encLossyRetired,
  ),
  ts(`${P}.4.57`, "JPEG Lossless, Non-Hierarchical (Process 14)", "JPEGLossless", enc),
  ts(
    `${P}.4.58`,
    "JPEG Lossless, Non-Hierarchical (Process 15)",
    "JPEGLosslessNonHierarchical15",
    encRetired,
  ),
  ts(
    `${P}.4.59`,
    "JPEG Extended, Hierarchical (Process 16 & 18)",
    "JPEGExtendedHierarchical1618",
    encLossyRetired,
  ),
  ts(
    `${P}.4.60`,
    "JPEG Extended, Hierarchical (Process 17 & 19)",
    "JPEGExtendedHierarchical1719",
    encLossyRetired,
  ),
  ts(
    `${P}.4.61`,
    "JPEG Spectral Selection, Hierarchical (Process 20 & 22)",
    "JPEGSpectralSelectionHierarchical2022",
    encLossyRetired,
  ),
  ts(
    `${P}.4.62`,
    "JPEG Spectral Selection, Hierarchical (Process 21 & 23)",
    "JPEGSpectralSelectionHierarchical2123",
    encLossyRetired,
  ),
  ts(
    `${P}.4.63`,
    "JPEG Full Progression, Hierarchical (Process 24 & 26)",
    "JPEGFullProgressionHierarchical2426",
    encLossyRetired,
  ),
  ts(
    `${P}.4.64`,
    "JPEG Full Progression, Hierarchical (Process 25 & 27)",
    "JPEGFullProgressionHierarchical2527",
    encLossyRetired,
  ),
  ts(`${P}.4.65`, "JPEG Lossless, Hierarchical (Process 28)", "JPEGLosslessHierarchical28", encRetired),
  ts(`${P}.4.66`, "JPEG Lossless, Hierarchical (Process 29)", "JPEGLosslessHierarchical29", encRetired),
  ts(
    `${P}.4.70`,
    "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])",
    "JPEGLosslessSV1",
    enc,
  ),
  ts(`${P}.4.80`, "JPEG-LS Lossless Image Compression", "JPEGLSLossless", enc),
  ts(`${P}.4.81`, "JPEG-LS Lossy (Near-Lossless) Image Compression", "JPEGLSNearLossless", encLossy),
  ts(`${P}.4.90`, "JPEG 2000 Image Compression (Lossless Only)", "JPEG2000Lossless", enc),
  ts(`${P}.4.91`, "JPEG 2000 Image Compression", "JPEG2000", encLossy),
  ts(
    `${P}.4.92`,
    "JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)",
    "JPEG2000MCLossless",
    enc,
  ),
  ts(`${P}.4.93`, "JPEG 2000 Part 2 Multi-component Image Compression", "JPEG2000MC", encLossy),
  // JPIP: pixel data is referenced (Pixel Data Provider URL), not in the data set.
  ts(`${P}.4.94`, "JPIP Referenced", "JPIPReferenced", { lossy: true }),
  ts(`${P}.4.95`, "JPIP Referenced Deflate", "JPIPReferencedDeflate", { lossy: true, deflated: true }),
  ts(`${P}.4.100`, "MPEG2 Main Profile / Main Level", "MPEG2MPML", encLossy),
  ts(`${P}.4.100.1`, "Fragmentable MPEG2 Main Profile / Main Level", "MPEG2MPMLF", encLossy),
  ts(`${P}.4.101`, "MPEG2 Main Profile / High Level", "MPEG2MPHL", encLossy),
  ts(`${P}.4.101.1`, "Fragmentable MPEG2 Main Profile / High Level", "MPEG2MPHLF", encLossy),
  ts(`${P}.4.102`, "MPEG-4 AVC/H.264 High Profile / Level 4.1", "MPEG4HP41", encLossy),
  ts(`${P}.4.102.1`, "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.1", "MPEG4HP41F", encLossy),
  ts(`${P}.4.103`, "MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1", "MPEG4HP41BD", encLossy),
  ts(
    `${P}.4.103.1`,
    "Fragmentable MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1",
    "MPEG4HP41BDF",
    encLossy,
  ),
  ts(`${P}.4.104`, "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video", "MPEG4HP422D", encLossy),
  ts(
    `${P}.4.104.1`,
    "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video",
    "MPEG4HP422DF",
    encLossy,
  ),
  ts(`${P}.4.105`, "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video", "MPEG4HP423D", encLossy),
  ts(
    `${P}.4.105.1`,
    "Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video",
    "MPEG4HP423DF",
    encLossy,
  ),
  ts(`${P}.4.106`, "MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2", "MPEG4HP42STEREO", encLossy),
  ts(
    `${P}.4.106.1`,
    "Fragmentable MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2",
    "MPEG4HP42STEREOF",
    encLossy,
  ),
  ts(`${P}.4.107`, "HEVC/H.265 Main Profile / Level 5.1", "HEVCMP51", encLossy),
  ts(`${P}.4.108`, "HEVC/H.265 Main 10 Profile / Level 5.1", "HEVCM10P51", encLossy),
  ts(`${P}.4.110`, "JPEG XL Lossless", "JPEGXLLossless", enc),
  // Lossless recompression of a (lossy) JPEG bit stream: the image itself is lossy.
  ts(`${P}.4.111`, "JPEG XL JPEG Recompression", "JPEGXLJPEGRecompression", encLossy),
  ts(`${P}.4.112`, "JPEG XL", "JPEGXL", encLossy),
  ts(`${P}.4.201`, "High-Throughput JPEG 2000 Image Compression (Lossless Only)", "HTJ2KLossless", enc),
  ts(
    `${P}.4.202`,
    "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)",
    "HTJ2KLosslessRPCL",
    enc,
  ),
  ts(`${P}.4.203`, "High-Throughput JPEG 2000 Image Compression", "HTJ2K", encLossy),
  ts(`${P}.4.204`, "JPIP HTJ2K Referenced", "JPIPHTJ2KReferenced", { lossy: true }),
  ts(`${P}.4.205`, "JPIP HTJ2K Referenced Deflate", "JPIPHTJ2KReferencedDeflate", {
    lossy: true,
    deflated: true,
  }),
  ts(`${P}.5`, "RLE Lossless", "RLELossless", enc),
  ts(`${P}.6.1`, "RFC 2557 MIME encapsulation", "RFC2557MIMEEncapsulation", { retired: true }),
  ts(`${P}.6.2`, "XML Encoding", "XMLEncoding", { retired: true }),
  // SMPTE ST 2110 (DICOM-RTV): the essence travels over RTP; the data set itself is Explicit VR LE.
  ts(
    `${P}.7.1`,
    "SMPTE ST 2110-20 Uncompressed Progressive Active Video",
    "SMPTEST211020UncompressedProgressiveActiveVideo",
  ),
  ts(
    `${P}.7.2`,
    "SMPTE ST 2110-20 Uncompressed Interlaced Active Video",
    "SMPTEST211020UncompressedInterlacedActiveVideo",
  ),
  ts(`${P}.7.3`, "SMPTE ST 2110-30 PCM Digital Audio", "SMPTEST211030PCMDigitalAudio"),
  ts(`${P}.8.1`, "Deflated Image Frame Compression", "DeflatedImageFrameCompression", enc),
  ts("1.2.840.10008.1.20", "Papyrus 3 Implicit VR Little Endian", "Papyrus3ImplicitVRLittleEndian", {
    explicitVr: false,
    retired: true,
  }),
]);

const BY_UID: ReadonlyMap<string, TransferSyntaxInfo> = new Map(TRANSFER_SYNTAXES.map((t) => [t.uid, t]));

/** UIDs of the commonly used transfer syntaxes. */
export const TS = {
  ImplicitVRLittleEndian: P,
  ExplicitVRLittleEndian: `${P}.1`,
  EncapsulatedUncompressedExplicitVRLittleEndian: `${P}.1.98`,
  DeflatedExplicitVRLittleEndian: `${P}.1.99`,
  ExplicitVRBigEndian: `${P}.2`,
  JPEGBaseline8Bit: `${P}.4.50`,
  JPEGExtended12Bit: `${P}.4.51`,
  JPEGLossless: `${P}.4.57`,
  JPEGLosslessSV1: `${P}.4.70`,
  JPEGLSLossless: `${P}.4.80`,
  JPEGLSNearLossless: `${P}.4.81`,
  JPEG2000Lossless: `${P}.4.90`,
  JPEG2000: `${P}.4.91`,
  JPEG2000MCLossless: `${P}.4.92`,
  JPEG2000MC: `${P}.4.93`,
  MPEG2MPML: `${P}.4.100`,
  MPEG2MPHL: `${P}.4.101`,
  MPEG4HP41: `${P}.4.102`,
  MPEG4HP41BD: `${P}.4.103`,
  HEVCMP51: `${P}.4.107`,
  HEVCM10P51: `${P}.4.108`,
  JPEGXLLossless: `${P}.4.110`,
  JPEGXLJPEGRecompression: `${P}.4.111`,
  JPEGXL: `${P}.4.112`,
  HTJ2KLossless: `${P}.4.201`,
  HTJ2KLosslessRPCL: `${P}.4.202`,
  HTJ2K: `${P}.4.203`,
  RLELossless: `${P}.5`,
  DeflatedImageFrameCompression: `${P}.8.1`,
} as const;

export function transferSyntaxInfo(uid: string): TransferSyntaxInfo | undefined {
  return BY_UID.get(uid);
}

/**
 * Native (uncompressed, non-encapsulated) pixel data encoding: Implicit VR LE, Explicit VR LE/BE, Deflated
 * Explicit VR LE (and the retired Papyrus 3 Implicit VR LE). False for unknown UIDs, encapsulated syntaxes,
 * and the syntaxes whose pixel data is not in the data set (JPIP, SMPTE ST 2110, MIME/XML).
 */
export function isNativeTransferSyntax(uid: string): boolean {
  return NATIVE.has(uid);
}

const NATIVE: ReadonlySet<string> = new Set([P, `${P}.1`, `${P}.1.99`, `${P}.2`, "1.2.840.10008.1.20"]);
