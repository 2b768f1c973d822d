// One incoming C-STORE data set on its way to disk. Fragments stream through the attribute scanner into
// a temp file in the instance's final directory; only the head of the data set (until the identifying
// attributes have been read, at most the association's buffer bound) is held in memory while the
// directory is not known. The scanner checks the data set to its last byte: one that is not whole, or
// exceeds a limit, is quarantined and answered with a failure. Capacity for the outbox record is
// reserved before the file is committed, so a file never enters the archive without room for its record.

import { dirname } from "node:path";
import {
  AttributeScanner,
  type DataSetLimits,
  DEFAULT_DATA_SET_LIMITS,
  type InstanceAttributes,
} from "../dicom/attribute-scanner.ts";
import { buildFileMeta } from "../dicom/part10.ts";
import { DimseError, hex4, Status } from "../dimse/status.ts";
import type { Tenant } from "../tenancy/tenants.ts";
import { keepTransient, type TransientBytes, viewWithinTurn } from "../util/transient-bytes.ts";
import type { HeldFile } from "./held-file.ts";
import { PathValueError, pathVariables, renderPath } from "./layout.ts";
import type { CommitResult, Storage } from "./storage.ts";
import type { StreamingFile } from "./streaming-file.ts";
import { type Problem, type Requirable, type2Warnings, validateInstance } from "./validate.ts";

const DONE: Promise<void> = Promise.resolve();

/**
 * Capacity for an instance's record, held from before its file is committed until the record is
 * written (which consumes it) or the instance fails (release). Releasing twice is harmless.
 */
export interface RecordReservation {
  release(): void;
}

/** What is known of an instance just before its file is committed: enough to size its record. */
export interface RecordDraft {
  ctx: InstanceContext;
  path: string;
  fileSize: number;
  attributes: InstanceAttributes;
}

/**
 * Secures capacity for the record of an instance about to be committed; throws a DimseError (the
 * status to answer, e.g. A700) when it cannot, and the file is then never committed.
 */
export type RecordReserver = (draft: RecordDraft) => RecordReservation;

export interface InstanceSinkOptions {
  /** Bounds on the data set's structure and inflation (limits.*). */
  dataSet: DataSetLimits;
  /**
   * At most this much of the data set's head is held while its identifying attributes are looked for
   * (limits.association_buffer_mb); identifying attributes sit in groups 0008-0028, normally within
   * the first few KiB.
   */
  headLimit: number;
  reserveRecord: RecordReserver | null;
  /** storage.require: Type 2 attributes without which an instance is quarantined. */
  required: readonly Requirable[];
}

export const DEFAULT_SINK_OPTIONS: Readonly<InstanceSinkOptions> = {
  dataSet: DEFAULT_DATA_SET_LIMITS,
  headLimit: 4 * 1024 * 1024,
  reserveRecord: null,
  required: [],
};

export interface InstanceContext {
  tenant: Tenant;
  callingAe: string;
  calledAe: string;
  sourceIp: string;
  /** From the C-STORE-RQ: Affected SOP Class/Instance UID. */
  sopClassUid: string;
  sopInstanceUid: string;
  /** Of the presentation context the data set arrives on. */
  transferSyntaxUid: string;
}

