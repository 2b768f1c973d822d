// Running a command (a DCMTK tool, mostly) to completion and collecting what it printed.
//
// Every DCMTK tool runs with TCP_NODELAY=1: Debian's DCMTK build only disables Nagle when it is set, and
// without it small PDUs (A-ASSOCIATE, C-STORE-RSP) wait ~40 ms for delayed ACKs.

import { spawn } from "node:child_process";
import { constants as osConstants } from "node:os";

/** Environment for DCMTK tools: the caller's, plus TCP_NODELAY=1. */
export function dcmtkEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, TCP_NODELAY: "1", ...extra };
}

export interface ProcResult {
  /** Exit code; for a process ended by a signal, 128 + the signal number. */
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
}

/** A process's exit code; for one ended by a signal, 128 + the signal number. */
export function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal !== null) return 128 + (osConstants.signals[signal] ?? 0);
  return -1;
}

/** Runs `cmd args` with TCP_NODELAY=1, collects its output; kills it (SIGKILL) after timeoutMs. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<ProcResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(cmd, args, {
      env: dcmtkEnv(opts.env),
      cwd: opts.cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    proc.stdout.on("data", (b: Buffer) => out.push(b));
    proc.stderr.on("data", (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill("SIGKILL");
    }, timeoutMs);
    proc.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    proc.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({
        code: exitCode(code, signal),
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        timedOut,
      });
    });
  });
}
