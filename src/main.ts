#!/usr/bin/env bun

// Entry point: parse the command line and run the command. Exit codes (SPEC 1): 0 ok, 2 bad usage,
// config or license, 1 unexpected failure.

import { isMainThread } from "node:worker_threads";
import { parseArgs, UsageError, versionText } from "./cli/args.ts";
import { hashPassword, readStdin } from "./cli/hash-password.ts";
import { licenseCommand } from "./cli/license.ts";
import { OutboxCommandError, outboxCommand } from "./cli/outbox.ts";
import { serve } from "./cli/serve.ts";
import { transcodeCommand } from "./cli/transcode.ts";
import { ConfigError, loadConfig } from "./config/load.ts";
import { worldReadableSecretsWarning } from "./config/secrets.ts";
import { hex4 } from "./dimse/status.ts";
import { VENDOR_CA_PEM } from "./license/vendor-ca.ts";
import { LicenseError } from "./license/verify.ts";
import { AssociationRejectedError, echo } from "./net/client.ts";
import { event, logger, setupLogging } from "./ops/log.ts";
import { OutboxLockedError } from "./outbox/log.ts";
import "./transcode/worker.ts";

async function main(argv: string[]): Promise<number> {
  const cmd = parseArgs(argv);
  switch (cmd.kind) {
    case "help":
      process.stdout.write(cmd.text.endsWith("\n") ? cmd.text : `${cmd.text}\n`);
      return 0;
    case "version":
      process.stdout.write(`${versionText()}\n`);
      return 0;
    case "serve": {
      const config = loadConfig(cmd.configPath, cmd.overrides);
      setupLogging(config.logging.level, config.logging.format, config.logging.file);
      const secrets = worldReadableSecretsWarning(cmd.configPath, config);
      if (secrets !== null)
        event(logger("config"), "warning", "config-readable-by-others", { detail: secrets });
      return serve(config);
    }
    case "echo": {
      const r = await echo(cmd.host, cmd.port, cmd.called, cmd.calling);
      process.stdout.write(
        `C-ECHO ${cmd.host}:${cmd.port} ${cmd.called}: status ${hex4(r.status)} in ${r.ms.toFixed(1)} ms\n`,
      );
      return r.status === 0 ? 0 : 1;
    }
    case "hash-password": {
      const password = await readStdin();
      if (password === "") throw new UsageError("hash-password: no password on stdin");
      process.stdout.write(`${hashPassword(password)}\n`);
      return 0;
    }
    case "outbox": {
      const config = loadConfig(cmd.configPath);
      setupLogging(config.logging.level, config.logging.format);
      return outboxCommand(config, cmd.action, cmd.dir, {
        ...(cmd.withFiles ? { withFiles: true } : {}),
        ...(cmd.maxBundleMb !== undefined ? { maxBundleMb: cmd.maxBundleMb } : {}),
        ...(cmd.filesTo !== undefined ? { filesTo: cmd.filesTo } : {}),
        ...(cmd.bundle !== undefined ? { bundle: cmd.bundle } : {}),
      });
    }
    case "license":
      return licenseCommand(cmd.action, loadConfig(cmd.configPath), VENDOR_CA_PEM);
    case "transcode":
      return transcodeCommand(cmd.input, cmd.output, cmd.ts);
  }
}

// In a compiled executable this same entry also runs the transcoding workers (src/transcode/worker.ts,
// imported above, starts itself in a worker thread): only the main thread runs a command.
if (isMainThread)
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof UsageError || err instanceof ConfigError) {
        process.stderr.write(`storescp: ${err.message}\n`);
        process.exit(2);
      }
      if (err instanceof LicenseError) {
        process.stderr.write(`storescp: license: ${err.message}\n`);
        process.exit(2);
      }
      if (
        err instanceof AssociationRejectedError ||
        err instanceof OutboxCommandError ||
        err instanceof OutboxLockedError
      ) {
        process.stderr.write(`storescp: ${err.message}\n`);
        process.exit(1);
      }
      process.stderr.write(
        `storescp: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
