// Command-line parsing: argv (without the runtime and script, i.e. process.argv.slice(2)) -> CliCommand.
// Pure: no output, no process.exit; bad usage throws UsageError (one line), which main turns into exit 2.
//
// Values are checked here only for form (a port is an integer, an AE title is an AE title); ranges that
// the config also constrains (port, max PDU length) are checked by loadConfig, so that flag and file
// share one rule, and reported there as ConfigError naming the flag. Paths (--config, outbox DIR,
// transcode IN OUT) come back absolute, against the working directory, by the platform's rules
// (src/util/paths.ts): nothing later depends on the directory the command was started from.

import { Command, CommanderError } from "commander";
import { DEFAULTS } from "../config/defaults.ts";
import type { PartialOverrides } from "../config/overrides.ts";
import { isValidAeTitle, isValidHost, isValidUid } from "../config/schema.ts";
import { absolutePath, PathError } from "../util/paths.ts";
import { VERSION, versionText } from "./version.ts";

export { VERSION, versionText };

export const OUTBOX_ACTIONS = ["status", "drain", "export", "import"] as const;
export const LICENSE_ACTIONS = ["show", "verify"] as const;
export type OutboxAction = (typeof OUTBOX_ACTIONS)[number];
export type LicenseAction = (typeof LICENSE_ACTIONS)[number];

export const ECHO_DEFAULT_CALLED = DEFAULTS.scp.ae_title;
export const ECHO_DEFAULT_CALLING = "ECHOSCU";

export type CliCommand =
  | { kind: "serve"; configPath?: string; overrides: PartialOverrides }
  | { kind: "init"; dir: string }
  | { kind: "config-convert"; file: string }
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

const SUBCOMMANDS = [
  "echo",
  "outbox",
  "license",
  "init",
  "config",
  "transcode",
  "hash-password",
  "help",
] as const;
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
    case "init": {
      const cmd = command("init").argument("[dir]");
      run(cmd, args);
      return { kind: "init", dir: cmd.args[0] ?? "." };
    }
    case "config": {
      const cmd = command("config").argument("<action>").argument("<file>");
      run(cmd, args);
      const [action = "", file = ""] = cmd.args;
      if (action !== "convert") throw new UsageError(`config: unknown action "${action}" (convert FILE)`);
      return { kind: "config-convert", file };
    }
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

/** A path argument, absolute. */
function pathArg(what: string, value: string): string {
  try {
    return absolutePath(value, process.cwd());
  } catch (err) {
    if (err instanceof PathError) throw new UsageError(`${what}: ${err.message}`);
    throw err;
  }
}

/** The --config option's file, absolute. */
function configOpt(opts: Opts): string | undefined {
  const v = str(opts, "config");
  return v === undefined ? undefined : pathArg("--config", v);
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

// ---------------------------------------------------------------------------------------------------
// DCMTK storescp's habits. Its options are words after one dash (-od, -aet) or a plus (+xa), which a
// parser of clustered short flags would take apart (-od as -o d: files into ./d). They are looked up
// as whole words first; anything else of that form is refused, never split.

/** DCMTK storescp options with the same meaning here, as our flags (null: what we always do). */
const DCMTK_ALIASES: Readonly<Record<string, string | null>> = {
  "-aet": "--ae-title",
  "--aetitle": "--ae-title",
  "-od": "--output-directory",
  "-pm": "--promiscuous",
  "+xa": "--accept-all",
  "-pdu": "--max-pdu-length",
  "--max-pdu": "--max-pdu-length",
  "--fork": "--fork",
  "--single-process": "--sequential",
  "-d": "--verbose",
  "--debug": "--verbose",
  // Always so here: the data set is stored as received, in a Part-10 file.
  "+B": null,
  "--bit-preserving": null,
  "+F": null,
  "--write-file": null,
};

/** Where the concern of a DCMTK-only option lives here, for the message that refuses it. */
const DCMTK_HINTS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^(-q|--quiet|-ll|--log-level|-lc|--log-config|\+v|--verbose-pc)$/, "logging.level in the config"],
  [/^(-ta|--acse-timeout)$/, "scp.artim_timeout_s in the config"],
  [/^(-td|--dimse-timeout|-ts|--socket-timeout)$/, "scp.idle_timeout_s in the config"],
  [/^[-+](tls|ps|pw|pem|der|cf|cd|crl|crv|cra|py|px|pz|pa|pn|cc|cs|dp|rc|vc|ic)$/, "scp.tls in the config"],
  [
    /^[-+]x[a-z0-9=]$|^-xf$|^--(prefer-|implicit|config-file)/,
    "every known syntax is accepted; see transcode",
  ],
  [
    /^(-ss|-su|-sp|[-+]uf|-tn|-fe|--sort-|--default-filenames|--unique-filenames|--timenames|--filename-extension)/,
    "storage.path in the config",
  ],
  [
    /^(-xcr|-xcs|-rns|-tos|-xs|--exec-|--rename-on-eostudy|--eostudy-timeout)/,
    "the hook is each instance's outbox record: Kafka or outbox export",
  ],
];

