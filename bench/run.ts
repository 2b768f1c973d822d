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
// bench/.work/recv/ and are emptied between runs, removed at the end (see retire()).

import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import {
  type ConfigTree,
  currentRss,
  dcmtkEnv,
  freePort,
  peakRss,
  repoRoot,
  run,
  type ServerHandle,
  spawnServer,
  startDcmtkStorescp,
  startServer,
} from "../test/helpers/dcmtk.ts";
import { startMockBroker } from "../test/helpers/kafka.ts";
import {
  type CommitCost,
  describeCommit,
  durableDcmtkShim,
  measureCommit,
  withCommitRatio,
} from "./durability.ts";
import { longFuzz } from "./fuzz.ts";
import { outboxBench, printOutboxBench } from "./outbox.ts";
import { printStartupBench, startupBench } from "./startup.ts";
import { codecBench } from "./transcode.ts";

const MiB = 1024 * 1024;
const WORK = join(repoRoot, "bench", ".work");
const FIXTURES = join(repoRoot, "test", "fixtures");

// ---------------------------------------------------------------------------------------------------
// Command line

const WORKLOADS = ["W1", "W2", "W3", "W1T"] as const;
type WorkloadId = (typeof WORKLOADS)[number];
const RECEIVERS = [
  "ours-fsync",
  "ours-kafka",
  "ours-nofsync",
  "ours-transcode",
  "dcmtk",
  "dcmtk-fork",
  "dcmtk-durable",
  "floor",
  "floor-duties",
  "floor-duties-fsync",
  "ours-base",
] as const;
const FLOORS = ["floor", "floor-duties", "floor-duties-fsync"] as const;
/** Receivers that take part in a workload when asked for (W1T compares transcoding on and off). */
/** W1 and W2: every receiver but the transcoding one. */
const MANY_INSTANCES: readonly ReceiverId[] = [
  "ours-fsync",
  "ours-base",
  "ours-kafka",
  "ours-nofsync",
  "dcmtk",
  "dcmtk-fork",
  "dcmtk-durable",
  ...FLOORS,
];
const TAKES_PART: Record<WorkloadId, readonly ReceiverId[]> = {
  W1: MANY_INSTANCES,
  W2: MANY_INSTANCES,
  W3: ["ours-fsync", "ours-base", "ours-kafka", "ours-nofsync", "dcmtk", "dcmtk-fork"],
  W1T: ["ours-fsync", "ours-transcode", "dcmtk"],
};
type ReceiverId = (typeof RECEIVERS)[number];

interface Options {
  workloads: WorkloadId[];
  receivers: ReceiverId[];
  quick: boolean;
  repeat: number;
  logLevel: string;
  keep: boolean;
  outbox: boolean;
  startup: boolean;
  codecs: boolean;
  /** Instances each receiver stores before each W1/W2 run (0: none); see --warm. */
  warm: number;
  /** The perfset those come from (set in main). */
  warmDir?: string;
  /** --base: the git revision ours-base runs, and its worktree (set in main). */
  base?: string;
  baseDir?: string;
  /** --fuzz: runs of the data set fuzzer afterwards (0: none). */
  fuzz: number;
}

function usage(msg?: string): never {
  if (msg) console.error(`bench: ${msg}`);
  console.error(
    "usage: bun bench/run.ts [--only W1,W2,W3,W1T] [--receivers ours-fsync,ours-kafka,ours-nofsync,ours-transcode,dcmtk,dcmtk-fork,\n" +
      "                                                            dcmtk-durable,floor,floor-duties,floor-duties-fsync,ours-base]\n" +
      "                        [--quick] [--repeat N] [--log-level LEVEL] [--keep] [--no-outbox] [--no-startup] [--no-codecs]\n" +
      "                        [--warm N] [--base REV] [--fuzz RUNS]",
  );
  process.exit(2);
}

