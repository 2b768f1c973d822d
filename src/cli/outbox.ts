// `storescp outbox status|drain|export DIR|import DIR [-c FILE]`: look at, empty, carry out and take in
// the outbox of the config's outbox.dir. drain, export and import need the outbox to themselves (the
// server stopped); status only reads.
//
// A bundle (export DIR) is a directory with records.seg (the outbox's own framing, CRC per record) and
// manifest.json (format, bundle id, record count, bytes, SHA-256 of records.seg). Import verifies both,
// skips records whose trace_id an earlier import already took (imported.ids in the outbox), and appends
// the rest; so importing a bundle twice publishes nothing twice.

import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Config } from "../config/schema.ts";
import { drainAdvice, forecastLines } from "../outbox/fill.ts";
import { encodeFrame, HEADER, MAX_PAYLOAD, parseFrames } from "../outbox/frame.ts";
import { OutboxLog } from "../outbox/log.ts";
import { Drainer, type Publisher, topicsResolver } from "../outbox/publisher.ts";
import { uuidV7 } from "../outbox/record.ts";
import { sha256OfFile } from "../store/hasher.ts";
import { durable } from "../util/durable.ts";

export const BUNDLE_FORMAT = "storescp-outbox-bundle";
const RECORDS = "records.seg";
const MANIFEST = "manifest.json";
const LEDGER = "imported.ids";

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  version: 1;
  bundle_id: string;
  created_time: string;
  source_node: string;
  records: number;
  bytes: number;
  sha256: string;
}

export class OutboxCommandError extends Error {
  override readonly name = "OutboxCommandError";
}

type Out = (line: string) => void;

export interface OutboxCliOptions {
  out?: Out;
  /** Instead of kafkajs (tests). */
  publisher?: Publisher;
  /** drain: give up after this long without progress (default 30 s). */
  drainTimeoutMs?: number;
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
  switch (action) {
    case "status":
      return status(config, out);
    case "drain":
      return drain(config, out, opts);
    case "export":
      return exportBundle(config, dir ?? "", out);
    case "import":
      return importBundle(config, dir ?? "", out);
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
    const corruptDir = join(config.outbox.dir, "corrupt");
    const corrupt = existsSync(corruptDir) ? readdirSync(corruptDir).length : 0;
    let owner = "-";
    try {
      owner = `pid ${readFileSync(join(config.outbox.dir, "LOCK"), "utf8").trim()}`;
    } catch {
      // not running
    }
    out(`outbox:        ${config.outbox.dir}`);
    out(`records:       ${log.records}`);
    out(`bytes:         ${log.bytes} (max ${config.outbox.max_mb} MiB${log.full ? ", FULL" : ""})`);
    out(`oldest:        ${oldest ?? "-"} (age ${age(oldest)})`);
    for (const [label, value] of forecastLines(log.bytes, config.outbox.max_mb, oldest, config.kafka.enabled))
      out(`${`${label}:`.padEnd(15)}${value}`);
    out(`kafka:         ${config.kafka.enabled ? config.kafka.brokers.join(",") : drainAdvice(false)}`);
    out(`last publish:  ${note.last_publish_at ?? "-"}`);
    out(`last error:    ${note.last_error ?? "-"}${note.last_error_at ? ` (at ${note.last_error_at})` : ""}`);
    out(`set aside:     ${corrupt} corrupt range(s) in ${corruptDir}`);
    out(`owner:         ${owner}`);
    return 0;
  } finally {
    await log.close();
  }
}

async function drain(config: Config, out: Out, opts: OutboxCliOptions): Promise<number> {
  if (!config.kafka.enabled && !opts.publisher) {
    throw new OutboxCommandError("kafka.enabled is false: there is nothing to drain to (use export DIR)");
  }
  const log = await openLog(config);
  const publisher =
    opts.publisher ?? new (await import("../outbox/kafka-publisher.ts")).KafkaPublisher(config.kafka);
  const drainer = new Drainer(log, publisher, topicsResolver(config));
  const timeout = opts.drainTimeoutMs ?? 30_000;
  let delivered = 0;
  let lastProgress = Date.now();
  let lastError = "";
  let backoff = 200;
  try {
    const total = log.records;
    out(`draining ${total} record(s) to ${config.kafka.brokers.join(",")}`);
    while (log.records > 0) {
      try {
        const n = await drainer.publishOnce();
        delivered += n;
        if (n > 0) {
          lastProgress = Date.now();
          backoff = 200;
        } else if (log.records > 0) {
          throw new Error("records left that could not be read");
        }
      } catch (err) {
        lastError = (err as Error).message;
        log.setNote({ last_error: lastError, last_error_at: new Date().toISOString() });
        if (Date.now() - lastProgress > timeout) {
          throw new OutboxCommandError(
            `drain failed after ${delivered} record(s), ${log.records} left: ${lastError}`,
          );
        }
        await new Promise((r) => setTimeout(r, backoff * (0.5 + Math.random())));
        backoff = Math.min(backoff * 2, 5000);
      }
    }
    out(`drained ${delivered} record(s); outbox empty`);
    return 0;
  } finally {
    await publisher.close();
    await log.close();
  }
}

/**
 * Records are written without the file's SHA-256 (the drainer adds it when publishing); a bundle leaves
 * the site without the files, so export adds it while they are at hand.
 */
async function withFileHash(payload: Uint8Array): Promise<Uint8Array> {
  const record = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
  if (record.sha256 !== null || typeof record.file_path !== "string") return payload;
  try {
    record.sha256 = await sha256OfFile(record.file_path);
  } catch (err) {
    process.stderr.write(`export: no SHA-256 for ${record.file_path}: ${(err as Error).message}\n`);
    return payload;
  }
  return new TextEncoder().encode(JSON.stringify(record));
}

