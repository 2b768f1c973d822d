// `outbox export` and `outbox import` beside a running server. The server owns the log (LOCK) and stays
// its only writer; the commands talk to it through files in outbox.dir, which work the same on Linux
// and Windows and survive a crash of either side, and do the owner's part themselves (taking the lock
// for a moment) when no server runs.
//
// Export (records up to a point leave the log into a bundle, the server appending after it):
//   export.claim                  the exporter: {export_id, pid, dir}, created exclusively (one at a time)
//   export.sealed                 the owner's answer: publishing paused, hashes noted, the active segment
//                                 sealed; {export_id, from, cut}: the export takes the records in [from, cut),
//                                 all in segments no one writes again
//   export.done-<id>-<n>.json     the exporter, once volume n is complete in the bundle: {to}; the owner
//                                 moves its cursor there (src/outbox/log.ts), as if those were published
//   (claim removed)               the exporter, after its last export.done: publishing resumes
// A crash of the exporter leaves its claim: the owner sees its pid gone, releases what the bundle's
// complete volumes hold (their manifests say up to where) and resumes; the records of an incomplete
// volume stay. A crash of the owner changes nothing: the next one (or the exporter, if none runs)
// applies the export.done files when it opens the log. A record is thus always in the log or in a
// complete volume, and in both only if the exporter dies between a volume's manifest and its
// export.done while its bundle cannot be read by the owner (at-least-once; trace_id dedupes).
//
// Import (records of a bundle join the log):
//   incoming/<name>.seg           the importer: records, verified, their file_path rewritten, synced
//   incoming/<name>.at            the owner, before appending them: where the log ended
//   incoming/<name>.result        the owner, after: {imported, skipped}, for the waiting importer
// imported.ids (trace_ids already taken) is updated after the appends; if the owner crashes in between,
// the next one finds <name>.at and skips what it had appended after that position.

import { randomBytes } from "node:crypto";
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { event, logger } from "../ops/log.ts";
import { durable } from "../util/durable.ts";
import { BundleError, bundleRecords, listVolumes, manifestIfComplete } from "./bundle.ts";
import { EXPORT_DONE_PREFIX } from "./export-marker.ts";
import { alive, lockOwner } from "./lock.ts";
import { OutboxLog } from "./log.ts";
import { before, type Position } from "./segments.ts";

const log = logger("outbox");

export const CLAIM = "export.claim";
export const SEALED = "export.sealed";
export const INCOMING = "incoming";
export const LEDGER = "imported.ids";
/** A claim that cannot be read is being written; after this long it is left over from a crash. */
const UNREADABLE_CLAIM_MS = 10_000;
const RESULT_KEEP_MS = 3_600_000;
/**
 * An exporter touches its claim as it goes (exportAlive); one untouched this long is abandoned even if
 * a process with its pid runs (pids are reused). Generous: one large file on slow media is one step.
 */
const CLAIM_STALE_MS = 600_000;
const CLAIM_TOUCH_MS = 10_000;

export interface Claim {
  export_id: string;
  pid: number;
  /** The bundle directory, absolute. */
  dir: string;
  created_time: string;
}

export interface Sealed {
  export_id: string;
  from: Position;
  cut: Position;
}

export interface IngestResult {
  imported: number;
  skipped: number;
  /** The queued file turned out damaged: set aside after what it held up to there. */
  error?: string;
}

