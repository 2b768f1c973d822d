// The outbox as the server uses it: the store pipeline's record stage, which writes a record before the
// C-STORE-RSP (and then hashes the file, src/outbox/hashes.ts), the "outbox full" refusal (A700 for
// instances, transient A-ASSOCIATE-RJ for associations) with a warning before it (NEARLY_FULL), the
// publisher's drain loop when kafka.enabled (otherwise records only accumulate: air-gapped sites, where an
// operator exports them), and the owner's side of `outbox export|import` run beside it
// (src/outbox/handover.ts).

import { statSync } from "node:fs";
import type { Config } from "../config/schema.ts";
import { DimseError, Status } from "../dimse/status.ts";
import { event, logger } from "../ops/log.ts";
import {
  asReceived,
  type DraftRecord,
  type PendingRecord,
  type Received,
  type RecordReservation,
  type RecordStage,
  type StoredInstance,
  type TranscodedInstance,
  UnrecordedError,
  type Validated,
} from "../pipeline/stages.ts";
import { fileIdentity } from "../store/held-file.ts";
import { drainAdvice, fullRefusal, NEARLY_FULL, NEARLY_FULL_CLEARED } from "./fill.ts";
import { Handover } from "./handover.ts";
import { createHasher, type Hasher } from "./hasher.ts";
import { RecordHashes } from "./hashes.ts";
import { OutboxLog } from "./log.ts";
import { type FoundPending, finalRecord, PENDING_FIELD, PendingRecords, WAL_FIELD } from "./pending.ts";
import {
  Drainer,
  type DrainerOptions,
  type DrainerState,
  type Publisher,
  topicsResolver,
} from "./publisher.ts";
import { makeRecord, type OutboxRecord, recordSizeBound } from "./record.ts";

const log = logger("outbox");
const encoder = new TextEncoder();

export interface OutboxServiceOptions {
  /** Instead of kafkajs (tests). */
  publisher?: Publisher | null;
  drainer?: DrainerOptions;
  segmentBytes?: number;
  /** Whether associations are receiving now (publishing then waits a little, see DrainerOptions.busy). */
  busy?: () => boolean;
  /** Resolves once every instance answered so far is settled (before an export seals the log). */
  settled?: () => Promise<void>;
  /**
   * Whether records naming write-ahead log entry `id` must wait (the entry's release is not durable
   * yet: a restart would write the record again).
   */
  holdEntry?: (id: number) => boolean;
}

/** How often the hand-over files are looked at: an export or import waits at most this for its answer. */
const HANDOVER_POLL_MS = 250;

export class OutboxService implements RecordStage {
  private wasFull = false;
  private nearlyFull = false;
  /** Notices (and logs) the way up to NEARLY_FULL and back below max_mb even while nobody sends. */
  private readonly watch = setInterval(() => {
    this.refusal();
    this.checkFill();
  }, 1000);
  private readonly handoverTimer = setInterval(() => this.pollHandover(), HANDOVER_POLL_MS);

  private constructor(
    readonly log: OutboxLog,
    readonly drainer: Drainer,
    private readonly maxMb: number,
    private readonly hasher: Hasher,
    /** A publisher runs (kafka.enabled): records leave by themselves. */
    readonly kafkaEnabled: boolean,
    private readonly hashes: RecordHashes,
    readonly handover: Handover,
    private readonly pending: PendingRecords,
    /** Pending records without their final record at start. */
    private readonly found: FoundPending[],
  ) {}

  static async start(config: Config, opts: OutboxServiceOptions = {}): Promise<OutboxService> {
    const outbox = await OutboxLog.open({
      dir: config.outbox.dir,
      maxBytes: config.outbox.max_mb * 1024 * 1024,
      fsync: config.storage.fsync,
      // An `outbox export|import` may hold the log for a moment (it does so only while no server runs).
      lockWaitMs: 10_000,
      ...(opts.segmentBytes !== undefined ? { segmentBytes: opts.segmentBytes } : {}),
    });
    const publisher =
      opts.publisher !== undefined
        ? opts.publisher
        : config.kafka.enabled
          ? new (await import("./kafka-publisher.ts")).KafkaPublisher(config.kafka)
          : null;
    const hasher = createHasher();
    const hashes = new RecordHashes(config.outbox.dir, hasher);
    let handover: Handover | null = null;
    const pending = new PendingRecords(opts.holdEntry);
    const found = await pending.scan(outbox);
    const drainer = new Drainer(outbox, publisher, topicsResolver(config), {
      resolveRecord: (record, segment) => hashes.resolve(record, segment),
      disposition: (record) => pending.disposition(record),
      passedOver: (record) => pending.forget(record),
      busy: () => opts.busy?.() ?? false,
      paused: () => handover?.paused ?? true,
      ...opts.drainer,
    });
    handover = new Handover(outbox, {
      publishingIdle: () => drainer.idle(),
      settleHashes: async () => {
        await opts.settled?.();
        await hashes.settle();
      },
    });
    // What exports left while no server ran, before anything is published (imports at the first poll).
    await handover.settleExports();
    const svc = new OutboxService(
      outbox,
      drainer,
      config.outbox.max_mb,
      hasher,
      publisher !== null,
      hashes,
      handover,
      pending,
      found,
    );
    event(log, "info", "outbox-open", {
      dir: config.outbox.dir,
      records: outbox.records,
      bytes: outbox.bytes,
      unsettled: found.length > 0 ? found.length : undefined,
      kafka: publisher ? config.kafka.brokers.join(",") : "disabled (records accumulate)",
    });
    svc.watch.unref();
    svc.handoverTimer.unref();
    svc.refusal();
    svc.checkFill();
    drainer.start();
    return svc;
  }

