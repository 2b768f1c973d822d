// One incoming C-STORE data set on its way to disk: the store stage's Reception (src/pipeline). Fragments
// stream through the attribute scanner into a temp file in the instance's final directory; only the
// head of the data set (until the identifying attributes have been read, at most the association's
// buffer bound) is held in memory while the directory is not known. The scanner checks the data set to
// its last byte: one that is not whole, or exceeds a limit, is quarantined and answered with a failure.
// settle() makes the temp file's data durable, commit() gives it its final name: the pipeline reserves
// the outbox record's room between the two. With write-ahead durability every byte goes to an entry of
// the log (src/store/wal): settle() waits for that entry, not for the file, and commit() only decides
// on_duplicate; the file is placed behind the answer (StoredInstance.place). Up to CARRY_MAX the log
// carries the bytes alone and the temp file is written from it when placed; past it, or when the log
// runs out of room, what the log holds is copied to the temp file and every later byte goes there too.
// An instance the log has no room for is made durable as without it.

import { closeSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { Requirable } from "../config/requirable.ts";
import {
  AttributeScanner,
  type DataSetLimits,
  DEFAULT_DATA_SET_LIMITS,
  type InstanceAttributes,
} from "../dicom/attribute-scanner.ts";
import { buildFileMeta } from "../dicom/part10.ts";
import { DimseError, hex4, Status } from "../dimse/status.ts";
import type { Problem, Received, Reception, StoredInstance, Validated } from "../pipeline/stages.ts";
import { durable } from "../util/durable.ts";
import {
  keepTransient,
  sliceTransient,
  type TransientBytes,
  viewWithinTurn,
} from "../util/transient-bytes.ts";
import type { HeldFile } from "./held-file.ts";
import { PathValueError, pathVariables, renderPath } from "./layout.ts";
import type { CommitResult, Storage } from "./storage.ts";
import type { StreamingFile } from "./streaming-file.ts";
import { type2Warnings, validateInstance } from "./validate.ts";
import type { LogEntry, WriteAhead } from "./write-ahead.ts";

const DONE: Promise<void> = Promise.resolve();

export interface InstanceSinkOptions {
  /** Bounds on the data set's structure and inflation (limits.*). */
  dataSet: DataSetLimits;
  /**
   * At most this much of the data set's head is held while its identifying attributes are looked for
   * (limits.association_buffer_mb); identifying attributes sit in groups 0008-0028, normally within
   * the first few KiB.
   */
  headLimit: number;
  /** storage.require: Type 2 attributes without which an instance is quarantined. */
  required: readonly Requirable[];
  /** Write-ahead durability (storage.durability: wal); absent: each file is synced before the answer. */
  writeAhead?: WriteAhead;
}

/**
 * The largest instance the write-ahead log carries alone. Past it the bytes so far are copied from the
 * log to the file at once (on the event loop, so this bounds that pause) and the rest goes to both.
 */
const CARRY_MAX = 4 * 1024 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const DEFAULT_SINK_OPTIONS: Readonly<InstanceSinkOptions> = {
  dataSet: DEFAULT_DATA_SET_LIMITS,
  headLimit: 4 * 1024 * 1024,
  required: [],
};

type Destination = { kind: "store"; finalPath: string } | { kind: "quarantine"; problem: Problem };

/** A temp file that is whole, valid and synced, waiting for commit(). */
interface Settled {
  file: StreamingFile;
  finalPath: string;
  held: HeldFile;
  attributes: InstanceAttributes;
}

export class InstanceSink implements Reception {
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
  private settled: Settled | null = null;
  /** The log entry the bytes also go to (write-ahead durability, stored instances only). */
  private entry: LogEntry | null = null;
  /** Set once the data set went to quarantine (for the status page). */
  quarantined = false;
  /** Called when bytes reached the disk, so a paused socket can be resumed. */
  onProgress: (() => void) | null = null;

  /**
   * @param refused A problem already known from the command (e.g. an invalid SOP Instance UID): the data
   * set is still received, but straight into quarantine, so nothing a modality sent is lost.
   * @param options Limits on the data set and storage.require.
   */
  constructor(
    private readonly storage: Storage,
    readonly received: Received,
    private readonly refused?: Problem,
    private readonly options: InstanceSinkOptions = DEFAULT_SINK_OPTIONS,
  ) {
    this.scanner = new AttributeScanner(received.transferSyntaxUid, options.dataSet);
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
    // The file could not be made: the instance fails at settle(); the rest of it is not kept.
    if (this.ioError) return;
    // Every chunk, to the end: the scanner checks that the data set is whole.
    this.scanner.push(viewWithinTurn(chunk));
    if (this.file) {
      this.writeData(this.file, chunk);
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
    const problem = validateInstance(a, this.received, undefined, this.options.required);
    if (problem) return { kind: "quarantine", problem };
    const { tenant, callingAe } = this.received.origin;
    try {
      const finalPath = renderPath(
        tenant.storageRoot,
        tenant.pathTemplate,
        pathVariables(tenant.id, a, callingAe),
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
        : this.storage.quarantineDirFor(this.received.origin.tenant.id);
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
    const { origin } = this.received;
    const meta = buildFileMeta({
      sopClassUid: this.received.sopClassUid,
      sopInstanceUid: this.received.sopInstanceUid,
      transferSyntaxUid: this.received.transferSyntaxUid,
      sourceAeTitle: origin.callingAe,
      sendingAeTitle: origin.callingAe,
      receivingAeTitle: origin.calledAe,
    });
    const writeAhead = this.options.writeAhead;
    const entry = writeAhead && this.destination?.kind === "store" ? writeAhead.begin() : null;
    this.entry = entry;
    this.writeData(file, meta);
    for (const chunk of this.keptHead) this.writeData(file, chunk);
    for (const chunk of this.turnHead) this.writeData(file, chunk);
    this.dropHead();
    this.file = file;
    // The head no longer waits in memory: a socket paused for it may read again.
    this.onProgress?.();
  }

  /**
   * A chunk of the data set, in order: to the log alone while its entry carries the instance (the file
   * is written from the log behind the answer, off the event loop), else to the file (and the log).
   */
  private writeData(file: StreamingFile, chunk: TransientBytes): void {
    const entry = this.entry;
    if (!entry?.carries) {
      file.write(chunk);
      entry?.write(viewWithinTurn(chunk));
      return;
    }
    const before = entry.size;
    entry.write(viewWithinTurn(chunk));
    if (entry.logged && entry.size <= CARRY_MAX) return;
    // The log had no room for all of it, or the instance is too large to be copied behind the answer
    // (the copy back below is bounded by CARRY_MAX): the file takes what the log holds, then the rest.
    this.spill(file, entry);
    const taken = entry.size - before;
    if (taken < chunk.length) file.write(sliceTransient(chunk, taken, chunk.length));
  }

  /** The bytes the entry carried alone so far go to the file too; from now on the file gets each chunk. */
  private spill(file: StreamingFile, entry: LogEntry): void {
    let bytes: Uint8Array;
    try {
      bytes = entry.readBack();
    } catch (err) {
      this.ioError = err as Error;
      return;
    } finally {
      entry.stopCarrying();
    }
    file.write(bytes);
  }

  /**
   * validated: the data set is complete. Resolves once it is whole and valid and its temp file's data is
   * durable; throws the DimseError to answer when it is not (the data set is then in quarantine) or
   * could not be written.
   */
  async settle(): Promise<Validated> {
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
    const fsync = this.storage.options.fsync;
    // A data set found wanting at its end goes to quarantine from its temp file: what the log carried
    // alone is written there first.
    if (this.entry?.carries && this.endProblem()) this.spill(file, this.entry);
    try {
      held = await file.completeHeld(fsync && !this.entry?.logged);
    } catch (err) {
      this.dropEntry();
      await file.discard();
      throw storageFailure(err as Error);
    }
    // A problem found only at the end (the data set not whole, a limit) weighs like one found earlier.
    const problem = this.endProblem();
    if (problem) {
      held.release();
      this.dropEntry();
      await this.quarantine(file.path, problem);
      throw new DimseError(problem.status, problem.reason);
    }
    if (this.entry && !this.entry.logged) {
      // The log had no room for it: its own data is synced, as without the log.
      this.dropEntry();
      if (fsync) await this.syncOrFail(file, held);
    }
    this.settled = { file, finalPath: destination.finalPath, held, attributes };
    return {
      received: this.received,
      path: destination.finalPath,
      fileSize: this.fileSize(file),
      attributes,
    };
  }

  /** The Part 10 file's size: written so far, or carried by the log alone (the file is written later). */
  private fileSize(file: StreamingFile): number {
    return this.entry?.carries ? this.entry.size : file.size;
  }

  /**
   * Before a completed temp file goes anywhere as it is (quarantine): the bytes the log carried alone
   * are written into it (at most CARRY_MAX, synchronously: a rare path).
   */
  private fillFromLog(path: string): void {
    const entry = this.entry;
    if (!entry?.carries) return;
    try {
      const bytes = entry.readBack();
      const fd = openSync(path, "r+");
      try {
        for (let w = 0; w < bytes.length; ) w += writeSync(fd, bytes, w, bytes.length - w, w);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      throw storageFailure(err as Error);
    } finally {
      entry.stopCarrying();
    }
  }

  private async syncOrFail(file: StreamingFile, held: HeldFile): Promise<void> {
    try {
      await durable.syncFile(file.path);
    } catch (err) {
      held.release();
      await file.discard();
      throw storageFailure(err as Error);
    }
  }

  private dropEntry(): void {
    this.entry?.release();
    this.entry = null;
  }

  /** The settled temp file does not enter the archive (no room for its record): remove it. */
  async discard(): Promise<void> {
    this.dropEntry();
    const settled = this.takeSettled();
    settled.held.release();
    await settled.file.discard();
  }

  /** The settled data set goes to quarantine instead of the archive: it is answered with `problem`. */
  async refuse(problem: Problem): Promise<void> {
    const { file, held } = this.takeSettled();
    held.release();
    this.fillFromLog(file.path);
    this.dropEntry();
    await this.quarantine(file.path, problem);
  }

  /**
   * stored: give the settled file its final name per on_duplicate, and start making the name durable
   * (nameDurable). Throws the DimseError to answer (on_duplicate reject: the file is quarantined).
   */
  async commit(): Promise<StoredInstance> {
    const { file, finalPath, held, attributes } = this.takeSettled();
    if (this.entry) return this.commitLater(file, finalPath, held, attributes, this.entry);
    let outcome: CommitResult;
    let nameDurable: Promise<DimseError | null>;
    try {
      const commit = this.storage.commit(file.path, finalPath, this.existedBefore);
      outcome = commit.outcome;
      nameDurable = commit.durable.then(
        () => null,
        (err: Error) => storageFailure(err),
      );
    } catch (err) {
      held.release();
      await file.discard();
      throw storageFailure(err as Error);
    }
    // Kept the existing file (its temp is gone) or set this one aside: nothing of it to hash.
    if (outcome === "kept-existing" || outcome === "duplicate") held.release();
    if (outcome === "duplicate") return this.rejectDuplicate(file);
    const warnings = type2Warnings(attributes, this.options.required);
    return {
      path: finalPath,
      fileSize: file.size,
      attributes,
      outcome,
      transferSyntaxUid: this.received.transferSyntaxUid,
      nameDurable,
      ...(warnings !== null ? { warnings } : {}),
      ...(outcome === "kept-existing" ? {} : { held }),
    };
  }

  /** on_duplicate reject: the data set goes to quarantine and 0111 is answered. */
  private async rejectDuplicate(file: StreamingFile): Promise<never> {
    const problem = {
      status: Status.DuplicateSopInstance,
      reason: "SOP Instance already stored (on_duplicate: reject)",
    };
    await this.quarantine(file.path, problem);
    throw new DimseError(problem.status, problem.reason);
  }

  /** Write-ahead: on_duplicate decided now, the file placed behind the answer (StoredInstance.place). */
  private async commitLater(
    file: StreamingFile,
    finalPath: string,
    held: HeldFile,
    attributes: InstanceAttributes,
    entry: LogEntry,
  ): Promise<StoredInstance> {
    let outcome: CommitResult;
    try {
      outcome = this.storage.decide(file.path, finalPath, this.existedBefore);
    } catch (err) {
      held.release();
      this.dropEntry();
      await file.discard();
      throw storageFailure(err as Error);
    }
    const size = this.fileSize(file);
    if (outcome === "duplicate") {
      held.release();
      this.fillFromLog(file.path);
      this.dropEntry();
      return this.rejectDuplicate(file);
    }
    // Carried by the log alone, the file is written and hashed when placed: nothing in it to hold.
    if (outcome === "kept-existing" || entry.carries) held.release();
    if (outcome === "kept-existing") this.dropEntry();
    const warnings = type2Warnings(attributes, this.options.required);
    const writeAhead = this.options.writeAhead;
    const placed = outcome === "kept-existing" || !writeAhead;
    // What a restart needs to place the file and settle it: where, how big, whose, and its record.
    const head = `{"path":${JSON.stringify(finalPath)},"size":${size},"attributes":${JSON.stringify(attributes)},"record":`;
    const makeDurable = (record: Uint8Array): Promise<void> =>
      entry.commit(encoder.encode(`${head}${decoder.decode(record)}}`));
    return {
      path: finalPath,
      fileSize: size,
      attributes,
      outcome,
      transferSyntaxUid: this.received.transferSyntaxUid,
      ...(warnings !== null ? { warnings } : {}),
      ...(placed
        ? {}
        : {
            ...(entry.carries ? {} : { held }),
            walEntry: entry.id,
            makeDurable,
            place: () => writeAhead.place(file.path, finalPath, entry),
            release: () => entry.release(),
          }),
    };
  }

  private takeSettled(): Settled {
    const settled = this.settled;
    if (!settled) throw new Error("the data set is not settled");
    this.settled = null;
    return settled;
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
    const { received } = this;
    try {
      await this.storage.quarantine(tempPath, {
        reason: problem.reason,
        status: hex4(problem.status),
        tenant_id: received.origin.tenant.id,
        calling_ae: received.origin.callingAe,
        called_ae: received.origin.calledAe,
        source_ip: received.origin.remoteAddress,
        transfer_syntax_uid: received.transferSyntaxUid,
        command_sop_class_uid: received.sopClassUid,
        command_sop_instance_uid: received.sopInstanceUid,
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
    this.dropEntry();
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
