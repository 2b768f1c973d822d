// Transcoding of one Part-10 file in memory: parse, decode every frame to native pixels, re-encode to the
// target, rebuild the pixel module and the file meta. Runs in a pool worker (or the CLI); synchronous once
// the codecs are loaded. A lossy target (JPEG Baseline) makes a new instance with its own SOP Instance UID
// (derived.ts).

import {
  type Element,
  find,
  getString,
  getUs,
  parsePart10,
  removeElement,
  setElement,
  stringElement,
  usElement,
} from "../dicom/dataset-tree.ts";
import { writeDataSet } from "../dicom/dataset-writer.ts";
import { buildFileMeta } from "../dicom/part10.ts";
import { PIXEL_DATA } from "../dicom/tags.ts";
import { isNativeTransferSyntax, TS, transferSyntaxInfo } from "../dicom/transfer-syntax.ts";
import { concatBytes } from "../util/bytes.ts";
import { canRead, TARGETS } from "./capabilities.ts";
import { CodecError, type PixelInfo } from "./codec-types.ts";
import { decodeFrame, encodeFrame, planarToInterleaved } from "./codecs.ts";
import { makeLossyDerived, ratioText } from "./derived.ts";
import {
  baselineProblem,
  encodeJpegBaseline,
  JPEG_BASELINE_PROFILE,
  JPEG_LOSSY_METHOD,
  JPEG_QUALITY,
} from "./jpeg-baseline.ts";

export const Tags = {
  SamplesPerPixel: 0x00280002,
  Photometric: 0x00280004,
  PlanarConfiguration: 0x00280006,
  NumberOfFrames: 0x00280008,
  Rows: 0x00280010,
  Columns: 0x00280011,
  BitsAllocated: 0x00280100,
  BitsStored: 0x00280101,
  HighBit: 0x00280102,
  PixelRepresentation: 0x00280103,
  SmallestImagePixelValue: 0x00280106,
  LargestImagePixelValue: 0x00280107,
  ExtendedOffsetTable: 0x7fe00001,
  ExtendedOffsetTableLengths: 0x7fe00002,
} as const;

export { canRead, TARGETS };

/** The largest offset a Basic Offset Table can hold (32 bits, PS3.5 A.4). */
export const MAX_BASIC_OFFSET = 0xffffffff;

export interface TranscodeOptions {
  /**
   * Frames whose encapsulated items reach past this many bytes get an empty Basic Offset Table and the
   * Extended Offset Table instead; 4 GiB - 1 unless a test wants to see that with small data.
   */
  maxBasicOffset?: number;
}

export interface TranscodeOutput {
  bytes: Uint8Array;
  frames: number;
  /** Pixels decoded, for throughput figures. */
  pixels: number;
  /** SOP Instance UID of what was written: the input's, or a new one when the target is lossy. */
  sopInstanceUid: string;
}

export function pixelInfo(els: Element[]): PixelInfo & { frames: number; planar: number } {
  const rows = getUs(els, Tags.Rows);
  const columns = getUs(els, Tags.Columns);
  const bitsAllocated = getUs(els, Tags.BitsAllocated);
  if (rows === undefined || columns === undefined || bitsAllocated === undefined)
    throw new CodecError("pixel module incomplete (Rows, Columns, Bits Allocated)");
  const frames = Number.parseInt(getString(els, Tags.NumberOfFrames) ?? "1", 10);
  return {
    rows,
    columns,
    bitsAllocated,
    samplesPerPixel: getUs(els, Tags.SamplesPerPixel) ?? 1,
    bitsStored: getUs(els, Tags.BitsStored) ?? bitsAllocated,
    pixelRepresentation: getUs(els, Tags.PixelRepresentation) ?? 0,
    photometric: getString(els, Tags.Photometric) ?? "MONOCHROME2",
    frames: Number.isFinite(frames) && frames > 0 ? frames : 1,
    planar: getUs(els, Tags.PlanarConfiguration) ?? 0,
  };
}