function pick<T extends string>(value: string | undefined, allowed: readonly T[], what: string): T[] {
  if (value === undefined) usage(`${what} needs a value`);
  const out: T[] = [];
  for (const v of value.split(",")) {
    const found = allowed.find((a) => a.toLowerCase() === v.trim().toLowerCase());
    if (!found) usage(`unknown ${what} ${v} (one of ${allowed.join(", ")})`);
    out.push(found);
  }
  return out;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    workloads: [...WORKLOADS],
    receivers: [...RECEIVERS],
    quick: false,
    repeat: 1,
    logLevel: "info",
    keep: false,
    outbox: true,
    startup: true,
    codecs: true,
    warm: 0,
    fuzz: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--only") o.workloads = pick(argv[++i], WORKLOADS, "workload");
    else if (a === "--receivers") o.receivers = pick(argv[++i], RECEIVERS, "receiver");
    else if (a === "--quick") o.quick = true;
    else if (a === "--repeat") {
      o.repeat = Number.parseInt(argv[++i] ?? "", 10);
      if (!(o.repeat >= 1)) usage("--repeat needs a positive number");
    } else if (a === "--log-level") o.logLevel = argv[++i] ?? usage("--log-level needs a value");
    else if (a === "--keep") o.keep = true;
    else if (a === "--no-outbox") o.outbox = false;
    else if (a === "--no-startup") o.startup = false;
    else if (a === "--no-codecs") o.codecs = false;
    else if (a === "--warm") {
      o.warm = Number.parseInt(argv[++i] ?? "", 10);
      if (!(o.warm >= 1)) usage("--warm needs a positive number");
    } else if (a === "--base") o.base = argv[++i] ?? usage("--base needs a git revision");
    else if (a === "--fuzz") {
      o.fuzz = Number.parseInt(argv[++i] ?? "", 10);
      if (!(o.fuzz >= 1)) usage("--fuzz needs a positive number of runs");
    } else if (a === "--help" || a === "-h") usage();
    else usage(`unknown argument ${a}`);
  }
  return o;
}

// ---------------------------------------------------------------------------------------------------
// Inputs (cached)

function sh(script: string, args: string[], env: Record<string, string> = {}): void {
  const r = spawnSync("bash", [script, ...args], { env: dcmtkEnv(env), encoding: "utf8" });
  if (r.status !== 0)
    throw new Error(`${script} ${args.join(" ")} failed (${r.status}):\n${r.stdout}${r.stderr}`);
}

function ensureCorpusCt(): string {
  const dir = join(WORK, "corpus");
  const ct = join(dir, "01_ct_s16_explicitLE.dcm");
  const stamp = `${dir}.done`;
  if (!existsSync(stamp)) {
    console.error("bench: building the corpus (test/fixtures/make-corpus.sh) ...");
    rmSync(dir, { recursive: true, force: true });
    sh(join(FIXTURES, "make-corpus.sh"), [dir]);
    writeFileSync(stamp, "");
  }
  return ct;
}

function ensurePerfset(n: number): string[] {
  const dir = join(WORK, `perfset-${n}`);
  const stamp = `${dir}.done`; // beside, not inside: storescu +sd would try to send it
  if (!existsSync(stamp)) {
    const ct = ensureCorpusCt();
    console.error(`bench: building ${n} CT instances (test/fixtures/make-perfset.sh) ...`);
    rmSync(dir, { recursive: true, force: true });
    sh(join(FIXTURES, "make-perfset.sh"), [ct, dir, String(n)]);
    writeFileSync(stamp, "");
  }
  return readdirSync(dir)
    .filter((f) => f.endsWith(".dcm"))
    .sort()
    .map((f) => join(dir, f));
}

/** The perfset compressed to JPEG-LS lossless (dcmcjpls), cached beside it. */
function ensurePerfsetJls(n: number): string[] {
  const source = ensurePerfset(n);
  const dir = join(WORK, `perfset-${n}-jls`);
  const stamp = `${dir}.done`;
  if (!existsSync(stamp)) {
    console.error(`bench: compressing ${n} CT instances to JPEG-LS lossless (dcmcjpls) ...`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const f of source) {
      const r = spawnSync("dcmcjpls", [f, join(dir, f.split("/").pop() ?? "")], { env: dcmtkEnv() });
      if (r.status !== 0) throw new Error(`dcmcjpls ${f} failed: ${r.stderr}`);
    }
    writeFileSync(stamp, "");
  }
  return readdirSync(dir)
    .filter((f) => f.endsWith(".dcm"))
    .sort()
    .map((f) => join(dir, f));
}

