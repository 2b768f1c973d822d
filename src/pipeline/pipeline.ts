// The store pipeline: one C-STORE's data set from its arrival to the moment it may be answered, through
// the stages it is built with (src/pipeline/stages.ts), in this order:
//
//   received    the data set streams into a temp file in its final directory    StoreStage.receive
//               (and, with write-ahead durability, into the log)
//   validated   whole and valid, its bytes durable (the temp file's data, or     Reception.settle
//               the log); else quarantined
//   (duplicate) a lossy target's derived instance stored already: keep or reject TranscodeStage.derivedDuplicate
//   reserved    room for its record(s) in the outbox; else A700, the file dropped RecordStage.reserve
//   stored      renamed into place, its directory's sync started; or (write-    Reception.commit
//               ahead) on_duplicate decided and placed behind the answer
//   recorded    its outbox record written and synced: final, or pending when it  RecordStage.record,
//               is placed or transcoded behind the answer; else the file is      RecordStage.recordPending
//               taken back out into quarantine and the answer is a failure
//   answered    once the directory's sync has ended too                           StoreRun.complete
//   settled     behind the answer: placed, transcoded when its transfer syntax   Settler
//               is not served as is, and the final record written
//
// Why: 0000 promises that the instance and its record survive power loss, and that nothing answered
// with a failure is in the archive. The data is durable before the rename (or the log holds it), so a
// name never points at a partial file; the record's room is taken before the rename, so a file never
// enters the archive without it; a record that cannot be written after all takes its file back out, so
// archive and outbox never disagree. The directory's sync runs while the record is written and both are
// waited for: on ext4 and XFS (one journal, committed in order) the record's own sync commits the earlier
// rename too, so the record is never durable without its file; elsewhere a power cut in that window can
// leave a record whose file is missing, which the publisher sends without a hash (outbox-hash-failed).
// A pending record is never published: its final record is, once the instance is settled; a restart
// settles what a stop interrupted (src/pipeline/recovery.ts).

import { DimseError, Status } from "../dimse/status.ts";
import { logger } from "../ops/log.ts";
import type { Quota } from "../tenancy/quota.ts";
import { Settler, type SettlerOptions, withHash } from "./settler.ts";
import {
  asReceived,
  type DerivedDuplicate,
  type Placed,
  type Problem,
  type Received,
  type Reception,
  type RecordReservation,
  type RecordStage,
  type StoredInstance,
  type StoreStage,
  type TranscodedInstance,
  type TranscodeStage,
  UnrecordedError,
  type Validated,
} from "./stages.ts";

const log = logger("store");

export interface PipelineStages {
  store: StoreStage;
  /** null: every instance is stored as received. */
  transcode: TranscodeStage | null;
  record: RecordStage;
}

export class StorePipeline {
  /** What is placed or transcoded behind the answer. */
  readonly settler: Settler;

  constructor(
    private readonly stages: PipelineStages,
    opts: SettlerOptions = {},
  ) {
    this.settler = new Settler(stages.transcode, opts);
  }

  /**
   * Why a C-STORE is refused before its data set arrives (A700: transient), or null: the archive's
   * disk, the quota the instance counts against (null: none), the outbox.
   */
  refusal(received: Received, quota: Quota | null): DimseError | null {
    const disk = this.stages.store.refusal();
    if (disk) return new DimseError(Status.OutOfResources, disk);
    if (quota?.exceeded)
      return new DimseError(
        Status.OutOfResources,
        `quota of tenant ${received.origin.tenant.id} exceeded (max_gb)`,
      );
    const outbox = this.stages.record.refusal();
    if (outbox) return new DimseError(Status.OutOfResources, outbox);
    const behind = this.settler.refusal();
    return behind ? new DimseError(Status.OutOfResources, behind) : null;
  }

  /** Start one C-STORE: its data set goes to `data` of the run. `refused`: see StoreStage.receive. */
  begin(received: Received, refused?: Problem): StoreRun {
    return new StoreRun(this.stages, this.settler, received, refused);
  }
}

/** One C-STORE in the pipeline. */
export class StoreRun {
  /** Where the data set's fragments go. */
  readonly data: Reception;
  /** The instance once in the archive, also when a later stage failed. */
  private stored: StoredInstance | undefined;
  /** The instance as finally stored, once recorded. */
  private recorded: TranscodedInstance | undefined;

  constructor(
    private readonly stages: PipelineStages,
    private readonly settler: Settler,
    private readonly received: Received,
    refused?: Problem,
  ) {
    this.data = stages.store.receive(received, refused);
  }

  /** The instance as far as it got (recorded, or only stored), for the log; undefined if not stored. */
  get instance(): StoredInstance | TranscodedInstance | undefined {
    return this.recorded ?? this.stored;
  }

  /** The transfer syntax as stored, once recorded final (undefined while it settles). */
  get storedTs(): string | undefined {
    return this.recorded?.targetTs;
  }