export interface StoredInstance {
  path: string;
  /** Size of the Part-10 file, meta included. */
  fileSize: number;
  attributes: InstanceAttributes;
  outcome: CommitResult;
  /** As received (the presentation context's). */
  transferSyntaxUid: string;
  /**
   * Resolves to null once the file's name is durable (storage.fsync), or to the failure that prevents
   * it; never rejects. The outbox record may be appended meanwhile (see Commit); the peer is answered
   * after both. Absent: durable already.
   */
  nameDurable?: Promise<DimseError | null>;
  /** As stored, when transcoding was attempted (src/transcode/service.ts); else as received. */
  targetTs?: string;
  transferStatus?: "NoNeedTransfer" | "Success" | "Failed";
  /** As received, when a lossy transcode made a new instance of it (`attributes` has the new UID). */
  sourceSopInstanceUid?: string;
  /** Type 2 attributes the instance lacks (stored all the same): for its record and the log. */
  warnings?: readonly string[];
  /** Capacity secured for its record before the file was committed (RecordReserver). */
  reservation?: RecordReservation;
  /**
   * The stored file's descriptor, still open: its bytes are this reception's whatever later happens to
   * the path. Whoever wants it takes it (HeldFile.take); the C-STORE releases it once answered.
   */
  held?: HeldFile;
  /** SHA-256 of the stored file, when already known (a transcode computes it from what it wrote). */
  sha256?: string;
}

type Destination = { kind: "store"; finalPath: string } | { kind: "quarantine"; problem: Problem };

export class InstanceSink {
  private readonly scanner: AttributeScanner;
  /** The head's chunks of earlier turns, kept past their turn (keepHead). */
  private keptHead: Uint8Array[] = [];
  /** The head's chunks of this turn: written or kept before it ends. */
  private turnHead: TransientBytes[] = [];
  private headBytes = 0;
  private keepHeadQueued = false;
  private file: StreamingFile | null = null;
  private opening: Promise<void> | null = null;
  private destination: Destination | null = null;
  private existedBefore: boolean | undefined;
  private ioError: Error | null = null;
  /** Set once the data set went to quarantine (for the status page). */
  quarantined = false;
  /** Called when bytes reached the disk, so a paused socket can be resumed. */
  onProgress: (() => void) | null = null;

  /**
   * @param refused A problem already known from the command (e.g. an invalid SOP Instance UID): the data
   * set is still received, but straight into quarantine, so nothing a modality sent is lost.
   * @param options Limits on the data set, the record reservation and storage.require.
   */
  constructor(
    private readonly storage: Storage,
    readonly ctx: InstanceContext,
    private readonly refused?: Problem,
    private readonly options: InstanceSinkOptions = DEFAULT_SINK_OPTIONS,
  ) {
    this.scanner = new AttributeScanner(ctx.transferSyntaxUid, options.dataSet);
    this.scanner.onProgress = () => this.onProgress?.();
  }

  /** The identifying attributes read so far (all of them once the data set is complete). */
  get attributes(): InstanceAttributes {
    return this.scanner.attributes;
  }

  /** Bytes received but not yet written: the association pauses its socket above a bound. */
  get pendingBytes(): number {
    return this.headBytes + (this.file?.pendingBytes ?? 0) + this.scanner.pendingBytes;
  }

  write(chunk: TransientBytes): void {
    // The file could not be made: the instance fails at finish(); the rest of it is not kept.
    if (this.ioError) return;
    // Every chunk, to the end: the scanner checks that the data set is whole.
    this.scanner.push(viewWithinTurn(chunk));
    if (this.file) {
      this.file.write(chunk);
      return;
    }
    this.turnHead.push(chunk);
    this.headBytes += chunk.length;
    if (!this.opening && (this.scanner.done || this.headBytes >= this.options.headLimit)) this.open();
    // Usually the file takes the head in this same turn; if not, the head must outlive the chunks.
    if (this.file === null && !this.keepHeadQueued) {
      this.keepHeadQueued = true;
      queueMicrotask(this.keepHead);
    }
  }

  /**
   * End of a turn with the head still held (its file is being made): its chunks must outlive their
   * turn (DataSink.write). Kept, not copied: while the spare file is still being made, the head can
   * be most of an instance.
   */
  private readonly keepHead = (): void => {
    this.keepHeadQueued = false;
    if (this.file !== null) return;
    for (const chunk of this.turnHead) this.keptHead.push(keepTransient(chunk));
    this.turnHead = [];
  };