function ensureBig(frames: number): string {
  const file = join(WORK, `big-${frames}fr.dcm`);
  if (!existsSync(file)) {
    console.error(`bench: building a ${frames}-frame instance (test/fixtures/make-big.sh) ...`);
    sh(join(FIXTURES, "make-big.sh"), [file, "0"], { FRAMES: String(frames) });
  }
  return file;
}

/** Reads every input once so that the first receiver does not pay for a cold page cache. */
function readBack(files: string[]): void {
  for (const f of files) readFileSync(f);
}

interface Workload {
  id: WorkloadId;
  title: string;
  /** One file list per parallel storescu. */
  senders: string[][];
  /** Directories to give storescu (+sd) instead of files, per sender, when set. */
  dirs?: string[];
  /** storescu's transfer syntax proposal. */
  propose: string;
  instances: number;
  bytes: number;
}

function makeWorkload(id: WorkloadId, quick: boolean): Workload {
  if (id === "W3") {
    const frames = quick ? 200 : 1000;
    const file = ensureBig(frames);
    return {
      id,
      title: `1 x ${(statSync(file).size / MiB).toFixed(0)} MiB ${frames}-frame instance`,
      senders: [[file]],
      propose: "-xe",
      instances: 1,
      bytes: statSync(file).size,
    };
  }
  const n = quick ? 100 : 1000;
  if (id === "W1T") {
    const files = ensurePerfsetJls(n);
    const bytes = files.reduce((s, f) => s + statSync(f).size, 0);
    return {
      id,
      title: `${n} x ${(bytes / files.length / MiB).toFixed(2)} MiB CT as JPEG-LS lossless, 1 association`,
      senders: [files],
      dirs: [join(WORK, `perfset-${n}-jls`)],
      propose: "-xt",
      instances: n,
      bytes,
    };
  }
  const files = ensurePerfset(n);
  const bytes = files.reduce((s, f) => s + statSync(f).size, 0);
  const each = (bytes / files.length / MiB).toFixed(2);
  if (id === "W1") {
    return {
      id,
      title: `${n} x ${each} MiB CT, 1 association`,
      senders: [files],
      dirs: [join(WORK, `perfset-${n}`)],
      propose: "-xe",
      instances: n,
      bytes,
    };
  }
  const per = n / 10;
  const senders: string[][] = [];
  for (let i = 0; i < 10; i++) senders.push(files.slice(i * per, (i + 1) * per));
  return {
    id,
    title: `${n} x ${each} MiB CT, 10 associations x ${per}`,
    senders,
    propose: "-xe",
    instances: n,
    bytes,
  };
}

// ---------------------------------------------------------------------------------------------------
// Memory of a process tree (DCMTK --fork: one child per association)

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/)) {
        if (c) out.push(Number.parseInt(c, 10));
      }
    } catch {
      // task gone
    }
  }
  return out;
}

class TreeSampler {
  private timer: ReturnType<typeof setInterval> | undefined;
  private childHwm = new Map<number, number>();
  /** Largest sum of RSS over the whole tree seen in one sample. */
  treePeak = 0;

  constructor(private readonly root: number) {}

  private sample(): void {
    const stack = childrenOf(this.root);
    let sum = currentRss(this.root) ?? 0;
    while (stack.length > 0) {
      const pid = stack.pop() ?? 0;
      const rss = currentRss(pid);
      const hwm = peakRss(pid);
      if (rss !== undefined) sum += rss;
      if (hwm !== undefined) this.childHwm.set(pid, Math.max(hwm, this.childHwm.get(pid) ?? 0));
      stack.push(...childrenOf(pid));
    }
    this.treePeak = Math.max(this.treePeak, sum);
  }

  start(intervalMs = 100): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  stop(): { children: number; childMaxHwm: number; treePeak: number } {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    return {
      children: this.childHwm.size,
      childMaxHwm: Math.max(0, ...this.childHwm.values()),
      treePeak: this.treePeak,
    };
  }
}

