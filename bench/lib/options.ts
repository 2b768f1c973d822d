// The bench's command line: which workloads, which receivers, how often, what else runs after; and the
// name each receiver goes by in the report.

export const WORKLOADS = ["W1", "W2", "W3", "W1T"] as const;
export type WorkloadId = (typeof WORKLOADS)[number];
export const RECEIVERS = [
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
export const FLOORS = ["floor", "floor-duties", "floor-duties-fsync"] as const;
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
/** Receivers that take part in a workload when asked for (W1T compares transcoding on and off). */
export const TAKES_PART: Record<WorkloadId, readonly ReceiverId[]> = {
  W1: MANY_INSTANCES,
  W2: MANY_INSTANCES,
  W3: ["ours-fsync", "ours-base", "ours-kafka", "ours-nofsync", "dcmtk", "dcmtk-fork"],
  W1T: ["ours-fsync", "ours-transcode", "dcmtk"],
};
export type ReceiverId = (typeof RECEIVERS)[number];

export interface Options {
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

export function usage(msg?: string): never {
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

export function parseArgs(argv: string[]): Options {
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

/** How each receiver is named in the report (ours-base gets its revision in main). */
export const LABEL: Record<ReceiverId, string> = {
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
