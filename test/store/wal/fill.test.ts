// A log made sparse and filled with zeros behind the start (src/store/wal/fill.ts): the log opens at
// once, appends stay within what is filled (an entry with no room there goes the `file` way), and a stop
// half-way fills on at the next start from the head, keeping every entry committed meanwhile.

import { expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { WriteAheadLog } from "../../../src/store/wal/log.ts";
import { tmpDirs } from "../../helpers/tmp.ts";
import { bytesFor, headerFor, replayedData, seedOf, sleep, writeChunks } from "./helpers.ts";

const newDir = tmpDirs("walfill");
const MiB = 1024 * 1024;

/** Bytes of the log file on disk (a sparse one has fewer than its size). */
const allocated = (dir: string): number => statSync(join(dir, "log")).blocks * 512;

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000 && !cond(); i++) await sleep(10);
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

test("made sparse, open at once; nothing is logged beyond the filled part; whole once filled", async () => {
  const dir = join(newDir(), "wal");
  const log = WriteAheadLog.open({ dir, capacityBytes: 96 * MiB, fill: "background" });
  expect(statSync(join(dir, "log")).size).toBe(96 * MiB);
  expect(allocated(dir)).toBeLessThan(96 * MiB);
  // Nothing filled yet: an entry goes the other way (not logged), and never blocks.
  expect(log.free).toBe(0);
  const early = log.begin();
  expect(early.logged).toBe(false);
  early.release();
  await until(() => log.free === 96 * MiB, "the log to be filled");
  expect(allocated(dir)).toBeGreaterThanOrEqual(96 * MiB);
  const entry = log.begin();
  expect(entry.logged).toBe(true);
  writeChunks(entry, bytesFor(1, 200_000), 65_536);
  await entry.commit(headerFor(1));
  await log.close();
  // Filled: the next start has nothing to fill, and gives the entry back.
  const again = WriteAheadLog.open({ dir, capacityBytes: 96 * MiB, fill: "background" });
  expect(again.free).toBeGreaterThan(0);
  expect(again.replay.map(seedOf)).toEqual([1]);
  await again.close();
});

test("stopped half-way: the next start fills on from the head; committed entries survive byte-exact", async () => {
  const root = newDir();
  const dir = join(root, "wal");
  const log = WriteAheadLog.open({ dir, capacityBytes: 512 * MiB, fill: "background" });
  await until(() => log.free > 0, "a first part to be filled");
  const sizes = [300_000, 1_000_000, 50_000];
  for (const [seed, size] of sizes.entries()) {
    const entry = log.begin();
    expect(entry.logged).toBe(true);
    writeChunks(entry, bytesFor(seed, size), 65_536);
    await entry.commit(headerFor(seed));
  }
  await log.close();
  expect(allocated(dir)).toBeLessThan(512 * MiB);

  const again = WriteAheadLog.open({ dir, capacityBytes: 512 * MiB, fill: "background" });
  expect(again.replay.map(seedOf)).toEqual([0, 1, 2]);
  await until(() => again.free >= 500 * MiB, "the rest to be filled");
  // The zeros went after the head: every replayed entry still reads back whole.
  again.replay.forEach((e, i) => {
    const got = replayedData(root, e, i);
    expect(Buffer.compare(got, bytesFor(seedOf(e), sizes[seedOf(e)] ?? 0))).toBe(0);
  });
  await again.close();
});
