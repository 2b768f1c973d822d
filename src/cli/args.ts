// Command-line parsing: argv (without the runtime and script, i.e. process.argv.slice(2)) -> CliCommand.
// Pure: no output, no process.exit; bad usage throws UsageError (one line), which main turns into exit 2.
//
// Values are checked here only for form (a port is an integer, an AE title is an AE title); ranges that
// the config also constrains (port, max PDU length) are checked by loadConfig, so that flag and file
// share one rule, and reported there as ConfigError naming the flag.

import { Command, CommanderError } from "commander";
import pkg from "../../package.json" with { type: "json" };
import { BUILD_INFO } from "../build-info.ts";
import { DEFAULTS } from "../config/defaults.ts";
import type { PartialOverrides } from "../config/load.ts";
import { isValidAeTitle, isValidHost, isValidUid } from "../config/schema.ts";

export const VERSION: string = pkg.version;

export function versionText(): string {
  const { commit, built, target } = BUILD_INFO;
  if (commit === null && built === null) return `storescp ${VERSION}`;
  return `storescp ${VERSION} (${[commit ?? "no git", target, built].filter((s) => s !== null).join(", ")})`;
}

export const OUTBOX_ACTIONS = ["status", "drain", "export", "import"] as const;
export const LICENSE_ACTIONS = ["show", "verify"] as const;
export type OutboxAction = (typeof OUTBOX_ACTIONS)[number];
export type LicenseAction = (typeof LICENSE_ACTIONS)[number];

export const ECHO_DEFAULT_CALLED = DEFAULTS.scp.ae_title;
export const ECHO_DEFAULT_CALLING = "ECHOSCU";

export type CliCommand =
  | { kind: "serve"; configPath?: string; overrides: PartialOverrides }
  | { kind: "echo"; host: string; port: number; called: string; calling: string }
  | {
      kind: "outbox";
      action: OutboxAction;
      dir?: string;
      configPath?: string;
      /** export */
      withFiles?: boolean;
      maxBundleMb?: number;
      /** import */
      filesTo?: string;
      /** status */
      bundle?: string;
    }
  | { kind: "license"; action: LicenseAction; configPath?: string }
  | { kind: "transcode"; input: string; output: string; ts?: string }
  | { kind: "hash-password" }
  | { kind: "help"; text: string }
  | { kind: "version" };

export class UsageError extends Error {
  override readonly name = "UsageError";
}

const SUBCOMMANDS = ["echo", "outbox", "license", "transcode", "hash-password", "help"] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

function isSubcommand(s: string | undefined): s is Subcommand {
  return (SUBCOMMANDS as readonly (string | undefined)[]).includes(s);
}

export function parseArgs(argv: readonly string[]): CliCommand {
  const [first, ...rest] = argv;
  const sub = isSubcommand(first) ? first : undefined;
  const args = sub === undefined ? [...argv] : rest;

  if (sub === "help") {
    if (args.length > 1) throw new UsageError("usage: storescp help [COMMAND]");
    const topic = args[0];
    if (topic !== undefined && !isSubcommand(topic)) throw new UsageError(`unknown command "${topic}"`);
    return { kind: "help", text: helpText(topic === "help" ? undefined : topic) };
  }
  // Before parsing, so that `storescp --port x --help` still helps.
  if (args.includes("-h") || args.includes("--help")) return { kind: "help", text: helpText(sub) };
  if (sub === undefined && (args.includes("-V") || args.includes("--version"))) return { kind: "version" };

  switch (sub) {
    case undefined:
      return parseServe(args);
    case "echo":
      return parseEcho(args);
    case "outbox":
      return parseOutbox(args);
    case "license":
      return parseLicense(args);
    case "transcode":
      return parseTranscode(args);
    case "hash-password":
      run(command("hash-password"), args);
      return { kind: "hash-password" };
  }
}

// ---------------------------------------------------------------------------------------------------

function command(name: string): Command {
  return new Command(name)
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} })
    .helpOption(false)
    .allowUnknownOption(false)
    .allowExcessArguments(false);
}

/** Runs commander; its errors become UsageError with a one-line message. */
function run(cmd: Command, args: readonly string[]): Command {
  try {
    cmd.parse([...args], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      const msg = (e.message.split("\n")[0] ?? e.message).replace(/^error: /, "");
      throw new UsageError(
        `${msg} (see storescp ${cmd.name() === "storescp" ? "" : `${cmd.name()} `}--help)`,
      );
    }
    throw e;
  }
  return cmd;
}

type Opts = Record<string, unknown>;