// ---------------------------------------------------------------------------------------------------
// Receivers

/** Where a receiver's stored instances are: files `accept`ed below `dir`, not in directories `skip`ped. */
interface StoredFiles {
  dir: string;
  accept: (name: string) => boolean;
  skip: (name: string) => boolean;
}

interface Receiver {
  handle: ServerHandle;
  calledAe: string;
  files: StoredFiles;
  note?: string;
  /** Stops what the receiver needed besides itself (the mock Kafka cluster). */
  cleanup?: () => Promise<void>;
}

/** Call `f` on every stored instance's path. */
function eachStored(files: StoredFiles, f: (path: string) => void, dir = files.dir): void {
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.isDirectory()) {
      if (!files.skip(e.name)) eachStored(files, f, join(dir, e.name));
    } else if (e.isFile() && files.accept(e.name)) f(join(dir, e.name));
  }
}

/** Number of instances a receiver stored (counted on disk). */
function countStored(files: StoredFiles): number {
  let n = 0;
  eachStored(files, () => {
    n++;
  });
  return n;
}

async function startReceiver(id: ReceiverId, opts: Options, w: Workload): Promise<Receiver> {
  const recv = join(WORK, "recv", id);
  rmSync(recv, { recursive: true, force: true });
  mkdirSync(recv, { recursive: true });
  if (id === "dcmtk" || id === "dcmtk-fork" || id === "dcmtk-durable") {
    const outDir = join(recv, "out");
    let env: Record<string, string> | undefined;
    if (id === "dcmtk-durable") {
      const shim = durableDcmtkShim(WORK);
      if (typeof shim !== "string") throw new Error(shim.skipped);
      env = { LD_PRELOAD: shim, DURABLE_DIR: outDir };
    }
    const handle = await startDcmtkStorescp({
      outDir,
      fork: id === "dcmtk-fork",
      maxPdu: 131072,
      // JPEG-LS is accepted only when asked for (+xa: every syntax it supports)
      extraArgs: w.propose === "-xe" ? [] : ["+xa"],
      ...(env ? { env } : {}),
    });
    return {
      handle,
      calledAe: "STORESCP",
      files: { dir: handle.outDir, accept: () => true, skip: () => false },
    };
  }
  if ((FLOORS as readonly ReceiverId[]).includes(id)) {
    const data = join(recv, "data");
    const port = await freePort();
    const flags = id === "floor" ? [] : id === "floor-duties" ? ["--duties"] : ["--duties", "--fsync"];
    const handle = await spawnServer({
      cmd: process.execPath,
      args: [join(repoRoot, "bench", "floor-receiver.ts"), "--port", String(port), "--root", data, ...flags],
      port,
      env: process.env,
      ready: "output",
      readyPattern: /listening/,
      readyTimeoutMs: 15_000,
      name: LABEL[id],
    });
    return {
      handle,
      calledAe: "FLOOR",
      files: { dir: data, accept: (n) => n.endsWith(".dcm"), skip: () => true },
    };
  }
  if (!existsSync(join(repoRoot, "src", "main.ts"))) throw new Error("src/main.ts does not exist yet");
  const data = join(recv, "data");
  // ours-kafka: fsync on, publishing to the librdkafka mock cluster while receiving.
  const mock = id === "ours-kafka" ? await startMockBroker(["storage_queue:3", "log_queue:3"]) : undefined;
  const config: ConfigTree = {
    scp: { ae_title: "STORESCP", host: "127.0.0.1", max_pdu_length: 131072 },
    storage: { root: data, fsync: id !== "ours-nofsync", quarantine: join(data, "_quarantine") },
    // ours-base runs another revision of this code: the same config as ours-fsync.
    outbox: { dir: join(recv, "outbox") },
    kafka: mock ? { enabled: true, brokers: mock.bootstrap.split(",") } : { enabled: false },
    logging: { level: opts.logLevel, format: "text" },
    // ours-transcode: everything compressed is decoded and stored as Explicit VR LE (default workers).
    ...(id === "ours-transcode"
      ? {
          transcode: {
            supported_transfer_syntaxes: ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"],
            target: "1.2.840.10008.1.2.1",
          },
        }
      : {}),
  };
  const handle = await startServer({
    workDir: recv,
    config,
    readyTimeoutMs: 15_000,
    ...(id === "ours-base" && opts.baseDir ? { entry: join(opts.baseDir, "src", "main.ts") } : {}),
  });
  return {
    ...(mock ? { cleanup: () => mock.stop() } : {}),
    handle,
    calledAe: "STORESCP",
    files: { dir: data, accept: (n) => n.endsWith(".dcm"), skip: (n) => n === "_quarantine" },
  };
}

