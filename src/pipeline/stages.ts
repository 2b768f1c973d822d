// The store pipeline's stages and what passes between them, in the order a C-STORE takes:
//
//   received    Received             a C-STORE request whose data set is arriving, and where it comes from
//   validated   Validated            the data set whole and valid, its bytes durable (temp file or log)
//   stored      StoredInstance       in the archive, or (write-ahead) durable in the log and placed later
//   recorded    (the record stage)   its outbox record durable: final, or pending until settled
//   answered    (src/dimse)          the C-STORE-RSP
//   settled     TranscodedInstance   behind the answer: placed, transcoded when needed, final record
//
// Only types and the stages' contracts live here, so that the store, the transcoder and the outbox
// implement their stage without importing each other; src/pipeline/pipeline.ts runs them in order.

import type { InstanceAttributes } from "../dicom/attribute-scanner.ts";
import { DimseError } from "../dimse/status.ts";
import type { Tenant } from "../tenancy/tenants.ts";
import type { TransientBytes } from "../util/transient-bytes.ts";

/** Who sent an instance, on which association (an association's context is one): what the stages need. */
export interface Origin {
  /** Short id that ties the log lines of one association together. */
  id: string;
  tenant: Tenant;
  callingAe: string;
  calledAe: string;
  remoteAddress: string;
}

/** Why an instance is not accepted: the DIMSE status to answer and the Error Comment. */
export interface Problem {
  status: number;
  reason: string;
}

/** received: a C-STORE request; its data set streams to the store stage. */
export interface Received {
  origin: Origin;
  /** From the command: Affected SOP Class/Instance UID. */
  sopClassUid: string;
  sopInstanceUid: string;
  /** Of the presentation context the data set arrives on. */
  transferSyntaxUid: string;
}

/** validated: the data set is whole and valid and its temp file's data synced; not yet in the archive. */
export interface Validated {
  received: Received;
  /** Where it is about to be placed. */
  path: string;
  /** Size of the Part-10 file, meta included. */
  fileSize: number;
  attributes: InstanceAttributes;
}

/** What the store did with a valid instance (on_duplicate reject is a failure, not an outcome). */
export type StoreOutcome = "stored" | "replaced" | "kept-existing";

/**
 * The stored file's descriptor, still open (src/store/held-file.ts): its bytes are this reception's
 * whatever later happens to the path. Whoever wants it takes it; the pipeline releases it before the answer.
 */
export interface HeldDescriptor {
  readonly identity: string;
  readonly size: number;
  /** The descriptor for its next owner (who closes it); null once taken or released. */
  take(): number | null;
  release(): void;
}

/** What placing a file behind the answer learnt on the way (write-ahead durability). */
export interface Placed {
  /** SHA-256 of the file, when it was written from the log (and hashed as it was). */
  sha256?: string;
}

/** stored: the file is in the archive under its final name. */
export interface StoredInstance {
  path: string;
  /** Size of the Part-10 file, meta included. */
  fileSize: number;
  attributes: InstanceAttributes;
  outcome: StoreOutcome;
  /** As received (the presentation context's). */
  transferSyntaxUid: string;
  /**
   * Resolves to null once the file's name is durable (storage.fsync), or to the failure that prevents
   * it; never rejects. Absent: durable already.
   */
  nameDurable?: Promise<DimseError | null>;
  /** Type 2 attributes the instance lacks (stored all the same): for its record and the log. */
  warnings?: readonly string[];
  held?: HeldDescriptor;
  /**
   * Write-ahead durability, before the answer: the instance's bytes and its record made durable in the
   * log. Rejects when the log cannot take it after all: the file is then placed before the answer.
   */
  makeDurable?: (record: Uint8Array) => Promise<void>;
  /**
   * Write-ahead durability: the file is not at `path` yet. Resolves once it is there and durable; the
   * pipeline calls it behind the answer (or before, see makeDurable). Absent: at `path` already.
   */
  place?: () => Promise<Placed>;
  /** Write-ahead durability: the log may let go of the instance (its record is in the outbox). */
  release?: () => void;
  /** The log entry that holds the instance until released (its id), noted in its records. */
  walEntry?: number;
}

export type TransferStatus = "NoNeedTransfer" | "Success" | "Failed";

/** transcoded: the instance as finally stored, what its record describes. */
export interface TranscodedInstance extends StoredInstance {
  /** As stored (equal to transferSyntaxUid when not transcoded). */
  targetTs: string;
  transferStatus: TransferStatus;
  /** As received, when a lossy transcode made a new instance of it (`attributes` has the new UID). */
  sourceSopInstanceUid?: string;
  /** SHA-256 of the stored file, when already known (a transcode computes it from what it wrote). */
  sha256?: string;
}

