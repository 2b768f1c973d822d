// The frame of a sequential DCT JPEG as the decoder's stages share it (jpeg-dct.ts reads the marker
// segments into it, jpeg-dct-huffman.ts decodes the scans into its component planes, jpeg-dct-colour.ts
// makes the output image from them), and the coefficient order they agree on.

// Zigzag to natural order, with 16 extra entries so that a run past coefficient 63 in corrupt data lands
// on 63 instead of outside the block (IJG's jpeg_natural_order does the same).
export const NATURAL = new Uint8Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7,
  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46,
  53, 60, 61, 54, 47, 55, 62, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
]);

/** A Huffman table as the entropy decoder's lookups use it (built by jpeg-dct-huffman.ts). */
export interface HuffTable {
  /** (code length << 8) | symbol for codes of at most LOOKAHEAD bits, indexed by the next bits; 0: longer. */
  lut: Uint16Array;
  /**
   * For AC tables: (value << 8) | (run << 4) | (code + value bits) where a code and its value bits both
   * fit in the lookahead, else 0.
   */
  fastAc: Int32Array;
  /** Largest code of each length (index 1..16), -1 when none. */
  maxcode: Int32Array;
  /** huffval index minus the first code, per length. */
  valoffset: Int32Array;
  huffval: Uint8Array;
}

export interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  /** Samples per line and lines of this component (T.81 A.1.1). */
  width: number;
  height: number;
  /** The plane covers whole MCUs: blocksWide * 8 samples per line. */
  blocksWide: number;
  blocksHigh: number;
  plane: Uint16Array;
  /** Dequantisation table latched at the component's scan (natural order). */
  quant: Uint16Array;
  pred: number;
  dc: HuffTable | null;
  ac: HuffTable | null;
  decoded: boolean;
}

export interface Frame {
  precision: number;
  width: number;
  height: number;
  hmax: number;
  vmax: number;
  mcusX: number;
  mcusY: number;
  comps: Component[];
}
