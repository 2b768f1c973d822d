import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { render, sequenceTags } from "../../build/gen-sequence-tags.ts";
import {
  DataSetWalker,
  ENC_EXPLICIT_BE,
  ENC_EXPLICIT_LE,
  ENC_IMPLICIT_LE,
  type WalkEncoding,
} from "../../src/dicom/dataset-walker.ts";
import { isSequenceTag } from "../../src/dicom/sequence-tags.ts";
import { dataSetArb, nested, SEQUENCE_TAGS, withBoundaries } from "./arbitraries.ts";
import { bin, type Encoding, encode, item, seq, str, tagOf } from "./encode.ts";

const ENCODINGS: ReadonlyArray<readonly [Encoding, WalkEncoding]> = [
  ["implicitLE", ENC_IMPLICIT_LE],
  ["explicitLE", ENC_EXPLICIT_LE],
  ["explicitBE", ENC_EXPLICIT_BE],
];

/** Walk `bytes` cut at the given sizes (cycled), then end; each chunk clobbered after it was fed. */
function walk(
  bytes: Uint8Array,
  enc: WalkEncoding,
  sizes: readonly number[] = [bytes.length || 1],
  depth = 64,
) {
  const w = new DataSetWalker(enc, { maxSequenceDepth: depth });
  let o = 0;
  let i = 0;
  while (o < bytes.length) {
    const n = Math.max(1, sizes[i++ % sizes.length] ?? 1);
    const chunk = bytes.slice(o, o + n);
    w.feed(chunk);
    chunk.fill(0xaa);
    o += n;
  }
  w.end();
  return w;
}

const encodingArb = fc.constantFrom(...ENCODINGS);
const chunkSizes = fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 6 });

