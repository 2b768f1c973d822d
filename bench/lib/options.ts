// The bench's command line: which workloads, on which networks, which receivers, how often, what else runs
// after; and the name each receiver goes by in the report.

import { DEFAULTS } from "../../src/config/defaults.ts";

export const WORKLOADS = ["W1", "W2", "W3", "W1T"] as const;
export type WorkloadId = (typeof WORKLOADS)[number];
export const NETS = ["loopback", "link"] as const;
export type NetId = (typeof NETS)[number];
/** Only these cross the emulated link; the others measure the receiver itself and stay on loopback. */
export const LINK_WORKLOADS: readonly WorkloadId[] = ["W1", "W2"];
export const RECEIVERS = [
  "ours-fsync",
  "ours-file",
  "ours-wal",
  "ours-kafka",
  "ours-nofsync",
  "ours-transcode",
  "ours-transcode-wal",
  "dcmtk",
  "dcmtk-fork",
  "dcmtk-durable",
  "floor",
  "floor-duties",
  "floor-duties-fsync",
  "ours-base",
] as const;
export type ReceiverId = (typeof RECEIVERS)[number];
export const FLOORS = ["floor", "floor-duties", "floor-duties-fsync"] as const;

/** storage.durability when the config does not say (what ours-fsync runs with). */
export const DEFAULT_DURABILITY = DEFAULTS.storage.durability;
/** The durability mode that is not the default, as a receiver: the one ours-fsync is compared with. */
const OTHER_DURABILITY: ReceiverId = DEFAULT_DURABILITY === "wal" ? "ours-file" : "ours-wal";

/** W1 and W2: every receiver but the transcoding ones. */
const MANY_INSTANCES: readonly ReceiverId[] = [
  "ours-fsync",
  "ours-file",
  "ours-wal",
  "ours-base",
  "ours-kafka",
  "ours-nofsync",
  "dcmtk",
  "dcmtk-fork",
  "dcmtk-durable",
  ...FLOORS,
];
/** Receivers that take part in a workload when asked for (W1T compares transcoding on and off). */
export const TAKES_PART: Record<WorkloadId, readonly ReceiverId[]> = {
  W1: MANY_INSTANCES,
  W2: MANY_INSTANCES,
  // W3 measures Kafka: no durable DCMTK and no floors.
  W3: MANY_INSTANCES.filter((r) => r !== "dcmtk-durable" && !(FLOORS as readonly ReceiverId[]).includes(r)),
  W1T: ["ours-fsync", "ours-transcode", "ours-transcode-wal", "dcmtk"],
};
/** Without --receivers: ours as configured by default, the other durability mode, and both DCMTKs. */
const BY_DEFAULT: Record<WorkloadId, readonly ReceiverId[]> = {
  W1: ["ours-fsync", OTHER_DURABILITY, "dcmtk", "dcmtk-durable"],
  W2: ["ours-fsync", OTHER_DURABILITY, "dcmtk", "dcmtk-durable"],
  W3: ["ours-fsync", "ours-kafka", "ours-nofsync", "dcmtk", "dcmtk-fork"],
  W1T: ["ours-fsync", "ours-transcode", "ours-transcode-wal", "dcmtk"],
};

export interface Options {
  workloads: WorkloadId[];
  /** Networks W1 and W2 run on (W3 and W1T always run on loopback). */
  nets: NetId[];
  /** --receivers as given; undefined: each workload's default set (receiversOf). */
  receivers: ReceiverId[] | undefined;
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
  /**
   * Set only in the bench's own re-execution inside the link namespace (--in-link FILE): it measures the
   * link's workloads and writes its rows to FILE for the outer process's targets.
   */
  inLink?: string;
}

/** The receivers of workload `w`, in the order they run: DCMTK single-process first (the baseline). */
export function receiversOf(w: WorkloadId, opts: Options): ReceiverId[] {
  const wanted = opts.receivers ?? [
    ...BY_DEFAULT[w],
    ...(opts.base !== undefined ? (["ours-base"] as const) : []),
  ];
  const ids = wanted.filter((id) => TAKES_PART[w].includes(id) && (id !== "ours-base" || opts.base));
  return ids.sort((a, b) => (a === "dcmtk" ? -1 : b === "dcmtk" ? 1 : 0));
}

/** The networks workload `w` runs on. */
export function netsOf(w: WorkloadId, opts: Options): NetId[] {
  return LINK_WORKLOADS.includes(w) ? opts.nets : ["loopback"];
}

