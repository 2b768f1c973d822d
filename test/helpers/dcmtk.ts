// Test and bench helpers: run DCMTK's command-line tools against a server, start DCMTK's own storescp,
// start our server from source, and read a process's peak RSS.
//
// Every DCMTK tool runs with TCP_NODELAY=1: Debian's DCMTK build only disables Nagle when it is set, and
// without it small PDUs (A-ASSOCIATE, C-STORE-RSP) wait ~40 ms for delayed ACKs.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { constants as osConstants } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";

/** The repository root (this file is test/helpers/dcmtk.ts). */
export const repoRoot: string = fileURLToPath(new URL("../..", import.meta.url));

/** Environment for DCMTK tools: the caller's, plus TCP_NODELAY=1. */
export function dcmtkEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, TCP_NODELAY: "1", ...extra };
}

// ---------------------------------------------------------------------------------------------------
// Running a tool to completion

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

function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
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

// ---------------------------------------------------------------------------------------------------
// Parsing DIMSE responses out of DCMTK's debug log

/** One C-STORE-RSP as DCMTK logged it. */
export interface StoreResponse {
  messageId: number;
  sopInstanceUid: string;
  status: number;
  /** DCMTK's name for the status, e.g. "Success", "Refused: Out of resources". */
  statusText: string;
  /** Error Comment (0000,0902) from the status detail, when the peer sent one. */
  errorComment?: string;
}

/** DCMTK's short status names (DU_cstoreStatusString), for logs written with -v rather than -d. */
const STORE_STATUS_NAMES: Record<string, number> = {
  Success: 0x0000,
  "Refused: OutOfResources": 0xa700,
  "Refused: SOPClassNotSupported": 0x0122,
  "Error: DataSetDoesNotMatchSOPClass": 0xa900,
  "Error: CannotUnderstand": 0xc000,
  "Warning: CoersionOfDataElements": 0xb000,
  "Warning: CoercionOfDataElements": 0xb000,
  "Warning: DataSetDoesNotMatchSOPClass": 0xb007,
  "Warning: ElementsDiscarded": 0xb006,
};

function stripLevel(line: string): string {
  // DCMTK log lines look like "D: text" / "I: text" / "E: text".
  return /^[TDIWEF]: /.test(line) ? line.slice(3) : line;
}

/**
 * The C-STORE responses in a DCMTK SCU log (storescu or dcmsend). With -d (what our wrappers use) each
 * response is a block:
 *   D: ===================== INCOMING DIMSE MESSAGE ====================
 *   D: Message Type                  : C-STORE RSP
 *   D: Message ID Being Responded To : 1
 *   D: Affected SOP Instance UID     : 2.25.111
 *   D: DIMSE Status                  : 0xa700: Refused: Out of resources
 *   D: ======================= END DIMSE MESSAGE =======================
 * optionally followed by "Status Detail:" (dcmsend: "Response has status detail:") and a dump holding
 * (0000,0902) ErrorComment.
 * With -v only "I: Received Store Response (Refused: OutOfResources)" is printed: that is mapped back to a
 * code through DCMTK's names, which only distinguish classes of status (e.g. any A7xx is OutOfResources).
 */