/** Split encapsulated fragments (Basic Offset Table first) into frames (PS3.5 A.4). */
export function splitFrames(fragments: Uint8Array[], frames: number, eot?: number[]): Uint8Array[] {
  const bot = fragments[0] ?? new Uint8Array(0);
  const frags = fragments.slice(1);
  if (frags.length === 0) throw new CodecError("encapsulated Pixel Data has no fragments");
  if (frames === 1) return [concatBytes(frags)];
  if (frags.length === frames) return frags;
  let offsets: number[] | undefined = eot;
  if (!offsets && bot.length >= 4 * frames) {
    const v = new DataView(bot.buffer, bot.byteOffset, bot.byteLength);
    offsets = [];
    for (let i = 0; i < bot.length / 4; i++) offsets.push(v.getUint32(4 * i, true));
  }
  const groups: Uint8Array[][] = [];
  if (offsets && offsets.length === frames) {
    let pos = 0;
    let k = 0;
    for (const f of frags) {
      while (k < offsets.length && offsets[k] === pos) {
        groups.push([]);
        k++;
      }
      const g = groups[groups.length - 1];
      if (!g) throw new CodecError("Basic Offset Table does not match the fragments");
      g.push(f);
      pos += 8 + f.length;
    }
  } else {
    // No offsets: a frame starts with a fragment that starts with a codestream's start marker.
    for (const f of frags) {
      const starts =
        (f[0] === 0xff && (f[1] === 0xd8 || f[1] === 0x4f)) ||
        (f[0] === 0 && f[1] === 0 && f[2] === 0 && f[3] === 0x0c && f[4] === 0x6a);
      if (starts || groups.length === 0) groups.push([f]);
      else groups[groups.length - 1]?.push(f);
    }
  }
  if (groups.length !== frames)
    throw new CodecError(`found ${groups.length} frames in the fragments, Number of Frames is ${frames}`);
  return groups.map((g) => concatBytes(g));
}

/** The offset tables of encapsulated frames, one fragment each (PS3.5 A.4; PS3.3 C.7.6.3 for the EOT). */
export interface OffsetTables {
  /** Basic Offset Table item value: 32-bit offsets, or empty when they do not fit. */
  bot: Uint8Array;
  /** Extended Offset Table (7FE0,0001) and Lengths (7FE0,0002), OV, when the BOT is empty for size. */
  extended: { offsets: Uint8Array; lengths: Uint8Array } | null;
}

/**
 * Offsets count from the first byte of the first fragment's item tag; each frame's item is 8 bytes of
 * tag and length plus its value padded to even length. The Extended Offset Table's lengths are those
 * item value lengths, as pydicom's encapsulate_extended writes them.
 */
export function offsetTables(
  frames: ReadonlyArray<{ readonly length: number }>,
  maxBasicOffset = MAX_BASIC_OFFSET,
): OffsetTables {
  const offsets: number[] = [];
  const lengths: number[] = [];
  let off = 0;
  for (const f of frames) {
    const len = f.length + (f.length & 1);
    offsets.push(off);
    lengths.push(len);
    off += 8 + len;
  }
  if (off <= maxBasicOffset) {
    const bot = new Uint8Array(4 * frames.length);
    const bv = new DataView(bot.buffer);
    offsets.forEach((o, i) => {
      bv.setUint32(4 * i, o, true);
    });
    return { bot, extended: null };
  }
  const u64 = (values: number[]) => {
    const b = new Uint8Array(8 * values.length);
    const v = new DataView(b.buffer);
    values.forEach((x, i) => {
      v.setBigUint64(8 * i, BigInt(x), true);
    });
    return b;
  };
  return { bot: new Uint8Array(0), extended: { offsets: u64(offsets), lengths: u64(lengths) } };
}

function readEot(els: Element[]): number[] | undefined {
  const e = find(els, Tags.ExtendedOffsetTable);
  if (!e || e.value.length < 8) return undefined;
  const v = new DataView(e.value.buffer, e.value.byteOffset, e.value.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 8 <= e.value.length; i += 8) out.push(Number(v.getBigUint64(i, true)));
  return out;
}