  /** Backlog, rate, last error, connected: for the ops endpoints. */
  get state(): DrainerState {
    return this.drainer.state;
  }

  /** Why new instances and associations are refused now, or null. Logs each change loudly. */
  refusal(): string | null {
    const full = this.log.full;
    if (full !== this.wasFull) {
      this.wasFull = full;
      event(log, full ? "error" : "info", full ? "outbox-full" : "outbox-accepting", {
        records: this.log.records,
        bytes: this.log.bytes,
        max_mb: this.maxMb,
        action: full
          ? `refusing new instances (A700) and associations; ${drainAdvice(this.kafkaEnabled)}`
          : undefined,
      });
    }
    return full ? fullRefusal(this.maxMb, this.kafkaEnabled) : null;
  }

  /** Share of outbox.max_mb in use (0..1, more when over). */
  get fillRatio(): number {
    return this.log.bytes / (this.maxMb * 1024 * 1024);
  }

  /** A warning while the outbox is above NEARLY_FULL but not yet full, else null (/healthz, status page). */
  get warning(): string | null {
    if (!this.nearlyFull || this.log.full) return null;
    return `outbox ${Math.floor(this.fillRatio * 100)} % of outbox.max_mb ${this.maxMb}: ${drainAdvice(this.kafkaEnabled)}`;
  }

  /** Logs crossing NEARLY_FULL once (and again after dropping below NEARLY_FULL_CLEARED). */
  private checkFill(): void {
    const ratio = this.fillRatio;
    if (!this.nearlyFull && ratio >= NEARLY_FULL) {
      this.nearlyFull = true;
      event(log, "warning", "outbox-nearly-full", {
        percent: Math.floor(ratio * 100),
        records: this.log.records,
        bytes: this.log.bytes,
        max_mb: this.maxMb,
        action: drainAdvice(this.kafkaEnabled),
      });
    } else if (this.nearlyFull && ratio < NEARLY_FULL_CLEARED) {
      this.nearlyFull = false;
    }
  }

  /**
   * Room for the record of an instance about to be committed, allocated in the outbox now, so that the
   * record can be written once the file is in the archive. Without it (the outbox's disk is full) the
   * instance is refused with A700 and its file never enters the archive.
   */
  reserve(draft: Validated, records: 1 | 2 = 1): RecordReservation {
    const { origin } = draft.received;
    const bytes = recordSizeBound({
      tenantId: origin.tenant.id,
      attributes: draft.attributes,
      path: draft.path,
      transferSyntaxUid: draft.received.transferSyntaxUid,
      sourceIp: origin.remoteAddress,
      sourceAe: origin.callingAe,
      calledAe: origin.calledAe,
    });
    try {
      const first = this.log.reserve(bytes);
      if (records === 1) return first;
      try {
        // The final record may describe a new path (a derived instance): the same bound holds it.
        return new PairReservation(first, this.log.reserve(bytes));
      } catch (err) {
        first.release();
        throw err;
      }
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      event(log, "error", "outbox-reserve-failed", {
        sop: draft.attributes.sopInstanceUid,
        error: e.message,
      });
      throw new DimseError(Status.OutOfResources, `outbox cannot take the record: ${e.code ?? e.message}`);
    }
  }

  private pollHandover(): void {
    this.handover.poll().then(
      () => this.drainer.wake(),
      (err: Error) => event(log, "error", "outbox-handover-failed", { error: err.message }),
    );
  }

  /** One durable record per instance stored, before the peer is answered. */
  async record(
    instance: TranscodedInstance,
    received: Received,
    reservation: RecordReservation,
  ): Promise<void> {
    const held = instance.sha256 === undefined ? instance.held : undefined;
    const record = this.recordOf(instance, received, held?.identity);
    const at = await this.appendOrUnrecorded(record, instance.path, reservation);
    if (held) this.hashes.hashHeld(record.trace_id, at.segment, held, record.file_path);
    this.drainer.wake();
  }

  /**
   * The record of an instance transcoded behind the answer, before the answer: durable, but not
   * published until settle() wrote its final record.
   */
  async recordPending(
    instance: StoredInstance,
    received: Received,
    reservation: RecordReservation,
  ): Promise<PendingRecord> {
    const [first, second] = split(reservation);
    const record = this.pendingOf(instance, received);
    await this.appendOrUnrecorded(record, instance.path, first);
    return this.pendingRecord(record, { written: true, final: second });
  }