  private decide(): Destination {
    if (this.refused) return { kind: "quarantine", problem: this.refused };
    const structural = this.endProblem();
    if (structural) return { kind: "quarantine", problem: structural };
    const a = this.scanner.attributes;
    const problem = validateInstance(a, this.ctx, undefined, this.options.required);
    if (problem) return { kind: "quarantine", problem };
    try {
      const finalPath = renderPath(
        this.ctx.tenant.storageRoot,
        this.ctx.tenant.pathTemplate,
        pathVariables(this.ctx.tenant.id, a, this.ctx.callingAe),
      );
      return { kind: "store", finalPath };
    } catch (err) {
      // A value that cannot be a path (too long, or one that would leave the root): the data set
      // carries a value its VR does not allow, A900 as for the other attributes it must get right.
      return {
        kind: "quarantine",
        problem: {
          status: Status.DataSetDoesNotMatchSopClass,
          reason: err instanceof PathValueError ? err.message : String(err),
        },
      };
    }
  }

  private open(): void {
    const destination = this.decide();
    this.destination = destination;
    if (destination.kind === "store")
      this.existedBefore = this.storage.lookBeforeCommit(destination.finalPath);
    const dir =
      destination.kind === "store"
        ? dirname(destination.finalPath)
        : this.storage.quarantineDirFor(this.ctx.tenant.id);
    const fail = (err: Error): void => {
      this.ioError = err;
      this.dropHead();
    };
    // The next instance of a series usually finds its file ready: no promise on the way.
    const ready = this.storage.readyTemp(dir);
    if (ready) {
      try {
        this.attach(ready);
      } catch (err) {
        fail(err as Error);
      }
      this.opening = DONE;
      return;
    }
    this.opening = this.storage
      .createTemp(dir)
      .then((file) => {
        this.attach(file);
        // Not in the turn of a socket read: head chunks not yet kept (their read's turn is not
        // over) go to disk now, before that turn ends and frees them.
        file.writeBatch();
      })
      .catch(fail);
  }

  private dropHead(): void {
    this.keptHead = [];
    this.turnHead = [];
    this.headBytes = 0;
  }

  /** The file is there: the meta and the head go first, then every chunk as it arrives. */
  private attach(file: StreamingFile): void {
    file.onProgress = () => this.onProgress?.();
    const meta = buildFileMeta({
      sopClassUid: this.ctx.sopClassUid,
      sopInstanceUid: this.ctx.sopInstanceUid,
      transferSyntaxUid: this.ctx.transferSyntaxUid,
      sourceAeTitle: this.ctx.callingAe,
      sendingAeTitle: this.ctx.callingAe,
      receivingAeTitle: this.ctx.calledAe,
    });
    file.write(meta);
    for (const chunk of this.keptHead) file.write(chunk);
    for (const chunk of this.turnHead) file.write(chunk);
    this.dropHead();
    this.file = file;
    // The head no longer waits in memory: a socket paused for it may read again.
    this.onProgress?.();
  }

