// Command-line parsing: argv (without the runtime and script, i.e. process.argv.slice(2)) -> CliCommand.
// Pure: no output, no process.exit; bad usage throws UsageError (one line), which main turns into exit 2.
//
// Values are checked here only for form (a port is an integer, an AE title is an AE title); ranges that
// the config also constrains (port, max PDU length) are checked by loadConfig, so that flag and file
// share one rule, and reported there as ConfigError naming the flag. Paths (--config, outbox DIR,
// transcode IN OUT) come back absolute, against the working directory, by the platform's rules
// (src/util/paths.ts): nothing later depends on the directory the command was started from.

import { Command, CommanderError } from "commander";
import type { PartialOverrides } from "../config/overrides.ts";
import { isValidAeTitle, isValidHost, isValidUid } from "../config/schema.ts";
import { absolutePath, PathError } from "../util/paths.ts";
import { translateDcmtk } from "./dcmtk-flags.ts";
import { helpText } from "./help.ts";
import {
  type CliCommand,
  ECHO_DEFAULT_CALLED,
  ECHO_DEFAULT_CALLING,
  isSubcommand,
  LICENSE_ACTIONS,
  type LicenseAction,
  OUTBOX_ACTIONS,
  type OutboxAction,
  SUBCOMMANDS,
  UsageError,
} from "./usage.ts";

// cli/serve.ts takes the version line from here.
export { versionText } from "./version.ts";

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