export const USAGE =
  "usage: bun bench/run.ts [--only W1,W2,W3,W1T] [--net loopback,link]\n" +
  "                        [--receivers ours-fsync,ours-file,ours-wal,ours-kafka,ours-nofsync,ours-transcode,\n" +
  "                                     ours-transcode-wal,dcmtk,dcmtk-fork,dcmtk-durable,floor,floor-duties,\n" +
  "                                     floor-duties-fsync,ours-base]\n" +
  "                        [--quick] [--repeat N] [--log-level LEVEL] [--keep] [--no-outbox] [--no-startup] [--no-codecs]\n" +
  "                        [--warm N] [--base REV] [--fuzz RUNS]";

export function usage(msg?: string): never {
  if (msg) console.error(`bench: ${msg}`);
  console.error(USAGE);
  process.exit(2);
}

function pick<T extends string>(value: string | undefined, allowed: readonly T[], what: string): T[] {
  if (value === undefined) usage(`${what} needs a value`);
  const out: T[] = [];
  for (const v of value.split(",")) {
    const found = allowed.find((a) => a.toLowerCase() === v.trim().toLowerCase());
    if (!found) usage(`unknown ${what} ${v} (one of ${allowed.join(", ")})`);
    if (!out.includes(found)) out.push(found);
  }
  return out;
}

function positive(value: string | undefined, flag: string, what: string): number {
  const n = Number.parseInt(value ?? "", 10);
  if (!(n >= 1)) usage(`${flag} needs a positive number${what}`);
  return n;
}

export function parseArgs(argv: string[]): Options {
  const o: Options = {
    workloads: [...WORKLOADS],
    nets: [...NETS],
    receivers: undefined,
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
    else if (a === "--net") o.nets = pick(argv[++i], NETS, "network");
    else if (a === "--receivers") o.receivers = pick(argv[++i], RECEIVERS, "receiver");
    else if (a === "--quick") o.quick = true;
    else if (a === "--repeat") o.repeat = positive(argv[++i], a, "");
    else if (a === "--log-level") o.logLevel = argv[++i] ?? usage("--log-level needs a value");
    else if (a === "--keep") o.keep = true;
    else if (a === "--no-outbox") o.outbox = false;
    else if (a === "--no-startup") o.startup = false;
    else if (a === "--no-codecs") o.codecs = false;
    else if (a === "--warm") o.warm = positive(argv[++i], a, "");
    else if (a === "--base") o.base = argv[++i] ?? usage("--base needs a git revision");
    else if (a === "--fuzz") o.fuzz = positive(argv[++i], a, " of runs");
    else if (a === "--in-link") o.inLink = argv[++i] ?? usage("--in-link needs a file");
    else if (a === "--help" || a === "-h") usage();
    else usage(`unknown argument ${a}`);
  }
  return o;
}

/** The command line of the bench's re-execution inside the link namespace: the link's part only. */
export function linkArgs(opts: Options, rowsFile: string): string[] {
  const args = ["--only", opts.workloads.filter((w) => LINK_WORKLOADS.includes(w)).join(",")];
  if (opts.receivers) args.push("--receivers", opts.receivers.join(","));
  if (opts.quick) args.push("--quick");
  if (opts.keep) args.push("--keep");
  if (opts.base !== undefined) args.push("--base", opts.base);
  if (opts.warm > 0) args.push("--warm", String(opts.warm));
  args.push("--repeat", String(opts.repeat), "--log-level", opts.logLevel, "--net", "link");
  return [...args, "--no-outbox", "--no-startup", "--no-codecs", "--in-link", rowsFile];
}

/** How each receiver is named in the report (ours-base gets its revision in main). */
export const LABEL: Record<ReceiverId, string> = {
  "ours-fsync": `ours default (${DEFAULT_DURABILITY})`,
  "ours-file": "ours durability=file",
  "ours-wal": "ours durability=wal",
  "ours-kafka": "ours default +kafka",
  "ours-nofsync": "ours fsync=off",
  "ours-transcode": "ours transcode",
  "ours-transcode-wal": "ours transcode, wal",
  dcmtk: "DCMTK storescp",
  "dcmtk-fork": "DCMTK storescp --fork",
  "dcmtk-durable": "DCMTK + fsync (shim)",
  floor: "floor: bytes only",
  "floor-duties": "floor: +meta,record,log",
  "floor-duties-fsync": "floor: +duties, fsync",
  "ours-base": "ours default, --base REV",
};
