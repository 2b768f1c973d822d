// The data set fuzzer (test/dicom/fuzz.ts) with a fixed seed and a bounded run; bench/fuzz.ts runs
// it for longer.

import { expect, test } from "bun:test";
import { join } from "node:path";
import { repoRoot } from "../helpers/dcmtk.ts";
import { fuzzDataSets } from "./fuzz.ts";

test("fuzzed data sets: nothing escapes, memory bounded, whole ones accepted, accepted ones read by dcmdump", async () => {
  const r = await fuzzDataSets({
    seed: 20260315,
    numRuns: 10_000,
    timeLimitMs: 30_000,
    workDir: join(repoRoot, "test", ".work", `fuzz-${process.pid}`),
    maxRssGrowth: 256 << 20,
  });
  console.log(
    `  fuzz: ${r.runs} runs, ${r.accepted} accepted, RSS +${(r.rssGrowth / 1048576).toFixed(0)} MiB`,
  );
  expect(r.escaped).toEqual([]);
  expect(r.refusedWhole).toEqual([]);
  expect(r.disagreements).toEqual([]);
  expect(r.rssGrowth).toBeLessThan(256 << 20);
  expect(r.accepted).toBeGreaterThan(r.runs / 10);
}, 60_000);
