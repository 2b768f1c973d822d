// Processes that serve: free ports, readiness (a line of output or a listening socket), their output,
// stopping them.

import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { exitCode } from "./run.ts";

/** A free TCP port: bind port 0, read the port, close. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolvePromise(port));
    });
  });
}

/** True when some socket listens on `port` (from /proc/net/tcp and tcp6; Linux). */
export function isListening(port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      // cols[1] = local "ADDR:PORT", cols[3] = state (0A = LISTEN)
      if (cols[3] === "0A" && cols[1]?.endsWith(`:${hexPort}`)) return true;
    }
  }
  return false;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface ServerHandle {
  port: number;
  proc: ChildProcess;
  pid: number;
  /** Resolves with the exit code (128 + signal number when killed by a signal). */
  exited: Promise<number>;
  /** SIGTERM, wait up to timeoutMs (default 15 s), then SIGKILL; resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number>;
  kill(signal?: NodeJS.Signals): void;
  /** stdout and stderr so far, interleaved in arrival order. */
  output(): string;
  /** Waits until output() matches `pattern` (rejects after timeoutMs, default 10 s, or on exit). */
  waitForOutput(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
}

interface SpawnServerOptions {
  cmd: string;
  args: string[];
  port: number;
  env: NodeJS.ProcessEnv;
  cwd?: string;
  ready: "output" | "listen";
  readyPattern?: RegExp;
  readyTimeoutMs: number;
  name: string;
}

export async function spawnServer(o: SpawnServerOptions): Promise<ServerHandle> {
  const proc = spawn(o.cmd, o.args, { env: o.env, cwd: o.cwd, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  let exitInfo: number | undefined;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const l of listeners) l();
  };
  proc.stdout?.on("data", (b: Buffer) => {
    text += b.toString("utf8");
    notify();
  });
  proc.stderr?.on("data", (b: Buffer) => {
    text += b.toString("utf8");
    notify();
  });
  const exited = new Promise<number>((resolvePromise) => {
    proc.on("error", (e) => {
      text += `\n[spawn error] ${e.message}\n`;
      exitInfo = -1;
      notify();
      resolvePromise(-1);
    });
    proc.on("close", (code, signal) => {
      exitInfo = exitCode(code, signal);
      notify();
      resolvePromise(exitInfo);
    });
  });

  const waitForOutput = (pattern: RegExp | string, timeoutMs = 10_000): Promise<string> =>
    new Promise((resolvePromise, reject) => {
      const matches = () => (typeof pattern === "string" ? text.includes(pattern) : pattern.test(text));
      if (matches()) return resolvePromise(text);
      const done = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      const check = () => {
        if (matches()) {
          done();
          resolvePromise(text);
        } else if (exitInfo !== undefined) {
          done();
          reject(new Error(`${o.name} exited (${exitInfo}) before printing ${pattern}; output:\n${text}`));
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`${o.name}: no ${pattern} within ${timeoutMs} ms; output:\n${text}`));
      }, timeoutMs);
      listeners.add(check);
    });

  const kill = (signal: NodeJS.Signals = "SIGTERM") => {
    if (exitInfo === undefined) proc.kill(signal);
  };
  const stop = async (timeoutMs = 15_000): Promise<number> => {
    if (exitInfo !== undefined) return exitInfo;
    proc.kill("SIGTERM");
    const t = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
    const code = await exited;
    clearTimeout(t);
    return code;
  };
  const handle: ServerHandle = {
    port: o.port,
    proc,
    pid: proc.pid ?? -1,
    exited,
    stop,
    kill,
    output: () => text,
    waitForOutput,
  };

  try {
    if (o.ready === "output") {
      await waitForOutput(o.readyPattern ?? /listening/i, o.readyTimeoutMs);
    } else {
      const deadline = Date.now() + o.readyTimeoutMs;
      while (!isListening(o.port)) {
        if (exitInfo !== undefined) throw new Error(`${o.name} exited (${exitInfo}); output:\n${text}`);
        if (Date.now() > deadline)
          throw new Error(
            `${o.name}: not listening on ${o.port} after ${o.readyTimeoutMs} ms; output:\n${text}`,
          );
        await sleep(20);
      }
    }
  } catch (e) {
    proc.kill("SIGKILL");
    await exited;
    throw e;
  }
  return handle;
}
