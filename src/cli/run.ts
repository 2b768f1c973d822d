// Runs one command line: parse, read the config, run the command. Each command's modules are loaded only
// when it runs, so a client command does not pay for the server's. Every failure with a reason an
// operator can act on is one line on stderr (exit 2: bad usage, config, license or site; 1: a client
// command that failed); only a failure of our own (a bug) prints its stack trace.

import { existsSync } from "node:fs";
import { describeSystemError } from "../util/errors.ts";
import { parseArgs } from "./args.ts";
import { type CliCommand, UsageError } from "./usage.ts";
import { versionText } from "./version.ts";

/** Errors that carry a one-line reason, by name (their modules are loaded only by the commands). */
const ONE_LINE: Record<string, { code: number; prefix: string }> = {
  UsageError: { code: 2, prefix: "" },
  ConfigError: { code: 2, prefix: "" },
  StartupError: { code: 2, prefix: "" },
  LicenseError: { code: 2, prefix: "license: " },
  AssociationRejectedError: { code: 1, prefix: "" },
  OutboxCommandError: { code: 1, prefix: "" },
  OutboxLockedError: { code: 1, prefix: "" },
};

/**
 * With no --config, the Rust original's application.${APP_ENV:-dev}.json in the working directory is
 * read, as the original did; otherwise the embedded defaults apply.
 */
function implicitConfig(): string | undefined {
  const name = `application.${process.env.APP_ENV || "dev"}.json`;
  return existsSync(name) ? name : undefined;
}

async function dispatch(cmd: CliCommand): Promise<number> {
  switch (cmd.kind) {
    case "help":
      process.stdout.write(cmd.text.endsWith("\n") ? cmd.text : `${cmd.text}\n`);
      return 0;
    case "version":
      process.stdout.write(`${versionText()}\n`);
      return 0;
    case "serve": {
      const { readConfig } = await import("../config/load.ts");
      const { setupLogging, event, logger } = await import("../ops/log.ts");
      const { worldReadableSecretsWarning } = await import("../config/secrets.ts");
      const { StartupError } = await import("./startup.ts");
      const implicit = cmd.configPath === undefined ? implicitConfig() : undefined;
      const path = cmd.configPath ?? implicit;
      const { config, notes } = readConfig(path, cmd.overrides);
      try {
        setupLogging(config.logging.level, config.logging.format, config.logging.file);
      } catch (err) {
        throw new StartupError(`logging.file.path ${config.logging.file?.path}: ${(err as Error).message}`);
      }
      const log = logger("config");
      if (implicit !== undefined)
        event(log, "info", "config-implicit", {
          file: implicit,
          why: "no --config; read as the original did",
        });
      for (const n of notes) event(log, "info", n.event, n.fields);
      const secrets = worldReadableSecretsWarning(path, config);
      if (secrets !== null) event(log, "warning", "config-readable-by-others", { detail: secrets });
      const { serve } = await import("./serve.ts");
      return serve(config, path ?? "embedded defaults");
    }
    case "echo": {
      const { echo } = await import("../scu/client.ts");
      const { hex4 } = await import("../dimse/status.ts");
      const r = await echo(cmd.host, cmd.port, cmd.called, cmd.calling);
      process.stdout.write(
        `C-ECHO ${cmd.host}:${cmd.port} ${cmd.called}: status ${hex4(r.status)} in ${r.ms.toFixed(1)} ms\n`,
      );
      return r.status === 0 ? 0 : 1;
    }
    case "hash-password": {
      const { readStdin } = await import("./hash-password.ts");
      const { hashPassword } = await import("../tenancy/password-hash.ts");
      const password = readStdin();
      if (password === "") throw new UsageError("hash-password: no password on stdin");
      process.stdout.write(`${hashPassword(password)}\n`);
      return 0;
    }
    case "outbox": {
      const { loadConfig } = await import("../config/load.ts");
      const { setupLogging } = await import("../ops/log.ts");
      const { outboxCommand } = await import("./outbox.ts");
      const config = loadConfig(cmd.configPath ?? implicitConfig());
      setupLogging(config.logging.level, config.logging.format);
      return outboxCommand(config, cmd.action, cmd.dir, {
        ...(cmd.withFiles ? { withFiles: true } : {}),
        ...(cmd.maxBundleMb !== undefined ? { maxBundleMb: cmd.maxBundleMb } : {}),
        ...(cmd.filesTo !== undefined ? { filesTo: cmd.filesTo } : {}),
        ...(cmd.bundle !== undefined ? { bundle: cmd.bundle } : {}),
      });
    }
    case "license": {
      const { loadConfig } = await import("../config/load.ts");
      const { licenseCommand } = await import("./license.ts");
      const { VENDOR_CA_PEM } = await import("../license/vendor-ca.ts");
      return licenseCommand(cmd.action, loadConfig(cmd.configPath ?? implicitConfig()), VENDOR_CA_PEM);
    }
    case "init": {
      const { initCommand } = await import("./init.ts");
      return initCommand(cmd.dir);
    }
    case "config-convert": {
      const { convertCommand } = await import("./init.ts");
      return convertCommand(cmd.file);
    }
    case "transcode": {
      const { transcodeCommand } = await import("./transcode.ts");
      return transcodeCommand(cmd.input, cmd.output, cmd.ts);
    }
  }
}

/** A client command's failure, as one line: where, then what. */
function clientFailure(cmd: CliCommand, err: Error): string {
  const where = cmd.kind === "echo" ? `echo ${cmd.host}:${cmd.port}` : cmd.kind;
  return `${where}: ${describeSystemError(err)}`;
}

/** Runs the command; resolves to the exit code, having printed any failure. */
export async function runCommandLine(argv: readonly string[]): Promise<number> {
  let cmd: CliCommand | null = null;
  try {
    cmd = parseArgs(argv);
    return await dispatch(cmd);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const known = ONE_LINE[e.name];
    if (known !== undefined) {
      process.stderr.write(`storescp: ${known.prefix}${e.message.split("\n")[0]}\n`);
      return known.code;
    }
    if (cmd !== null && cmd.kind !== "serve") {
      process.stderr.write(`storescp: ${clientFailure(cmd, e)}\n`);
      return 1;
    }
    process.stderr.write(`storescp: unexpected failure: ${e.stack ?? e.message}\n`);
    return 1;
  }
}