function str(opts: Opts, key: string): string | undefined {
  const v = opts[key];
  return typeof v === "string" ? v : undefined;
}

function integer(flag: string, v: string): number {
  if (!/^[0-9]{1,10}$/.test(v)) throw new UsageError(`${flag}: not a non-negative integer: "${v}"`);
  return Number(v);
}

function aeTitle(flag: string, v: string): string {
  if (!isValidAeTitle(v)) {
    throw new UsageError(`${flag}: not an AE title (1..16 printable ASCII characters, no backslash): "${v}"`);
  }
  return v.trim();
}

function bool(flag: string, v: unknown): boolean {
  if (v === true) return true;
  const s = String(v).toLowerCase();
  if (["true", "yes", "on", "1"].includes(s)) return true;
  if (["false", "no", "off", "0"].includes(s)) return false;
  throw new UsageError(`${flag}: expected true or false, got "${String(v)}"`);
}

function parseServe(args: readonly string[]): CliCommand {
  const cmd = command("storescp")
    .argument("[port]")
    .option("-c, --config <file>")
    .option("-p, --port <n>")
    .option("--ae-title <aet>")
    .option("--calling-ae-title <aet>")
    .option("-m, --max-pdu-length <n>")
    .option("-s, --strict")
    .option("--uncompressed-only")
    .option("--promiscuous")
    .option("--sequential")
    .option("-n, --non-blocking [bool]")
    .option("-v, --verbose")
    .option("-o, --output-directory <dir>");
  run(cmd, args);
  const o: Opts = cmd.opts();
  const overrides: PartialOverrides = {};

  // `storescp 11112` as with DCMTK's storescp: a lone positional argument is the port.
  const positional = cmd.args[0];
  if (isSubcommand(positional)) {
    throw new UsageError(`options go after the command: storescp ${positional} [options]`);
  }
  if (positional !== undefined && !/^[0-9]+$/.test(positional)) {
    throw new UsageError(
      `unknown command "${positional}" (commands: ${SUBCOMMANDS.join(", ")}; see storescp --help)`,
    );
  }
  const portFlag = str(o, "port");
  const port = portFlag !== undefined ? integer("--port", portFlag) : undefined;
  const portPos = positional !== undefined ? integer("PORT", positional) : undefined;
  if (port !== undefined && portPos !== undefined && port !== portPos) {
    throw new UsageError(`port given twice: --port ${port} and ${portPos}`);
  }
  if (port !== undefined || portPos !== undefined) overrides.port = port ?? portPos;

  const aet = str(o, "aeTitle");
  const callingAet = str(o, "callingAeTitle");
  if (aet !== undefined && callingAet !== undefined && aet !== callingAet) {
    throw new UsageError(`--ae-title and --calling-ae-title disagree: "${aet}" vs "${callingAet}"`);
  }
  const ae = aet ?? callingAet;
  if (ae !== undefined)
    overrides.ae_title = aeTitle(aet !== undefined ? "--ae-title" : "--calling-ae-title", ae);

  const pdu = str(o, "maxPduLength");
  if (pdu !== undefined) overrides.max_pdu_length = integer("--max-pdu-length", pdu);
  if (o.strict === true) overrides.strict = true;
  if (o.uncompressedOnly === true) overrides.uncompressed_only = true;
  if (o.promiscuous === true) overrides.promiscuous = true;

  const sequential = o.sequential === true;
  const nonBlocking = o.nonBlocking === undefined ? undefined : bool("--non-blocking", o.nonBlocking);
  if (sequential && nonBlocking === true) {
    throw new UsageError("--sequential and --non-blocking true contradict each other");
  }
  if (sequential || nonBlocking === false) overrides.mode = "sequential";
  else if (nonBlocking === true) overrides.mode = "concurrent";

  if (o.verbose === true) overrides.verbose = true;
  const out = str(o, "outputDirectory");
  if (out !== undefined) overrides.storage_root = out;

  const configPath = str(o, "config");
  return configPath === undefined ? { kind: "serve", overrides } : { kind: "serve", configPath, overrides };
}

function parseEcho(args: readonly string[]): CliCommand {
  const cmd = command("echo")
    .argument("<host>")
    .argument("<port>")
    .option("--called <aet>")
    .option("--calling <aet>");
  run(cmd, args);
  const [host = "", portArg = ""] = cmd.args;
  if (!isValidHost(host)) throw new UsageError(`echo: not a host name or IP address: "${host}"`);
  const port = integer("PORT", portArg);
  if (port < 1 || port > 65535) throw new UsageError(`echo: PORT must be 1..65535, got ${port}`);
  const o: Opts = cmd.opts();
  const called = aeTitle("--called", str(o, "called") ?? ECHO_DEFAULT_CALLED);
  const calling = aeTitle("--calling", str(o, "calling") ?? ECHO_DEFAULT_CALLING);
  return { kind: "echo", host, port, called, calling };
}

