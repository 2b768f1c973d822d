import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { AttributeScanner, type InstanceAttributes } from "../../src/dicom/attribute-scanner.ts";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { bin, type DsNode, encode, encodeFor, item, seq, str, tagOf } from "./encode.ts";
import { RICH_EXPECTED, richDataSet, SOP_CLASS, SOP_INSTANCE } from "./fixture.ts";

const SYNTAXES = [
  TS.ImplicitVRLittleEndian,
  TS.ExplicitVRLittleEndian,
  TS.ExplicitVRBigEndian,
  TS.DeflatedExplicitVRLittleEndian,
  TS.JPEGBaseline8Bit,
] as const;

/** Push `bytes` cut at the given sizes (cycled), then finish. */
async function scan(
  bytes: Uint8Array,
  ts: string,
  sizes: readonly number[] = [bytes.length || 1],
): Promise<AttributeScanner> {
  const s = new AttributeScanner(ts);
  let o = 0;
  let i = 0;
  while (o < bytes.length) {
    const n = Math.max(1, sizes[i++ % sizes.length] ?? 1);
    // A fresh copy that is then clobbered: the scanner must not keep references to pushed chunks.
    const chunk = bytes.slice(o, o + n);
    s.push(chunk);
    chunk.fill(0xaa);
    o += n;
  }
  await s.finish();
  return s;
}

const small = (): DsNode[] => richDataSet(64);

