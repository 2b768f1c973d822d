// What the durability of docs/storage.md costs on this disk, apart from our code, in C artefacts built with the
// host's `cc` (skipped, with the reason, where there is none):
//  - bench/durability-floor.c: the commit of storage.durability file (data synced -> renamed ->
//    directory and outbox record synced, before the answer) timed alone: no network, no runtime. In W1
//    the sender waits for each answer, so whatever part of it cannot overlap the data's arrival adds to
//    every instance; DCMTK syncs nothing. The target line puts it next to DCMTK's W1: its wall plus this
//    commit per instance.
//  - bench/wal-floor.c: the commit of storage.durability wal (end record appended, the log synced),
//    alone, while each instance is also copied to its own file and placed behind the answer, and the
//    end record's sync alone once the instance's bytes are synced: the least any receiver that answers
//    only once durable adds after the last byte, whatever it does while the bytes arrive.
//  - bench/durable-dcmtk.c: an LD_PRELOAD shim that makes DCMTK storescp itself sync each file and its
//    directory before answering (the bench's dcmtk-durable receiver): the baseline, keeping the promise.
//
// usage: bun bench/durability.ts [--instances N]   (the commits alone; bench/run.ts runs all)

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
  // The probes share bench/probe.h: a newer header builds them again too.
  const newest = Math.max(statSync(source).mtimeMs, statSync(join(repoRoot, "bench", "probe.h")).mtimeMs);
  if (existsSync(out) && statSync(out).mtimeMs >= newest) return out;
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

/**
 * Which commit a probe times: the file order, the log alone, the log while files are copied behind it,
 * and the log's end record alone once the instance's bytes are synced (the least any durable answer costs).
 */
export type CommitOrder = "file" | "wal" | "wal+copy" | "wal-tail";

/** Each order's probe, its arguments, and how the report names it. */
const PROBE: Record<CommitOrder, { name: string; args: string[]; what: string }> = {
  file: { name: "durability-floor", args: [], what: "bench/durability-floor.c, durability file" },
  wal: { name: "wal-floor", args: [], what: "bench/wal-floor.c, durability wal, the log alone" },
  "wal+copy": {
    name: "wal-floor",
    args: ["--copy"],
    what: "bench/wal-floor.c --copy, durability wal, files copied and placed behind it",
  },
  "wal-tail": {
    name: "wal-floor",
    args: ["--tail"],
    what: "bench/wal-floor.c --tail, the end record alone, the instance synced before it: the floor",
  },
};

export const COMMIT_ORDERS = Object.keys(PROBE) as CommitOrder[];

/** What each probe measured (or why it was skipped), by order. */
export type CommitCosts = Partial<Record<CommitOrder, CommitCost | { skipped: string }>>;

/** How the report names the probe of `order`. */
export function probeOf(order: CommitOrder): string {
  return PROBE[order].what;
}

/** Runs the probe of `order` over `instances` files in `dir` (created; the caller disposes of it). */
export function measureCommit(
  work: string,
  dir: string,
  instances: number,
  order: CommitOrder = "file",
): CommitCost | { skipped: string } {
  const { name, args } = PROBE[order];
  const exe = buildC(work, name, []);
  if (typeof exe !== "string") return exe;
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(exe, [dir, String(instances), ...args], { encoding: "utf8" });
  const m = /commit_ms ([\d.]+) p10 ([\d.]+) p90 ([\d.]+) cycle_ms ([\d.]+)/.exec(r.stdout ?? "");
  if (r.status !== 0 || !m) return { skipped: `${name} failed: ${(r.stderr || r.stdout).trim()}` };
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
  for (const order of COMMIT_ORDERS) {
    const dir = join(work, "durability", `${process.pid}-${order}`);
    const c = measureCommit(work, dir, n, order);
    console.log(`commit alone, ${order}: ${"skipped" in c ? `skipped, ${c.skipped}` : describeCommit(c)}`);
    rmSync(dir, { recursive: true, force: true });
  }
}
