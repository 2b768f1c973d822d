// Our server, started from source (or a built executable) with a config written for the test.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { makeWorkDir, repoRoot } from "./repo.ts";
import { type ServerHandle, spawnServer } from "./serve.ts";

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

/**
 * STORESCP_TEST_DURABILITY=file (or wal) runs every server started from a config tree in that mode (unless the
 * test sets storage.durability itself): the suites run once in each mode (.ci/run). The write-ahead log
 * is 64 MiB unless the test says otherwise: a test server lives seconds, and the default GiB would be
 * filled with zeros behind each start.
 */
function withTestDurability(config: ConfigTree): ConfigTree {
  const mode = process.env.STORESCP_TEST_DURABILITY;
  const storage = config.storage;
  const tree: ConfigTree = {
    ...(typeof storage === "object" && storage !== null && !Array.isArray(storage) ? storage : {}),
  };
  if (mode !== undefined && mode !== "" && tree.durability === undefined) tree.durability = mode;
  tree.wal_mb ??= 64;
  return { ...config, storage: tree };
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
      : stringifyYaml(withTestDurability(opts.config ?? {}));
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