describe("AttributeScanner", () => {
  for (const ts of SYNTAXES) {
    test(`rich data set, ${ts}`, async () => {
      const bytes = encodeFor(richDataSet(), ts);
      const s = await scan(bytes, ts, [65536]);
      expect(s.error).toBeUndefined();
      expect(s.done).toBe(true);
      expect(s.attributes).toEqual(RICH_EXPECTED);
      expect(s.bytesSeen).toBe(bytes.length);
    });

    test(`1-byte chunks, ${ts}`, async () => {
      const s = await scan(encodeFor(small(), ts), ts, [1]);
      expect(s.error).toBeUndefined();
      expect(s.attributes).toEqual(RICH_EXPECTED);
    });
  }

  test("arbitrary chunk boundaries give identical attributes (all syntaxes)", async () => {
    const encoded = SYNTAXES.map((ts) => ({ ts, bytes: encodeFor(small(), ts) }));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...encoded),
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 20 }),
        async ({ ts, bytes }, sizes) => {
          const s = await scan(bytes, ts, sizes);
          expect(s.error).toBeUndefined();
          expect(s.attributes).toEqual(RICH_EXPECTED);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("done before pixel data is pushed, and pushes after done are ignored", () => {
    for (const ts of [TS.ImplicitVRLittleEndian, TS.ExplicitVRLittleEndian, TS.ExplicitVRBigEndian]) {
      const nodes = richDataSet(4 << 20);
      const bytes = encode(
        nodes,
        ts === TS.ImplicitVRLittleEndian
          ? "implicitLE"
          : ts === TS.ExplicitVRBigEndian
            ? "explicitBE"
            : "explicitLE",
      );
      const pixelValueStart = bytes.length - (4 << 20);
      const s = new AttributeScanner(ts);
      for (let o = 0; o < pixelValueStart; o += 100)
        s.push(bytes.subarray(o, Math.min(o + 100, pixelValueStart)));
      expect(s.done).toBe(true);
      expect(s.attributes).toEqual(RICH_EXPECTED);
      const t0 = performance.now();
      for (let o = pixelValueStart; o < bytes.length; o += 65536) s.push(bytes.subarray(o, o + 65536));
      expect(performance.now() - t0).toBeLessThan(50);
      expect(s.bytesSeen).toBe(bytes.length);
    }
  });

  test("done on the first tag past (0028,0008), even with its header split", () => {
    const bytes = encode(
      [str(tagOf(0x0008, 0x0060), "CS", "MR"), str(tagOf(0x0028, 0x0010), "US", "ab")],
      "explicitLE",
    );
    const s = new AttributeScanner(TS.ExplicitVRLittleEndian);
    // Element 1 is bytes 0..10; the header of element 2 is bytes 10..18.
    s.push(bytes.subarray(0, 11));
    expect(s.done).toBe(false);
    s.push(bytes.subarray(11, 14));
    expect(s.done).toBe(false);
    s.push(bytes.subarray(14, 18)); // its header is complete
    expect(s.done).toBe(true);
    expect(s.attributes).toEqual({ modality: "MR" });
  });

  test("data set ending before (0028,0008): done only at finish, no error", async () => {
    const bytes = encode([str(tagOf(0x0008, 0x0018), "UI", SOP_INSTANCE)], "implicitLE");
    const s = new AttributeScanner(TS.ImplicitVRLittleEndian);
    s.push(bytes);
    expect(s.done).toBe(false);
    const attrs = await s.finish();
    expect(s.done).toBe(true);
    expect(s.error).toBeUndefined();
    expect(attrs).toEqual({ sopInstanceUid: SOP_INSTANCE });
  });

  test("empty data set", async () => {
    const s = new AttributeScanner(TS.ExplicitVRLittleEndian);
    expect(await s.finish()).toEqual({});
    expect(s.error).toBeUndefined();
  });

  test("deflated: done becomes true asynchronously; inflating stops", async () => {
    const bytes = encodeFor(richDataSet(8 << 20), TS.DeflatedExplicitVRLittleEndian);
    const s = new AttributeScanner(TS.DeflatedExplicitVRLittleEndian);
    s.push(bytes.subarray(0, 4096));
    for (let i = 0; i < 50 && !s.done; i++) await new Promise((r) => setTimeout(r, 2));
    expect(s.done).toBe(true);
    s.push(bytes.subarray(4096));
    expect(await s.finish()).toEqual(RICH_EXPECTED);
    expect(s.error).toBeUndefined();
  });

  test("deflated: corrupt and truncated streams are reported", async () => {
    const bytes = encodeFor(small(), TS.DeflatedExplicitVRLittleEndian);
    const truncated = await scan(bytes.subarray(0, 20), TS.DeflatedExplicitVRLittleEndian);
    expect(truncated.error).toBeDefined();
    const garbage = await scan(new Uint8Array(64).fill(0xff), TS.DeflatedExplicitVRLittleEndian);
    expect(garbage.error).toMatch(/deflate/);
  });

  test("abort releases a deflated scanner", async () => {
    const bytes = encodeFor(small(), TS.DeflatedExplicitVRLittleEndian);
    const s = new AttributeScanner(TS.DeflatedExplicitVRLittleEndian);
    s.push(bytes.subarray(0, 10));
    s.abort();
    expect(s.done).toBe(true);
    expect(s.error).toBe("aborted");
    s.push(bytes.subarray(10));
    expect(await s.finish()).toEqual({});
  });

  test("truncated inside a wanted value", async () => {
    const bytes = encode(small(), "explicitLE");
    const marker = new TextEncoder().encode("PID-");
    const at = indexOf(bytes, marker);
    const s = await scan(bytes.subarray(0, at + 2), TS.ExplicitVRLittleEndian);
    expect(s.error).toBe("truncated in (0010,0020): 6 of 8 bytes missing");
    expect(s.problem).toBe("truncated");
    expect(s.done).toBe(true);
    expect(s.attributes.patientId).toBeUndefined();
    expect(s.attributes.sopInstanceUid).toBe(SOP_INSTANCE);
  });

  test("truncated inside a sequence / header", async () => {
    const bytes = encode(small(), "implicitLE");
    const at = indexOf(bytes, new TextEncoder().encode("WRONG3"));
    const s = await scan(bytes.subarray(0, at), TS.ImplicitVRLittleEndian);
    expect(s.error).toMatch(
      /^truncated in \(0010,0020\): 6 of 6 bytes missing in sequence \(0040,A730\) within \(0008,1032\)$/,
    );
    const h = await scan(
      encode([str(tagOf(0x0008, 0x0060), "CS", "MR")], "explicitLE").subarray(0, 5),
      TS.ExplicitVRLittleEndian,
    );
    expect(h.error).toMatch(/^truncated in an element header \(5 bytes after the last element\)$/);
    const d = await scan(
      encode([seq(tagOf(0x0008, 0x1110), [item([], true)], true)], "explicitLE").subarray(0, 20),
      TS.ExplicitVRLittleEndian,
    );
    expect(d.error).toBe("truncated: an item of (0008,1110) not closed (no delimiter)");
  });

  test("any truncation or garbage: never throws, finish resolves", async () => {
    const encoded = SYNTAXES.map((ts) => ({ ts, bytes: encodeFor(small(), ts) }));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...encoded),
        fc.nat(),
        fc.uint8Array({ maxLength: 64 }),
        fc.integer({ min: 1, max: 50 }),
        async ({ ts, bytes }, cutSeed, junk, chunk) => {
          const cut = cutSeed % (bytes.length + 1);
          const input = new Uint8Array([...bytes.subarray(0, cut), ...junk]);
          const s = await scan(input, ts, [chunk]);
          expect(s.done).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("malformed: undefined length on a wanted or non-SQ element, too-long value, bad VR", async () => {
    const undef = encode(
      [
        {
          kind: "value",
          tag: tagOf(0x0010, 0x0020),
          vr: "LO",
          value: new Uint8Array(0),
          undefinedLength: true,
        },
      ],
      "implicitLE",
    );
    expect((await scan(undef, TS.ImplicitVRLittleEndian)).error).toBe(
      "undefined length on non-SQ element (0010,0020)",
    );
    const undefLo = encode(
      [
        {
          kind: "value",
          tag: tagOf(0x0010, 0x0021),
          vr: "UT",
          value: new Uint8Array(0),
          undefinedLength: true,
        },
      ],
      "explicitLE",
    );
    expect((await scan(undefLo, TS.ExplicitVRLittleEndian)).error).toBe(
      "undefined length on non-SQ element (0010,0021)",
    );
    const long = encode([bin(tagOf(0x0010, 0x0020), "UN", new Uint8Array(70000))], "explicitLE");
    expect((await scan(long, TS.ExplicitVRLittleEndian)).error).toBe(
      "value of (0010,0020) too long (70000 bytes)",
    );
    const badVr = new Uint8Array([0x08, 0x00, 0x60, 0x00, 0x01, 0x02, 0x02, 0x00, 0x43, 0x54]);
    expect((await scan(badVr, TS.ExplicitVRLittleEndian)).error).toBe("invalid VR for element (0008,0060)");
    const strayItem = encode(
      [seq(tagOf(0x0008, 0x1110), [], true), str(tagOf(0x0008, 0x0060), "CS", "MR")],
      "explicitLE",
    );
    // A data element directly in a sequence (an item was expected).
    const bad = new Uint8Array([...strayItem.subarray(0, 12), ...strayItem.subarray(20)]);
    expect((await scan(bad, TS.ExplicitVRLittleEndian)).error).toBe(
      "element (0008,0060) in sequence (0008,1110) outside an item",
    );
  });

  test("value forms: trimming, empty values, numberOfFrames, unknown VR, latin1", async () => {
    const nodes: DsNode[] = [
      str(tagOf(0x0008, 0x0016), "UI", `${SOP_CLASS}\0`),
      str(tagOf(0x0008, 0x0050), "SH", ""),
      str(tagOf(0x0008, 0x0060), "CS", "  OT  "),
      bin(tagOf(0x0009, 0x0001), "XX", new Uint8Array(5)),
      bin(tagOf(0x0010, 0x0020), "LO", Uint8Array.of(0x41, 0xe9, 0x00)),
      str(tagOf(0x0028, 0x0008), "IS", "+7"),
    ];
    const s = await scan(encode(nodes, "explicitLE"), TS.ExplicitVRLittleEndian, [3]);
    expect(s.error).toBeUndefined();
    expect(s.attributes).toEqual({
      sopClassUid: SOP_CLASS,
      accessionNumber: "",
      modality: "OT",
      patientId: "A\u00e9",
      numberOfFrames: 7,
    });
    const bad = await scan(
      encode([str(tagOf(0x0028, 0x0008), "IS", "1.5")], "implicitLE"),
      TS.ImplicitVRLittleEndian,
    );
    expect(bad.attributes.numberOfFrames).toBeUndefined();
    expect(bad.error).toBeUndefined();
  });

  test("random data sets in random syntaxes and chunkings", async () => {
    await fc.assert(
      fc.asyncProperty(
        randomDataSet(),
        fc.constantFrom(...SYNTAXES),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 8 }),
        async ({ nodes, expected }, ts, sizes) => {
          const s = await scan(encodeFor(nodes, ts), ts, sizes);
          expect(s.error).toBeUndefined();
          expect(s.attributes).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("throughput: skipping a 64 MiB private element before the wanted tags", () => {
    const head = encode([bin(tagOf(0x0007, 0x0010), "OB", new Uint8Array(0))], "explicitLE");
    // Header claims 64 MiB; we push the same 128 KiB view repeatedly.
    const hdr = encode([bin(tagOf(0x0007, 0x1000), "OB", new Uint8Array(0))], "explicitLE");
    new DataView(hdr.buffer).setUint32(8, 64 << 20, true);
    const tail = encode(
      [str(tagOf(0x0008, 0x0060), "CS", "US"), str(tagOf(0x0028, 0x0010), "US", "ab")],
      "explicitLE",
    );
    const s = new AttributeScanner(TS.ExplicitVRLittleEndian);
    const chunk = new Uint8Array(128 * 1024);
    const t0 = performance.now();
    s.push(head);
    s.push(hdr);
    for (let i = 0; i < 512; i++) s.push(chunk);
    s.push(tail);
    expect(performance.now() - t0).toBeLessThan(50);
    expect(s.done).toBe(true);
    expect(s.attributes).toEqual({ modality: "US" });
  });
});

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error("not found");
}

// ---- random data sets -------------------------------------------------------------------------------

type Key = keyof InstanceAttributes;
const WANTED: readonly { key: Key; tag: number; vr: string }[] = [
  { key: "specificCharacterSet", tag: tagOf(0x0008, 0x0005), vr: "CS" },
  { key: "sopClassUid", tag: tagOf(0x0008, 0x0016), vr: "UI" },
  { key: "sopInstanceUid", tag: tagOf(0x0008, 0x0018), vr: "UI" },
  { key: "studyDate", tag: tagOf(0x0008, 0x0020), vr: "DA" },
  { key: "accessionNumber", tag: tagOf(0x0008, 0x0050), vr: "SH" },
  { key: "modality", tag: tagOf(0x0008, 0x0060), vr: "CS" },
  { key: "patientId", tag: tagOf(0x0010, 0x0020), vr: "LO" },
  { key: "studyInstanceUid", tag: tagOf(0x0020, 0x000d), vr: "UI" },
  { key: "seriesInstanceUid", tag: tagOf(0x0020, 0x000e), vr: "UI" },
  { key: "numberOfFrames", tag: tagOf(0x0028, 0x0008), vr: "IS" },
];

const uidArb = fc
  .array(fc.integer({ min: 0, max: 99999 }), { minLength: 2, maxLength: 8 })
  .map((parts) => parts.join("."));
const textArb = fc.stringMatching(/^[A-Z0-9_^-][A-Z0-9 _^-]{0,14}$/).map((s) => s.trimEnd());

function wantedValueArb(w: (typeof WANTED)[number]): fc.Arbitrary<{ raw: string; value: string | number }> {
  if (w.key === "numberOfFrames")
    return fc.integer({ min: 0, max: 99999 }).map((n) => ({ raw: ` ${n}`, value: n }));
  if (w.vr === "UI") return uidArb.map((u) => ({ raw: u, value: u }));
  if (w.key === "specificCharacterSet") return fc.constant({ raw: "ISO_IR 100", value: "ISO_IR 100" });
  return fc.tuple(textArb, fc.boolean()).map(([t, lead]) => ({ raw: lead ? `  ${t} ` : t, value: t }));
}

const fillerTags = fc.integer({ min: 0x1000, max: 0x10ff });
const decoyArb = fc
  .constantFrom(...WANTED)
  .map((w) => str(w.tag, w.vr === "IS" ? "IS" : w.vr, w.vr === "UI" || w.vr === "IS" ? "999" : "DECOY"));

const { node: nestedNode } = fc.letrec<{ node: DsNode; items: DsNode[] }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    decoyArb,
    fc
      .tuple(fillerTags, fc.uint8Array({ maxLength: 40 }))
      .map(([e, b]) => bin(tagOf(0x0011, e), "OB", b.length & 1 ? b.subarray(1) : b)),
    fc
      .tuple(
        fc.array(fc.tuple(tie("items") as fc.Arbitrary<DsNode[]>, fc.boolean()), { maxLength: 3 }),
        fc.boolean(),
        fc.constantFrom<"SQ" | "UN">("SQ", "SQ", "UN"),
      )
      .map(([items, undef, vr]) =>
        seq(
          tagOf(0x0011, 0x2000),
          items.map(([els, u]) => item(els, u)),
          undef,
          vr,
        ),
      ),
  ),
  items: fc.array(tie("node") as fc.Arbitrary<DsNode>, { maxLength: 4 }),
}));

