// DCMTK's client tools: the SCUs (storescu, dcmsend, echoscu) with their responses parsed, and dcmdump.

import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { parseStoreResponses, type StoreResponse } from "./dcmtk-log.ts";
import { dcmtkEnv, type ProcResult, run } from "./run.ts";

export interface ScuOptions {
  host?: string;
  port: number;
  /** Called AE title (DCMTK's default: ANY-SCP). */
  calledAe?: string;
  /** Calling AE title (DCMTK's default: STORESCU / ECHOSCU). */
  callingAe?: string;
  extraArgs?: string[];
  timeoutMs?: number;
  env?: Record<string, string>;
}

export interface StoreResult extends ProcResult {
  /** The DIMSE status of each C-STORE-RSP, in order. */
  statuses: number[];
  responses: StoreResponse[];
}

function aeArgs(opts: ScuOptions): string[] {
  const a: string[] = [];
  if (opts.callingAe !== undefined) a.push("-aet", opts.callingAe);
  if (opts.calledAe !== undefined) a.push("-aec", opts.calledAe);
  return a;
}

function hasDirectory(paths: string[]): boolean {
  return paths.some((p) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false;
    }
  });
}

export interface StorescuOptions extends ScuOptions {
  /** Files and/or directories (directories are scanned recursively: +sd +r). */
  files: string[];
  /** Keep sending after a failed C-STORE (-nh); DCMTK's default is to stop at the first. */
  noHalt?: boolean;
}

/** DCMTK storescu with -d; statuses parsed from its log. Proposes what storescu proposes by default. */
export async function storescu(opts: StorescuOptions): Promise<StoreResult> {
  const args = ["-d", ...aeArgs(opts)];
  if (hasDirectory(opts.files)) args.push("+sd", "+r");
  if (opts.noHalt) args.push("-nh");
  args.push(...(opts.extraArgs ?? []), opts.host ?? "127.0.0.1", String(opts.port), ...opts.files);
  const r = await run("storescu", args, { timeoutMs: opts.timeoutMs, env: opts.env });
  const responses = parseStoreResponses(`${r.stderr}\n${r.stdout}`);
  return { ...r, responses, statuses: responses.map((x) => x.status) };
}

export interface DcmsendOptions extends ScuOptions {
  /** Files and/or directories (directories are scanned recursively). */
  files: string[];
}

/** DCMTK dcmsend with -d (proposes each file's own transfer syntax, decompresses if refused). */
export async function dcmsend(opts: DcmsendOptions): Promise<StoreResult> {
  const args = ["-d", ...aeArgs(opts)];
  if (hasDirectory(opts.files)) args.push("--scan-directories", "--recurse");
  args.push(...(opts.extraArgs ?? []), opts.host ?? "127.0.0.1", String(opts.port), ...opts.files);
  const r = await run("dcmsend", args, { timeoutMs: opts.timeoutMs, env: opts.env });
  const responses = parseStoreResponses(`${r.stderr}\n${r.stdout}`);
  return { ...r, responses, statuses: responses.map((x) => x.status) };
}

export interface EchoResult extends ProcResult {
  /** The status of each C-ECHO-RSP (0 = Success). */
  statuses: number[];
}

/** DCMTK echoscu -v; `repeat` sends that many C-ECHOs in the one association. */
export async function echoscu(opts: ScuOptions & { repeat?: number }): Promise<EchoResult> {
  const args = ["-v", ...aeArgs(opts)];
  if (opts.repeat !== undefined) args.push("--repeat", String(opts.repeat));
  args.push(...(opts.extraArgs ?? []), opts.host ?? "127.0.0.1", String(opts.port));
  const r = await run("echoscu", args, { timeoutMs: opts.timeoutMs, env: opts.env });
  const statuses: number[] = [];
  for (const line of `${r.stderr}\n${r.stdout}`.split("\n")) {
    const m = /Received Echo Response \((.*)\)/.exec(line);
    if (!m) continue;
    const text = m[1] ?? "";
    const unknown = /0x([0-9a-fA-F]+)/.exec(text);
    statuses.push(text === "Success" ? 0 : unknown ? Number.parseInt(unknown[1] ?? "", 16) : -1);
  }
  return { ...r, statuses };
}

/** dcmdump's text for a file (synchronous); throws with dcmdump's stderr if it fails. */
export function dcmdump(file: string, args: string[] = []): string {
  const r = spawnSync("dcmdump", [...args, file], { env: dcmtkEnv(), encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`dcmdump ${file} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** The value of one tag as dcmdump prints it (e.g. tagValue(f, "0008,0018") -> "1.2.3"), or undefined. */
export function tagValue(file: string, tag: string): string | undefined {
  const out = dcmdump(file, ["-q", "-s", "-Un", "+P", tag]);
  const m = /^\([0-9a-fA-F,]+\) \S\S (?:\[(.*?)\]|=(\S+)|(\S+))/m.exec(out);
  if (!m) return undefined;
  return m[1] ?? m[2] ?? m[3];
}
