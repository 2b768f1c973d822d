// Throughput bench: our SCP against DCMTK storescp, same machine, same run, DCMTK storescu as the sender.
//
//   W1  1000 x ~0.5 MB CT instances in one association
//   W2  the same 1000 over 10 parallel associations (100 each)
//   W3  one ~0.5 GiB 1000-frame instance
//   W1T W1 as JPEG-LS lossless (storescu -xt), received by ours with transcoding to Explicit VR LE on
//       (ours-transcode: the supported list narrowed to the native syntaxes) and off (ours-fsync: stored
//       as received): instances/s with the worker pool against the same run without
//
// Receivers: ours with storage.fsync true and false; DCMTK storescp single-process and --fork
// (-pdu 131072); in W1 and W2 also the floor receivers of bench/floor-receiver.ts (the least a Bun
// receiver can do: bytes only; plus the per-instance meta, record and log line of docs/storage.md;
// plus its sync order), which separate the runtime's cost from ours, and dcmtk-durable: DCMTK storescp syncing each
// file and its directory before answering (bench/durable-dcmtk.c, an LD_PRELOAD shim), which shows what
// the fsync-on promise costs the baseline itself on this disk. Every DCMTK tool runs with TCP_NODELAY=1.
// Prints wall seconds, instances/s, MiB/s, the receiver's peak RSS and CPU time, and the ratio to
// single-process DCMTK, then the targets:
//   W1, W2: fsync off at least as fast as DCMTK single-process; fsync on within 1.3x of it (with what
//           DCMTK made durable reaches, and after W1 the commit of docs/storage.md timed alone:
//           bench/durability.ts)
//   W3:     at least 300 MB/s with peak RSS at most 150 MB (each checked in the stricter unit: MiB/s, MB)
//
// usage: bun bench/run.ts [--only W1,W2,W3,W1T] [--receivers ours-fsync,ours-kafka,ours-nofsync,ours-transcode,dcmtk,dcmtk-fork,
//                                                            dcmtk-durable,floor,floor-duties,floor-duties-fsync,ours-base]
//                         [--quick] [--repeat N] [--log-level LEVEL] [--keep] [--no-outbox] [--no-startup] [--no-codecs]
//                         [--warm N] [--base REV] [--fuzz RUNS]
// --base REV: W1, W2 and W3 also run ours-base, this receiver as of git revision REV (fsync on, from a
// `git worktree` of REV the bench makes under bench/.work and removes at the end), interleaved with
// ours-fsync: the target line says how much slower or faster this code is than REV on the same machine
// in the same run (e.g. the data set checked to its end against the code before that check).
// --fuzz RUNS: afterwards, the data set fuzzer (bench/fuzz.ts) for RUNS runs.
// --warm N: before each W1 and W2 run, every receiver first stores N other instances (a perfset of their
// own, one association), which are set aside before the measured run starts. The rows then show a
// receiver that has been running for a while (its JIT warm) instead of a fresh process; the
// targets are for fresh processes, and the target lines say which they were computed from.
// ours-kafka is ours with fsync on and Kafka enabled (publishing to the librdkafka mock cluster while
// receiving): its "Kafka enabled vs disabled" line compares it with ours-fsync. bench/outbox.ts follows
// (append cost, drain rate) unless --no-outbox, then bench/startup.ts (binary sizes, cold start, first
// association, against DCMTK) unless --no-startup, then bench/transcode.ts (decode megapixels/s per codec
// against the native tools) unless --no-codecs.
// Inputs are generated once and cached under bench/.work/ (gitignored); received files go to
// bench/.work/recv/ and are emptied between runs, removed at the end (see bench/lib/stored.ts).
//
// The parts, under bench/lib/: options.ts (this command line), workloads.ts (the inputs), receivers.ts
// (starting each receiver), measure.ts (one run and its repeats), stored.ts (what a receiver stored),
// report.ts (rows and target lines); this file runs them in order.

import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../test/helpers/dcmtk.ts";
import { type CommitCost, measureCommit } from "./durability.ts";
import { longFuzz } from "./fuzz.ts";
import { dropCaches, measureInterleaved } from "./lib/measure.ts";
import { LABEL, type Options, parseArgs, TAKES_PART } from "./lib/options.ts";
import { MiB, TRASH, WORK } from "./lib/paths.ts";
import { baseWorktree, removeWorktree } from "./lib/receivers.ts";
import { pad, printRow, type Row, targets, versionOf } from "./lib/report.ts";
import { retire } from "./lib/stored.ts";
import { ensurePerfset, makeWorkload } from "./lib/workloads.ts";
import { outboxBench, printOutboxBench } from "./outbox.ts";
import { printStartupBench, startupBench } from "./startup.ts";
import { codecBench } from "./transcode.ts";

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  mkdirSync(WORK, { recursive: true });
  if (opts.base === undefined) opts.receivers = opts.receivers.filter((r) => r !== "ours-base");
  else {
    opts.baseDir = baseWorktree(opts.base);
    const rev = spawnSync("git", ["rev-parse", "--short", opts.base], { cwd: repoRoot, encoding: "utf8" });
    LABEL["ours-base"] = `ours fsync=on @${rev.stdout.trim() || opts.base}`;
  }
  try {
    await measureAll(opts);
  } finally {
    if (opts.baseDir) removeWorktree(opts.baseDir);
  }
}

