// The owner's side of the hand-over with `outbox export|import` (the files: handover-files.ts). Whoever
// owns the log (the server, or a command while none runs) polls: it applies what exports committed,
// answers a new claim by pausing publishing and sealing the active segment, releases what a dead
// exporter's complete volumes hold, and appends what imports queued, each record once (imported.ids).

import { appendFileSync, readdirSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { event, logger } from "../ops/log.ts";
import { durable } from "../util/durable.ts";
import { BundleError, bundleRecords } from "./bundle.ts";
import {
  CLAIM,
  claimLive,
  committedTo,
  INCOMING,
  type IngestResult,
  LEDGER,
  readClaim,
  readJson,
  readLedger,
  removeQuietly,
  SEALED,
  type Sealed,
  traceIdOf,
  writeFileDurable,
} from "./handover-files.ts";
import type { OutboxLog } from "./log.ts";
import type { Position } from "./segments.ts";

const log = logger("outbox");

/** A claim that cannot be read is being written; after this long it is left over from a crash. */
const UNREADABLE_CLAIM_MS = 10_000;
const RESULT_KEEP_MS = 3_600_000;

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
