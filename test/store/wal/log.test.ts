import { describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { type WalEntry, WriteAheadLog } from "../../../src/store/wal/log.ts";
import { tmpDirs } from "../../helpers/tmp.ts";
import {
  bytesFor,
  checkReplay,
  headerFor,
  MODES,
  replayedData,
  seedOf,
  sleep,
  writeChunks,
} from "./helpers.ts";

const newDir = tmpDirs("wal");
const KiB = 1024;

async function eventuallyTrue(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await sleep(10);
  expect(cond()).toBe(true);
}

function sameBytes(a: Uint8Array, b: Uint8Array): void {
  expect(a.length).toBe(b.length);
  expect(Buffer.compare(a, b)).toBe(0);
}

describe.each(MODES)("WriteAheadLog (%s)", (flush) => {
  test("a new log is preallocated and empty", async () => {
    const dir = join(newDir(), "wal");
    const log = WriteAheadLog.open({ dir, capacityBytes: 256 * KiB + 100, flush });
    expect(log.capacity).toBe(256 * KiB);
    expect(statSync(join(dir, "log")).size).toBe(256 * KiB);
    expect(existsSync(join(dir, "checkpoint"))).toBe(true);
    expect(log.replay).toHaveLength(0);
    expect(log.free).toBe(256 * KiB);
    await log.close();
  });

  test("interleaved entries: exactly the committed ones come back, byte-exact, in commit order", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            size: fc.integer({ min: 0, max: 150 * KiB }),
            chunk: fc.integer({ min: 1, max: 70 * KiB }),
            commit: fc.boolean(),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        fc.array(fc.nat(), { minLength: 20, maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (specs, schedule, commitOrder) => {
          const dir = newDir();
          const log = WriteAheadLog.open({ dir, capacityBytes: 8 * 1024 * KiB, flush });
          const entries = specs.map((s, seed) => ({
            ...s,
            seed,
            entry: log.begin(),
            data: bytesFor(seed, s.size),
            at: 0,
          }));
          // Chunks of all entries, interleaved as the schedule says, then whatever is left.
          const step = (i: number) => {
            const e = entries[i % entries.length]!;
            if (e.at >= e.size) return;
            const end = Math.min(e.size, e.at + e.chunk);
            writeChunks(e.entry, e.data.subarray(e.at, end), e.chunk);
            e.at = end;
          };
          for (const i of schedule) step(i);
          for (let i = 0; i < entries.length; i++) while (entries[i]!.at < entries[i]!.size) step(i);
          // Commit in an order of their own, concurrently.
          const order = entries.map((_, i) => i);
          commitOrder.forEach((j, i) => {
            const k = j % order.length;
            [order[i % order.length], order[k]] = [order[k]!, order[i % order.length]!];
          });
          const committed = order.filter((i) => entries[i]!.commit);
          await Promise.all(committed.map((i) => entries[i]!.entry.commit(headerFor(i))));
          await log.close();

          const again = WriteAheadLog.open({ dir, capacityBytes: 8 * 1024 * KiB, flush });
          const sizes = new Map(entries.map((e) => [e.seed, e.size]));
          expect(checkReplay(again, dir, sizes, sameBytes)).toEqual(committed);
          for (const r of again.replay) expect(r.id).toBe(entries[seedOf(r)]!.entry.id);
          await again.close();
        },
      ),
      { numRuns: 15 },
    );
  });

  test("released entries are not replayed, wherever the checkpoint is", async () => {
    const dir = newDir();
    const log = WriteAheadLog.open({ dir, capacityBytes: 1024 * KiB, flush });
    const entries: WalEntry[] = [];
    for (let seed = 0; seed < 6; seed++) {
      const e = log.begin();
      writeChunks(e, bytesFor(seed, 30 * KiB), 8 * KiB);
      await e.commit(headerFor(seed));
      entries.push(e);
    }
    // 1 and 3 stay: the tail is entry 1, so 2, 4 and 5 lie after it and are skipped by their release.
    for (const i of [0, 2, 4, 5]) entries[i]!.release();
    await log.close();
    const again = WriteAheadLog.open({ dir, capacityBytes: 1024 * KiB, flush });
    expect(again.replay.map(seedOf)).toEqual([1, 3]);
    again.replay[0]!.release();
    await again.close();
    const third = WriteAheadLog.open({ dir, capacityBytes: 1024 * KiB, flush });
    expect(third.replay.map(seedOf)).toEqual([3]);
    sameBytes(replayedData(dir, third.replay[0]!, 0), bytesFor(3, 30 * KiB));
    third.replay[0]!.release();
    await third.close();
    const fourth = WriteAheadLog.open({ dir, capacityBytes: 1024 * KiB, flush });
    expect(fourth.replay).toHaveLength(0);
    await fourth.close();
  });

  test("a release that finds the ring full: not released for good until its record is in, then not replayed", async () => {
    const dir = newDir();
    const capacity = 64 * KiB;
    const log = WriteAheadLog.open({ dir, capacityBytes: capacity, flush });
    const entries: WalEntry[] = [];
    for (const seed of [0, 1]) {
      const e = log.begin();
      writeChunks(e, bytesFor(seed, 4 * KiB), 4 * KiB);
      await e.commit(headerFor(seed));
      entries.push(e);
    }
    // Entry 2 fills the ring up to less than a record header.
    const full = log.begin();
    const end = (40 + headerFor(2).length + 7) & ~7;
    const size = log.free - 40 - end - 8;
    writeChunks(full, bytesFor(2, size), size);
    await full.commit(headerFor(2));
    expect(log.free).toBeLessThan(40);
    full.release();
    await sleep(60);
    expect(log.releasedDurably(full.id)).toBe(false);
    // Releasing the oldest moves the checkpoint to entry 1: room for entry 2's release record.
    entries[0]!.release();
    await eventuallyTrue(() => log.releasedDurably(full.id));
    expect(log.releasedDurably(entries[1]!.id)).toBe(false);
    await log.close();
    const again = WriteAheadLog.open({ dir, capacityBytes: capacity, flush });
    expect(again.replay.map(seedOf)).toEqual([1]);
    again.replay[0]!.release();
    await again.close();
  });

  test("several laps of the ring, two writers, releases behind the commits", async () => {
    const dir = newDir();
    const capacity = 256 * KiB;
    const log = WriteAheadLog.open({ dir, capacityBytes: capacity, flush });
    const kept = new Map<number, number>();
    let written = 0;
    let abandoned = 0;
    let seed = 0;
    const writer = async (lane: number) => {
      while (written < 6 * capacity) {
        const mine = seed++;
        const size = 5 * KiB + ((mine * 7919) % (40 * KiB));
        const e = log.begin();
        const data = bytesFor(mine, size);
        for (let at = 0; at < size; at += 16 * KiB) {
          writeChunks(e, data.subarray(at, Math.min(size, at + 16 * KiB)), 16 * KiB);
          await Promise.resolve();
        }
        if (!e.logged) {
          abandoned++;
          e.release();
          await sleep(2);
          continue;
        }
        try {
          await e.commit(headerFor(mine));
        } catch {
          // A carrying entry keeps its space after a failed commit until it is released.
          abandoned++;
          e.release();
          await sleep(2);
          continue;
        }
        written += size;
        // The last few of lane 0 stay unreleased: they must come back.
        if (lane === 0 && written >= 6 * capacity - 60 * KiB) kept.set(mine, size);
        else setTimeout(() => e.release(), 1);
      }
    };
    await Promise.all([writer(0), writer(1)]);
    await sleep(5);
    expect(log.durableLsn).toBeGreaterThan(5 * capacity);
    expect(abandoned).toBeLessThan(seed / 2);
    await log.close();
    const again = WriteAheadLog.open({ dir, capacityBytes: capacity, flush });
    expect(checkReplay(again, dir, kept, sameBytes).sort((a, b) => a - b)).toEqual(
      [...kept.keys()].sort((a, b) => a - b),
    );
    await again.close();
  });

  test("an entry larger than the room left is abandoned at once; the space comes back", async () => {
    const dir = newDir();
    const log = WriteAheadLog.open({ dir, capacityBytes: 64 * KiB, flush });
    const held = log.begin();
    writeChunks(held, bytesFor(1, 40 * KiB), 8 * KiB);
    await held.commit(headerFor(1));
    const big = log.begin();
    writeChunks(big, bytesFor(2, 40 * KiB), 8 * KiB);
    expect(big.logged).toBe(false);
    await expect(big.commit(headerFor(2))).rejects.toThrow();
    big.release();
    // Its partial bytes lie behind the held entry: the ring is full until that one is released.
    const small = log.begin();
    writeChunks(small, bytesFor(3, 20 * KiB), 4 * KiB);
    expect(small.logged).toBe(false);
    await log.close();

    const again = WriteAheadLog.open({ dir, capacityBytes: 64 * KiB, flush });
    expect(again.replay.map(seedOf)).toEqual([1]);
    for (const r of again.replay) r.release();
    // Once released (and checkpointed), the whole ring is usable again.
    await sleep(80);
    const e = again.begin();
    writeChunks(e, bytesFor(4, 50 * KiB), 8 * KiB);
    expect(e.logged).toBe(true);
    await e.commit(headerFor(4));
    await again.close();
  });

  test("a new capacity: the log is made again when it holds nothing to replay, kept until then", async () => {
    const dir = newDir();
    const log = WriteAheadLog.open({ dir, capacityBytes: 128 * KiB, flush });
    const e = log.begin();
    writeChunks(e, bytesFor(9, 10 * KiB), 4 * KiB);
    await e.commit(headerFor(9));
    await log.close();
    const bigger = WriteAheadLog.open({ dir, capacityBytes: 512 * KiB, flush });
    expect(bigger.capacity).toBe(128 * KiB);
    expect(bigger.replay.map(seedOf)).toEqual([9]);
    bigger.replay[0]!.release();
    await bigger.close();
    const resized = WriteAheadLog.open({ dir, capacityBytes: 512 * KiB, flush });
    expect(resized.capacity).toBe(512 * KiB);
    expect(statSync(join(dir, "log")).size).toBe(512 * KiB);
    expect(resized.replay).toHaveLength(0);
    await resized.close();
  });
});

