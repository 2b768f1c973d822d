// The data set as a tree (what the transcoder rewrites): read from every native encoding, values in little
// endian, sequences, items and fragments as they were, group lengths left out; written back as Explicit or
// Implicit VR Little Endian and read again unchanged.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  DataSetError,
  type Element,
  getString,
  getUs,
  parseDataSet,
  parsePart10,
  stringElement,
  usElement,
} from "../../src/dicom/dataset-tree.ts";
import { writeDataSet } from "../../src/dicom/dataset-writer.ts";
import { vrOf } from "../../src/dicom/dictionary.ts";
import { buildFileMeta } from "../../src/dicom/part10.ts";
import { PIXEL_DATA } from "../../src/dicom/tags.ts";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { dataSetArb } from "./arbitraries.ts";
import {
  bin,
  concat,
  type DsNode,
  type Encoding,
  encode,
  encodeFor,
  item,
  seq,
  str,
  tagOf,
} from "./encode.ts";

const EMPTY = new Uint8Array(0);
const ENCODINGS: ReadonlyArray<readonly [Encoding, boolean, boolean]> = [
  ["implicitLE", false, true],
  ["explicitLE", true, true],
  ["explicitBE", true, false],
];
const SWAP: Record<string, number> = { US: 2, SS: 2, OW: 2, AT: 2, UL: 4, SL: 4, FL: 4, OF: 4, OL: 4, FD: 8 };

function swapped(v: Uint8Array, width: number): Uint8Array {
  const out = v.slice();
  for (let i = 0; i + width <= v.length; i += width)
    for (let j = 0; j < width; j++) out[i + j] = v[i + width - 1 - j] ?? 0;
  return out;
}

/** The tree the reader should give for nodes encoded in `enc`. */
function expected(nodes: DsNode[], enc: Encoding): Element[] {
  return nodes.map((n): Element => {
    if (n.kind === "encapsulated") return { tag: n.tag, vr: "OB", value: EMPTY, fragments: n.fragments };
    if (n.kind === "seq") {
      const inner: Encoding = n.vr === "UN" && enc !== "implicitLE" ? "implicitLE" : enc;
      return { tag: n.tag, vr: "SQ", value: EMPTY, items: n.items.map((it) => expected(it.elements, inner)) };
    }
    const vr = enc === "implicitLE" ? vrOf(n.tag) : n.vr;
    const width = SWAP[vr];
    return { tag: n.tag, vr, value: enc === "explicitBE" && width ? swapped(n.value, width) : n.value };
  });
}

/** An encoding (with its explicit and little flags) and a data set it can carry. */
const encodedDataSets = fc
  .constantFrom(...ENCODINGS)
  .chain(([e, explicit, little]) =>
    fc.tuple(fc.constant(e), fc.constant(explicit), fc.constant(little), dataSetArb(4, explicit)),
  );

describe("parseDataSet", () => {
  test("reads every well-formed data set of the native encodings as its tree", () => {
    fc.assert(
      fc.property(encodedDataSets, ([e, explicit, little, nodes]) => {
        expect(parseDataSet(encode(nodes, e), explicit, little)).toEqual(expected(nodes, e));
      }),
      { numRuns: 300, seed: 18 },
    );
  });

  test("written back (Explicit or Implicit VR Little Endian) and read again, the tree is the same", () => {
    fc.assert(
      fc.property(encodedDataSets, ([e, explicit, little, nodes]) => {
        const tree = parseDataSet(encode(nodes, e), explicit, little);
        expect(parseDataSet(writeDataSet(tree, true), true, true)).toEqual(tree);
        if (!explicit) expect(parseDataSet(writeDataSet(tree, false), false, true)).toEqual(tree);
      }),
      { numRuns: 300, seed: 1818 },
    );
  });

  test("group lengths are left out, at the top and inside items", () => {
    const gl = (group: number) => bin(tagOf(group, 0), "UL", Uint8Array.of(8, 0, 0, 0));
    const cs = str(tagOf(0x0008, 0x0060), "CS", "OT");
    for (const [e, explicit, little] of ENCODINGS) {
      const nodes = [gl(0x0008), cs, seq(tagOf(0x0008, 0x1115), [item([gl(0x0008), cs], false)], true)];
      const tree = parseDataSet(encode(nodes, e), explicit, little);
      expect(tree.map((el) => el.tag)).toEqual([tagOf(0x0008, 0x0060), tagOf(0x0008, 0x1115)]);
      expect(tree[1]?.items?.[0]?.map((el) => el.tag)).toEqual([tagOf(0x0008, 0x0060)]);
    }
  });

  test("empty sequences and empty items of both length forms stay", () => {
    for (const [e, explicit, little] of ENCODINGS) {
      for (const undef of [true, false]) {
        const empty = seq(tagOf(0x0008, 0x1110), [], undef);
        const emptyItems = seq(tagOf(0x0008, 0x1115), [item([], undef), item([], !undef)], undef);
        const tree = parseDataSet(encode([empty, emptyItems], e), explicit, little);
        expect(tree).toEqual([
          { tag: tagOf(0x0008, 0x1110), vr: "SQ", value: EMPTY, items: [] },
          { tag: tagOf(0x0008, 0x1115), vr: "SQ", value: EMPTY, items: [[], []] },
        ]);
      }
    }
  });

  test("Implicit VR: a private element of undefined length is a sequence, Pixel Data is OW", () => {
    const priv = seq(tagOf(0x0009, 0x1010), [item([str(tagOf(0x0008, 0x0060), "CS", "OT")], true)], true);
    const pixels = bin(PIXEL_DATA, "OW", Uint8Array.of(1, 2, 3, 4));
    const tree = parseDataSet(encode([priv, pixels], "implicitLE"), false, true);
    expect(tree[0]).toEqual({
      tag: tagOf(0x0009, 0x1010),
      vr: "SQ",
      value: EMPTY,
      items: [[{ tag: tagOf(0x0008, 0x0060), vr: "CS", value: new TextEncoder().encode("OT") }]],
    });
    expect(tree[1]).toEqual({ tag: PIXEL_DATA, vr: "OW", value: Uint8Array.of(1, 2, 3, 4) });
  });

  test("values are views of the input, not copies", () => {
    const bytes = encode([bin(PIXEL_DATA, "OW", new Uint8Array(16).fill(7))], "explicitLE");
    const v = parseDataSet(bytes, true, true)[0]?.value;
    expect(v?.buffer).toBe(bytes.buffer);
  });

  test("what is not whole is refused with a DataSetError", () => {
    const cs = str(tagOf(0x0008, 0x0060), "CS", "OT");
    const open = encode([seq(tagOf(0x0008, 0x1115), [item([cs], true)], true)], "explicitLE");
    for (const bad of [
      open.subarray(0, open.length - 8),
      open.subarray(0, open.length - 16),
      encode([cs], "explicitLE").subarray(0, 9),
      encode([bin(PIXEL_DATA, "OW", new Uint8Array(8))], "explicitLE").subarray(0, 15),
      Uint8Array.of(0x08, 0x00, 0x60, 0x00, 0x43, 0x31, 2, 0, 0x4f, 0x54),
      Uint8Array.of(0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0),
    ]) {
      expect(() => parseDataSet(bad, true, true)).toThrow(DataSetError);
    }
  });
});

