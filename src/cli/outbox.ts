// `storescp outbox status|drain|export DIR|import DIR [-c FILE]`: look at, empty, carry out and take in
// the outbox of the config's outbox.dir. status only reads; export and import work beside a running
// server (src/outbox/handover-files.ts); drain needs the outbox to itself (the server stopped).
//
// A bundle (export DIR) is a directory of numbered volumes (src/outbox/bundle.ts), written by
// src/outbox/export.ts and taken in by src/outbox/import.ts, which skips records whose trace_id an
// earlier import already took (imported.ids in the outbox): importing a bundle twice publishes nothing
// twice.

import type { Config } from "../config/schema.ts";
import { BundleError, bundleFinished, checkVolume, listVolumes } from "../outbox/bundle.ts";
import { capacity, capacityLines, sizeText } from "../outbox/capacity.ts";
import { DrainStalledError, drainToEmpty } from "../outbox/drain.ts";
import { DEFAULT_MAX_BUNDLE_MB, ExportError, exportBundle } from "../outbox/export.ts";
import { drainAdvice } from "../outbox/fill.ts";
import { Handover } from "../outbox/handover.ts";
import { claimLive, HandoverError, readClaim } from "../outbox/handover-files.ts";
import { createHasher } from "../outbox/hasher.ts";
import { RecordHashes } from "../outbox/hashes.ts";
import { importBundle } from "../outbox/import.ts";
import { lockText } from "../outbox/lock.ts";
import { OutboxLog } from "../outbox/log.ts";
import { Drainer, type Publisher, topicsResolver } from "../outbox/publisher.ts";
import { corruptDir, setAsideCount } from "../outbox/recovery.ts";

export class OutboxCommandError extends Error {
  override readonly name = "OutboxCommandError";
}

type Out = (line: string) => void;

export interface OutboxCliOptions {
  out?: Out;
  /** Warnings and refusals (default: stderr). */
  warn?: Out;
  /** Instead of kafkajs (tests). */
  publisher?: Publisher;
  /** drain: give up after this long without progress (default 30 s). */
  drainTimeoutMs?: number;
  /** export: each record's file goes into the bundle too. */
  withFiles?: boolean;
  /** export: no volume larger than this (MiB). */
  maxBundleMb?: number;
  /** import: the root the files go under (default storage.root). */
  filesTo?: string;
  /** status: report on this bundle instead of the outbox. */
  bundle?: string;
}

const openLog = (config: Config, readOnly = false) =>
  OutboxLog.open({
    dir: config.outbox.dir,
    maxBytes: config.outbox.max_mb * 1024 * 1024,
    fsync: config.storage.fsync,
    readOnly,
  });

export async function outboxCommand(
  config: Config,
  action: "status" | "drain" | "export" | "import",
  dir: string | undefined,
  opts: OutboxCliOptions = {},
): Promise<number> {
  const out: Out = opts.out ?? ((l) => process.stdout.write(`${l}\n`));
  const warn: Out = opts.warn ?? ((l) => process.stderr.write(`${l}\n`));
  try {
    switch (action) {
      case "status":
        return opts.bundle !== undefined
          ? await bundleStatus(opts.bundle, out, warn)
          : await status(config, out);
      case "drain":
        return await drain(config, out, opts);
      case "export":
        return await exportCommand(config, dir ?? "", out, warn, opts);
      case "import":
        return await importCommand(config, dir ?? "", out, warn, opts);
    }
  } catch (err) {
    if (err instanceof BundleError || err instanceof ExportError || err instanceof HandoverError) {
      const m = err.message;
      throw new OutboxCommandError(m.startsWith(`${action}:`) ? m : `${action}: ${m}`);
    }
    throw err;
  }
}