  /**
   * The data set has arrived: run the stages in order. Resolves once the peer may be answered 0000;
   * rejects with the first failure (a DimseError says the status), after which no later stage runs.
   * What is left to do behind the answer (placing, transcoding) goes to the settler.
   */
  async complete(): Promise<StoredInstance> {
    const { transcode, record } = this.stages;
    const reception = this.data;
    const quota = this.received.origin.tenant.quota;
    let reservation: RecordReservation | undefined;
    let settling = false;
    try {
      const validated = await reception.settle();
      const transcoded = transcode?.needs(this.received.transferSyntaxUid) === true;
      const duplicate = transcoded ? await transcode?.derivedDuplicate(validated) : null;
      if (duplicate) return await this.derivedDuplicate(validated, duplicate);
      try {
        reservation = record.reserve(validated, transcoded ? 2 : 1);
      } catch (err) {
        // No room for the record: the file never enters the archive; the modality keeps its copy.
        await reception.discard();
        throw err;
      }
      // The same instance received again waits for the previous reception to be settled, which
      // therefore is not held back for the end of the burst.
      if (this.settler.busyAt(validated.path)) this.stages.store.placeHeld?.();
      await this.settler.settledAt(validated.path);
      const stored = await reception.commit();
      this.stored = stored;
      if (stored.outcome === "stored" || stored.outcome === "replaced") quota?.add(stored.fileSize);
      if (stored.outcome === "kept-existing") {
        // on_duplicate keep: nothing changed on disk, and the file there already has its record.
        reservation.release();
        this.recorded = asReceived(stored);
      } else if (stored.makeDurable) {
        await this.writeAhead(stored, reservation, transcoded);
        settling = true;
      } else if (transcoded) {
        const pending = await record.recordPending(stored, this.received, reservation);
        this.settler.settle(stored, this.received, pending);
        settling = true;
      } else {
        const final = asReceived(stored);
        await record.record(final, this.received, reservation);
        this.recorded = final;
      }
      const notDurable = await stored.nameDurable;
      if (notDurable) throw notDurable;
      return stored;
    } catch (err) {
      reservation?.release();
      if (err instanceof UnrecordedError) {
        await this.withdraw(err);
        if (this.stored?.outcome === "stored") quota?.add(-this.stored.fileSize);
      }
      throw err;
    } finally {
      // Whoever wanted the stored file's descriptor (the outbox, to hash it) has taken it by now; a
      // settling instance's goes with it to its final record.
      if (!settling) this.instance?.held?.release();
    }
  }

  /**
   * Write-ahead durability: the record drafted and made durable with the bytes in the log (one sync);
   * placing and the final record follow behind the answer. When the log cannot take it after all, the
   * file is placed now and its record written as without the log.
   */
  private async writeAhead(
    stored: StoredInstance,
    reservation: RecordReservation,
    transcoded: boolean,
  ): Promise<void> {
    const draft = this.stages.record.draft(stored, this.received, reservation);
    try {
      await stored.makeDurable?.(draft.bytes);
      this.settler.settle(stored, this.received, draft.pending);
      return;
    } catch {
      // Not in the log: below, as for a file synced before its answer.
    }
    const { place, release, ...placed } = stored;
    let hashed: Placed = {};
    try {
      hashed = (await place?.()) ?? {};
    } catch (err) {
      release?.();
      throw new DimseError(Status.ProcessingFailure, `storage failed: ${(err as Error).message}`);
    }
    release?.();
    try {
      if (transcoded) await draft.pending.writePending();
      else await draft.pending.settle(withHash(asReceived(placed), hashed));
    } catch (err) {
      throw new UnrecordedError(
        Status.OutOfResources,
        `outbox write failed: ${(err as Error).message}`,
        stored.path,
      );
    }
    if (transcoded) this.settler.settle(placed, this.received, draft.pending);
    else this.recorded = withHash(asReceived(placed), hashed);
  }

  /** A lossy target's derived instance is stored already: keep it (no new record) or reject. */
  private async derivedDuplicate(validated: Validated, duplicate: DerivedDuplicate): Promise<StoredInstance> {
    if (duplicate.kind === "reject") {
      await this.data.refuse(duplicate.problem);
      throw new DimseError(duplicate.problem.status, duplicate.problem.reason);
    }
    await this.data.discard();
    const kept: StoredInstance = {
      path: duplicate.path,
      fileSize: validated.fileSize,
      attributes: { ...validated.attributes, sopInstanceUid: duplicate.sopInstanceUid },
      outcome: "kept-existing",
      transferSyntaxUid: this.received.transferSyntaxUid,
    };
    this.stored = kept;
    this.recorded = { ...asReceived(kept), sourceSopInstanceUid: validated.attributes.sopInstanceUid };
    log.info("derived instance {path} already stored (on_duplicate: keep)", { path: duplicate.path });
    return kept;
  }

  /** The peer went away before the data set was complete. */
  abort(): Promise<void> {
    return this.data.abort();
  }

  /** Once the peer has its answer: what can wait for the next instance (a temp file beside this one). */
  afterAnswer(): void {
    const instance = this.instance;
    if (instance) this.stages.store.prepareNext(instance.path);
  }

  /** The file is in the archive without its record: quarantine it (it is answered with a failure). */
  private async withdraw(err: UnrecordedError): Promise<void> {
    try {
      await this.data.withdraw(err.path, { status: err.status, reason: err.comment });
    } catch (e) {
      log.error("an instance without its record could not be taken out of the archive: {path}: {error}", {
        path: err.path,
        error: e,
      });
    }
  }
}