// ---------------------------------------------------------------------------------------------------
// One run

interface Measurement {
  wallS: number;
  /** CPU time of the receiver process during the run (all threads; reaped children included). */
  cpuS: number;
  rssParent: number;
  childMaxHwm: number;
  children: number;
  treePeak: number;
}

/** utime + stime + cutime + cstime of a process, in seconds (Linux; 0 elsewhere). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i] ?? 0), 0);
    return ticks / 100;
  } catch {
    return 0;
  }
}

type RunOutcome = { ok: true; m: Measurement } | { ok: false; reason: string };

function firstLine(s: string): string {
  const lines = s
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const interesting = lines.find((l) => /error|fail|refus|abort|reject|^E:|^F:/i.test(l));
  return (interesting ?? lines[0] ?? "").slice(0, 160);
}

/**
 * The same memory for every run: written data is flushed, the page cache emptied (where allowed) and
 * the inputs read back in. With the cache full (this 24 GiB VM keeps ~22 GiB of it after a few runs),
 * every page a receiver writes must first be reclaimed from it, in the receiver's own time, by an
 * amount that depends on what ran before: the same code varied 2x between runs.
 */
function resetMemory(w: Workload): void {
  dropCaches();
  readBack(w.senders.flat());
}

/** Written data flushed and the page cache emptied (see resetMemory). */
function dropCaches(): void {
  spawnSync("sync");
  try {
    writeFileSync("/proc/sys/vm/drop_caches", "1\n");
  } catch {
    // Not root, or not Linux: runs keep whatever the cache holds.
  }
}

async function runOnce(w: Workload, id: ReceiverId, opts: Options): Promise<RunOutcome> {
  resetMemory(w);
  let receiver: Receiver | undefined;
  let startError = "";
  // One retry: a start that fails once (e.g. a stray signal from a parallel test run) should not void a row.
  for (let attempt = 1; attempt <= 2 && receiver === undefined; attempt++) {
    try {
      receiver = await startReceiver(id, opts, w);
    } catch (e) {
      startError = firstLine(e instanceof Error ? e.message : String(e));
      if (attempt === 1) console.error(`bench: ${id} did not start (${startError}); retrying once`);
    }
  }
  if (receiver === undefined) return { ok: false, reason: startError };
  const { handle } = receiver;
  try {
    if (opts.warmDir !== undefined && (w.id === "W1" || w.id === "W2")) {
      const args = [
        w.propose,
        "-aec",
        receiver.calledAe,
        "127.0.0.1",
        String(handle.port),
        "+sd",
        opts.warmDir,
      ];
      const r = await run("storescu", args, { timeoutMs: 900_000 });
      if (r.code !== 0)
        return { ok: false, reason: `warm-up: storescu exit ${r.code}: ${firstLine(r.stderr + r.stdout)}` };
      const warmed = countStored(receiver.files);
      if (warmed !== opts.warm)
        return { ok: false, reason: `warm-up: ${warmed} of ${opts.warm} instances on disk` };
      setAside(receiver.files);
      resetMemory(w);
    }
    spawnSync("sync");
    const sampler = new TreeSampler(handle.pid);
    sampler.start();
    const cpu0 = cpuSeconds(handle.pid);
    const t0 = performance.now();
    const senders = w.senders.map((files, i) => {
      const dir = w.dirs?.[i];
      const inputs = dir !== undefined ? ["+sd", dir] : files;
      const args = [w.propose, "-aec", receiver.calledAe, "127.0.0.1", String(handle.port), ...inputs];
      return run("storescu", args, { timeoutMs: 900_000 });
    });
    const results = await Promise.all(senders);
    const wallS = (performance.now() - t0) / 1000;
    const cpuS = cpuSeconds(handle.pid) - cpu0;
    const tree = sampler.stop();
    const rssParent = peakRss(handle.pid) ?? 0;
    const bad = results.find((r) => r.code !== 0);
    if (bad) {
      return {
        ok: false,
        reason: `storescu exit ${bad.code}${bad.timedOut ? " (timeout)" : ""}: ${firstLine(bad.stderr + bad.stdout)}`,
      };
    }
    const stored = countStored(receiver.files);
    if (stored !== w.instances) return { ok: false, reason: `${stored} of ${w.instances} instances on disk` };
    return {
      ok: true,
      m: {
        wallS,
        cpuS,
        rssParent,
        childMaxHwm: tree.childMaxHwm,
        children: tree.children,
        treePeak: tree.treePeak,
      },
    };
  } catch (e) {
    return { ok: false, reason: firstLine(e instanceof Error ? e.message : String(e)) };
  } finally {
    const code = await handle.stop();
    await receiver.cleanup?.();
    if (code !== 0 && id.startsWith("ours")) {
      console.error(`bench: ${id} exited ${code} on SIGTERM; last output:\n${handle.output().slice(-2000)}`);
    }
    if (!opts.keep) retire(join(WORK, "recv", id));
  }
}