async function exportBundle(config: Config, dir: string, out: Out): Promise<number> {
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new OutboxCommandError(`export: ${dir} is not empty`);
  }
  mkdirSync(dir, { recursive: true });
  const log = await openLog(config);
  try {
    const tmp = join(dir, `${RECORDS}.tmp`);
    const fd = openSync(tmp, "wx");
    const hash = createHash("sha256");
    let records = 0;
    let bytes = 0;
    let pos = log.head;
    try {
      for (;;) {
        const r = await log.read(5000, pos);
        pos = r.next;
        if (r.entries.length === 0) break;
        for (const e of r.entries) {
          const frame = encodeFrame(await withFileHash(e.payload));
          let done = 0;
          while (done < frame.length) done += writeSync(fd, frame, done, frame.length - done);
          hash.update(frame);
          bytes += frame.length;
          records += 1;
        }
      }
      durable.syncDataSync(fd);
    } finally {
      closeSync(fd);
    }
    durable.replace(tmp, join(dir, RECORDS));
    const manifest: BundleManifest = {
      format: BUNDLE_FORMAT,
      version: 1,
      bundle_id: uuidV7(),
      created_time: new Date().toISOString(),
      source_node: hostname(),
      records,
      bytes,
      sha256: hash.digest("hex"),
    };
    // The manifest last: a bundle without one is incomplete and import refuses it.
    durable.replaceFileSync(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, true, dir);
    // Only now, with the bundle safe, do the records leave this outbox.
    log.ack(pos, records);
    out(`exported ${records} record(s) (${bytes} bytes) to ${dir}, bundle ${manifest.bundle_id}`);
    return 0;
  } finally {
    await log.close();
  }
}

function readManifest(dir: string): BundleManifest {
  let m: Partial<BundleManifest>;
  try {
    m = JSON.parse(readFileSync(join(dir, MANIFEST), "utf8")) as Partial<BundleManifest>;
  } catch (err) {
    throw new OutboxCommandError(`import: ${join(dir, MANIFEST)}: ${(err as Error).message}`);
  }
  if (m.format !== BUNDLE_FORMAT || m.version !== 1 || typeof m.sha256 !== "string") {
    throw new OutboxCommandError(`import: ${dir} is not a storescp outbox bundle (version 1)`);
  }
  return m as BundleManifest;
}

/** Calls `each` with every record payload of a bundle's records.seg; throws at the first bad byte. */
function forEachBundleRecord(path: string, each: (payload: Uint8Array) => void): void {
  const size = statSync(path).size;
  const fd = openSync(path, "r");
  const buf = new Uint8Array(2 * MAX_PAYLOAD + HEADER);
  try {
    let pos = 0;
    while (pos < size) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
      const parsed = parseFrames(buf.subarray(0, n), pos, pos + n >= size);
      const bad = parsed.bad[0];
      if (bad) throw new OutboxCommandError(`import: ${path}: bad record at byte ${bad.offset}`);
      for (const f of parsed.frames) each(f.payload);
      if (parsed.consumed === 0) throw new OutboxCommandError(`import: ${path}: truncated at byte ${pos}`);
      pos += parsed.consumed;
    }
  } finally {
    closeSync(fd);
  }
}

async function importBundle(config: Config, dir: string, out: Out): Promise<number> {
  const manifest = readManifest(dir);
  const records = join(dir, RECORDS);
  if (!existsSync(records)) throw new OutboxCommandError(`import: ${records} is missing`);
  // Verify everything before taking anything.
  const hash = createHash("sha256");
  const fd = openSync(records, "r");
  try {
    const buf = new Uint8Array(1024 * 1024);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  if (hash.digest("hex") !== manifest.sha256) {
    throw new OutboxCommandError(`import: ${records} does not match the SHA-256 of its manifest`);
  }
  let count = 0;
  const traceIds: string[] = [];
  forEachBundleRecord(records, (payload) => {
    count += 1;
    traceIds.push(traceIdOf(payload));
  });
  if (count !== manifest.records) {
    throw new OutboxCommandError(
      `import: ${count} records in ${records}, the manifest says ${manifest.records}`,
    );
  }

  const log = await OutboxLog.open({
    dir: config.outbox.dir,
    maxBytes: config.outbox.max_mb * 1024 * 1024,
    // One sync at the end instead of one per record.
    fsync: false,
  });
  try {
    const ledgerPath = join(config.outbox.dir, LEDGER);
    const seen = new Set<string>(
      existsSync(ledgerPath)
        ? readFileSync(ledgerPath, "utf8")
            .split("\n")
            .filter((l) => l.length > 0)
        : [],
    );
    const taken: string[] = [];
    let i = 0;
    const appends: Promise<void>[] = [];
    forEachBundleRecord(records, (payload) => {
      const id = traceIds[i++] ?? "";
      if (seen.has(id)) return;
      seen.add(id);
      taken.push(id);
      appends.push(log.append(payload.slice()));
    });
    await Promise.all(appends);
    if (config.storage.fsync) log.syncNow();
    if (taken.length > 0) durable.appendSync(ledgerPath, `${taken.join("\n")}\n`, true);
    out(
      `imported ${taken.length} record(s) from bundle ${manifest.bundle_id}` +
        (count - taken.length > 0 ? `; ${count - taken.length} already imported before, skipped` : ""),
    );
    return 0;
  } finally {
    await log.close();
  }
}

function traceIdOf(payload: Uint8Array): string {
  try {
    const v = JSON.parse(new TextDecoder().decode(payload)) as { trace_id?: unknown };
    if (typeof v.trace_id === "string" && v.trace_id.length > 0) return v.trace_id;
  } catch {
    // fall through
  }
  throw new OutboxCommandError("import: a record without a trace_id (not an outbox record)");
}
