// The Extended Offset Table (PS3.5 A.4): when the frames' items reach past what the 32-bit Basic Offset
// Table can address, it stays empty and (7FE0,0001)/(7FE0,0002) say where each frame is and how long it
// is. The threshold is injected so a few MiB of test data exercise what otherwise takes 4 GiB.

import { beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { find, parsePart10 } from "../../src/dicom/dataset-tree.ts";
import { readFileMeta } from "../../src/dicom/part10.ts";
import { PIXEL_DATA } from "../../src/dicom/tags.ts";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { loadCodecs } from "../../src/transcode/codecs.ts";
import { offsetTables, Tags, transcodePart10 } from "../../src/transcode/transcode.ts";
import { dcmtkEnv, repoRoot } from "../helpers/dcmtk.ts";
import { corpus } from "../helpers/fixtures.ts";
import { diff, nativePixels } from "../helpers/pixels.ts";

const work = () => mkdtempSync(join(repoRoot, "test", ".work", "eot-"));
const source = (name: string) => corpus().find((f) => f.includes(name)) ?? "";

function u64s(b: Uint8Array | undefined): number[] {
  if (!b) return [];
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 8 <= b.length; i += 8) out.push(Number(v.getBigUint64(i, true)));
  return out;
}

beforeAll(async () => {
  corpus();
  await loadCodecs();
}, 120_000);

describe("offsetTables", () => {
  const frames = [new Uint8Array(3), new Uint8Array(4), new Uint8Array(5)];

  test("offsets that fit: a Basic Offset Table, no Extended one", () => {
    const t = offsetTables(frames);
    expect(t.extended).toBeNull();
    expect([...new Uint32Array(t.bot.slice().buffer)]).toEqual([0, 12, 24]);
  });

  test("past the limit: empty Basic Offset Table; offsets to each item tag and padded item lengths", () => {
    // items of 8 + 4, 8 + 4 and 8 + 6 bytes: 38 in all, one more than the limit
    const t = offsetTables(frames, 37);
    expect(t.bot.length).toBe(0);
    expect(u64s(t.extended?.offsets)).toEqual([0, 12, 24]);
    expect(u64s(t.extended?.lengths)).toEqual([4, 4, 6]);
    expect(offsetTables(frames, 38).extended).toBeNull();
  });

  test("64-bit offsets beyond 4 GiB are written exactly", () => {
    const big = { length: 0x1_0000_0000 };
    const t = offsetTables([big, big, { length: 2 }]);
    expect(t.bot.length).toBe(0);
    expect(u64s(t.extended?.offsets)).toEqual([0, 0x1_0000_0008, 0x2_0000_0010]);
  });
});

describe("a 30-frame instance with the Extended Offset Table", () => {
  for (const target of [TS.RLELossless, TS.JPEGBaseline8Bit]) {
    test(`${target}: DCMTK reads it, the offsets point at each frame's item, the pixels survive`, () => {
      const src = source("05_mf8_30fr_explicitLE");
      const dir = work();
      const out = join(dir, "eot.dcm");
      const r = transcodePart10(new Uint8Array(readFileSync(src)), target, { maxBasicOffset: 64 * 1024 });
      writeFileSync(out, r.bytes);

      const { elements } = parsePart10(r.bytes);
      const fragments = find(elements, PIXEL_DATA)?.fragments ?? [];
      expect(fragments.length).toBe(31);
      expect(fragments[0]?.length).toBe(0);
      const offsets = u64s(find(elements, Tags.ExtendedOffsetTable)?.value);
      const lengths = u64s(find(elements, Tags.ExtendedOffsetTableLengths)?.value);
      expect(find(elements, Tags.ExtendedOffsetTable)?.vr).toBe("OV");
      expect(offsets.length).toBe(30);
      expect(lengths.length).toBe(30);

      // In the file's bytes: after (7FE0,0010) OB 0000 FFFFFFFF and the empty BOT item (8 bytes), the
      // frame items start; each offset must land on an item tag whose length is the table's length.
      const bytes = r.bytes;
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const { dataSetOffset } = readFileMeta(bytes);
      let pixel = -1;
      for (let i = dataSetOffset; i + 12 <= bytes.length && pixel < 0; i += 2)
        if (view.getUint32(i, true) === 0x0010_7fe0 && bytes[i + 4] === 0x4f && bytes[i + 5] === 0x42)
          pixel = i;
      expect(pixel).toBeGreaterThan(0);
      expect(view.getUint32(pixel + 8, true)).toBe(0xffffffff);
      expect(view.getUint32(pixel + 12, true)).toBe(0xe000fffe);
      expect(view.getUint32(pixel + 16, true)).toBe(0);
      const first = pixel + 20;
      offsets.forEach((o, i) => {
        expect(view.getUint32(first + o, true)).toBe(0xe000fffe);
        expect(view.getUint32(first + o + 4, true)).toBe(lengths[i] ?? -1);
        const frame = fragments[i + 1] ?? new Uint8Array(0);
        expect(lengths[i]).toBe(frame.length + (frame.length & 1));
      });
      // the last item ends where the sequence delimiter starts
      const end = first + (offsets.at(-1) ?? 0) + 8 + (lengths.at(-1) ?? 0);
      expect(view.getUint32(end, true)).toBe(0xe0ddfffe);

      const dump = spawnSync("dcmdump", ["-M", out], { env: dcmtkEnv(), encoding: "utf8" });
      expect(dump.status).toBe(0);
      expect(dump.stdout).toMatch(/\(7fe0,0001\) OV /);
      expect(dump.stdout).toMatch(/\(7fe0,0002\) OV /);
      expect(dump.stdout).toMatch(/\(7fe0,0010\) OB \(PixelSequence #=31\)/);

      // decoded by DCMTK (which walks the fragments) and by us (which reads the table)
      const decoded = join(dir, "decoded.dcm");
      const tool = target === TS.RLELossless ? "dcmdrle" : "dcmdjpeg";
      expect(spawnSync(tool, [out, decoded], { env: dcmtkEnv() }).status).toBe(0);
      const ours = join(dir, "ours.dcm");
      writeFileSync(ours, transcodePart10(r.bytes, TS.ExplicitVRLittleEndian).bytes);
      const orig = nativePixels(src);
      const lossless = target === TS.RLELossless;
      for (const f of [decoded, ours]) {
        const d = diff(nativePixels(f), orig);
        expect(d.max).toBeLessThanOrEqual(lossless ? 0 : 12);
      }
    }, 60_000);
  }

  test("below the limit: a 30-entry Basic Offset Table and no Extended Offset Table", () => {
    const r = transcodePart10(new Uint8Array(readFileSync(source("05_mf8_30fr_explicitLE"))), TS.RLELossless);
    const { elements } = parsePart10(r.bytes);
    expect(find(elements, PIXEL_DATA)?.fragments?.[0]?.length).toBe(120);
    expect(find(elements, Tags.ExtendedOffsetTable)).toBeUndefined();
    expect(find(elements, Tags.ExtendedOffsetTableLengths)).toBeUndefined();
  });
});