/** Transcode a Part-10 file to `target`. Throws CodecError (or DataSetError) when it cannot. */
export function transcodePart10(
  input: Uint8Array,
  target: string,
  opts: TranscodeOptions = {},
): TranscodeOutput {
  if (!TARGETS.has(target)) throw new CodecError(`cannot encode transfer syntax ${target}`);
  const { meta, elements: els } = parsePart10(input);
  const source = meta.transferSyntaxUid;
  if (!canRead(source)) throw new CodecError(`cannot decode transfer syntax ${source}`);
  const pixelEl = find(els, PIXEL_DATA);
  const targetNative = isNativeTransferSyntax(target);
  const lossy = target === TS.JPEGBaseline8Bit;
  let framesOut = 0;
  let pixelsOut = 0;
  let sopInstanceUid = meta.mediaStorageSopInstanceUid ?? "";
  if (lossy && !pixelEl) throw new CodecError("no Pixel Data to compress lossy");
  if (pixelEl) {
    const p = pixelInfo(els);
    framesOut = p.frames;
    const frameSize = p.rows * p.columns * p.samplesPerPixel * (p.bitsAllocated >>> 3);
    // Refused before anything is decoded: the log then says why, and the original stays as received.
    const lossyProblem = lossy ? baselineProblem(p) : undefined;
    if (lossyProblem) throw new CodecError(lossyProblem);
    let photometric = p.photometric;
    let native: Uint8Array[] | null = null;
    let whole: Uint8Array | null = null; // native source to native target: the pixel bytes as they are
    if (pixelEl.fragments) {
      if (p.planar === 1 && p.samplesPerPixel > 1) p.planar = 0; // codecs produce colour-by-pixel
      native = splitFrames(pixelEl.fragments, p.frames, readEot(els)).map((f) => {
        const d = decodeFrame(source, f, p);
        photometric = d.photometric;
        return d.pixels;
      });
    } else if (targetNative) {
      whole = pixelEl.value;
    } else {
      if (p.bitsAllocated % 8 !== 0)
        throw new CodecError(`Bits Allocated ${p.bitsAllocated} cannot be encoded`);
      if (p.photometric.endsWith("_422") || p.photometric.endsWith("_420"))
        throw new CodecError(`${p.photometric} pixels cannot be encoded losslessly here`);
      if (pixelEl.value.length < frameSize * p.frames)
        throw new CodecError("Pixel Data shorter than the image");
      native = [];
      for (let i = 0; i < p.frames; i++) {
        const f = pixelEl.value.subarray(i * frameSize, (i + 1) * frameSize);
        native.push(p.planar === 1 && p.samplesPerPixel > 1 ? planarToInterleaved(f, p) : f);
      }
      p.planar = 0;
    }
    pixelsOut = p.rows * p.columns * p.frames;
    removeElement(els, Tags.ExtendedOffsetTable);
    removeElement(els, Tags.ExtendedOffsetTableLengths);
    if (targetNative) {
      const value = whole ?? concatBytes(native ?? []);
      setElement(els, { tag: PIXEL_DATA, vr: p.bitsAllocated > 8 ? "OW" : "OB", value });
    } else {
      const frames = (native ?? []).map((f) => {
        const e = lossy ? encodeJpegBaseline(f, p, photometric) : encodeFrame(target, f, p, photometric);
        photometric = e.photometric;
        return e.data;
      });
      // Past 4 GiB the Basic Offset Table cannot hold the offsets: it stays empty and the Extended Offset
      // Table (PS3.5 A.4, one fragment per frame as here) says where each frame is.
      const tables = offsetTables(frames, opts.maxBasicOffset);
      if (tables.extended) {
        setElement(els, { tag: Tags.ExtendedOffsetTable, vr: "OV", value: tables.extended.offsets });
        setElement(els, { tag: Tags.ExtendedOffsetTableLengths, vr: "OV", value: tables.extended.lengths });
      }
      setElement(els, {
        tag: PIXEL_DATA,
        vr: "OB",
        value: new Uint8Array(0),
        fragments: [tables.bot, ...frames],
      });
      if (lossy) {
        let compressed = 0;
        for (const f of frames) compressed += f.length;
        const ratio = (frameSize * p.frames) / Math.max(1, compressed);
        sopInstanceUid = makeLossyDerived(els, {
          target,
          profile: JPEG_BASELINE_PROFILE,
          method: JPEG_LOSSY_METHOD,
          ratio,
          description: `Lossy compression with JPEG baseline, quality ${JPEG_QUALITY}, compression ratio ${ratioText(ratio)}`,
          sourceLossy: transferSyntaxInfo(source)?.lossy ?? false,
        });
        // JPEG Baseline samples are 8 bits, unsigned; extremes of the source no longer hold after the DCT.
        setElement(els, usElement(Tags.BitsAllocated, 8));
        setElement(els, usElement(Tags.BitsStored, 8));
        setElement(els, usElement(Tags.HighBit, 7));
        removeElement(els, Tags.SmallestImagePixelValue);
        removeElement(els, Tags.LargestImagePixelValue);
      }
    }
    if (photometric !== p.photometric) setElement(els, stringElement(Tags.Photometric, "CS", photometric));
    if (p.samplesPerPixel > 1) setElement(els, usElement(Tags.PlanarConfiguration, p.planar));
  }
  const explicit = transferSyntaxInfo(target)?.explicitVr ?? true;
  const body = writeDataSet(els, explicit);
  const head = buildFileMeta({
    sopClassUid: meta.mediaStorageSopClassUid ?? "",
    sopInstanceUid,
    transferSyntaxUid: target,
    ...(meta.sourceAeTitle ? { sourceAeTitle: meta.sourceAeTitle } : {}),
    ...(meta.sendingAeTitle ? { sendingAeTitle: meta.sendingAeTitle } : {}),
    ...(meta.receivingAeTitle ? { receivingAeTitle: meta.receivingAeTitle } : {}),
  });
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  return { bytes, frames: framesOut, pixels: pixelsOut, sopInstanceUid };
}