function age(iso: string | null): string {
  if (iso === null) return "-";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 120) return `${s.toFixed(0)} s`;
  if (s < 7200) return `${(s / 60).toFixed(0)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

async function status(config: Config, out: Out): Promise<number> {
  const log = await openLog(config, true);
  try {
    const oldest = await log.oldest();
    const note = log.publishNote;
    const setAside = corruptDir(config.outbox.dir);
    const corrupt = setAsideCount(config.outbox.dir);
    const lock = lockText(config.outbox.dir);
    const owner = lock === null ? "-" : `pid ${lock}`;
    out(`outbox:        ${config.outbox.dir}`);
    out(`records:       ${log.records}`);
    out(`bytes:         ${log.bytes} (max ${config.outbox.max_mb} MiB${log.full ? ", FULL" : ""})`);
    out(`oldest:        ${oldest ?? "-"} (age ${age(oldest)})`);
    out(`kafka:         ${config.kafka.enabled ? config.kafka.brokers.join(",") : drainAdvice(false)}`);
    out(`last publish:  ${note.last_publish_at ?? "-"}`);
    out(`last error:    ${note.last_error ?? "-"}${note.last_error_at ? ` (at ${note.last_error_at})` : ""}`);
    out(`set aside:     ${corrupt} corrupt range(s) in ${setAside}`);
    out(`owner:         ${owner}`);
    const claim = readClaim(config.outbox.dir);
    if (claim !== null && claim !== "unreadable") out(`export:        pid ${claim.pid} into ${claim.dir}`);
    for (const line of capacityLines(
      await capacity(log, config.outbox.max_mb * 1024 * 1024),
      config.outbox.max_mb,
      config.kafka.enabled,
      DEFAULT_MAX_BUNDLE_MB,
    ))
      out(line);
    return 0;
  } finally {
    await log.close();
  }
}

async function drain(config: Config, out: Out, opts: OutboxCliOptions): Promise<number> {
  if (!config.kafka.enabled && !opts.publisher) {
    throw new OutboxCommandError("kafka.enabled is false: there is nothing to drain to (use export DIR)");
  }
  const claim = readClaim(config.outbox.dir);
  if (claim !== null && claim !== "unreadable" && claimLive(config.outbox.dir, claim)) {
    // What it takes must not also go to Kafka.
    throw new OutboxCommandError(`drain: an export (pid ${claim.pid}, into ${claim.dir}) is running`);
  }
  const log = await openLog(config);
  // What exports and imports left behind first (a dead exporter's claim, queued records).
  await new Handover(log).poll();
  const publisher =
    opts.publisher ?? new (await import("../outbox/kafka-publisher.ts")).KafkaPublisher(config.kafka);
  const hasher = createHasher();
  const hashes = new RecordHashes(config.outbox.dir, hasher);
  const drainer = new Drainer(log, publisher, topicsResolver(config), {
    resolveRecord: (record, segment) => hashes.resolve(record, segment),
  });
  try {
    out(`draining ${log.records} record(s) to ${config.kafka.brokers.join(",")}`);
    let delivered: number;
    try {
      delivered = await drainToEmpty(log, drainer, opts.drainTimeoutMs ?? 30_000);
    } catch (err) {
      if (err instanceof DrainStalledError) throw new OutboxCommandError(err.message);
      throw err;
    }
    out(`drained ${delivered} record(s); outbox empty`);
    return 0;
  } finally {
    await publisher.close();
    await hasher.close();
    await log.close();
  }
}

async function exportCommand(
  config: Config,
  dir: string,
  out: Out,
  warn: Out,
  opts: OutboxCliOptions,
): Promise<number> {
  const withFiles = opts.withFiles ?? false;
  out(`exporting the outbox ${config.outbox.dir} to ${dir}${withFiles ? " with its files" : ""}`);
  const s = await exportBundle(config, dir, {
    withFiles,
    maxBundleMb: opts.maxBundleMb ?? DEFAULT_MAX_BUNDLE_MB,
    out,
    warn,
  });
  out(
    `exported ${s.records} record(s)${withFiles ? ` and ${s.files} file(s)` : ""} (${sizeText(s.bytes)}) ` +
      `to ${s.dir} in ${s.volumes.length} volume(s)`,
  );
  return 0;
}

async function importCommand(
  config: Config,
  dir: string,
  out: Out,
  warn: Out,
  opts: OutboxCliOptions,
): Promise<number> {
  const s = await importBundle(config, dir, {
    ...(opts.filesTo !== undefined ? { filesTo: opts.filesTo } : {}),
    out,
    warn,
  });
  out(
    `imported ${s.imported} record(s) from ${s.volumes} volume(s) of ${dir}` +
      (s.skipped > 0 ? `; ${s.skipped} already imported before, skipped` : ""),
  );
  if (s.refused.length > 0) {
    throw new OutboxCommandError(`import: ${s.refused.length} volume(s) refused: ${s.refused.join(" | ")}`);
  }
  return 0;
}

/** `status --bundle DIR`: what a bundle holds, and whether every volume verifies. */
async function bundleStatus(dir: string, out: Out, warn: Out): Promise<number> {
  const volumes = listVolumes(dir);
  if (volumes.length === 0) throw new BundleError(`${dir} holds no bundle (no manifest.json, no vol-NNNN)`);
  out(`bundle:        ${dir}${bundleFinished(dir, volumes) ? "" : " (export not finished)"}`);
  let bad = 0;
  let records = 0;
  let files = 0;
  let bytes = 0;
  for (const v of volumes) {
    const c = checkVolume(v);
    const m = c.manifest;
    if (m === null) out(`${v}: DOES NOT VERIFY`);
    else {
      out(
        `${v}: ${c.records} record(s), ${c.files} file(s), ${sizeText(c.bytes)}; ` +
          `from ${m.source_node}${m.source_outbox ? `:${m.source_outbox}` : ""} at ${m.created_time}; ` +
          `bundle ${m.bundle_id}; ${c.problems.length === 0 ? "verifies" : "DOES NOT VERIFY"}`,
      );
    }
    records += c.records;
    files += c.files;
    bytes += c.bytes;
    for (const p of c.problems) warn(`  ${p}`);
    if (c.problems.length > 0) bad += 1;
  }
  out(
    `total:         ${volumes.length} volume(s), ${records} record(s), ${files} file(s), ${sizeText(bytes)}; ` +
      (bad === 0 ? "verifies" : `${bad} volume(s) do not verify`),
  );
  return bad === 0 ? 0 : 1;
}
