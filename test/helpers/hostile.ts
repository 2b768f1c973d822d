// Data sets a careless or hostile peer sends: cut short in Pixel Data, in a sequence, in an item;
// nested deeper than any real data; deflated into far more than was sent; with a value too long for a
// path. Each is a complete C-STORE data set apart from what makes it hostile, so that what the SCP
// answers is about that one thing. Shared by the unit, integration and attack tests.

import { createDeflateRaw, deflateRawSync } from "node:zlib";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { bin, concat, type DsNode, encode, item, seq, str, tagOf } from "../dicom/encode.ts";

export const CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2";
export const STUDY = "1.2.826.0.1.3680043.8.498.77";
export const SERIES = "1.2.826.0.1.3680043.8.498.77.1";

export interface Hostile {
  /** The data set as sent (in `ts`). */
  bytes: Uint8Array;
  ts: string;
  sopClassUid: string;
  sopInstanceUid: string;
}

/** The attributes an instance must carry, in ascending order (Modality optionally replaced). */
export function identifying(sop: string, modality = "CT"): DsNode[] {
  return [
    str(tagOf(0x0008, 0x0016), "UI", CT_IMAGE),
    str(tagOf(0x0008, 0x0018), "UI", sop),
    str(tagOf(0x0008, 0x0020), "DA", "20260301"),
    str(tagOf(0x0008, 0x0060), "CS", modality),
    str(tagOf(0x0010, 0x0020), "LO", "HOSTILE-1"),
    str(tagOf(0x0020, 0x000d), "UI", STUDY),
    str(tagOf(0x0020, 0x000e), "UI", SERIES),
  ];
}

const pixelHeader = (declared: number): Uint8Array => {
  const h = encode([bin(tagOf(0x7fe0, 0x0010), "OW", new Uint8Array(0))], "explicitLE");
  new DataView(h.buffer).setUint32(8, declared, true);
  return h;
};

const explicit = (sop: string, bytes: Uint8Array): Hostile => ({
  bytes,
  ts: TS.ExplicitVRLittleEndian,
  sopClassUid: CT_IMAGE,
  sopInstanceUid: sop,
});

/** A whole, ordinary instance: the control (or, with a long `modality`, one whose path cannot be). */
export function wholeInstance(sop: string, pixelBytes = 4096, modality = "CT"): Hostile {
  const pixel = bin(tagOf(0x7fe0, 0x0010), "OW", new Uint8Array(pixelBytes).fill(7));
  return explicit(sop, encode([...identifying(sop, modality), pixel], "explicitLE"));
}

const deflated = (sop: string, bytes: Uint8Array): Hostile => ({
  bytes,
  ts: TS.DeflatedExplicitVRLittleEndian,
  sopClassUid: CT_IMAGE,
  sopInstanceUid: sop,
});

/** Pixel Data declares `declared` bytes, `sent` of them arrive (in the last PDV, flagged last). */
export function truncatedInPixelData(sop: string, declared = 1_000_000, sent = 100): Hostile {
  const head = encode(identifying(sop), "explicitLE");
  return explicit(sop, concat(head, pixelHeader(declared), new Uint8Array(sent).fill(9)));
}

/** The data set ends inside an element of an undefined-length sequence's item. */
export function truncatedInSequence(sop: string): Hostile {
  const s = seq(
    tagOf(0x0040, 0xa730),
    [item([str(tagOf(0x0040, 0xa160), "UT", "a finding text")], true)],
    true,
  );
  const whole = encode([...identifying(sop), s], "explicitLE");
  return explicit(sop, whole.subarray(0, whole.length - 16 - 5));
}

/** The data set ends inside a defined-length item (of a defined-length sequence). */
export function truncatedInItem(sop: string): Hostile {
  const s = seq(
    tagOf(0x0040, 0xa730),
    [item([str(tagOf(0x0040, 0xa160), "UT", "x".repeat(200))], false)],
    false,
  );
  const whole = encode([...identifying(sop), s], "explicitLE");
  return explicit(sop, whole.subarray(0, whole.length - 50));
}

/** One nesting level: an undefined-length SQ header and an undefined-length item header (20 bytes). */
const LEVEL = (() => {
  const sq = encode([seq(tagOf(0x0008, 0x1115), [], true)], "explicitLE").subarray(0, 12);
  return concat(sq, new Uint8Array([0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff]));
})();

/** `levels` nested sequences where Referenced Series Sequence (0008,1115) sits, never closed. */
export function deepNesting(sop: string, levels = 100_000): Hostile {
  const head = encode(
    identifying(sop).filter((n) => n.tag < tagOf(0x0008, 0x1115)),
    "explicitLE",
  );
  const body = new Uint8Array(LEVEL.length * levels);
  for (let i = 0; i < levels; i++) body.set(LEVEL, i * LEVEL.length);
  return explicit(sop, concat(head, body));
}

/**
 * A deflated data set that inflates into `levels` nested sequences (the nesting bomb): a few hundred
 * KB on the wire for millions of levels. Made by streaming into deflate, never whole in memory.
 */
export async function deflateNestingBomb(sop: string, levels = 4_000_000): Promise<Hostile> {
  const head = encode(
    identifying(sop).filter((n) => n.tag < tagOf(0x0008, 0x1115)),
    "explicitLE",
  );
  const block = new Uint8Array(LEVEL.length * 50_000);
  for (let i = 0; i < 50_000; i++) block.set(LEVEL, i * LEVEL.length);
  const parts: Uint8Array[] = [];
  const deflate = createDeflateRaw({ level: 9 });
  deflate.on("data", (d: Uint8Array) => parts.push(d));
  const ended = new Promise<void>((r) => deflate.on("end", () => r()));
  deflate.write(head);
  for (let done = 0; done < levels; done += 50_000) {
    const n = Math.min(50_000, levels - done);
    if (!deflate.write(block.subarray(0, n * LEVEL.length)))
      await new Promise((r) => deflate.once("drain", r));
  }
  deflate.end();
  await ended;
  return deflated(sop, concat(...parts));
}

/** A deflated data set whose Pixel Data is `mb` MiB of zeros: ~1000 times its size on the wire. */
export function deflateZeroBomb(sop: string, mb = 64): Hostile {
  const head = encode(identifying(sop), "explicitLE");
  const data = concat(head, pixelHeader(mb << 20), new Uint8Array(mb << 20));
  return deflated(sop, new Uint8Array(deflateRawSync(data, { level: 9 })));
}

/** A whole instance with a Modality of `length` characters (storage.path with {modality}). */
export function longModality(sop: string, length = 6000): Hostile {
  return wholeInstance(sop, 64, "M".repeat(length));
}
