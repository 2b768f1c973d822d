// The tags and the length that make a data set's structure (PS3.5 7.5, A.4): items, their delimiters,
// encapsulated Pixel Data, the undefined length. Shared by every reader and writer of data sets.

export const PIXEL_DATA = 0x7fe00010;
export const ITEM = 0xfffee000;
export const ITEM_DELIMITER = 0xfffee00d;
export const SEQUENCE_DELIMITER = 0xfffee0dd;
export const UNDEFINED_LENGTH = 0xffffffff;

/** "(GGGG,EEEE)", as DCMTK and the standard print a tag. */
export function tagString(tag: number): string {
  const g = Math.floor(tag / 0x10000);
  const e = tag % 0x10000;
  return `(${g.toString(16).toUpperCase().padStart(4, "0")},${e.toString(16).toUpperCase().padStart(4, "0")})`;
}