function randomDataSet(): fc.Arbitrary<{ nodes: DsNode[]; expected: InstanceAttributes }> {
  const wantedArbs = WANTED.map((w) => fc.option(wantedValueArb(w), { nil: undefined }));
  // Top-level filler: private sequences/elements in odd groups between the wanted tags.
  const topFiller = fc.array(
    fc.tuple(fc.constantFrom(0x0009, 0x0011, 0x0019, 0x0021, 0x0027), fillerTags, nestedNode, fc.boolean()),
    { maxLength: 6 },
  );
  return fc.tuple(fc.tuple(...wantedArbs), topFiller, fc.boolean()).map(([values, fillers, pixel]) => {
    const nodes: DsNode[] = [];
    const expected: InstanceAttributes = {};
    values.forEach((v, i) => {
      const w = WANTED[i];
      if (v === undefined || w === undefined) return;
      nodes.push(str(w.tag, w.vr, v.raw));
      (expected as Record<string, unknown>)[w.key] = v.value;
    });
    const seen = new Set<number>();
    for (const [group, element, node, asSeq] of fillers) {
      const tag = tagOf(group, element);
      if (seen.has(tag)) continue;
      seen.add(tag);
      if (asSeq || node.kind !== "seq") {
        nodes.push(seq(tag, [item([node], true)], !asSeq));
      } else {
        nodes.push({ ...node, tag });
      }
    }
    nodes.sort((a, b) => a.tag - b.tag);
    nodes.push(bin(tagOf(0x0028, 0x0010), "US", Uint8Array.of(1, 0)));
    if (pixel) nodes.push(bin(tagOf(0x7fe0, 0x0010), "OW", new Uint8Array(2048)));
    return { nodes, expected };
  });
}
