// fast-check arbitraries of well-formed data sets (test/dicom/encode.ts nodes): values of both header
// forms, sequences and items of both length forms nested a few deep (SQ, and UN holding Implicit VR),
// encapsulated pixel data; tags unique and ascending at every level, as DCMTK expects. Shared by the
// walker's property tests and the data set fuzzer.

import fc from "fast-check";
import { bin, type DsNode, type Encoding, encode, item, seq, tagOf } from "./encode.ts";

/** Tags PS3.6 gives the VR SQ, so Implicit VR readers (ours, DCMTK) walk them as sequences. */
export const SEQUENCE_TAGS = [
  tagOf(0x0008, 0x1032),
  tagOf(0x0008, 0x1110),
  tagOf(0x0008, 0x1115),
  tagOf(0x0008, 0x1140),
  tagOf(0x0040, 0xa730),
] as const;

/** Standard value tags with their VR: short (2-byte length) and long header forms. */
const VALUE_TAGS: ReadonlyArray<readonly [number, string]> = [
  [tagOf(0x0008, 0x0008), "CS"],
  [tagOf(0x0008, 0x0060), "CS"],
  [tagOf(0x0008, 0x0070), "LO"],
  [tagOf(0x0008, 0x0100), "SH"],
  [tagOf(0x0010, 0x0010), "PN"],
  [tagOf(0x0018, 0x0050), "DS"],
  [tagOf(0x0020, 0x0013), "IS"],
  [tagOf(0x0028, 0x0010), "US"],
  [tagOf(0x0028, 0x1052), "DS"],
  [tagOf(0x0040, 0xa160), "UT"],
];

const evenBytes = (max: number) =>
  fc.uint8Array({ maxLength: max }).map((b) => (b.length & 1 ? b.subarray(1) : b));

/** Printable text of even length, as a value of a string VR. */
const text = fc
  .stringMatching(/^[A-Z0-9 ._^-]{0,24}$/)
  .map((s) => new TextEncoder().encode(s.length & 1 ? `${s} ` : s));

const valueArb: fc.Arbitrary<DsNode> = fc.oneof(
  fc.tuple(fc.constantFrom(...VALUE_TAGS), text).map(([[tag, vr], v]) => {
    if (vr === "US") return bin(tag, vr, Uint8Array.of(0, 2));
    return bin(tag, vr, v);
  }),
  fc
    .tuple(fc.integer({ min: 0x1000, max: 0x10ff }), fc.constantFrom("OB", "UN", "LO", "UL"), evenBytes(48))
    .map(([e, vr, v]) => bin(tagOf(0x0009, e), vr, vr === "UL" ? new Uint8Array(4) : v)),
);

/** Keeps the first node of each tag, in ascending order. */
function uniqueSorted(nodes: DsNode[]): DsNode[] {
  const byTag = new Map<number, DsNode>();
  for (const n of nodes) if (!byTag.has(n.tag)) byTag.set(n.tag, n);
  return [...byTag.values()].sort((a, b) => a.tag - b.tag);
}

/**
 * A data set nested at most `depth` sequences deep. `explicit`: it may hold UN sequences and
 * encapsulated pixel data (which only Explicit VR can carry), which it otherwise leaves out.
 */
export function dataSetArb(depth: number, explicit: boolean): fc.Arbitrary<DsNode[]> {
  const { elements } = fc.letrec<{ elements: DsNode[]; node: DsNode }>((tie) => ({
    elements: fc.array(tie("node") as fc.Arbitrary<DsNode>, { maxLength: 5 }).map(uniqueSorted),
    node: fc.oneof(
      { depthSize: "small", maxDepth: depth, withCrossShrink: true },
      valueArb,
      fc
        .tuple(
          fc.constantFrom(...SEQUENCE_TAGS),
          fc.array(fc.tuple(tie("elements") as fc.Arbitrary<DsNode[]>, fc.boolean()), { maxLength: 3 }),
          fc.boolean(),
          explicit ? fc.constantFrom<"SQ" | "UN">("SQ", "SQ", "UN") : fc.constant<"SQ" | "UN">("SQ"),
        )
        .map(([tag, items, undef, vr]) =>
          // UN holds a sequence only with an undefined length (PS3.5 6.2.2).
          seq(
            tag,
            items.map(([els, u]) => item(els, u)),
            undef || vr === "UN",
            vr,
          ),
        ),
    ),
  }));
  const pixel: fc.Arbitrary<DsNode[]> = explicit
    ? fc.option(
        fc
          .array(evenBytes(64), { maxLength: 3 })
          .map((frags): DsNode[] => [
            { kind: "encapsulated", tag: tagOf(0x7fe0, 0x0010), fragments: [new Uint8Array(0), ...frags] },
          ]),
        { nil: [] },
      )
    : fc.constant([]);
  return fc.tuple(elements, pixel).map(([els, px]) => [...els.filter((n) => n.tag < 0x7fe00010), ...px]);
}

/** The data set encoded, and the offsets at which its top-level elements end (where it may end). */
export function withBoundaries(nodes: DsNode[], enc: Encoding): { bytes: Uint8Array; ends: Set<number> } {
  const ends = new Set<number>([0]);
  let at = 0;
  for (const n of nodes) {
    at += encode([n], enc).length;
    ends.add(at);
  }
  const bytes = encode(nodes, enc);
  if (bytes.length !== at) throw new Error("encoder is not concatenative");
  return { bytes, ends };
}

/** Nested sequences `levels` deep (each an undefined-length SQ with one undefined-length item). */
export function nested(levels: number, undefinedLength = true): DsNode[] {
  let inner: DsNode[] = [bin(tagOf(0x0008, 0x0060), "CS", new TextEncoder().encode("OT"))];
  for (let i = 0; i < levels; i++) {
    inner = [
      seq(SEQUENCE_TAGS[i % SEQUENCE_TAGS.length] ?? 0, [item(inner, undefinedLength)], undefinedLength),
    ];
  }
  return inner;
}