test("instances arriving slowly: syncs start before the last byte, beside the commits'; all come back whole", async () => {
  const dir = newDir();
  const log = WriteAheadLog.open({ dir, capacityBytes: 8 * 1024 * KiB, flush: "fdatasync" });
  const sizes = new Map<number, number>();
  let syncedWhileArriving = 0;
  for (let seed = 0; seed < 6; seed++) {
    const data = bytesFor(seed, 400 * KiB);
    sizes.set(seed, data.length);
    const entry = log.begin();
    // 40 KiB every 10 ms: an instance takes ~100 ms to arrive, far longer than a sync.
    for (let at = 0; at < data.length; at += 40 * KiB) {
      entry.write(data.slice(at, at + 40 * KiB));
      await sleep(10);
    }
    const before = log.durableLsn;
    // Part of the instance durable before its last byte: an early sync ran while it arrived (from the
    // second on: the first tells how slowly instances arrive).
    if (seed > 0 && before > entry.id) syncedWhileArriving += 1;
    await entry.commit(headerFor(seed));
    expect(log.durableLsn).toBeGreaterThan(before);
  }
  await log.close();
  // Not every one: a sync that takes more than half an instance's arrival (a loaded disk) starts none.
  expect(syncedWhileArriving).toBeGreaterThan(0);
  const again = WriteAheadLog.open({ dir, capacityBytes: 8 * 1024 * KiB, flush: "fdatasync" });
  expect(checkReplay(again, newDir(), sizes, sameBytes)).toEqual([0, 1, 2, 3, 4, 5]);
  await again.close();
});
