// What the codecs and their callers share, without the code of any codec: the pixel module as codecs see
// it, the frames they give back, and the error they throw. A leaf module, so that the codec registry
// (codecs.ts) can import the codecs while each of them reports a CodecError.

/** The pixel module of an image, as far as codecs care. */
export interface PixelInfo {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: number;
  photometric: string;
}

/** A frame that cannot be decoded or encoded: the instance is kept as received. */
export class CodecError extends Error {}

export interface DecodedFrame {
  /** Native pixels: samples interleaved (Planar Configuration 0), little endian, bitsAllocated each. */
  pixels: Uint8Array;
  /** Photometric Interpretation of the decoded pixels (colour transforms undone: RGB). */
  photometric: string;
}

export interface EncodedFrame {
  data: Uint8Array;
  /** Photometric Interpretation of the encoded frame (YBR_RCT when a JPEG 2000 encoder applied RCT). */
  photometric: string;
}
