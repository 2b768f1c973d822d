#!/usr/bin/env bun

// Entry point. Exit codes: 0 ok, 2 bad usage, config, license or site, 1 a failed client command or an
// unexpected failure (docs/cli.md).
//
// `--version` is answered here, before anything else loads; every other command loads only its own
// modules (src/cli/run.ts). In a compiled executable this same entry also runs the transcoding workers:
// a worker thread loads src/transcode/worker.ts, which starts itself.

import { isMainThread } from "node:worker_threads";
import { versionText } from "./cli/version.ts";

const argv = process.argv.slice(2);
if (!isMainThread) {
  await import("./transcode/worker.ts");
} else if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  process.stdout.write(`${versionText()}\n`);
} else {
  const { runCommandLine } = await import("./cli/run.ts");
  process.exit(await runCommandLine(argv));
}
