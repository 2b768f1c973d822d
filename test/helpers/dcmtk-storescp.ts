// DCMTK's own storescp, the baseline receiver.

import { mkdirSync } from "node:fs";
import { dcmtkEnv } from "./run.ts";
import { freePort, type ServerHandle, spawnServer } from "./serve.ts";

export interface DcmtkStorescpOptions {
  /** Default: a free port. */
  port?: number;
  /** Existing or new directory for received files (-od). */
  outDir: string;
  aeTitle?: string;
  /** --fork: one child process per association. */
  fork?: boolean;
  /** -pdu (default 131072). */
  maxPdu?: number;
  /** -v */
  verbose?: boolean;
  extraArgs?: string[];
  readyTimeoutMs?: number;
  /** More environment (TCP_NODELAY=1 is always set). */
  env?: Record<string, string>;
}

export interface DcmtkStorescpHandle extends ServerHandle {
  outDir: string;
}

/**
 * Starts DCMTK's storescp and waits until it listens. DCMTK cannot bind port 0 and say which it got: a
 * free port is picked, and should another process take it first, the start is tried on a new one.
 */
export async function startDcmtkStorescp(opts: DcmtkStorescpOptions): Promise<DcmtkStorescpHandle> {
  if (opts.port !== undefined) return startDcmtkOn(opts.port, opts);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDcmtkOn(await freePort(), opts);
    } catch (err) {
      if (attempt >= 5 || !/exited/.test((err as Error).message)) throw err;
    }
  }
}

async function startDcmtkOn(port: number, opts: DcmtkStorescpOptions): Promise<DcmtkStorescpHandle> {
  mkdirSync(opts.outDir, { recursive: true });
  const args: string[] = [];
  if (opts.verbose) args.push("-v");
  if (opts.fork) args.push("--fork");
  if (opts.aeTitle !== undefined) args.push("-aet", opts.aeTitle);
  args.push(
    "-pdu",
    String(opts.maxPdu ?? 131072),
    "-od",
    opts.outDir,
    ...(opts.extraArgs ?? []),
    String(port),
  );
  const h = await spawnServer({
    cmd: "storescp",
    args,
    port,
    env: dcmtkEnv(opts.env),
    ready: "listen",
    readyTimeoutMs: opts.readyTimeoutMs ?? 10_000,
    name: "DCMTK storescp",
  });
  return { ...h, outDir: opts.outDir };
}