describe("DataSetWalker against the test encoder", () => {
  test("every well-formed data set is whole, in any chunking", () => {
    fc.assert(
      fc.property(
        encodingArb.chain(([e, we]) =>
          fc.tuple(fc.constant(e), fc.constant(we), dataSetArb(4, e !== "implicitLE")),
        ),
        chunkSizes,
        ([e, we, nodes], sizes) => {
          const bytes = encode(nodes, e);
          const w = walk(bytes, we, sizes);
          expect(w.error).toBeUndefined();
          expect(w.stopped).toBe(true);
          expect(w.position).toBe(bytes.length);
        },
      ),
      { numRuns: 400, seed: 15 },
    );
  });

  test("a prefix is whole exactly when it ends between top-level elements", () => {
    fc.assert(
      fc.property(
        encodingArb.chain(([e, we]) =>
          fc.tuple(fc.constant(e), fc.constant(we), dataSetArb(3, e !== "implicitLE")),
        ),
        fc.nat(),
        chunkSizes,
        ([e, we, nodes], cutSeed, sizes) => {
          const { bytes, ends } = withBoundaries(nodes, e);
          const cut = cutSeed % (bytes.length + 1);
          const w = walk(bytes.subarray(0, cut), we, sizes);
          if (ends.has(cut)) expect(w.error).toBeUndefined();
          else {
            expect(w.error).toBeDefined();
            expect(["truncated", "malformed"]).toContain(w.problem ?? "");
          }
        },
      ),
      { numRuns: 600, seed: 1515 },
    );
  });

  test("garbage after the data set or a flipped byte never throws, and ends the walk", () => {
    fc.assert(
      fc.property(
        encodingArb.chain(([e, we]) =>
          fc.tuple(fc.constant(e), fc.constant(we), dataSetArb(3, e !== "implicitLE")),
        ),
        fc.uint8Array({ minLength: 1, maxLength: 40 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        chunkSizes,
        ([e, we, nodes], junk, at, value, sizes) => {
          const bytes = encode(nodes, e);
          const flipped = bytes.slice();
          if (flipped.length > 0) flipped[at % flipped.length] = value;
          for (const input of [new Uint8Array([...bytes, ...junk]), flipped]) {
            const w = walk(input, we, sizes);
            expect(w.stopped).toBe(true);
            if (w.error === undefined) expect(w.position).toBe(input.length);
          }
        },
      ),
      { numRuns: 600, seed: 42 },
    );
  });
});

describe("DataSetWalker: what is not whole", () => {
  const enc = "explicitLE" as const;

  test("truncated in Pixel Data: the bytes missing are named", () => {
    const pixel = bin(tagOf(0x7fe0, 0x0010), "OW", new Uint8Array(1_000_000));
    const bytes = encode([str(tagOf(0x0008, 0x0060), "CS", "CT"), pixel], enc);
    const w = walk(bytes.subarray(0, bytes.length - 999_900), ENC_EXPLICIT_LE, [65536]);
    expect(w.problem).toBe("truncated");
    expect(w.error).toBe("truncated in (7FE0,0010): 999900 of 1000000 bytes missing");
  });

  test("truncated in a sequence and in an item: the sequence is named", () => {
    const inner = seq(tagOf(0x0008, 0x1115), [item([str(tagOf(0x0008, 0x1150), "UI", "1.2.3")], true)], true);
    const outer = seq(tagOf(0x0008, 0x1032), [item([inner], false)], false);
    const bytes = encode([outer], enc);
    // Inside the UI value (its item and sequence delimiters follow it), inside (0008,1032).
    const w = walk(bytes.subarray(0, bytes.length - 19), ENC_EXPLICIT_LE);
    expect(w.error).toMatch(/^truncated in \(0008,1150\): 3 of 6 bytes missing in sequence \(0008,1115\)/);
    // Before the item delimiter of an undefined-length item.
    const open = encode([inner], enc);
    const u = walk(open.subarray(0, open.length - 16), ENC_EXPLICIT_LE);
    expect(u.error).toBe("truncated: an item of (0008,1115) not closed (no delimiter)");
    const s = walk(open.subarray(0, open.length - 8), ENC_EXPLICIT_LE);
    expect(s.error).toBe("truncated: sequence (0008,1115) not closed (no delimiter)");
  });

  test("an element running past the end of its defined-length item is malformed", () => {
    const it = item([str(tagOf(0x0008, 0x0100), "SH", "ABCD")], false);
    const bytes = encode([seq(tagOf(0x0008, 0x1110), [it], false)], enc);
    // The item claims 4 bytes fewer than its element takes (its length field is at offset 16).
    const bad = bytes.slice();
    new DataView(bad.buffer).setUint32(16, 8, true);
    const w = walk(bad, ENC_EXPLICIT_LE);
    expect(w.problem).toBe("malformed");
    expect(w.error).toMatch(/runs 4 bytes past the end of its item/);
  });

  test("an undefined-length sequence left open at the end of a defined-length item", () => {
    const open = seq(tagOf(0x0008, 0x1115), [], true);
    const bytes = encode([seq(tagOf(0x0008, 0x1110), [item([open], false)], false)], enc);
    // Drop the inner sequence's delimiter and shrink the item and the outer sequence by 8.
    const cut = bytes.slice(0, bytes.length - 8);
    const dv = new DataView(cut.buffer);
    dv.setUint32(8, dv.getUint32(8, true) - 8, true);
    dv.setUint32(16, dv.getUint32(16, true) - 8, true);
    expect(walk(cut, ENC_EXPLICIT_LE).error).toBe("sequence (0008,1115) not closed by the end of its item");
  });

  test("items and delimiters where they do not belong", () => {
    const itemAtTop = new Uint8Array([0xfe, 0xff, 0x00, 0xe0, 0, 0, 0, 0]);
    expect(walk(itemAtTop, ENC_EXPLICIT_LE).error).toBe("(FFFE,E000) outside a sequence");
    const frag = encode(
      [{ kind: "encapsulated", tag: tagOf(0x7fe0, 0x0010), fragments: [new Uint8Array(0)] }],
      enc,
    );
    const undefinedFragment = frag.slice();
    new DataView(undefinedFragment.buffer).setUint32(16, 0xffffffff, true);
    expect(walk(undefinedFragment, ENC_EXPLICIT_LE).error).toBe(
      "fragment of undefined length in (7FE0,0010)",
    );
    const obUndefined = encode([bin(tagOf(0x0009, 0x1010), "OB", new Uint8Array(0))], enc);
    new DataView(obUndefined.buffer).setUint32(8, 0xffffffff, true);
    expect(walk(obUndefined, ENC_EXPLICIT_LE).error).toBe("undefined length on non-SQ element (0009,1010)");
  });

  test("sequence depth: at the limit whole, one deeper refused as a limit", () => {
    for (const [e, we] of ENCODINGS) {
      for (const undef of [true, false]) {
        expect(walk(encode(nested(8, undef), e), we, [7], 8).error).toBeUndefined();
        const w = walk(encode(nested(9, undef), e), we, [7], 8);
        expect(w.problem).toBe("limit");
        expect(w.error).toMatch(/^nesting deeper than limits\.max_sequence_depth \(8\) at/);
      }
    }
  });

  test("the stack stays bounded however deep the input claims to go", () => {
    // 100 000 nested sequence headers, each 20 bytes: refused at the limit, after 64 levels.
    const one = encode([seq(SEQUENCE_TAGS[0], [], true)], "explicitLE").subarray(0, 12);
    const itemHeader = new Uint8Array([0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff]);
    const level = new Uint8Array([...one, ...itemHeader]);
    const w = new DataSetWalker(ENC_EXPLICIT_LE, { maxSequenceDepth: 64 });
    for (let i = 0; i < 100_000 && !w.stopped; i++) w.feed(level);
    expect(w.problem).toBe("limit");
    expect(w.position).toBeLessThan(64 * level.length + 32);
  });

  test("a value never ends the walk early: skipped values are counted, not read", () => {
    const big = encode([bin(tagOf(0x7fe0, 0x0010), "OB", new Uint8Array(0))], enc);
    new DataView(big.buffer).setUint32(8, 64 << 20, true);
    const w = new DataSetWalker(ENC_EXPLICIT_LE);
    w.feed(big);
    const chunk = new Uint8Array(128 * 1024);
    for (let i = 0; i < 512; i++) w.feed(chunk);
    w.end();
    expect(w.error).toBeUndefined();
    expect(w.position).toBe(big.length + (64 << 20));
  });
});

test("src/dicom/sequence-tags.ts is what build/gen-sequence-tags.ts generates", () => {
  const file = readFileSync(join(import.meta.dir, "../../src/dicom/sequence-tags.ts"), "utf8");
  expect(file).toBe(render(sequenceTags()));
  expect(isSequenceTag(tagOf(0x0008, 0x1115))).toBe(true);
  expect(isSequenceTag(tagOf(0x0010, 0x0020))).toBe(false);
});
