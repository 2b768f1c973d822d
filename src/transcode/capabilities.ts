// What the transcoder can read and write, as tables: known without loading a codec, so that the server
// decides whether an instance needs transcoding (and the Conformance Statement lists it) while the codecs
// and the worker pool stay unloaded until the first instance that does.

import { isNativeTransferSyntax, TS } from "../dicom/transfer-syntax.ts";

/** Transfer syntaxes whose pixel data we can decode. */
export const DECODABLE: ReadonlySet<string> = new Set([
  TS.JPEGBaseline8Bit,
  TS.JPEGExtended12Bit,
  TS.JPEGLossless,
  TS.JPEGLosslessSV1,
  TS.JPEGLSLossless,
  TS.JPEGLSNearLossless,
  TS.JPEG2000Lossless,
  TS.JPEG2000,
  TS.HTJ2KLossless,
  TS.HTJ2KLosslessRPCL,
  TS.HTJ2K,
  TS.RLELossless,
]);

/** Encapsulated transfer syntaxes we can encode to (all lossless). */
export const ENCODABLE: ReadonlySet<string> = new Set([
  TS.RLELossless,
  TS.JPEGLSLossless,
  TS.JPEG2000Lossless,
  TS.HTJ2KLossless,
  TS.HTJ2KLosslessRPCL,
  TS.HTJ2K,
]);

/** The transfer syntaxes we can write: native little endian, the lossless encapsulated ones, JPEG Baseline. */
export const TARGETS: ReadonlySet<string> = new Set([
  TS.ExplicitVRLittleEndian,
  TS.ImplicitVRLittleEndian,
  ...ENCODABLE,
  TS.JPEGBaseline8Bit,
]);

/** Syntaxes we can read: native ones (incl. deflated and big endian) and the decodable encapsulated ones. */
export function canRead(ts: string): boolean {
  return isNativeTransferSyntax(ts) || DECODABLE.has(ts);
}