/** DCMTK storescp 3.6 options (beyond the aliases): refused with a message instead of misread. */
const DCMTK_ONLY = new Set(
  (
    "-q --quiet -ll --log-level -lc --log-config +v --verbose-pc --arguments -xf --config-file " +
    "+x= +xe +xb +xs +xy +xx +xv +xw +xt +xu +xm +xh +xn +xl +x2 +x3 +xo +x4 +x5 +xr +xd +xi " +
    "--prefer-uncompr --prefer-little --prefer-big --prefer-lossless --prefer-jpeg8 --prefer-jpeg12 " +
    "--prefer-j2k-lossless --prefer-j2k-lossy --prefer-jls-lossless --prefer-jls-lossy --prefer-mpeg2 " +
    "--prefer-mpeg2-high --prefer-mpeg4 --prefer-mpeg4-bd --prefer-mpeg4-2-2d --prefer-mpeg4-2-3d " +
    "--prefer-mpeg4-2-st --prefer-hevc --prefer-hevc10 --prefer-rle --prefer-deflated --implicit " +
    "-ac --access-full +ac --access-control -id --inetd -ts --socket-timeout -ta --acse-timeout " +
    "-td --dimse-timeout -dhl --disable-host-lookup --refuse --reject --ignore --sleep-after " +
    "--sleep-during --abort-after --abort-during -up --uid-padding -tls --disable-tls +tls --enable-tls " +
    "+ps --std-passwd +pw --use-passwd -pw --null-passwd -pem --pem-keys -der --der-keys +cf " +
    "--add-cert-file +cd --add-cert-dir +crl --add-crl-file +crv --enable-crl-vfy +cra --enable-crl-all " +
    "+py --profile-bcp195-nd +px --profile-bcp195 +pz --profile-bcp195-ex +pa --profile-aes +pn " +
    "--profile-null +cc --list-ciphers +cs --cipher +dp --dhparam +rs --seed +ws --write-seed +wf " +
    "--write-seed-file -rc --require-peer-cert -vc --verify-peer-cert -ic --ignore-peer-cert -B --normal " +
    "-F --write-dataset +t= +te +tb +ti +td --write-xfer-same --write-xfer-little --write-xfer-big " +
    "--write-xfer-implicit --write-xfer-deflated +u --enable-new-vr -u --disable-new-vr +g= " +
    "--group-length-recalc +g --group-length-create -g --group-length-remove +e --length-explicit " +
    "-e --length-undefined --padding-off +p --padding-create -uc --retain-un +uc --convert-un +cl " +
    "--compression-level -ss --sort-conc-studies -su --sort-on-study-uid -sp --sort-on-patientname " +
    "-uf --default-filenames +uf --unique-filenames -tn --timenames -fe --filename-extension " +
    "-xcr --exec-on-reception -xcs --exec-on-eostudy -rns --rename-on-eostudy -tos --eostudy-timeout " +
    "-xs --exec-sync"
  ).split(" "),
);

/** Our serve options that take a value: the word after them is a value, never an option. */
const VALUE_FLAGS = new Set([
  "-c",
  "--config",
  "-p",
  "--port",
  "--ae-title",
  "--calling-ae-title",
  "-m",
  "--max-pdu-length",
  "-o",
  "--output-directory",
  "--host",
]);

/** Our boolean short flags that may be clustered (-sv), as the Rust original's parser allowed. */
const CLUSTERABLE = new Set(["s", "v"]);

