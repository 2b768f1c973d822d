// What the durability of docs/storage.md costs on this disk, apart from our code, in two C artefacts built with the
// host's `cc` (skipped, with the reason, where there is none):
//  - bench/durability-floor.c: that commit (data synced -> renamed -> directory and outbox record
//    synced, before the answer) timed alone: no network, no runtime. In W1 the sender waits for each
//    answer, so whatever part of it cannot overlap the data's arrival adds to every instance; DCMTK syncs
//    nothing. The target line puts it next to DCMTK's W1: its wall plus this commit per instance.
//  - bench/durable-dcmtk.c: an LD_PRELOAD shim that makes DCMTK storescp itself sync each file and its
//    directory before answering (the bench's dcmtk-durable receiver): the baseline, keeping the promise.
//
// usage: bun bench/durability.ts [--instances N]   (the commit alone; bench/run.ts runs both)

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../test/helpers/dcmtk.ts";

export interface CommitCost {
  /** Median ms from the last byte written to the instance durable (file, name and record). */
  commitMs: number;
  p10Ms: number;
  p90Ms: number;
  /** Mean ms per instance of the whole write-and-commit loop. */
  cycleMs: number;
}

/** Builds bench/NAME.c with the host's `cc` into `work` (again only when the source is newer). */
function buildC(work: string, name: string, flags: string[]): string | { skipped: string } {
  const source = join(repoRoot, "bench", `${name}.c`);
  const out = join(work, flags.includes("-shared") ? `${name}.so` : name);
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(source).mtimeMs) return out;
  mkdirSync(work, { recursive: true });
  const r = spawnSync("cc", ["-O2", ...flags, "-o", out, source, "-lpthread", "-ldl"], { encoding: "utf8" });
  if (r.error) return { skipped: `no C compiler (${r.error.message})` };
  if (r.status !== 0) return { skipped: `cc failed: ${r.stderr.trim().split("\n")[0]}` };
  return out;
}

/** The LD_PRELOAD shim that makes DCMTK storescp durable (bench/durable-dcmtk.c). */
export function durableDcmtkShim(work: string): string | { skipped: string } {
  return buildC(work, "durable-dcmtk", ["-shared", "-fPIC"]);
}

/** Runs bench/durability-floor.c over `instances` files in `dir` (created; the caller disposes of it). */
export function measureCommit(
  work: string,
  dir: string,
  instances: number,
): CommitCost | { skipped: string } {
  const exe = buildC(work, "durability-floor", []);
  if (typeof exe !== "string") return exe;
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(exe, [dir, String(instances)], { encoding: "utf8" });
  const m = /commit_ms ([\d.]+) p10 ([\d.]+) p90 ([\d.]+) cycle_ms ([\d.]+)/.exec(r.stdout ?? "");
  if (r.status !== 0 || !m) return { skipped: `durability-floor failed: ${(r.stderr || r.stdout).trim()}` };
  return { commitMs: Number(m[1]), p10Ms: Number(m[2]), p90Ms: Number(m[3]), cycleMs: Number(m[4]) };
}

/** Throughput ratio to DCMTK of DCMTK's W1 with the commit added to each of its `instances`. */
export function withCommitRatio(dcmtkWallS: number, instances: number, commit: CommitCost): number {
  return dcmtkWallS / (dcmtkWallS + (instances * commit.commitMs) / 1000);
}

export function describeCommit(f: CommitCost): string {
  return `commit ${f.commitMs.toFixed(2)} ms per instance (p10 ${f.p10Ms.toFixed(2)}, p90 ${f.p90Ms.toFixed(2)}; whole write + commit ${f.cycleMs.toFixed(2)} ms)`;
}

if (import.meta.main) {
  const at = process.argv.indexOf("--instances");
  const n = at > 0 ? Number(process.argv[at + 1]) : 1000;
  const work = join(repoRoot, "bench", ".work");
  const dir = join(work, "durability", String(process.pid));
  const c = measureCommit(work, dir, n);
  console.log("skipped" in c ? `commit alone: skipped, ${c.skipped}` : `commit alone: ${describeCommit(c)}`);
  rmSync(dir, { recursive: true, force: true });
}