async function measureAll(opts: Options): Promise<void> {
  rmSync(TRASH, { recursive: true, force: true });
  const workloads = opts.workloads.map((id) => makeWorkload(id, opts.quick));
  if (opts.warm > 0 && workloads.some((w) => w.id === "W1" || w.id === "W2")) {
    // A perfset's UIDs follow from its size: one of another size is a distinct set of instances.
    if (workloads.some((w) => w.instances === opts.warm)) opts.warm += 1;
    ensurePerfset(opts.warm);
    opts.warmDir = join(WORK, `perfset-${opts.warm}`);
  }

  console.log(`storescp bench  ${new Date().toISOString()}${opts.quick ? "  (--quick)" : ""}`);
  console.log(
    `host: ${spawnSync("uname", ["-srm"], { encoding: "utf8" }).stdout.trim()}, ` +
      `${spawnSync("nproc", [], { encoding: "utf8" }).stdout.trim()} cores; ` +
      `${versionOf("storescu", ["--version"])}; bun ${process.versions.bun ?? "?"}; ` +
      `sender: storescu -xe (W1T: -xt; TCP_NODELAY=1); ours: log level ${opts.logLevel}; ` +
      `repeat ${opts.repeat}${opts.repeat > 1 ? " (median wall, max RSS)" : ""}` +
      (opts.warmDir ? `; W1/W2: each receiver first stores ${opts.warm} other instances (--warm)` : ""),
  );
  console.log(
    "MiB = 2^20 bytes. 'vs DCMTK' = throughput / single-process DCMTK storescp's. CPU s = the receiver's\n" +
      "user + system time during the run. floor = bench/floor-receiver.ts, the least a Bun receiver does.\n",
  );
  console.log(
    pad("", 5) +
      pad("receiver", 25) +
      pad("wall s", 8, true) +
      pad("inst/s", 10, true) +
      pad("MiB/s", 9, true) +
      pad("RSS MiB", 10, true) +
      pad("CPU s", 8, true) +
      pad("vs DCMTK", 10, true),
  );

  const rows: Row[] = [];
  let commit: CommitCost | { skipped: string } | undefined;
  // DCMTK single-process first in each workload, so that our rows can show their ratio as they come.
  const order = [...opts.receivers].sort((a, b) => (a === "dcmtk" ? -1 : b === "dcmtk" ? 1 : 0));
  for (const w of workloads) {
    console.log(`${w.id}: ${w.title} (${(w.bytes / MiB).toFixed(0)} MiB)`);
    const outcomes = await measureInterleaved(
      w,
      order.filter((id) => TAKES_PART[w.id].includes(id)),
      opts,
    );
    for (const id of order) {
      const outcome = outcomes.get(id);
      if (!outcome) continue;
      const row: Row = { workload: w, receiver: id, outcome };
      rows.push(row);
      printRow(
        row,
        rows.find((r) => r.workload.id === w.id && r.receiver === "dcmtk"),
      );
    }
    if (w.id === "W1" && outcomes.has("dcmtk") && outcomes.has("ours-fsync")) {
      // Right after W1, on the same disk state: what the durable commit alone costs per instance.
      dropCaches();
      const dir = join(WORK, "recv", "durability");
      commit = measureCommit(WORK, dir, w.instances);
      retire(dir);
    }
  }
  if (opts.outbox) {
    console.log("");
    printOutboxBench(await outboxBench(opts.quick ? 10_000 : 50_000));
  }
  if (opts.startup) {
    console.log("");
    printStartupBench(await startupBench(opts.quick ? 5 : 11));
  }
  if (opts.codecs) {
    console.log("");
    console.log(await codecBench(opts.quick ? 2 : 5));
  }
  if (opts.fuzz > 0) {
    console.log("");
    await longFuzz(opts.fuzz, 20260315, 60);
  }
  const t = targets(rows, commit);
  if (t.length > 0) {
    console.log(
      opts.warmDir
        ? `\ntargets (W1/W2 computed after ${opts.warm} warm-up instances; the targets are for fresh processes):`
        : "\ntargets:",
    );
    for (const line of t) console.log(`  ${line}`);
  }
  rmSync(TRASH, { recursive: true, force: true });
}

await main();