function parseOutbox(args: readonly string[]): CliCommand {
  const cmd = command("outbox")
    .argument("<action>")
    .argument("[dir]")
    .option("-c, --config <file>")
    .option("--with-files")
    .option("--max-bundle-mb <n>")
    .option("--files-to <root>")
    .option("--bundle <dir>");
  run(cmd, args);
  const [action = "", dir] = cmd.args;
  if (!(OUTBOX_ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(`outbox: unknown action "${action}" (status, drain, export DIR, import DIR)`);
  }
  const a = action as OutboxAction;
  const needsDir = a === "export" || a === "import";
  if (needsDir && dir === undefined) throw new UsageError(`outbox ${a}: missing DIR`);
  if (!needsDir && dir !== undefined) throw new UsageError(`outbox ${a}: unexpected argument "${dir}"`);
  const o: Opts = cmd.opts();
  const only = (flag: string, key: string, ok: OutboxAction): void => {
    if (o[key] !== undefined && a !== ok)
      throw new UsageError(`outbox ${a}: ${flag} is an option of outbox ${ok}`);
  };
  only("--with-files", "withFiles", "export");
  only("--max-bundle-mb", "maxBundleMb", "export");
  only("--files-to", "filesTo", "import");
  only("--bundle", "bundle", "status");
  const maxMb = str(o, "maxBundleMb");
  const maxBundleMb = maxMb === undefined ? undefined : integer("--max-bundle-mb", maxMb);
  if (maxBundleMb !== undefined && maxBundleMb < 1) throw new UsageError("--max-bundle-mb: at least 1");
  const configPath = str(o, "config");
  const filesTo = str(o, "filesTo");
  const bundle = str(o, "bundle");
  return {
    kind: "outbox",
    action: a,
    ...(dir !== undefined ? { dir } : {}),
    ...(configPath !== undefined ? { configPath } : {}),
    ...(o.withFiles === true ? { withFiles: true } : {}),
    ...(maxBundleMb !== undefined ? { maxBundleMb } : {}),
    ...(filesTo !== undefined ? { filesTo } : {}),
    ...(bundle !== undefined ? { bundle } : {}),
  };
}

function parseLicense(args: readonly string[]): CliCommand {
  const cmd = command("license").argument("<action>").option("-c, --config <file>");
  run(cmd, args);
  const action = cmd.args[0] ?? "";
  if (!(LICENSE_ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(`license: unknown action "${action}" (show, verify)`);
  }
  const configPath = str(cmd.opts(), "config");
  return {
    kind: "license",
    action: action as LicenseAction,
    ...(configPath !== undefined ? { configPath } : {}),
  };
}

function parseTranscode(args: readonly string[]): CliCommand {
  const cmd = command("transcode").argument("<in>").argument("<out>").option("--ts <uid>");
  run(cmd, args);
  const [input = "", output = ""] = cmd.args;
  const ts = str(cmd.opts(), "ts");
  if (ts !== undefined && !isValidUid(ts)) throw new UsageError(`--ts: not a UID: "${ts}"`);
  return { kind: "transcode", input, output, ...(ts !== undefined ? { ts } : {}) };
}

// ---------------------------------------------------------------------------------------------------
// Help, grouped by concern like DCMTK's storescp; one line per option, default in brackets.

type Row = readonly [flags: string, what: string, dflt?: string];

const d = DEFAULTS;
const onOff = (b: boolean) => (b ? "on" : "off");

const SERVE_GROUPS: readonly (readonly [string, readonly Row[]])[] = [
  [
    "general options",
    [
      ["-h, --help", "print this help and exit"],
      ["-V, --version", "print the version and exit"],
      ["-c, --config FILE", "YAML config file; the flags below override it", "embedded defaults"],
      ["-v, --verbose", "log at debug level (logging.level)", d.logging.level],
    ],
  ],
  [
    "network options",
    [
      ["-p, --port N", "TCP port to listen on (or a bare PORT), 0 = any free one", String(d.scp.port)],
      ["    --ae-title AET", "AE title of the default tenant (scp.ae_title)", d.scp.ae_title],
      ["    --calling-ae-title AET", "same as --ae-title (the Rust original's name)"],
      [
        "-m, --max-pdu-length N",
        "PDU size we receive: 4096..131072, 0 = unlimited",
        String(d.scp.max_pdu_length),
      ],
      ["-s, --strict", "abort associations sending PDUs larger than announced", onOff(d.scp.strict)],
      ["    --sequential", "one association at a time (scp.mode)", d.scp.mode],
      ["-n, --non-blocking [BOOL]", "true: concurrent associations; false: same as --sequential", "true"],
    ],
  ],
  [
    "negotiation options",
    [
      ["    --uncompressed-only", "accept only native transfer syntaxes", onOff(d.scp.uncompressed_only)],
      ["    --promiscuous", "accept unknown (non-storage) SOP classes too", onOff(d.scp.promiscuous)],
    ],
  ],
  [
    "storage options",
    [
      [
        "-o, --output-directory DIR",
        "storage root, relative to the working dir (storage.root)",
        d.storage.root,
      ],
    ],
  ],
];

const COMMANDS: readonly (readonly [Subcommand | "serve", string, string])[] = [
  ["serve", "storescp [options] [PORT]", "run the Storage SCP (the default)"],
  ["echo", "storescp echo HOST PORT [--called AET] [--calling AET]", "send a C-ECHO, for checks"],
  [
    "outbox",
    "storescp outbox status|drain|export DIR|import DIR [-c FILE]",
    "inspect or move the Kafka outbox",
  ],
  ["license", "storescp license show|verify [-c FILE]", "show or check the license"],
  ["transcode", "storescp transcode IN OUT [--ts UID]", "transcode a DICOM file offline"],
  ["hash-password", "storescp hash-password", "scrypt-hash a password from stdin"],
  ["help", "storescp help [COMMAND] | --help | --version", "this help, or the version"],
];

const SUB_GROUPS: Partial<Record<Subcommand, readonly Row[]>> = {
  echo: [
    ["    --called AET", "AE title of the SCP called", ECHO_DEFAULT_CALLED],
    ["    --calling AET", "our AE title", ECHO_DEFAULT_CALLING],
  ],
  outbox: [
    ["-c, --config FILE", "config file (outbox.dir, kafka)", "embedded defaults"],
    ["    --with-files", "export: each record's DICOM file goes too", "records only"],
    ["    --max-bundle-mb N", "export: volumes of at most N MiB (FAT32: < 4096)", "4000"],
    ["    --files-to ROOT", "import: root for the files (a tenant's own root wins)", "storage.root"],
    ["    --bundle DIR", "status: what a bundle holds, whether it verifies", "the outbox"],
  ],
  license: [["-c, --config FILE", "config file (license)", "embedded defaults"]],
  transcode: [["    --ts UID", "transfer syntax to write", `transcode.target: ${d.transcode.target}`]],
};

/** One column for the flags of every group, so the descriptions line up across the whole page. */
const FLAGS_WIDTH =
  Math.max(
    ...[...SERVE_GROUPS.flatMap(([, l]) => l), ...Object.values(SUB_GROUPS).flat()].map((r) => r[0].length),
  ) + 2;

function rows(title: string, list: readonly Row[], width = FLAGS_WIDTH): string[] {
  return [
    `${title}:`,
    ...list.map(
      ([flags, what, dflt]) => `  ${flags.padEnd(width)}${what}${dflt !== undefined ? ` [${dflt}]` : ""}`,
    ),
  ];
}

/** The --help text: everything, or one command's usage and options. */
export function helpText(topic?: Subcommand): string {
  const head = `${versionText()} - DICOM Storage SCP (C-STORE/C-ECHO receiver)`;
  if (topic !== undefined && topic !== "help") {
    const c = COMMANDS.find((x) => x[0] === topic);
    const lines = [head, "", `usage: ${c?.[1] ?? topic}`, `  ${c?.[2] ?? ""}`];
    const opts = SUB_GROUPS[topic];
    if (opts) lines.push("", ...rows(`${topic} options`, opts));
    return `${lines.join("\n")}\n`;
  }
  const usageW = Math.max(...COMMANDS.map((c) => c[1].length)) + 2;
  const lines = [head, "", "usage:", ...COMMANDS.map(([, u, w]) => `  ${u.padEnd(usageW)}${w}`)];
  for (const [title, list] of SERVE_GROUPS) lines.push("", ...rows(title, list));
  for (const [name, list] of Object.entries(SUB_GROUPS)) lines.push("", ...rows(`${name} options`, list));
  lines.push(
    "",
    "Flags override the config file; without --config the embedded defaults apply.",
    "exit status: 0 ok; 2 bad usage, bad config or failed license; 1 unexpected failure",
  );
  return `${lines.join("\n")}\n`;
}
