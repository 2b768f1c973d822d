// The data set fuzzer (test/dicom/fuzz.ts) for longer than CI runs it: many runs, any seed.
//
// usage: bun bench/fuzz.ts [--runs N] [--seed S] [--minutes M]
// Prints the runs, how many data sets the scanner accepted, the memory growth, and every disagreement
// with dcmdump (the files are kept under bench/.work/fuzz for a look); exits 1 when anything failed.

import { join } from "node:path";
import { fuzzDataSets } from "../test/dicom/fuzz.ts";
import { repoRoot } from "../test/helpers/dcmtk.ts";

export async function longFuzz(runs: number, seed: number, minutes: number): Promise<boolean> {
  const t0 = performance.now();
  const r = await fuzzDataSets({
    seed,
    numRuns: runs,
    timeLimitMs: minutes * 60_000,
    workDir: join(repoRoot, "bench", ".work", "fuzz"),
    maxRssGrowth: 256 << 20,
  });
  const s = ((performance.now() - t0) / 1000).toFixed(0);
  console.log(
    `data set fuzz (seed ${seed}): ${r.runs} runs in ${s} s, ${r.accepted} accepted and read back by dcmdump, ` +
      `RSS +${(r.rssGrowth / 1048576).toFixed(0)} MiB`,
  );
  for (const e of r.escaped) console.log(`  escaped: ${e}`);
  for (const w of r.refusedWhole) console.log(`  whole data set refused: ${w}`);
  for (const d of r.disagreements)
    console.log(`  dcmdump cannot read an accepted data set: ${d.file}: ${d.error}`);
  return r.escaped.length + r.refusedWhole.length + r.disagreements.length === 0 && r.rssGrowth < 256 << 20;
}

if (import.meta.main) {
  const arg = (name: string, fallback: number): number => {
    const i = process.argv.indexOf(name);
    const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
    if (!Number.isFinite(v) || v <= 0) {
      console.error(`bench/fuzz.ts: ${name} needs a positive number`);
      process.exit(2);
    }
    return v;
  };
  const ok = await longFuzz(
    arg("--runs", 200_000),
    arg("--seed", Date.now() % 1_000_000),
    arg("--minutes", 30),
  );
  process.exit(ok ? 0 : 1);
}