describe("parsePart10", () => {
  test("reads the data set of each native and the deflated syntax", () => {
    const nodes = [
      str(tagOf(0x0008, 0x0016), "UI", "1.2.840.10008.5.1.4.1.1.7"),
      str(tagOf(0x0008, 0x0060), "CS", "OT"),
      bin(tagOf(0x0028, 0x0010), "US", Uint8Array.of(4, 0)),
    ];
    for (const ts of [
      TS.ImplicitVRLittleEndian,
      TS.ExplicitVRLittleEndian,
      TS.ExplicitVRBigEndian,
      TS.DeflatedExplicitVRLittleEndian,
    ]) {
      const meta = buildFileMeta({ sopClassUid: "1.2.3", sopInstanceUid: "1.2.3.4", transferSyntaxUid: ts });
      const { meta: m, elements } = parsePart10(concat(meta, encodeFor(nodes, ts)));
      expect(m.transferSyntaxUid).toBe(ts);
      expect(getString(elements, tagOf(0x0008, 0x0060))).toBe("OT");
      expect(getString(elements, tagOf(0x0008, 0x0016))).toBe("1.2.840.10008.5.1.4.1.1.7");
      expect(getUs(elements, tagOf(0x0028, 0x0010))).toBe(ts === TS.ExplicitVRBigEndian ? 4 << 8 : 4);
    }
  });
});

describe("writeDataSet", () => {
  test("sorts by tag, pads odd values (text with a space, UI and binary with 0), long short-VR values as UN", () => {
    const els: Element[] = [
      usElement(tagOf(0x0028, 0x0010), 512),
      stringElement(tagOf(0x0008, 0x0018), "UI", "1.2.3"),
      { tag: tagOf(0x0008, 0x0060), vr: "CS", value: new TextEncoder().encode("OTX") },
      { tag: tagOf(0x0009, 0x1010), vr: "OB", value: Uint8Array.of(1, 2, 3) },
      { tag: tagOf(0x0008, 0x0070), vr: "LO", value: new Uint8Array(0x10000).fill(0x41) },
    ];
    const bytes = writeDataSet(els, true);
    const tree = parseDataSet(bytes, true, true);
    expect(tree.map((e) => [e.tag, e.vr, e.value.length])).toEqual([
      [tagOf(0x0008, 0x0018), "UI", 6],
      [tagOf(0x0008, 0x0060), "CS", 4],
      [tagOf(0x0008, 0x0070), "UN", 0x10000],
      [tagOf(0x0009, 0x1010), "OB", 4],
      [tagOf(0x0028, 0x0010), "US", 2],
    ]);
    expect(tree[0]?.value[5]).toBe(0);
    expect(tree[1]?.value[3]).toBe(0x20);
    expect(tree[3]?.value[3]).toBe(0);
    expect(getUs(tree, tagOf(0x0028, 0x0010))).toBe(512);
  });

  test("encapsulated Pixel Data: its fragments, odd ones padded, in an undefined-length element", () => {
    const frags = [EMPTY, Uint8Array.of(1, 2, 3), Uint8Array.of(4, 5)];
    const bytes = writeDataSet([{ tag: PIXEL_DATA, vr: "OB", value: EMPTY, fragments: frags }], true);
    expect([...bytes.subarray(0, 12)]).toEqual([
      0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff,
    ]);
    const tree = parseDataSet(bytes, true, true);
    expect(tree[0]?.fragments).toEqual([EMPTY, Uint8Array.of(1, 2, 3, 0), Uint8Array.of(4, 5)]);
  });
});
