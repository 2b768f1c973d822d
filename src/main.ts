#!/usr/bin/env bun
// Entry point: parse the command line and run the command. Exit codes (SPEC 1): 0 ok, 2 bad usage,
// config or license, 1 unexpected failure.

import { parseArgs, UsageError, versionText } from "./cli/args.ts";
import { hashPassword, readStdin } from "./cli/hash-password.ts";
import { serve } from "./cli/serve.ts";
import { ConfigError, loadConfig } from "./config/load.ts";
import { hex4 } from "./dimse/status.ts";
import { AssociationRejectedError, echo } from "./net/client.ts";
import { setupLogging } from "./ops/log.ts";

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
      setupLogging(config.logging.level, config.logging.format);
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
    case "outbox":
    case "license":
    case "transcode":
      process.stderr.write(`storescp: '${cmd.kind}' is not available in this build yet\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`storescp: ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof AssociationRejectedError) {
      process.stderr.write(`storescp: ${err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(
      `storescp: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
