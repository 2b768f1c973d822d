// From the outbox to Kafka. `Publisher` is our small interface to a broker client (kafkajs, in
// kafka-publisher.ts, loaded only with kafka.enabled);
// `Drainer` reads the outbox in order, publishes each record to topics.storage and topics.log (or the
// tenant's own topics), and acknowledges it only when both were acknowledged by the brokers (acks -1).
// One batch is in flight at a time and a failed batch is sent again as a whole, so records of one key
// (tenant/study) reach a partition in outbox order; a repeat after a failure carries the same trace_id.
// It retries forever, with exponential backoff and jitter, reconnecting after every failure.

import type { Config } from "../config/schema.ts";
import { event, logger } from "../ops/log.ts";
import { INTERNAL_FIELDS } from "./hashes.ts";
import type { OutboxLog } from "./log.ts";
import { type Disposition, PENDING_FIELD } from "./pending.ts";
import { recordKey } from "./record.ts";
import type { Position } from "./segments.ts";

const log = logger("outbox");

export interface Topics {
  storage: string;
  log: string;
}

export interface OutMessage {
  topic: string;
  key: string;
  value: Uint8Array;
  traceId: string;
}

export interface Publisher {
  /** Resolves when every message is acknowledged by the brokers; rejects if any one is not. */
  send(batch: readonly OutMessage[]): Promise<void>;
  readonly connected: boolean;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// The drain loop

export interface DrainerState {
  enabled: boolean;
  connected: boolean;
  /** Records waiting in the outbox. */
  backlog: number;
  backlogBytes: number;
  full: boolean;
  /** Records delivered per second over the last 10 s. */
  rate: number;
  published: number;
  lastError: string | null;
  lastErrorAt: string | null;
  lastPublishAt: string | null;
}

export interface DrainerOptions {
  /** Records per batch (each goes to two topics). */
  batch?: number;
  /** Backoff after a failure: from minBackoffMs doubling to maxBackoffMs, each with +-50% jitter. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Wait this long after a partial batch, so that records gather (default 100 ms). */
  lingerMs?: number;
  /**
   * The record as it is to leave the site (src/outbox/hashes.ts: its file's SHA-256 filled in, internal
   * fields removed), changed in place; `segment` is where it lies in the outbox. Hashing happens off
   * the event loop and, for most records, long before: a file is hashed right after its answer from
   * the descriptor it was written with. Default: internal fields removed, nothing hashed.
   */
  resolveRecord?: (record: Record<string, unknown>, segment: number) => Promise<void>;
  /** Whether a record is published, passed over (a settled pending record) or waited at (src/outbox/pending.ts). */
  disposition?: (record: Record<string, unknown>) => Disposition;
  /** A record was passed over and acknowledged. */
  passedOver?: (record: Record<string, unknown>) => void;
  /**
   * While true nothing is published: an `outbox export` is taking records out (src/outbox/handover.ts),
   * and what it takes must not also go to Kafka.
   */
  paused?: () => boolean;
  /**
   * Whether modalities are sending right now. Storage comes first on a two-core edge PC: while busy,
   * only records older than busyLagMs are published, so a transfer shorter
   * than that pays nothing for Kafka and a long one sees its events about busyLagMs late.
   */
  busy?: () => boolean;
  /** The lag allowed while busy (default 5000 ms). */
  busyLagMs?: number;
}

interface Parsed {
  key: string;
  traceId: string;
  tenant: string;
  record: Record<string, unknown>;
}

function parseRecord(payload: Uint8Array): Parsed | null {
  try {
    const v = JSON.parse(
      Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("utf8"),
    );
    if (typeof v !== "object" || v === null) return null;
    const r = v as Record<string, unknown>;
    if (typeof r.trace_id !== "string" || typeof r.tenant_id !== "string" || typeof r.study_uid !== "string")
      return null;
    return {
      key: recordKey({ tenant_id: r.tenant_id, study_uid: r.study_uid }),
      traceId: r.trace_id,
      tenant: r.tenant_id,
      record: r,
    };
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Drainer {
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private failures = 0;
  private published = 0;
  private readonly window: Array<{ at: number; n: number }> = [];
  private lastError: string | null;
  private lastErrorAt: string | null;
  private lastPublishAt: string | null;
  private readonly batch: number;
  private readonly minBackoff: number;
  private readonly maxBackoff: number;
  private readonly linger: number;
  private readonly resolveRecord: (record: Record<string, unknown>, segment: number) => Promise<void>;
  private readonly disposition: (record: Record<string, unknown>) => Disposition;
  private readonly passedOver: (record: Record<string, unknown>) => void;
  private readonly paused: () => boolean;
  /** The batch being published, if any (see idle()). */
  private inFlight: Promise<unknown> | null = null;
  private readonly busy: () => boolean;
  private readonly busyLag: number;
  /** While busy, the head record is too young to publish until then (ms since the epoch). */
  private youngUntil = 0;

  constructor(
    private readonly outbox: OutboxLog,
    private readonly publisher: Publisher | null,
    private readonly topicsFor: (tenant: string) => Topics,
    opts: DrainerOptions = {},
  ) {
    this.batch = opts.batch ?? 1000;
    this.minBackoff = opts.minBackoffMs ?? 200;
    this.maxBackoff = opts.maxBackoffMs ?? 10_000;
    this.linger = opts.lingerMs ?? 100;
    this.resolveRecord = opts.resolveRecord ?? stripInternal;
    this.disposition = opts.disposition ?? (() => "publish");
    this.passedOver = opts.passedOver ?? (() => {});
    this.paused = opts.paused ?? (() => false);
    this.busy = opts.busy ?? (() => false);
    this.busyLag = opts.busyLagMs ?? 5000;
    const note = outbox.publishNote;
    this.lastError = note.last_error;
    this.lastErrorAt = note.last_error_at;
    this.lastPublishAt = note.last_publish_at;
  }

  /** For the ops endpoints. */
  get state(): DrainerState {
    const now = Date.now();
    while (this.window.length > 0 && (this.window[0]?.at ?? now) < now - 10_000) this.window.shift();
    const n = this.window.reduce((s, w) => s + w.n, 0);
    return {
      enabled: this.publisher !== null,
      connected: this.publisher?.connected ?? false,
      backlog: this.outbox.records,
      backlogBytes: this.outbox.bytes,
      full: this.outbox.full,
      rate: n / 10,
      published: this.published,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      lastPublishAt: this.lastPublishAt,
    };
  }

  /** Something was appended: publish without waiting for the idle poll. */
  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  start(): void {
    if (!this.publisher || this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    await this.publisher?.close();
  }

  /** Resolves once no batch is being published (after paused() became true, none will start). */
  async idle(): Promise<void> {
    while (this.inFlight) await this.inFlight.catch(() => undefined);
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.paused()) {
        await new Promise<void>((resolve) => {
          this.wakeUp = resolve;
          setTimeout(resolve, 250);
        });
        this.wakeUp = null;
        continue;
      }
      let sent: number;
      try {
        const batch = this.publishOnce(this.busy() ? this.busyLag : 0);
        this.inFlight = batch;
        sent = await batch.finally(() => {
          this.inFlight = null;
        });
      } catch (err) {
        await this.failed(err as Error);
        continue;
      }
      const waitYoung = this.youngUntil - Date.now();
      this.youngUntil = 0;
      if (sent === 0 && this.running && waitYoung > 0) {
        await sleep(Math.min(waitYoung, 1000));
        continue;
      }
      if (sent === 0 && this.running) {
        await new Promise<void>((resolve) => {
          this.wakeUp = resolve;
          setTimeout(resolve, 250);
        });
        this.wakeUp = null;
      }
      // A partial batch: let records gather (as Kafka's linger.ms) rather than pay a request for each,
      // which would cost the receiving side CPU while instances arrive.
      if (sent < this.batch && this.running) await sleep(this.linger);
    }
  }

  /**
   * Publish one batch from the head of the outbox, only records created at least `minAgeMs` ago;
   * resolves with the number of records delivered.
   */
  async publishOnce(minAgeMs = 0): Promise<number> {
    if (!this.publisher) throw new Error("kafka.enabled is false");
    if (minAgeMs > 0 && (await this.headTooYoung(minAgeMs))) return 0;
    const r = await this.outbox.read(this.batch);
    const head = this.outbox.head;
    if (r.entries.length === 0) {
      // Only bad ranges (already set aside) between the cursor and the end: step over them.
      if (r.next.segment !== head.segment || r.next.offset !== head.offset) this.outbox.ack(r.next, 0);
      return 0;
    }
    const parsed = r.entries.map((e) => ({ e, p: parseRecord(e.payload) }));
    let take = parsed.length;
    if (minAgeMs > 0) {
      const newest = Date.now() - minAgeMs;
      const young = parsed.findIndex(
        ({ p }) => p !== null && Date.parse(String(p.record.created_time)) > newest,
      );
      if (young === 0) {
        // The head is too young: look again once it is old enough, not at every append.
        const created = Date.parse(String(parsed[0]?.p?.record.created_time));
        this.youngUntil = Number.isFinite(created) ? created + minAgeMs : Date.now() + 250;
        return 0;
      }
      if (young > 0) take = young;
    }
    // An instance still settling: publishing waits at its pending record (wake() when it is settled).
    const dispositions = parsed.map(({ p }) => (p === null ? null : this.disposition(p.record)));
    const waiting = dispositions.indexOf("wait");
    if (waiting === 0) return 0;
    if (waiting > 0 && waiting < take) take = waiting;
    const batch = parsed.slice(0, take);
    const messages: OutMessage[] = [];
    let unusable = 0;
    let passed = 0;
    for (const [i, { e, p }] of batch.entries()) {
      if (dispositions[i] === "skip") {
        passed += 1;
        continue;
      }
      if (!p) {
        unusable += 1;
        event(log, "error", "outbox-record-unusable", {
          segment: e.end.segment,
          offset: e.end.offset,
          reason: "checksum good but not a record (JSON with trace_id, tenant_id, study_uid)",
        });
        continue;
      }
      await this.resolveRecord(p.record, e.end.segment);
      const value = new TextEncoder().encode(JSON.stringify(p.record));
      const topics = this.topicsFor(p.tenant);
      messages.push({ topic: topics.storage, key: p.key, value, traceId: p.traceId });
      messages.push({ topic: topics.log, key: p.key, value, traceId: p.traceId });
    }
    if (messages.length > 0) await this.publisher.send(messages);
    const now = new Date().toISOString();
    if (this.failures > 0) {
      event(log, "info", "publish-resumed", { after_failures: this.failures, backlog: this.outbox.records });
    }
    this.failures = 0;
    this.lastPublishAt = now;
    this.published += batch.length - unusable - passed;
    this.window.push({ at: Date.now(), n: batch.length - unusable - passed });
    // The whole read (bad ranges after the last record included), or up to the last record taken.
    const to: Position = take === parsed.length ? r.next : (batch.at(-1)?.e.end ?? head);
    this.outbox.ack(to, batch.length, { last_publish_at: now });
    for (const { p } of batch) if (p && p.record[PENDING_FIELD] === true) this.passedOver(p.record);
    return batch.length;
  }

  /**
   * While busy the head is checked alone (one record read and parsed), not a whole batch: the check
   * recurs while a transfer runs, and must cost the receiving side nothing worth measuring.
   */
  private async headTooYoung(minAgeMs: number): Promise<boolean> {
    const first = (await this.outbox.read(1)).entries[0];
    const created = first ? Date.parse(String(parseRecord(first.payload)?.record.created_time)) : Number.NaN;
    if (!Number.isFinite(created) || created <= Date.now() - minAgeMs) return false;
    this.youngUntil = created + minAgeMs;
    return true;
  }

  private async failed(err: Error): Promise<void> {
    this.failures += 1;
    this.lastError = err.message;
    this.lastErrorAt = new Date().toISOString();
    const exp = Math.min(this.maxBackoff, this.minBackoff * 2 ** Math.min(this.failures - 1, 20));
    const wait = Math.round(exp * (0.5 + Math.random()));
    event(log, this.failures === 1 ? "warning" : "info", "publish-failed", {
      error: err.message,
      attempt: this.failures,
      retry_in_ms: wait,
      backlog: this.outbox.records,
    });
    try {
      this.outbox.setNote({ last_error: err.message, last_error_at: this.lastErrorAt });
    } catch {
      // the note is informative only
    }
    const until = Date.now() + wait;
    while (this.running && Date.now() < until) await sleep(Math.min(100, until - Date.now()));
  }
}

/** Without a resolver: the record's internal fields removed, nothing hashed. */
async function stripInternal(record: Record<string, unknown>): Promise<void> {
  for (const f of INTERNAL_FIELDS) delete record[f];
}

/** topics.storage / topics.log, with a tenant's own topics where it has them. */
export function topicsResolver(config: Config): (tenant: string) => Topics {
  const base = config.kafka.topics;
  const own = new Map<string, Topics>();
  for (const t of config.tenants) {
    if (t.topics) own.set(t.id, { storage: t.topics.storage ?? base.storage, log: t.topics.log ?? base.log });
  }
  return (tenant) => own.get(tenant) ?? base;
}