/** The transcoded stage's output for an instance kept as it came. */
export function asReceived(stored: StoredInstance): TranscodedInstance {
  return { ...stored, targetTs: stored.transferSyntaxUid, transferStatus: "NoNeedTransfer" };
}

/**
 * Capacity for an instance's record, held from before its file is committed until the record is
 * written (which consumes it) or the instance fails (release). Releasing twice is harmless.
 */
export interface RecordReservation {
  release(): void;
}

/** The data set of one C-STORE on its way into the archive (src/store/instance-sink.ts). */
export interface Reception {
  /** A fragment of the data set, valid until the end of the turn (kept or copied to hold it longer). */
  write: (chunk: TransientBytes) => void;
  readonly pendingBytes: number;
  onProgress: (() => void) | null;
  /** The identifying attributes read so far (all of them once the data set is complete). */
  readonly attributes: InstanceAttributes;
  /** Set once the data set went to quarantine. */
  readonly quarantined: boolean;
  /** validated: once the data set is complete. Throws the DimseError to answer (the data set quarantined). */
  settle(): Promise<Validated>;
  /** Drop the settled temp file: it does not enter the archive. */
  discard(): Promise<void>;
  /** Set the settled data set aside in quarantine: it is answered with `problem`. */
  refuse(problem: Problem): Promise<void>;
  /** stored: the settled file renamed into place, its name's sync started; throws the DimseError to answer */
  commit(): Promise<StoredInstance>;
  /** Take a committed file back out of the archive, into quarantine: it is answered with a failure. */
  withdraw(path: string, problem: Problem): Promise<void>;
  /** The peer went away or the request was refused: leave nothing behind. */
  abort(): Promise<void>;
}

export interface StoreStage {
  /** Instances are placed behind the answer (write-ahead durability): every record is pending first. */
  readonly placesLater: boolean;
  /** Why no instance can be stored now (e.g. disk space), or null. */
  refusal(): string | null;
  /** Start receiving a data set; with `refused`, a problem known from the command: straight to quarantine. */
  receive(received: Received, refused?: Problem): Reception;
  /** After the answer: get ready for the next instance stored beside `path`. */
  prepareNext(path: string): void;
  /** Files held back until a burst is over (write-ahead durability) are placed now. */
  placeHeld?(): void;
}

/** A lossy target's derived instance already stored (a resend), and what on_duplicate says to do. */
export type DerivedDuplicate =
  | { kind: "keep"; path: string; sopInstanceUid: string }
  | { kind: "reject"; problem: Problem };

export interface TranscodeStage {
  /** Must an instance received in `ts` be transcoded (behind the answer)? */
  needs(ts: string): boolean;
  /** Before the answer: whether the instance's derived (lossy) instance is stored already, or null. */
  derivedDuplicate(validated: Validated): Promise<DerivedDuplicate | null>;
  /** Behind the answer: transcoded (replacing the file); a codec never fails the instance. */
  transcode(stored: StoredInstance, received: Received): Promise<TranscodedInstance>;
}

/**
 * The record of an instance that is not final yet (placed or transcoded behind the answer): written
 * pending (never published), or only drafted into the write-ahead log; published once settled.
 */
export interface PendingRecord {
  readonly traceId: string;
  /** The pending record made durable in the outbox, if it is not there yet. */
  writePending(): Promise<void>;
  /** Write the final record (durable); the pending one is then never published. Throws when it cannot be. */
  settle(final: TranscodedInstance): Promise<void>;
}

/** A record made (its trace_id fixed) but not written: it goes into the write-ahead log with the bytes. */
export interface DraftRecord {
  /** The record as JSON. */
  readonly bytes: Uint8Array;
  readonly pending: PendingRecord;
}

export interface RecordStage {
  /** Why no instance can be recorded now (e.g. the outbox is full), or null. */
  refusal(): string | null;
  /**
   * Room for the records of an instance about to be committed (2: a pending and a final record); throws
   * a DimseError (A700) when none.
   */
  reserve(validated: Validated, records: 1 | 2): RecordReservation;
  /** The record made durable, consuming the reservation; throws UnrecordedError when it cannot be. */
  record(instance: TranscodedInstance, received: Received, reservation: RecordReservation): Promise<void>;
  /** A pending record made durable (the reservation's first part); throws UnrecordedError when it cannot be. */
  recordPending(
    instance: StoredInstance,
    received: Received,
    reservation: RecordReservation,
  ): Promise<PendingRecord>;
  /** The record made but not written (write-ahead durability: it goes into the log). */
  draft(instance: StoredInstance, received: Received, reservation: RecordReservation): DraftRecord;
}

/**
 * The instance at `path` is in the archive but its record could not be written: the file is taken back
 * out (to quarantine) and the peer answered with this failure, so archive and outbox never disagree.
 */
export class UnrecordedError extends DimseError {
  constructor(
    status: number,
    comment: string,
    readonly path: string,
  ) {
    super(status, comment);
  }
}