/**
 * Received files are emptied, not deleted, until the bench ends. On ext4 without a journal (this
 * machine's disk) every file creation skips the inodes freed in the last minutes, reading each one's
 * deletion time: right after removing a run's 1000 files, creating a file took 0.35-0.45 ms instead of
 * 0.02-0.05 ms. That penalty fell on whichever receiver ran next, and hardest on one that creates each
 * file while the sender waits (DCMTK): measured W1 0.82-0.86 s with this, 0.87-1.56 s without.
 * Truncating frees the space and keeps the inodes; the tree is removed at the end.
 */
const TRASH = join(WORK, "trash");
let retired = 0;

function retire(dir: string): void {
  if (!existsSync(dir)) return;
  mkdirSync(TRASH, { recursive: true });
  retired += 1;
  const to = join(TRASH, String(retired));
  renameSync(dir, to);
  const empty = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) empty(p);
      else if (e.isFile()) truncateSync(p, 0);
    }
  };
  empty(to);
}

/**
 * Move what a receiver stored so far out of its tree, emptied, while it keeps running (the warm-up's
 * instances): the measured run then counts only its own, and no inode is freed (see retire()).
 */
function setAside(files: StoredFiles): void {
  mkdirSync(TRASH, { recursive: true });
  retired += 1;
  const to = join(TRASH, String(retired));
  mkdirSync(to);
  let k = 0;
  eachStored(files, (p) => {
    const q = join(to, String(k++));
    renameSync(p, q);
    truncateSync(q, 0);
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

interface Row {
  workload: Workload;
  receiver: ReceiverId;
  outcome: RunOutcome;
}

/** Median wall time and the largest memory figures of several runs of one receiver. */
function summarize(runs: Measurement[]): RunOutcome {
  const walls = runs.map((r) => r.wallS);
  const max = (f: (m: Measurement) => number) => Math.max(...runs.map(f));
  return {
    ok: true,
    m: {
      wallS: median(walls),
      cpuS: median(runs.map((r) => r.cpuS)),
      rssParent: max((m) => m.rssParent),
      childMaxHwm: max((m) => m.childMaxHwm),
      children: max((m) => m.children),
      treePeak: max((m) => m.treePeak),
    },
  };
}

/**
 * Every receiver once per round, --repeat rounds: the machine's state drifts over minutes (page cache,
 * writeback, neighbours), so interleaving keeps the ratios fair where back-to-back runs would not.
 */
async function measureInterleaved(
  w: Workload,
  ids: ReceiverId[],
  opts: Options,
): Promise<Map<ReceiverId, RunOutcome>> {
  const runs = new Map<ReceiverId, Measurement[]>(ids.map((id) => [id, []]));
  const failed = new Map<ReceiverId, RunOutcome>();
  for (let i = 0; i < opts.repeat; i++) {
    for (const id of ids) {
      if (failed.has(id)) continue;
      const o = await runOnce(w, id, opts);
      if (!o.ok) failed.set(id, o);
      else runs.get(id)?.push(o.m);
    }
  }
  return new Map(ids.map((id) => [id, failed.get(id) ?? summarize(runs.get(id) ?? [])]));
}

// ---------------------------------------------------------------------------------------------------
// Report

const LABEL: Record<ReceiverId, string> = {
  "ours-fsync": "ours fsync=on",
  "ours-kafka": "ours fsync=on +kafka",
  "ours-nofsync": "ours fsync=off",
  "ours-transcode": "ours fsync=on transcode",
  dcmtk: "DCMTK storescp",
  "dcmtk-fork": "DCMTK storescp --fork",
  "dcmtk-durable": "DCMTK + fsync (shim)",
  floor: "floor: bytes only",
  "floor-duties": "floor: +meta,record,log",
  "floor-duties-fsync": "floor: +duties, fsync",
  "ours-base": "ours fsync=on, --base REV",
};

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function rateOf(row: Row): number | undefined {
  return row.outcome.ok ? row.workload.bytes / row.outcome.m.wallS : undefined;
}

function printRow(row: Row, baseline: Row | undefined): void {
  const head = `${pad(row.workload.id, 5)}${pad(LABEL[row.receiver], 25)}`;
  if (!row.outcome.ok) {
    console.log(`${head}failed: ${row.outcome.reason}`);
    return;
  }
  const m = row.outcome.m;
  const ips = row.workload.instances / m.wallS;
  const mbs = row.workload.bytes / MiB / m.wallS;
  let ratio = "";
  const base = baseline ? rateOf(baseline) : undefined;
  const mine = rateOf(row);
  if (row.receiver !== "dcmtk" && row.receiver !== "dcmtk-fork" && base !== undefined && mine !== undefined)
    ratio = `${(mine / base).toFixed(2)}x`;
  let note = "";
  if (m.children > 0) {
    note =
      `parent only; ${m.children} children, each <= ${(m.childMaxHwm / MiB).toFixed(1)} MiB, ` +
      `tree <= ${(m.treePeak / MiB).toFixed(1)} MiB sampled`;
  }
  console.log(
    head +
      pad(m.wallS.toFixed(2), 8, true) +
      pad(ips.toFixed(1), 10, true) +
      pad(mbs.toFixed(1), 9, true) +
      pad((m.rssParent / MiB).toFixed(1), 10, true) +
      pad(m.cpuS.toFixed(2), 8, true) +
      pad(ratio, 10, true) +
      (note ? `  ${note}` : ""),
  );
}

function versionOf(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: dcmtkEnv() });
  const text = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  return (text.split("\n").find((l) => l.trim().length > 0) ?? "?").trim();
}

function targets(rows: Row[], commit?: CommitCost | { skipped: string }): string[] {
  const out: string[] = [];
  const find = (w: WorkloadId, r: ReceiverId) => rows.find((x) => x.workload.id === w && x.receiver === r);
  for (const w of ["W1", "W2"] as const) {
    const base = find(w, "dcmtk");
    const baseRate = base ? rateOf(base) : undefined;
    for (const [r, min, text] of [
      ["ours-nofsync", 1.0, "fsync off >= 1.00x DCMTK"],
      ["ours-fsync", 1 / 1.3, "fsync on  >= 0.77x DCMTK (within 1.3x)"],
    ] as const) {
      const row = find(w, r);
      if (!row) continue;
      const rate = rateOf(row);
      if (rate === undefined || baseRate === undefined) {
        out.push(`${w} ${text}: n/a (${rate === undefined ? "ours failed" : "no DCMTK baseline"})`);
        continue;
      }
      const ratio = rate / baseRate;
      const durable = find(w, "dcmtk-durable");
      const durableRate = r === "ours-fsync" && durable ? rateOf(durable) : undefined;
      const context =
        durableRate === undefined
          ? ""
          : ` (DCMTK itself, syncing file and directory: ${(durableRate / baseRate).toFixed(2)}x)`;
      out.push(`${w} ${text}: ${ratio.toFixed(2)}x ${ratio >= min ? "PASS" : "FAIL"}${context}`);
    }
    if (w === "W1" && commit && base?.outcome.ok) {
      out.push(
        "skipped" in commit
          ? `W1 commit alone: n/a (${commit.skipped})`
          : `W1 commit alone (bench/durability-floor.c): ${describeCommit(commit)}; ` +
              `DCMTK's W1 plus that per instance: ${withCommitRatio(base.outcome.m.wallS, base.workload.instances, commit).toFixed(2)}x`,
      );
    }
  }
  for (const w of WORKLOADS) {
    const off = find(w, "ours-fsync");
    const on = find(w, "ours-kafka");
    const a = off ? rateOf(off) : undefined;
    const b = on ? rateOf(on) : undefined;
    if (a === undefined || b === undefined) continue;
    const slower = (a / b - 1) * 100;
    out.push(
      `${w} Kafka enabled vs disabled (fsync on) < 5% slower: ${slower.toFixed(1)}% ${slower < 5 ? "PASS" : "FAIL"}`,
    );
  }
  for (const w of ["W1", "W2", "W3"] as const) {
    const now = find(w, "ours-fsync");
    const before = find(w, "ours-base");
    const a = now ? rateOf(now) : undefined;
    const b = before ? rateOf(before) : undefined;
    if (!before) continue;
    if (a === undefined || b === undefined) {
      out.push(`${w} this code vs --base (fsync on) <= 3% slower: n/a (a run failed)`);
      continue;
    }
    const slower = (b / a - 1) * 100;
    out.push(
      `${w} this code vs --base (fsync on) <= 3% slower: ${slower >= 0 ? `${slower.toFixed(1)}% slower` : `${(-slower).toFixed(1)}% faster`} ${slower <= 3 ? "PASS" : "FAIL"}`,
    );
  }
  const plain = find("W1T", "ours-fsync");
  const transcoding = find("W1T", "ours-transcode");
  if (plain?.outcome.ok && transcoding?.outcome.ok) {
    const ips = (row: Row) => (row.outcome.ok ? row.workload.instances / row.outcome.m.wallS : 0);
    out.push(
      `W1T JPEG-LS transcoded to Explicit VR LE (worker pool): ${ips(transcoding).toFixed(0)} inst/s, ` +
        `stored as received: ${ips(plain).toFixed(0)} inst/s (${(ips(transcoding) / ips(plain)).toFixed(2)}x)`,
    );
  }
  for (const r of ["ours-fsync", "ours-nofsync"] as const) {
    const row = find("W3", r);
    if (!row) continue;
    if (!row.outcome.ok) {
      out.push(`W3 ${LABEL[r]} >= 300 MB/s, peak RSS <= 150 MB: n/a (failed)`);
      continue;
    }
    const mbs = row.workload.bytes / MiB / row.outcome.m.wallS;
    const rss = row.outcome.m.rssParent / MiB;
    const pass = mbs >= 300 && rss * 1.048576 <= 150;
    out.push(
      `W3 ${LABEL[r]} >= 300 MB/s, peak RSS <= 150 MB: ${mbs.toFixed(0)} MiB/s, ${rss.toFixed(0)} MiB (${(rss * 1.048576).toFixed(0)} MB) ${pass ? "PASS" : "FAIL"}`,
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------

/** A detached `git worktree` of `rev` under bench/.work, sharing this checkout's node_modules. */
function baseWorktree(rev: string): string {
  const dir = join(WORK, `base-${rev.replace(/[^A-Za-z0-9._-]/g, "_")}`);
  removeWorktree(dir);
  const r = spawnSync("git", ["worktree", "add", "--detach", dir, rev], { cwd: repoRoot, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git worktree add ${rev} failed: ${r.stderr}`);
  symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"));
  return dir;
}

function removeWorktree(dir: string): void {
  if (existsSync(dir)) spawnSync("git", ["worktree", "remove", "--force", dir], { cwd: repoRoot });
  rmSync(dir, { recursive: true, force: true });
  spawnSync("git", ["worktree", "prune"], { cwd: repoRoot });
}

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