export function parseStoreResponses(log: string): StoreResponse[] {
  const responses: StoreResponse[] = [];
  let block: Partial<StoreResponse> & { type?: string } = {};
  let inBlock = false;
  let sawDebugBlocks = false;
  let inDetail = false;
  for (const raw of log.split("\n")) {
    const line = stripLevel(raw.trimEnd());
    if (line.includes("INCOMING DIMSE MESSAGE")) {
      inBlock = true;
      inDetail = false;
      block = {};
      continue;
    }
    if (inBlock) {
      if (line.includes("END DIMSE MESSAGE")) {
        inBlock = false;
        if (block.type === "C-STORE RSP" && block.status !== undefined) {
          sawDebugBlocks = true;
          responses.push({
            messageId: block.messageId ?? -1,
            sopInstanceUid: block.sopInstanceUid ?? "",
            status: block.status,
            statusText: block.statusText ?? "",
          });
        }
        continue;
      }
      const m = /^([A-Za-z][A-Za-z .-]*?)\s*: (.*)$/.exec(line);
      if (!m) continue;
      const key = m[1] ?? "";
      const value = m[2] ?? "";
      if (key === "Message Type") block.type = value.trim();
      else if (key === "Message ID Being Responded To") block.messageId = Number.parseInt(value, 10);
      else if (key === "Affected SOP Instance UID") block.sopInstanceUid = value.trim();
      else if (key === "DIMSE Status") {
        const s = /^0x([0-9a-fA-F]{1,4})(?::\s*(.*))?/.exec(value.trim());
        if (s) {
          block.status = Number.parseInt(s[1] ?? "", 16);
          block.statusText = (s[2] ?? "").trim();
        }
      }
      continue;
    }
    if (line.startsWith("Status Detail") || line.startsWith("Response has status detail")) {
      inDetail = true;
      continue;
    }
    if (inDetail) {
      const c = /^\(0000,0902\) LO \[(.*)\]/.exec(line.trim());
      const last = responses[responses.length - 1];
      if (c && last) last.errorComment = c[1];
      if (/^(Sending|Received|Releasing|Aborting|Association)/.test(line)) inDetail = false;
    }
  }
  if (sawDebugBlocks) return responses;
  // Fallback: verbose (-v) logs.
  let id = 0;
  for (const raw of log.split("\n")) {
    const m = /Received (?:Store|C-STORE) Response \((.*)\)\s*$/.exec(stripLevel(raw.trimEnd()));
    if (!m) continue;
    const text = m[1] ?? "";
    const unknown = /Unknown Status: 0x([0-9a-fA-F]+)/.exec(text);
    const status = unknown ? Number.parseInt(unknown[1] ?? "", 16) : (STORE_STATUS_NAMES[text] ?? -1);
    responses.push({ messageId: ++id, sopInstanceUid: "", status, statusText: text });
  }
  return responses;
}

// ---------------------------------------------------------------------------------------------------
// SCUs

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

// ---------------------------------------------------------------------------------------------------
// Processes that serve: ports, readiness, output, stopping

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

// ---------------------------------------------------------------------------------------------------
// DCMTK storescp

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

// ---------------------------------------------------------------------------------------------------
// Our server

/** A config tree as it goes into the YAML file. */
export type ConfigTree = { [key: string]: ConfigValue };
export type ConfigValue = string | number | boolean | null | ConfigValue[] | ConfigTree;

export interface StartServerOptions {
  /** The config file's text, written as is; "{work}" is replaced by the work directory. */
  configYaml?: string;
  /** Or a config tree, serialized to YAML. Neither: an empty config (the embedded defaults). */
  config?: ConfigTree;
  /**
   * Or a file written into the work directory under this name and not passed with --config: the
   * server finds it itself (the Rust original's application.dev.json).
   */
  implicitConfig?: { name: string; text: string };
  /** Or an existing config file, passed with --config as it is (nothing is written). */
  existingConfig?: string;
  /** Extra command-line arguments (after `--config FILE [--port 0]`). A port given here is used instead. */
  args?: string[];
  /** Default 0: the server binds any free port and reports it (no race with other processes). */
  port?: number;
  env?: Record<string, string>;
  /** Default 10 s. */
  readyTimeoutMs?: number;
  /** Default: test/.work/<random>. The server runs with this as its cwd, so relative paths land in it. */
  workDir?: string;
  /** Default: src/main.ts. */
  entry?: string;
  /** A built storescp executable to run instead of `bun src/main.ts` (entry is then ignored). */
  executable?: string;
}

export interface OurServerHandle extends ServerHandle {
  /** The TLS listener's port (scp.tls), or null. */
  tlsPort: number | null;
  /** The ops HTTP port (ops.http_port), or null. */
  opsPort: number | null;
  workDir: string;
  /** storage.root, resolved against workDir (default workDir/data). */
  dataDir: string;
  configPath: string;
}

/** A new directory under test/.work/ (gitignored). */
export function makeWorkDir(prefix = "srv"): string {
  const dir = join(
    repoRoot,
    "test",
    ".work",
    `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`,
  );
  mkdirSync(dir, { recursive: true });
  return dir;
}

