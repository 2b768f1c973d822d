// Throughput bench: our SCP against DCMTK storescp, same machine, same run, DCMTK storescu as the sender.
//
//   W1  1000 x ~0.5 MB CT instances in one association
//   W2  the same 1000 over 10 parallel associations (100 each)
//   W3  one ~0.5 GiB 1000-frame instance
//   W1T W1 as JPEG-LS lossless (storescu -xt), received by ours with transcoding to Explicit VR LE on
//       (ours-transcode, ours-transcode-wal: the supported list narrowed to the native syntaxes) and off
//       (ours-fsync: stored as received): instances/s with the worker pool against the same run without
//
// Networks (--net): W1 and W2 run on loopback and over an emulated 1 Gbit/s link, W3 and W1T on loopback
// only. The link is a network namespace of the bench's own (storescp-bench-<pid>) whose loopback has MTU
// 1500 and a tc token bucket at 1 Gbit/s (bench/lib/link.ts); the bench re-executes itself inside it
// (--in-link, internal) so that receivers and senders both run there, prints a bulk TCP transfer's rate
// over it as proof, and deletes the namespace at the end, also on failure or Ctrl+C. Without root or
// iproute2 the link's section says skipped and the rest runs. The report has one section per network.
//
// Receivers (--receivers; by default W1/W2: ours-fsync, the durability mode that is not the default
// (ours-wal while storage.durability defaults to file), dcmtk and dcmtk-durable; W3: ours-fsync,
// ours-kafka, ours-nofsync, dcmtk, dcmtk-fork; W1T: ours-fsync, ours-transcode, ours-transcode-wal,
// dcmtk):
//   ours-fsync          ours with its defaults (fsync on, storage.durability as defaulted)
//   ours-file, ours-wal ours with storage.durability file / wal set explicitly
//   ours-nofsync        storage.fsync false;  ours-kafka: defaults plus Kafka (the librdkafka mock cluster)
//   dcmtk, dcmtk-fork   DCMTK storescp single-process and --fork (-pdu 131072)
//   dcmtk-durable       DCMTK storescp syncing each file and its directory before answering
//                       (bench/durable-dcmtk.c, an LD_PRELOAD shim): the baseline keeping the promise
//   floor, floor-duties, floor-duties-fsync   bench/floor-receiver.ts (the least a Bun receiver can do:
//                       bytes only; plus the per-instance meta, record and log line of docs/storage.md;
//                       plus its sync order), which separate the runtime's cost from ours
// Every DCMTK tool runs with TCP_NODELAY=1. Rows print wall seconds, instances/s, MiB/s, the receiver's
// peak RSS and CPU time, throughput relative to plain and to durable DCMTK, and the target the row is
// held to (printed, not asserted): link: ours at most 1.05x plain DCMTK's wall time; loopback: ours at
// most durable DCMTK's wall time; W1T: transcoding at 400 instances/s or more. The target lines at the
// end repeat those and add: W1, W2: fsync off at least as fast as DCMTK, fsync on within 1.3x of it (and
// after loopback W1 the commit of docs/storage.md timed alone: bench/durability.ts); W3: at least
// 300 MB/s with peak RSS at most 150 MB (each checked in the stricter unit: MiB/s, MB).
//
// usage: bun bench/run.ts [--only W1,W2,W3,W1T] [--net loopback,link]
//                         [--receivers ours-fsync,ours-file,ours-wal,ours-kafka,ours-nofsync,ours-transcode,
//                                      ours-transcode-wal,dcmtk,dcmtk-fork,dcmtk-durable,floor,floor-duties,
//                                      floor-duties-fsync,ours-base]
//                         [--quick] [--repeat N] [--log-level LEVEL] [--keep] [--no-outbox] [--no-startup] [--no-codecs]
//                         [--warm N] [--base REV] [--fuzz RUNS]
// --base REV: W1, W2 and W3 (on every network) also run ours-base, this receiver as of git revision REV (its defaults, from a
// `git worktree` of REV the bench makes under bench/.work and removes at the end), interleaved with
// ours-fsync: the target line says how much slower or faster this code is than REV on the same machine
// in the same run (e.g. the data set checked to its end against the code before that check).
// --fuzz RUNS: afterwards, the data set fuzzer (bench/fuzz.ts) for RUNS runs.
// --warm N: before each W1 and W2 run, every receiver first stores N other instances (a perfset of their
// own, one association), which are set aside before the measured run starts. The rows then show a
// receiver that has been running for a while (its JIT warm) instead of a fresh process; the
// targets are for fresh processes, and the target lines say which they were computed from.
// ours-kafka's "Kafka enabled vs disabled" line compares it with ours-fsync. bench/outbox.ts follows
// (append cost, drain rate) unless --no-outbox, then bench/startup.ts (binary sizes, cold start, first
// association, against DCMTK) unless --no-startup, then bench/transcode.ts (decode megapixels/s per codec
// against the native tools) unless --no-codecs.
// Inputs are generated once and cached under bench/.work/ (gitignored); received files go to
// bench/.work/recv/ and are emptied between runs, removed at the end (see bench/lib/stored.ts).
//
// The parts, under bench/lib/: options.ts (this command line), workloads.ts (the inputs), receivers.ts
// (starting each receiver), measure.ts (one run and its repeats), stored.ts (what a receiver stored),
// report.ts (rows and target lines), link.ts (the emulated link); this file runs them in order.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../test/helpers/dcmtk.ts";
import {
  COMMIT_ORDERS,
  type CommitCost,
  type CommitCosts,
  type CommitOrder,
  measureCommit,
} from "./durability.ts";
import { longFuzz } from "./fuzz.ts";
import { checkLink, createLinkNamespace, LINK_DESCRIPTION } from "./lib/link.ts";
import { dropCaches, measureInterleaved } from "./lib/measure.ts";
import {
  DEFAULT_DURABILITY,
  LABEL,
  linkArgs,
  type NetId,
  netsOf,
  type Options,
  parseArgs,
  receiversOf,
} from "./lib/options.ts";
import { MiB, TRASH, WORK } from "./lib/paths.ts";
import { baseDirOf, baseWorktree, removeWorktree } from "./lib/receivers.ts";
import { printHeader, printRow, type Row, targets, versionOf } from "./lib/report.ts";
import { fileCreationMs, retire } from "./lib/stored.ts";
import { ensurePerfset, makeWorkload, type Workload } from "./lib/workloads.ts";
import { outboxBench, printOutboxBench } from "./outbox.ts";
import { printStartupBench, startupBench } from "./startup.ts";
import { codecBench } from "./transcode.ts";

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  mkdirSync(WORK, { recursive: true });
  if (opts.base !== undefined) {
    // Inside the link namespace the worktree is the one the outer bench made (and removes).
    opts.baseDir = opts.inLink ? baseDirOf(opts.base) : baseWorktree(opts.base);
    const rev = spawnSync("git", ["rev-parse", "--short", opts.base], { cwd: repoRoot, encoding: "utf8" });
    LABEL["ours-base"] = `ours default @${rev.stdout.trim() || opts.base}`;
  }
  try {
    if (opts.inLink) await measureInLink(opts, opts.inLink);
    else await measureAll(opts);
  } finally {
    if (opts.baseDir && !opts.inLink) removeWorktree(opts.baseDir);
  }
}

