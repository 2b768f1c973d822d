// What the start of the server checks and tells: every failure before listening becomes one line and
// exit 2 (StartupError), and once everything listens one line states the settings in effect, so an
// operator sees at a glance what runs where.

import { readFile } from "node:fs/promises";
import type { Config } from "../config/schema.ts";
import { checkDirectory, DirectoryProblem } from "../store/preflight.ts";
import { describeSystemError } from "../util/errors.ts";

/** A start-up failure with a one-line reason: exit 2, no stack trace (src/main.ts). */
export class StartupError extends Error {
  override readonly name = "StartupError";
}

/** Why a listener could not bind, as an operator reads it. */
export function listenProblem(what: string, host: string, port: number, err: unknown): StartupError {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const reasons: Record<string, string> = {
    EADDRINUSE: "the port is in use (another storescp or DICOM service? see ss -ltnp)",
    EACCES: "permission denied (ports below 1024 need privileges; use e.g. 11112)",
    EPERM: "permission denied (ports below 1024 need privileges; use e.g. 11112)",
    EADDRNOTAVAIL: "no such address on this machine (scp.host / --host)",
    ENOTFOUND: "host name not found (scp.host / --host)",
  };
  const reason =
    code !== undefined
      ? (reasons[code] ?? describeSystemError(err))
      : `${(err as Error)?.message ?? String(err)} (is the host name an address of this machine?)`;
  return new StartupError(`cannot listen on ${host}:${port} (${what}): ${reason}`);
}

/**
 * Every directory the server writes to, created if missing and proven writable: storage roots
 * (and their free space against storage.min_free_mb), the quarantine, the outbox, the log file's.
 */
export async function checkDirectories(config: Config, storageRoots: readonly string[]): Promise<void> {
  const min = config.storage.min_free_mb;
  const checks: Array<[string, string, number]> = [];
  for (const root of new Set(storageRoots))
    checks.push([root === config.storage.root ? "storage.root" : "tenants[].storage.root", root, min]);
  checks.push(["storage.quarantine", config.storage.quarantine, min]);
  checks.push(["outbox.dir", config.outbox.dir, 0]);
  try {
    // Side by side; the first problem in the order above is the one reported.
    const results = await Promise.allSettled(
      checks.map(([key, dir, minFree]) => checkDirectory(key, dir, minFree)),
    );
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  } catch (err) {
    if (err instanceof DirectoryProblem) throw new StartupError(err.message);
    throw err;
  }
}

/** Files the server reads at start (TLS material): missing or unreadable is one line, not a trace. */
export async function checkFiles(config: Config): Promise<void> {
  const files: Array<[string, string | null]> = [];
  const tls = config.scp.tls;
  if (tls) files.push(["scp.tls.cert", tls.cert], ["scp.tls.key", tls.key], ["scp.tls.ca", tls.ca]);
  const ssl = config.kafka.enabled ? config.kafka.ssl : null;
  if (ssl) files.push(["kafka.ssl.ca", ssl.ca], ["kafka.ssl.cert", ssl.cert], ["kafka.ssl.key", ssl.key]);
  for (const [key, path] of files) {
    if (path === null) continue;
    try {
      await readFile(path);
    } catch (err) {
      throw new StartupError(`${key} ${path}: ${describeSystemError(err)}`);
    }
  }
}

export interface Bound {
  /** The plain listener's port, or null when scp.port itself speaks TLS. */
  port: number | null;
  tlsPort: number | null;
  opsPort: number | null;
}

const onOff = (b: boolean): string => (b ? "on" : "off");

/** The fields of the start-up line: the settings in effect, with the ports actually bound. */
export function readyFields(
  config: Config,
  tenants: readonly string[],
  bound: Bound,
  configSource: string,
): Record<string, string> {
  const host = config.scp.host;
  const k = config.kafka;
  return {
    ae: config.scp.ae_title,
    on: bound.port === null ? "-" : `${host}:${bound.port}`,
    tls: bound.tlsPort === null ? "off" : `${host}:${bound.tlsPort}`,
    tenants: tenants.join(","),
    storage: config.storage.root,
    path: config.storage.path,
    fsync: onOff(config.storage.fsync),
    require: config.storage.require.length > 0 ? config.storage.require.join(",") : "none",
    strict: onOff(config.scp.strict),
    promiscuous: onOff(config.scp.promiscuous),
    uncompressed_only: onOff(config.scp.uncompressed_only),
    mode: config.scp.mode,
    transcode_to: config.transcode.target,
    kafka: k.enabled ? `on ${k.brokers.join(",")}` : "off",
    outbox: config.outbox.dir,
    ops: bound.opsPort === null ? "off" : `${host}:${bound.opsPort}`,
    ...(config.tenant_tag !== null ? { tenant_tag: config.tenant_tag } : {}),
    config: configSource,
  };
}