  /**
   * Write-ahead durability: the record made now (its trace_id fixed) for the log, written to the outbox
   * behind the answer (pending first when a transcode follows, then final).
   */
  draft(instance: StoredInstance, received: Received, reservation: RecordReservation): DraftRecord {
    const [first, second] = split(reservation);
    const record = this.pendingOf(instance, received);
    return {
      bytes: encoder.encode(JSON.stringify(record)),
      pending: this.pendingRecord(
        record,
        second ? { written: false, pending: first, final: second } : { written: false, final: first },
      ),
    };
  }

  /** A record the write-ahead log held at start (drafted before a stop), to be settled now. */
  fromDraft(record: OutboxRecord): PendingRecord {
    return this.pendingRecord(record, { written: false });
  }

  /** Pending records found at start without their final record (src/pipeline/recovery.ts settles them). */
  unsettled(): Array<{ record: OutboxRecord; pending: PendingRecord }> {
    return this.found.map(({ record }) => ({
      record,
      pending: this.pendingRecord(record, { written: true }),
    }));
  }

  /** Whether a record naming write-ahead log entry `id` was after the cursor at start. */
  recordedEntry(id: number): boolean {
    return this.pending.hasEntry(id);
  }

  private pendingOf(instance: StoredInstance, received: Received): OutboxRecord {
    return {
      ...this.recordOf(asReceived(instance), received, undefined),
      [PENDING_FIELD]: true,
      ...(instance.walEntry !== undefined ? { [WAL_FIELD]: instance.walEntry } : {}),
    } as OutboxRecord;
  }

  private pendingRecord(
    record: OutboxRecord,
    room: { written: boolean; pending?: RecordReservation; final?: RecordReservation },
  ): PendingRecord {
    let written = room.written;
    return {
      traceId: record.trace_id,
      writePending: async () => {
        if (written) return;
        await this.log.append(encoder.encode(JSON.stringify(record)), room.pending);
        written = true;
      },
      settle: async (final) => {
        const held = final.sha256 === undefined ? final.held : undefined;
        const identity = held?.identity ?? (final.sha256 === undefined ? identityOf(final.path) : undefined);
        const out = finalRecord(record, final, identity);
        const at = await this.log.append(encoder.encode(JSON.stringify(out)), room.final);
        this.pending.markSettled(record.trace_id);
        if (held) this.hashes.hashHeld(out.trace_id, at.segment, held, out.file_path);
        this.drainer.wake();
      },
    };
  }

  private recordOf(
    instance: TranscodedInstance,
    received: Received,
    identity: string | undefined,
  ): OutboxRecord {
    const ctx = received.origin;
    return makeRecord({
      tenantId: ctx.tenant.id,
      attributes: instance.attributes,
      path: instance.path,
      fileSize: instance.fileSize,
      // Known when a transcode wrote the file; otherwise hashed right after the answer, off its path.
      sha256: instance.sha256 ?? null,
      ...(identity ? { fileIdentity: identity } : {}),
      transferSyntaxUid: instance.transferSyntaxUid,
      targetTs: instance.targetTs,
      transferStatus: instance.transferStatus,
      ...(instance.sourceSopInstanceUid ? { sourceSopUid: instance.sourceSopInstanceUid } : {}),
      sourceIp: ctx.remoteAddress,
      sourceAe: ctx.callingAe,
      calledAe: ctx.calledAe,
      ...(instance.warnings !== undefined ? { warnings: instance.warnings } : {}),
    });
  }

  /** Append before the answer; a failure takes the instance back out of the archive (UnrecordedError). */
  private async appendOrUnrecorded(
    record: OutboxRecord | Record<string, unknown>,
    path: string,
    reservation: RecordReservation,
  ): Promise<{ segment: number }> {
    try {
      return await this.log.append(encoder.encode(JSON.stringify(record)), reservation);
    } catch (err) {
      event(log, "error", "outbox-append-failed", {
        sop: String(record.sop_uid),
        error: (err as Error).message,
        action: "the instance is taken out of the archive (quarantine) and refused",
      });
      throw new UnrecordedError(
        Status.OutOfResources,
        `outbox write failed: ${(err as Error).message}`,
        path,
      );
    }
  }

  async close(): Promise<void> {
    clearInterval(this.watch);
    clearInterval(this.handoverTimer);
    await this.handover.poll().catch(() => undefined);
    await this.drainer.stop();
    await this.hashes.close();
    await this.hasher.close();
    await this.log.close();
  }
}

/** The two parts of a pair reservation, or the one reservation. */
function split(r: RecordReservation): [RecordReservation, RecordReservation | undefined] {
  return r instanceof PairReservation ? [r.first, r.second] : [r, undefined];
}

/** Room for a pending record and its final record, taken together before the file is committed. */
class PairReservation implements RecordReservation {
  constructor(
    readonly first: RecordReservation,
    readonly second: RecordReservation,
  ) {}

  release(): void {
    this.first.release();
    this.second.release();
  }
}

/** The identity of the file now at `path` (for hashing it later), or undefined when it cannot be read. */
function identityOf(path: string): string | undefined {
  try {
    return fileIdentity(statSync(path, { bigint: true }));
  } catch {
    return undefined;
  }
}