  /** The data set is complete: make it durable and give it its final name, or quarantine it. */
  async finish(): Promise<StoredInstance> {
    const attributes = await this.scanner.finish();
    if (!this.opening) this.open();
    await this.opening;
    const file = this.file;
    const destination = this.destination;
    if (this.ioError || !file || !destination) throw storageFailure(this.ioError);
    if (destination.kind === "quarantine") {
      try {
        await file.complete(this.storage.options.fsync);
      } catch (err) {
        await file.discard();
        throw storageFailure(err as Error);
      }
      await this.quarantine(file.path, destination.problem);
      throw new DimseError(destination.problem.status, destination.problem.reason);
    }
    let held: HeldFile;
    try {
      held = await file.completeHeld(this.storage.options.fsync);
    } catch (err) {
      await file.discard();
      throw storageFailure(err as Error);
    }
    // A problem found only at the end (the data set not whole, a limit) weighs like one found earlier.
    const problem = this.endProblem();
    if (problem) {
      held.release();
      await this.quarantine(file.path, problem);
      throw new DimseError(problem.status, problem.reason);
    }
    let reservation: RecordReservation | undefined;
    try {
      reservation = this.options.reserveRecord?.({
        ctx: this.ctx,
        path: destination.finalPath,
        fileSize: file.size,
        attributes,
      });
    } catch (err) {
      // No room for the record: the file never enters the archive; the modality keeps its copy.
      held.release();
      await file.discard();
      throw err instanceof DimseError ? err : storageFailure(err as Error);
    }
    let outcome: CommitResult;
    let nameDurable: Promise<DimseError | null>;
    try {
      const commit = this.storage.commit(file.path, destination.finalPath, this.existedBefore);
      outcome = commit.outcome;
      nameDurable = commit.durable.then(
        () => null,
        (err: Error) => storageFailure(err),
      );
    } catch (err) {
      reservation?.release();
      held.release();
      await file.discard();
      throw storageFailure(err as Error);
    }
    // Kept the existing file (its temp is gone) or set this one aside: nothing of it to hash.
    if (outcome === "kept-existing" || outcome === "duplicate") held.release();
    if (outcome === "duplicate") {
      reservation?.release();
      const problem = {
        status: Status.DuplicateSopInstance,
        reason: "SOP Instance already stored (on_duplicate: reject)",
      };
      await this.quarantine(file.path, problem);
      throw new DimseError(problem.status, problem.reason);
    }
    const warnings = type2Warnings(attributes, this.options.required);
    return {
      path: destination.finalPath,
      fileSize: file.size,
      attributes,
      outcome,
      transferSyntaxUid: this.ctx.transferSyntaxUid,
      nameDurable,
      ...(warnings !== null ? { warnings } : {}),
      ...(reservation ? { reservation } : {}),
      ...(outcome === "kept-existing" ? {} : { held }),
    };
  }

  /**
   * The scanner's verdict on the data set so far (whole, once it ended): not whole, malformed, or over a
   * limit. C000 (Cannot understand): the data cannot be read as a data set, and would fail again.
   */
  private endProblem(): Problem | undefined {
    const error = this.scanner.error;
    return error === undefined ? undefined : { status: Status.CannotUnderstand, reason: error };
  }

  /**
   * Take a committed file back out of the archive into quarantine: it was answered with a failure
   * after all (its record could not be written), and an instance answered with a failure is never
   * in the archive.
   */
  async withdraw(path: string, problem: Problem): Promise<void> {
    await this.quarantine(path, problem);
  }

  private async quarantine(tempPath: string, problem: Problem): Promise<void> {
    const a = this.scanner.attributes;
    try {
      await this.storage.quarantine(tempPath, {
        reason: problem.reason,
        status: hex4(problem.status),
        tenant_id: this.ctx.tenant.id,
        calling_ae: this.ctx.callingAe,
        called_ae: this.ctx.calledAe,
        source_ip: this.ctx.sourceIp,
        transfer_syntax_uid: this.ctx.transferSyntaxUid,
        command_sop_class_uid: this.ctx.sopClassUid,
        command_sop_instance_uid: this.ctx.sopInstanceUid,
        attributes: { ...a },
        received_at: new Date().toISOString(),
      });
      this.quarantined = true;
    } catch (err) {
      // Could not even quarantine: answer a processing failure so the modality keeps its copy.
      throw storageFailure(err as Error);
    }
  }

  /** Drop everything: the peer went away or the operation was refused. Leaves no file behind. */
  async abort(): Promise<void> {
    this.scanner.abort();
    this.dropHead();
    await this.opening;
    await this.file?.discard();
  }
}

/** Out of space is a transient refusal (A700); anything else a processing failure (0110). */
function storageFailure(err: Error | null): DimseError {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new DimseError(Status.OutOfResources, "out of disk space");
  }
  return new DimseError(Status.ProcessingFailure, `storage failed: ${err?.message ?? "unknown"}`);
}