export class HandoverError extends Error {
  override readonly name = "HandoverError";
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Write a small file so that it appears whole or not at all: temp, sync, rename, directory sync. */
export function writeFileDurable(path: string, text: string): void {
  const tmp = `${path}.${process.pid}-${randomBytes(3).toString("hex")}.tmp`;
  const fd = openSync(tmp, "wx");
  try {
    writeAll(fd, new TextEncoder().encode(text));
    durable.syncDataSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  durable.syncDirSync(join(path, ".."));
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    return null;
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

/** The claim in outbox.dir: null (none), "unreadable" (being written, or torn by a crash), or the claim. */
export function readClaim(outboxDir: string): Claim | "unreadable" | null {
  const p = join(outboxDir, CLAIM);
  if (!existsSync(p)) return null;
  const c = readJson<Partial<Claim>>(p);
  if (!c || typeof c.export_id !== "string" || !Number.isSafeInteger(c.pid) || typeof c.dir !== "string") {
    return "unreadable";
  }
  return c as Claim;
}

/** Is the exporter of this claim still at work? */
export function claimLive(outboxDir: string, c: Claim): boolean {
  if (!alive(c.pid)) return false;
  try {
    return Date.now() - statSync(join(outboxDir, CLAIM)).mtimeMs < CLAIM_STALE_MS;
  } catch {
    return false;
  }
}

/** How far the complete volumes of an export reach, from their manifests (its exporter is gone). */
export function committedTo(dir: string, exportId: string): Position | null {
  let best: Position | null = null;
  let vols: string[] = [];
  try {
    vols = listVolumes(dir);
  } catch {
    return null;
  }
  for (const v of vols) {
    const m = manifestIfComplete(v);
    if (m?.export_id !== exportId || !m.to) continue;
    if (best === null || before(best, m.to)) best = m.to;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------
// The owner's side

export interface HandoverHooks {
  /** Publishing stops starting batches; resolves when none runs (the drainer's idle()). */
  publishingIdle?: () => Promise<void>;
  /** Hashes started in this process are noted beside their segments (RecordHashes.settle). */
  settleHashes?: () => Promise<void>;
}

/** What the owner of the log does for exports and imports; poll() it often (the server: 4 times a second). */
export class Handover {
  private claimed = false;
  private polling: Promise<void> | null = null;

  constructor(
    private readonly log: OutboxLog,
    private readonly hooks: HandoverHooks = {},
  ) {}

  /** An export is taking records out: nothing may be published meanwhile. */
  get paused(): boolean {
    return this.claimed;
  }

  /** One round: apply committed exports, answer or clear a claim, take in what imports queued. */
  poll(): Promise<void> {
    this.polling ??= this.round().finally(() => {
      this.polling = null;
    });
    return this.polling;
  }

  /**
   * The export side of a round only: what must be settled before anything is published (the server
   * at start; queued imports, which may be large, wait for its first poll).
   */
  async settleExports(): Promise<void> {
    const released = await this.log.applyExports();
    if (released > 0) event(log, "info", "outbox-exported", { records: released, backlog: this.log.records });
    await this.claim(this.log.dir);
  }

  private async round(): Promise<void> {
    await this.settleExports();
    await this.ingestAll(this.log.dir);
  }

  private async claim(dir: string): Promise<void> {
    const c = readClaim(dir);
    if (c === null) {
      this.claimed = false;
      removeQuietly(join(dir, SEALED));
      return;
    }
    if (c === "unreadable") {
      let age = 0;
      try {
        age = Date.now() - statSync(join(dir, CLAIM)).mtimeMs;
      } catch {
        return;
      }
      this.claimed = age < UNREADABLE_CLAIM_MS;
      if (!this.claimed) removeQuietly(join(dir, CLAIM));
      return;
    }
    if (!claimLive(dir, c)) {
      // The exporter is gone: what its complete volumes hold has left, the rest stays.
      const to = committedTo(c.dir, c.export_id);
      const n = to ? await this.log.release(to) : 0;
      await this.log.applyExports();
      removeQuietly(join(dir, CLAIM));
      removeQuietly(join(dir, SEALED));
      this.claimed = false;
      event(log, "warning", "outbox-export-abandoned", {
        export_id: c.export_id,
        pid: c.pid,
        bundle: c.dir,
        records_exported: n,
        backlog: this.log.records,
      });
      return;
    }
    this.claimed = true;
    const answered = readJson<Partial<Sealed>>(join(dir, SEALED));
    if (answered?.export_id === c.export_id) return;
    await this.hooks.publishingIdle?.();
    await this.hooks.settleHashes?.();
    const cut = this.log.seal();
    const sealed: Sealed = { export_id: c.export_id, from: this.log.head, cut };
    writeFileDurable(join(dir, SEALED), `${JSON.stringify(sealed)}\n`);
    event(log, "info", "outbox-export-started", {
      export_id: c.export_id,
      pid: c.pid,
      bundle: c.dir,
      records: this.log.records,
    });
  }

  private async ingestAll(dir: string): Promise<void> {
    const inc = join(dir, INCOMING);
    let names: string[];
    try {
      names = readdirSync(inc);
    } catch {
      return;
    }
    for (const n of names.filter((x) => x.endsWith(".seg")).sort()) await this.ingest(inc, n);
    for (const n of names.filter((x) => x.endsWith(".result"))) {
      try {
        if (Date.now() - statSync(join(inc, n)).mtimeMs > RESULT_KEEP_MS) removeQuietly(join(inc, n));
      } catch {
        // gone meanwhile: its importer read it
      }
    }
  }

  /** Append the records of incoming/<name> that no earlier import took; see the header comment. */
  private async ingest(inc: string, name: string): Promise<void> {
    const base = join(inc, name.slice(0, -".seg".length));
    const ledgerPath = join(this.log.dir, LEDGER);
    const seen = readLedger(ledgerPath);
    const at = readJson<{ at?: Position }>(`${base}.at`)?.at;
    if (at) {
      // An earlier attempt appended from there before it could update the ledger.
      let pos = at;
      for (;;) {
        const r = await this.log.read(5000, pos, 64 * 1024 * 1024);
        for (const e of r.entries) {
          const id = traceIdOf(e.payload);
          if (id) seen.add(id);
        }
        if (r.entries.length === 0) break;
        pos = r.next;
      }
    } else {
      writeFileDurable(`${base}.at`, `${JSON.stringify({ at: this.log.tail })}\n`);
    }
    const taken: string[] = [];
    let skipped = 0;
    let waiting: Promise<unknown>[] = [];
    try {
      for (const payload of bundleRecords(join(inc, name))) {
        const id = traceIdOf(payload);
        if (id === null || seen.has(id)) {
          skipped += 1;
          continue;
        }
        seen.add(id);
        taken.push(id);
        waiting.push(this.log.append(payload));
        // Let the event loop breathe: a large import is appended a thousand records at a time.
        if (waiting.length >= 1000) {
          await Promise.all(waiting);
          waiting = [];
        }
      }
      await Promise.all(waiting);
    } catch (err) {
      if (!(err instanceof BundleError)) throw err;
      // Damaged after its importer verified and synced it: set aside once, with what was appended of
      // it remembered in the ledger, so that the next attempt (if any) skips it.
      await Promise.all(waiting).catch(() => undefined);
      if (taken.length > 0) appendFileSync(ledgerPath, `${taken.join("\n")}\n`);
      renameSync(join(inc, name), join(inc, `${name}.bad`));
      writeFileDurable(
        `${base}.result`,
        `${JSON.stringify({ imported: taken.length, skipped, error: err.message })}\n`,
      );
      removeQuietly(`${base}.at`);
      event(log, "error", "outbox-import-failed", {
        file: join(inc, name),
        error: err.message,
        set_aside: `${name}.bad`,
      });
      return;
    }
    this.log.syncNow();
    if (taken.length > 0) {
      appendFileSync(ledgerPath, `${taken.join("\n")}\n`);
      durable.syncFileSync(ledgerPath);
    }
    const result: IngestResult = { imported: taken.length, skipped };
    writeFileDurable(`${base}.result`, `${JSON.stringify(result)}\n`);
    removeQuietly(join(inc, name));
    removeQuietly(`${base}.at`);
    event(log, "info", "outbox-imported", { file: name, ...result, backlog: this.log.records });
  }
}

function readLedger(path: string): Set<string> {
  if (!existsSync(path)) return new Set();
  return new Set(
    readFileSync(path, "utf8")
      .split("\n")
      .filter((l) => l.length > 0),
  );
}

export function traceIdOf(payload: Uint8Array): string | null {
  try {
    const v = JSON.parse(new TextDecoder().decode(payload)) as { trace_id?: unknown };
    return typeof v.trace_id === "string" && v.trace_id.length > 0 ? v.trace_id : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------
// The commands' side

/** How long a command waits for the server to answer before it says why it gives up. */
const ANSWER_TIMEOUT_MS = 30_000;

/**
 * Do the owner's part ourselves when no server runs: take the lock for a moment, poll once, let go.
 * Returns false when a server holds the log (it does the part itself).
 */
export async function runAsOwner(outboxDir: string, maxBytes: number, fsync: boolean): Promise<boolean> {
  if (lockOwner(outboxDir) !== null) return false;
  let owned: OutboxLog;
  try {
    owned = await OutboxLog.open({ dir: outboxDir, maxBytes, fsync, lockWaitMs: 2000 });
  } catch (err) {
    if ((err as Error).name === "OutboxLockedError") return false;
    throw err;
  }
  try {
    await new Handover(owned).poll();
  } finally {
    await owned.close();
  }
  return true;
}

/** Until `done()`, run the owner's part ourselves whenever no server does; fail after the timeout. */
async function untilHandled(
  outboxDir: string,
  maxBytes: number,
  fsync: boolean,
  done: () => boolean,
  what: string,
  timeoutMs = ANSWER_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (!(await runAsOwner(outboxDir, maxBytes, fsync)) && Date.now() > deadline) {
      throw new HandoverError(
        `${what}: the server (pid ${lockOwner(outboxDir) ?? "?"}) did not answer within ${timeoutMs / 1000} s`,
      );
    }
    if (!done()) await sleep(50);
  }
}

export interface ClaimedExport {
  claim: Claim;
  /** The records to export: [from, cut) of the log. */
  from: Position;
  cut: Position;
}

/**
 * Claim the log for an export into `bundleDir` and agree on the records it takes. A claim left by a
 * dead exporter is cleared first (by the server, or here); a live one is an error.
 */
export async function claimExport(
  outboxDir: string,
  bundleDir: string,
  maxBytes: number,
  fsync: boolean,
): Promise<ClaimedExport> {
  mkdirSync(outboxDir, { recursive: true });
  const claim: Claim = {
    export_id: randomBytes(8).toString("hex"),
    pid: process.pid,
    dir: bundleDir,
    created_time: new Date().toISOString(),
  };
  const p = join(outboxDir, CLAIM);
  for (;;) {
    try {
      const fd = openSync(p, "wx");
      try {
        writeAll(fd, new TextEncoder().encode(`${JSON.stringify(claim)}\n`));
        durable.syncDataSync(fd);
      } finally {
        closeSync(fd);
      }
      durable.syncDirSync(outboxDir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const other = readClaim(outboxDir);
    if (
      other !== null &&
      other !== "unreadable" &&
      claimLive(outboxDir, other) &&
      other.pid !== process.pid
    ) {
      throw new HandoverError(`an export (pid ${other.pid}, into ${other.dir}) is already running`);
    }
    // Left by a dead exporter (or being written): the owner clears it; wait for that.
    const settled = () => {
      const c = readClaim(outboxDir);
      return c === null || (c !== "unreadable" && claimLive(outboxDir, c));
    };
    await untilHandled(outboxDir, maxBytes, fsync, settled, "clearing an earlier export");
  }
  try {
    let sealed: Partial<Sealed> | null = null;
    const mine = () => {
      sealed = readJson<Partial<Sealed>>(join(outboxDir, SEALED));
      return sealed?.export_id === claim.export_id;
    };
    const deadline = Date.now() + ANSWER_TIMEOUT_MS;
    while (!mine()) {
      if (lockOwner(outboxDir) === null) {
        // No server: the log is ours to read. One that starts now sees the claim and publishes nothing.
        const ro = await OutboxLog.open({ dir: outboxDir, maxBytes, fsync: false, readOnly: true });
        try {
          return { claim, from: ro.head, cut: ro.tail };
        } finally {
          await ro.close();
        }
      }
      if (Date.now() > deadline) {
        throw new HandoverError(
          `the server (pid ${lockOwner(outboxDir)}) did not answer the export within ${ANSWER_TIMEOUT_MS / 1000} s`,
        );
      }
      await sleep(50);
    }
    const s = sealed as unknown as Sealed;
    return { claim, from: s.from, cut: s.cut };
  } catch (err) {
    removeQuietly(p);
    throw err;
  }
}

let touched = 0;

/** The exporter is at work: keeps its claim from looking abandoned (call it as often as convenient). */
export function exportAlive(outboxDir: string): void {
  const now = Date.now();
  if (now - touched < CLAIM_TOUCH_MS) return;
  touched = now;
  try {
    utimesSync(join(outboxDir, CLAIM), now / 1000, now / 1000);
  } catch {
    // gone: the owner took it as abandoned; what this export commits is still applied
  }
}

/** Volume `volume` of the export is complete in the bundle, holding the records before `to`. */
export function exportCommitted(outboxDir: string, claim: Claim, volume: number, to: Position): void {
  const name = `${EXPORT_DONE_PREFIX}${claim.export_id}-${String(volume).padStart(4, "0")}.json`;
  writeFileDurable(join(outboxDir, name), `${JSON.stringify({ export_id: claim.export_id, volume, to })}\n`);
}

/**
 * The export is over (finished or failed): drop the claim, and see that what it committed has left the
 * log before returning (the server applies it, or we do).
 */
export async function endExport(
  outboxDir: string,
  claim: Claim,
  maxBytes: number,
  fsync: boolean,
): Promise<void> {
  const c = readClaim(outboxDir);
  if (c !== null && c !== "unreadable" && c.export_id === claim.export_id)
    removeQuietly(join(outboxDir, CLAIM));
  durable.syncDirSync(outboxDir);
  const applied = () =>
    readdirSync(outboxDir).every((n) => !n.startsWith(`${EXPORT_DONE_PREFIX}${claim.export_id}-`));
  await untilHandled(outboxDir, maxBytes, fsync, applied, "handing the export over");
}

/** Queue records for the log (an import): they are the owner's once this returns. Returns the file's base name. */
export function queueIncoming(outboxDir: string, bundleId: string, frames: Iterable<Uint8Array>): string {
  const inc = join(outboxDir, INCOMING);
  mkdirSync(inc, { recursive: true });
  const name = `${Date.now().toString(36)}-${bundleId.replace(/[^A-Za-z0-9-]/g, "_")}-${randomBytes(3).toString("hex")}`;
  const tmp = join(inc, `${name}.tmp`);
  const fd = openSync(tmp, "wx");
  try {
    for (const f of frames) writeAll(fd, f);
    durable.syncDataSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(inc, `${name}.seg`));
  durable.syncDirSync(inc);
  return name;
}

/** Wait until the owner (the server, or we) has taken in a queued import; its result. */
export async function awaitIncoming(
  outboxDir: string,
  name: string,
  maxBytes: number,
  fsync: boolean,
  timeoutMs = ANSWER_TIMEOUT_MS,
): Promise<IngestResult> {
  const base = join(outboxDir, INCOMING, name);
  await untilHandled(
    outboxDir,
    maxBytes,
    fsync,
    () => existsSync(`${base}.result`),
    `importing (the records wait in ${base}.seg and are taken in when it answers)`,
    timeoutMs,
  );
  const r = readJson<IngestResult>(`${base}.result`) ?? { imported: 0, skipped: 0 };
  removeQuietly(`${base}.result`);
  if (r.error) throw new HandoverError(`importing: ${r.error} (${r.imported} record(s) taken before it)`);
  return r;
}
