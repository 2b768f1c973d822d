// The durability ceiling: what SPEC 3's commit (data synced -> renamed -> directory and outbox record
// synced, before the answer) costs on this disk by itself, measured by bench/durability-floor.c (C, no
// network, no runtime). In W1 the sender waits for each answer, so this time adds to every instance of
// any receiver that keeps SPEC 3's promise; DCMTK syncs nothing. Hence the best fsync-on ratio any
// receiver can reach here: DCMTK's W1 wall / (DCMTK's W1 wall + instances x commit).
//
// usage: bun bench/durability.ts [--instances N]   (also run by bench/run.ts after W1)

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../test/helpers/dcmtk.ts";

export interface DurabilityFloor {
  /** Median ms from the last byte written to the instance durable (file, name and record). */
  commitMs: number;
  p10Ms: number;
  p90Ms: number;
  /** Median ms per instance of the whole write-and-commit loop. */
  cycleMs: number;
}

const SOURCE = join(repoRoot, "bench", "durability-floor.c");

/** Builds the C floor with the host's `cc` (once, while it is older than its source). */
function buildFloor(work: string): string | { skipped: string } {
  const exe = join(work, "durability-floor");
  if (existsSync(exe) && statSync(exe).mtimeMs >= statSync(SOURCE).mtimeMs) return exe;
  mkdirSync(work, { recursive: true });
  const r = spawnSync("cc", ["-O2", "-o", exe, SOURCE, "-lpthread"], { encoding: "utf8" });
  if (r.error) return { skipped: `no C compiler (${r.error.message})` };
  if (r.status !== 0) return { skipped: `cc failed: ${r.stderr.trim().split("\n")[0]}` };
  return exe;
}

/** Runs the C floor over `instances` files in `dir` (created; the caller disposes of it). */
export function durabilityFloor(
  work: string,
  dir: string,
  instances: number,
): DurabilityFloor | { skipped: string } {
  const exe = buildFloor(work);
  if (typeof exe !== "string") return exe;
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(exe, [dir, String(instances)], { encoding: "utf8" });
  const m = /commit_ms ([\d.]+) p10 ([\d.]+) p90 ([\d.]+) cycle_ms ([\d.]+)/.exec(r.stdout ?? "");
  if (r.status !== 0 || !m) return { skipped: `durability-floor failed: ${(r.stderr || r.stdout).trim()}` };
  return { commitMs: Number(m[1]), p10Ms: Number(m[2]), p90Ms: Number(m[3]), cycleMs: Number(m[4]) };
}

/** The best fsync-on/DCMTK throughput ratio for `instances` sequential instances (see the top). */
export function ceilingRatio(dcmtkWallS: number, instances: number, floor: DurabilityFloor): number {
  return dcmtkWallS / (dcmtkWallS + (instances * floor.commitMs) / 1000);
}

export function describeFloor(f: DurabilityFloor): string {
  return `commit ${f.commitMs.toFixed(2)} ms per instance (p10 ${f.p10Ms.toFixed(2)}, p90 ${f.p90Ms.toFixed(2)}; whole write + commit ${f.cycleMs.toFixed(2)} ms)`;
}

if (import.meta.main) {
  const at = process.argv.indexOf("--instances");
  const n = at > 0 ? Number(process.argv[at + 1]) : 1000;
  const work = join(repoRoot, "bench", ".work");
  const dir = join(work, "durability", String(process.pid));
  const f = durabilityFloor(work, dir, n);
  console.log(
    "skipped" in f ? `durability floor: skipped, ${f.skipped}` : `durability floor: ${describeFloor(f)}`,
  );
  rmSync(dir, { recursive: true, force: true });
}