function prepare(opts: Options): Workload[] {
  const workloads = opts.workloads.map((id) => makeWorkload(id, opts.quick));
  if (opts.warm > 0 && workloads.some((w) => w.id === "W1" || w.id === "W2")) {
    // A perfset's UIDs follow from its size: one of another size is a distinct set of instances.
    if (workloads.some((w) => w.instances === opts.warm)) opts.warm += 1;
    ensurePerfset(opts.warm);
    opts.warmDir = join(WORK, `perfset-${opts.warm}`);
  }
  return workloads;
}

/** One workload on one network: every receiver of it, interleaved; its rows printed. */
async function measureWorkload(w: Workload, net: NetId, opts: Options): Promise<Row[]> {
  console.log(`${w.id}: ${w.title} (${(w.bytes / MiB).toFixed(0)} MiB)`);
  const ids = receiversOf(w.id, opts);
  const outcomes = await measureInterleaved(w, ids, opts);
  const rows: Row[] = [];
  for (const id of ids) {
    const outcome = outcomes.get(id);
    if (outcome) rows.push({ net, workload: w, receiver: id, outcome });
  }
  for (const row of rows) printRow(row, rows);
  return rows;
}

async function measureAll(opts: Options): Promise<void> {
  rmSync(TRASH, { recursive: true, force: true });
  const workloads = prepare(opts);
  const w12 = receiversOf("W1", opts).map((id) => LABEL[id]);
  console.log(`storescp bench  ${new Date().toISOString()}${opts.quick ? "  (--quick)" : ""}`);
  console.log(
    `host: ${spawnSync("uname", ["-srm"], { encoding: "utf8" }).stdout.trim()}, ` +
      `${spawnSync("nproc", [], { encoding: "utf8" }).stdout.trim()} cores; ` +
      `${versionOf("storescu", ["--version"])}; bun ${process.versions.bun ?? "?"}; ` +
      `sender: storescu -xe (W1T: -xt; TCP_NODELAY=1); ours: log level ${opts.logLevel}; ` +
      `repeat ${opts.repeat}${opts.repeat > 1 ? " (median wall, max RSS)" : ""}` +
      (opts.warmDir ? `; W1/W2: each receiver first stores ${opts.warm} other instances (--warm)` : ""),
  );
  const creation = fileCreationMs();
  console.log(
    `file creation here: ${creation.toFixed(3)} ms each` +
      (creation > 0.2
        ? " (slow: files deleted in the last minutes are being skipped; every row pays it, wait and run again)"
        : ""),
  );
  console.log(
    `ours by default: storage.durability ${DEFAULT_DURABILITY}, fsync on. W1/W2 receivers: ${w12.join(", ")}.\n` +
      "MiB = 2^20 bytes. 'vs DCMTK', 'vs durable' = throughput / that of DCMTK storescp, plain and syncing\n" +
      "(bench/durable-dcmtk.c). CPU s = the receiver's user + system time during the run. RSS = its peak.\n",
  );

  const rows: Row[] = [];
  const commits: CommitCosts = {};
  const onLoopback = workloads.filter((w) => netsOf(w.id, opts).includes("loopback"));
  if (onLoopback.length > 0) {
    console.log("== network: loopback (lo, unshaped) ==");
    printHeader();
  }
  for (const w of onLoopback) {
    const got = await measureWorkload(w, "loopback", opts);
    rows.push(...got);
    const ran = (id: string) => got.some((r) => r.receiver === id);
    if (w.id === "W1" && ran("dcmtk") && ran("ours-fsync")) {
      // Right after W1, on the same disk state: what each durable commit alone costs per instance.
      for (const order of COMMIT_ORDERS) commits[order] = commitAlone(order, w.instances);
    }
  }
  const notes: string[] = [];
  let linkFloor: LinkResult["floor"];
  if (workloads.some((w) => netsOf(w.id, opts).includes("link"))) {
    if (onLoopback.length > 0) console.log("");
    const link = await overLink(opts);
    rows.push(...link.rows);
    notes.push(link.note);
    linkFloor = link.floor;
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
  const t = [...notes, ...targets(rows, commits, linkFloor)];
  console.log(
    opts.warmDir
      ? `\ntargets (W1/W2 computed after ${opts.warm} warm-up instances; the targets are for fresh processes):`
      : "\ntargets:",
  );
  for (const line of t) console.log(`  ${line}`);
  rmSync(TRASH, { recursive: true, force: true });
}

/** One durable commit timed alone (bench/durability.ts), from an empty page cache, its files retired after. */
function commitAlone(order: CommitOrder, instances: number): CommitCost | { skipped: string } {
  dropCaches();
  const dir = join(WORK, "recv", "durability");
  const cost = measureCommit(WORK, dir, instances, order);
  retire(dir);
  return cost;
}

/** What the link's section adds to the report, and the line the targets start with. */
interface LinkResult {
  rows: Row[];
  note: string;
  /** The least commit after the last byte, timed right after the link's W1 (bench/wal-floor.c --tail). */
  floor?: CommitCost | { skipped: string };
}

/** The link's section: the bench re-executed inside its namespace, which is deleted whatever happens. */
async function overLink(opts: Options): Promise<LinkResult> {
  console.log(`== network: link (${LINK_DESCRIPTION}) ==`);
  const ns = createLinkNamespace();
  if ("skipped" in ns) {
    console.log(`skipped: ${ns.skipped}`);
    return { rows: [], note: `link: skipped (${ns.skipped})` };
  }
  const file = join(WORK, `link-rows-${process.pid}.json`);
  const interrupted = (signal: NodeJS.Signals): void => {
    ns.remove();
    rmSync(file, { force: true });
    console.error(`bench: ${signal}; namespace ${ns.name} deleted`);
    process.exit(130);
  };
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) process.once(s, interrupted);
  try {
    const code = await ns.runBench(linkArgs(opts, file));
    if (!existsSync(file)) return { rows: [], note: `link: failed (the bench inside exited ${code})` };
    const got = JSON.parse(readFileSync(file, "utf8")) as Omit<LinkResult, "note"> & { check: string };
    return {
      rows: got.rows,
      note: `${got.check} (namespace ${ns.name})`,
      ...(got.floor ? { floor: got.floor } : {}),
    };
  } catch (e) {
    return { rows: [], note: `link: failed (${e instanceof Error ? e.message : String(e)})` };
  } finally {
    for (const s of signals) process.off(s, interrupted);
    ns.remove();
    rmSync(file, { force: true });
  }
}

/** Inside the link namespace: the link check, then the link's workloads; the rows go to `file`. */
async function measureInLink(opts: Options, file: string): Promise<void> {
  const workloads = prepare(opts).filter((w) => netsOf(w.id, opts).includes("link"));
  const check = await checkLink();
  console.log(check);
  printHeader();
  const rows: Row[] = [];
  let floor: LinkResult["floor"];
  for (const w of workloads) {
    const got = await measureWorkload(w, "link", opts);
    rows.push(...got);
    if (w.id === "W1" && got.some((r) => r.receiver === "dcmtk")) {
      // In the same disk phase as the W1 rows: the floor under the link's 1.05x target.
      floor = commitAlone("wal-tail", w.instances);
    }
  }
  writeFileSync(file, JSON.stringify({ check, rows, floor }));
}

await main();