function storageRoot(configText: string): string | undefined {
  try {
    const doc: unknown = parseYaml(configText);
    if (typeof doc !== "object" || doc === null) return undefined;
    const storage: unknown = (doc as Record<string, unknown>).storage;
    if (typeof storage !== "object" || storage === null) return undefined;
    const root: unknown = (storage as Record<string, unknown>).root;
    return typeof root === "string" ? root : undefined;
  } catch {
    return undefined;
  }
}

/** The fields of the server's start-up line ("ready"), from text or JSON logs; null until it is there. */
export function readyLine(output: string): Record<string, string> | null {
  for (const line of output.split("\n")) {
    if (line.startsWith("{") && line.includes('"event":"ready"')) {
      const props = (JSON.parse(line) as { properties?: Record<string, unknown> }).properties ?? {};
      return Object.fromEntries(Object.entries(props).map(([k, v]) => [k, String(v)]));
    }
    const m = / ready (ae=.*)$/.exec(line);
    if (m) {
      const fields: Record<string, string> = {};
      for (const f of (m[1] ?? "").matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g))
        fields[f[1] ?? ""] = f[2]?.startsWith('"') ? (JSON.parse(f[2]) as string) : (f[2] ?? "");
      return fields;
    }
  }
  return null;
}

/** The port of a "HOST:PORT" field of the start-up line, or null ("off", "-"). */
function portOf(field: string | undefined): number | null {
  const m = /:(\d+)$/.exec(field ?? "");
  return m ? Number(m[1]) : null;
}

/**
 * Starts our server from source: `bun src/main.ts --config FILE --port 0 [args]`, cwd = the work dir,
 * waits (readyTimeoutMs) for its start-up line ("ready") and takes the ports it bound from there. Rejects
 * with the server's output if it exits or does not get there in time.
 */
export async function startServer(opts: StartServerOptions = {}): Promise<OurServerHandle> {
  const workDir = opts.workDir ?? makeWorkDir();
  mkdirSync(workDir, { recursive: true });
  const configText =
    opts.configYaml !== undefined
      ? opts.configYaml.replaceAll("{work}", workDir)
      : opts.config !== undefined
        ? stringifyYaml(opts.config)
        : "{}\n";
  const configPath = opts.existingConfig ?? join(workDir, opts.implicitConfig?.name ?? "config.yaml");
  if (opts.existingConfig === undefined) writeFileSync(configPath, opts.implicitConfig?.text ?? configText);

  const extra = opts.args ?? [];
  const args = [
    ...(opts.executable === undefined ? [resolve(repoRoot, opts.entry ?? "src/main.ts")] : []),
    ...(opts.implicitConfig === undefined ? ["--config", configPath] : []),
  ];
  // A port in the arguments (a flag, or DCMTK's trailing PORT) is the test's own; else ours.
  const hasPort = extra.some((a) => a === "--port" || a === "-p") || /^\d+$/.test(extra.at(-1) ?? "");
  if (!hasPort) args.push("--port", String(opts.port ?? 0));
  args.push(...extra);

  const root = storageRoot(readFileSync(configPath, "utf8")) ?? "./data";
  const dataDir = isAbsolute(root) ? root : resolve(dirname(configPath), root);
  const h = await spawnServer({
    cmd: opts.executable ?? process.execPath,
    args,
    port: 0,
    env: { ...process.env, ...opts.env },
    cwd: workDir,
    ready: "output",
    readyPattern: /( ready ae=|"event":"ready")/,
    readyTimeoutMs: opts.readyTimeoutMs ?? 10_000,
    name: "storescp (ours)",
  });
  const ready = readyLine(h.output()) ?? {};
  const tlsPort = portOf(ready.tls);
  return {
    ...h,
    port: portOf(ready.on) ?? tlsPort ?? 0,
    tlsPort,
    opsPort: portOf(ready.ops),
    workDir,
    dataDir,
    configPath,
  };
}

// ---------------------------------------------------------------------------------------------------
// Memory

function statusField(pid: number, field: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
  return m ? Number.parseInt(m[1] ?? "", 10) * 1024 : undefined;
}

/** Peak resident set size (VmHWM) of a live process, in bytes; undefined once it is gone. */
export function peakRss(pid: number): number | undefined {
  return statusField(pid, "VmHWM");
}

/** Current resident set size (VmRSS) of a live process, in bytes. */
export function currentRss(pid: number): number | undefined {
  return statusField(pid, "VmRSS");
}