/** DCMTK's words replaced by our flags; DCMTK-only and unknown single-dash words refused whole. */
export function translateDcmtk(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const t = args[i] ?? "";
    if (Object.hasOwn(DCMTK_ALIASES, t)) {
      const ours = DCMTK_ALIASES[t] ?? null;
      if (ours === null) continue;
      out.push(ours);
      if (VALUE_FLAGS.has(ours) && i + 1 < args.length) out.push(args[++i] ?? "");
      continue;
    }
    const word = t.split("=")[0] ?? t;
    if (DCMTK_ONLY.has(t) || DCMTK_ONLY.has(word)) {
      const hint = DCMTK_HINTS.find(([re]) => re.test(word))?.[1];
      throw new UsageError(
        `DCMTK's ${word} has no equivalent here; see --help${hint !== undefined ? ` (${hint})` : ""}`,
      );
    }
    if (t.startsWith("+") && !/^\+?[0-9]+$/.test(t)) {
      throw new UsageError(`unknown option ${t} (see storescp --help)`);
    }
    if (/^-[A-Za-z]/.test(t) && t.length > 2 && !t.startsWith("--")) {
      const letters = t.slice(1);
      const clustered = [...letters].every((c) => CLUSTERABLE.has(c));
      const attachedNumber = /^[pm][0-9]+$/.test(letters);
      if (!clustered && !attachedNumber) throw new UsageError(`unknown option ${t} (see storescp --help)`);
    }
    out.push(t);
    if (VALUE_FLAGS.has(t) && i + 1 < args.length) out.push(args[++i] ?? "");
  }
  return out;
}

function parseServe(argv: readonly string[]): CliCommand {
  const args = translateDcmtk(argv);
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
    .option("-o, --output-directory <dir>")
    .option("--host <addr>")
    .option("--accept-all")
    .option("--fork");
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
  if (o.uncompressedOnly === true && o.acceptAll === true) {
    throw new UsageError("--uncompressed-only and +xa (--accept-all) contradict each other");
  }
  if (o.uncompressedOnly === true) overrides.uncompressed_only = true;
  if (o.acceptAll === true) overrides.uncompressed_only = false;
  if (o.promiscuous === true) overrides.promiscuous = true;

  const sequential = o.sequential === true;
  const nonBlocking =
    o.fork === true ? true : o.nonBlocking === undefined ? undefined : bool("--non-blocking", o.nonBlocking);
  if (sequential && nonBlocking === true) {
    throw new UsageError(
      `--sequential and ${o.fork === true ? "--fork" : "--non-blocking true"} contradict each other`,
    );
  }
  if (sequential || nonBlocking === false) overrides.mode = "sequential";
  else if (nonBlocking === true) overrides.mode = "concurrent";

  const host = str(o, "host");
  if (host !== undefined) {
    if (!isValidHost(host)) throw new UsageError(`--host: not a host name or IP address: "${host}"`);
    overrides.host = host;
  }

  if (o.verbose === true) overrides.verbose = true;
  const out = str(o, "outputDirectory");
  if (out !== undefined) overrides.storage_root = out;

  const configPath = configOpt(o);
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
  const configPath = configOpt(o);
  const filesToArg = str(o, "filesTo");
  const filesTo = filesToArg === undefined ? undefined : pathArg("--files-to", filesToArg);
  const bundleArg = str(o, "bundle");
  const bundle = bundleArg === undefined ? undefined : pathArg("--bundle", bundleArg);
  return {
    kind: "outbox",
    action: a,
    ...(dir !== undefined ? { dir: pathArg("DIR", dir) } : {}),
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
  const configPath = configOpt(cmd.opts());
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
  return {
    kind: "transcode",
    input: pathArg("IN", input),
    output: pathArg("OUT", output),
    ...(ts !== undefined ? { ts } : {}),
  };
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
      ["    --host ADDR", "address to listen on (scp.host); 127.0.0.1 = this PC only", d.scp.host],
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
  [
    "DCMTK storescp options (same meaning; other DCMTK options are refused with a hint)",
    [
      ["-aet AET", "= --ae-title"],
      ["-od DIR", "= --output-directory"],
      ["-pm", "= --promiscuous"],
      ["+xa", "accept every known transfer syntax (clears uncompressed_only)"],
      ["-pdu N", "= --max-pdu-length"],
      ["--fork", "concurrent associations (= -n true; the default)"],
      ["--single-process", "= --sequential"],
      ["-d, --debug", "= --verbose"],
      ["+B, +F", "accepted: always so here (bit-preserving Part-10 files)"],
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
  ["init", "storescp init [DIR]", "write a commented site.yaml"],
  ["config", "storescp config convert FILE", "Rust original's JSON -> site.yaml"],
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
    "Flags override the config file. Without --config, application.<APP_ENV or dev>.json in the working",
    "directory is read if there is one (the Rust original's file), else the embedded defaults apply.",
    "Docs: docs/cli.md, docs/configuration.md, config/site.yaml (every key with its default).",
    "exit status: 0 ok; 2 bad usage, config, license or start-up check; 1 a failed client command",
  );
  return `${lines.join("\n")}\n`;
}
