// Simulated power loss: the log is stopped with writes under way, what it held beyond the last durable
// mark is spoiled (all of it, one record of it as if written out of order, a byte, or a torn end), and
// the next start must replay every entry whose commit resolved, and never a partial or unknown one.

import { describe, expect, test } from "bun:test";
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import {
  discardUnsynced,
  type FlushMode,
  unsyncedRecords,
  WriteAheadLog,
} from "../../../src/store/wal/log.ts";
import { tmpDirs } from "../../helpers/tmp.ts";
import { bytesFor, checkReplay, headerFor, lastMark, MODES, writeChunks } from "./helpers.ts";

const newDir = tmpDirs("wal-crash");
const KiB = 1024;
type Spoil = "discard" | "hole" | "flip" | "torn";

function sameBytes(a: Uint8Array, b: Uint8Array): void {
  expect(a.length).toBe(b.length);
  expect(Buffer.compare(a, b)).toBe(0);
}

interface Run {
  /** Seeds whose commit resolved before the crash. */
  resolved: Set<number>;
  /** Seeds whose commit was called. */
  committed: Map<number, number>;
}

/** Write `count` entries from two writers, one chunk per turn; crash after `crashAfter` turns. */
async function runAndCrash(
  log: WriteAheadLog,
  firstSeed: number,
  sizes: number[],
  crashAfter: number,
): Promise<Run> {
  const run: Run = { resolved: new Set(), committed: new Map() };
  let turns = 0;
  let crashed = false;
  const turn = async () => {
    await new Promise((r) => setImmediate(r));
    turns++;
  };
  const writer = async (lane: number) => {
    for (let i = lane; i < sizes.length && !crashed; i += 2) {
      const seed = firstSeed + i;
      const size = sizes[i]!;
      const data = bytesFor(seed, size);
      const e = log.begin();
      for (let at = 0; at < size && !crashed; at += 24 * KiB) {
        writeChunks(e, data.subarray(at, Math.min(size, at + 24 * KiB)), 8 * KiB);
        await turn();
      }
      if (crashed || !e.logged) continue;
      run.committed.set(seed, size);
      e.commit(headerFor(seed)).then(
        () => run.resolved.add(seed),
        () => undefined,
      );
    }
  };
  const crash = (async () => {
    while (turns < crashAfter && run.committed.size < sizes.length) await turn();
    crashed = true;
    await log.simulateCrash();
  })();
  await Promise.all([writer(0), writer(1), crash]);
  return run;
}

function spoil(dir: string, durableLsn: number, how: Spoil, pick: number): void {
  if (how === "discard") {
    discardUnsynced(dir, durableLsn);
    return;
  }
  const spans = unsyncedRecords(dir, durableLsn);
  if (spans.length === 0) return;
  const fd = openSync(join(dir, "log"), "r+");
  try {
    const span = spans[pick % spans.length]!;
    if (how === "hole" || how === "flip") {
      // hole: the first record lost, later ones written (out of order); flip: one byte anywhere.
      const target = how === "hole" ? spans[0]! : span;
      const at = target.at + (how === "hole" ? 0 : pick % target.size);
      const b = new Uint8Array(1);
      readSync(fd, b, 0, 1, at);
      b[0] = b[0]! ^ 0x5a;
      writeSync(fd, b, 0, 1, at);
    } else {
      // torn: everything from a record on is lost, that record half written.
      const from = spans.indexOf(span);
      for (const s of spans.slice(from)) {
        const junk = new Uint8Array(s.size).fill(0xa5);
        const keep = s === span ? Math.floor(s.size / 2) : 0;
        writeSync(fd, junk, keep, s.size - keep, s.at + keep);
      }
    }
  } finally {
    closeSync(fd);
  }
}

function reopen(dir: string, flush: FlushMode, marksFile?: string): WriteAheadLog {
  return WriteAheadLog.open({ dir, capacityBytes: 2048 * KiB, flush, marksFile });
}

describe.each(MODES)("WriteAheadLog after a power loss (%s)", (flush) => {
  test("every resolved commit is replayed, whole; nothing partial or never committed", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 90 * KiB }), { minLength: 1, maxLength: 10 }),
        fc.nat({ max: 40 }),
        fc.constantFrom<Spoil>("discard", "hole", "flip", "torn"),
        fc.nat(),
        async (sizes, crashAfter, how, pick) => {
          const root = newDir();
          const dir = join(root, "wal");
          const marks = join(root, "marks");
          const run = await runAndCrash(reopen(dir, flush, marks), 0, sizes, crashAfter);
          spoil(dir, lastMark(marks), how, pick);

          const after = reopen(dir, flush);
          const seeds = checkReplay(after, root, run.committed, sameBytes);
          for (const s of run.resolved) expect(seeds).toContain(s);
          if (how === "discard" || how === "hole") expect(new Set(seeds)).toEqual(run.resolved);
          await after.close();
        },
      ),
      { numRuns: 25 },
    );
  });

  test("a record a crashed run left just where the next run's records end is not theirs", async () => {
    const dir = newDir();
    const first = reopen(dir, flush);
    const x = first.begin();
    x.write(bytesFor(1, 10 * KiB));
    await x.commit(headerFor(1));
    await first.simulateCrash();
    // x's begin record was lost; its data and end record were written (out of order).
    spoil(dir, x.id, "hole", 0);

    const second = reopen(dir, flush);
    expect(second.replay).toHaveLength(0);
    // The same shape from the same place: z's records end exactly where x's end record starts.
    const z = second.begin();
    expect(z.id).toBe(x.id);
    z.write(bytesFor(2, 10 * KiB));
    await second.close();

    const third = reopen(dir, flush);
    expect(third.replay).toHaveLength(0);
    await third.close();
  });

  test("records a crashed run left beyond its hole are not taken for the next run's", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 60 * KiB }), { minLength: 2, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 60 * KiB }), { minLength: 1, maxLength: 8 }),
        fc.nat({ max: 30 }),
        fc.nat({ max: 30 }),
        async (sizes1, sizes2, crash1, crash2) => {
          const root = newDir();
          const dir = join(root, "wal");
          const marks1 = join(root, "marks1");
          const run1 = await runAndCrash(reopen(dir, flush, marks1), 0, sizes1, crash1);
          spoil(dir, lastMark(marks1), "hole", 0);

          const marks2 = join(root, "marks2");
          const second = reopen(dir, flush, marks2);
          expect(new Set(second.replay.map((e) => e.id)).size).toBe(run1.resolved.size);
          const run2 = await runAndCrash(second, 1000, sizes2, crash2);
          spoil(dir, lastMark(marks2), "hole", 0);

          const third = reopen(dir, flush);
          const sizes = new Map([...run1.committed, ...run2.committed]);
          const seeds = checkReplay(third, root, sizes, sameBytes);
          expect(new Set(seeds)).toEqual(new Set([...run1.resolved, ...run2.resolved]));
          await third.close();
        },
      ),
      { numRuns: 20 },
    );
  });
});
