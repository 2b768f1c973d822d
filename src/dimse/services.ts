// DIMSE services of a Storage SCP: C-ECHO (Verification, PS3.7 9.1.5) and C-STORE (PS3.7 9.1.1,
// PS3.4 Annex B). A request becomes an Operation: it takes the data set fragments (if any) and ends in
// the encoded response command set. Unknown commands are answered 0211.

import { VERIFICATION_SOP_CLASS } from "../dicom/sop-classes.ts";
import { uidProblem } from "../dicom/uid.ts";
import { event, logger } from "../ops/log.ts";
import { opsSink } from "../ops/metrics.ts";
import {
  DEFAULT_SINK_OPTIONS,
  InstanceSink,
  type InstanceSinkOptions,
  type StoredInstance,
} from "../store/instance-sink.ts";
import type { Storage } from "../store/storage.ts";
import type { Problem } from "../store/validate.ts";
import type { AssociationContext } from "../tenancy/context.ts";
import type { Tenant } from "../tenancy/tenants.ts";
import type { TransientBytes } from "../util/transient-bytes.ts";
import {
  CommandField,
  type CommandSet,
  encodeCommandSet,
  errorComment,
  NO_DATA_SET,
  Tag,
} from "./command.ts";
import { DimseError, hex4, isFailure, Status } from "./status.ts";

const log = logger("store");

/** Where the data set fragments of a request go. */
export interface DataSink {
  /**
   * The chunk is valid until the end of the current turn (src/util/transient-bytes.ts). A property,
   * not a method, so that an implementation taking a plain Uint8Array does not type-check.
   */
  write: (chunk: TransientBytes) => void;
  readonly pendingBytes: number;
  onProgress: (() => void) | null;
}

export interface Operation {
  /** Null when the request carries no data set. */
  readonly data: DataSink | null;
  /** Called once the whole data set (if any) arrived; resolves to the response command set, or null for none. */
  complete(): Promise<Uint8Array | null>;
  /** The association ended before the operation completed. */
  abort(): Promise<void>;
  /**
   * Called once the response is on its way: bookkeeping the peer need not wait for (the log line,
   * metrics, a temp file for the next instance) runs while the peer prepares its next request.
   */
  afterResponse?(): void;
}

/**
 * Called after an instance is safely stored and before the peer is told so (the transcoder and the
 * outbox hook in here); resolves to the instance as finally stored (transcoded, or as it came). A hook
 * that leaves the instance in the archive without its record throws UnrecordedError.
 */
export type StoredHook = (
  instance: StoredInstance,
  ctx: AssociationContext,
  cmd: CommandSet,
) => Promise<StoredInstance>;

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

/**
 * Which tenant a C-STORE belongs to when the command set may name one (tenant_tag): the tenant, or why
 * the request is refused (0124, data set quarantined).
 */
export type TenantResolver = (
  cmd: CommandSet,
  ctx: AssociationContext,
) => { tenant: Tenant } | { refused: string };

/** A data sink that throws data away: for refused requests whose data set still arrives. */
class DiscardSink implements DataSink {
  readonly pendingBytes = 0;
  onProgress: (() => void) | null = null;
  write(): void {}
}

export interface AssociationStats {
  instances: number;
  failures: number;
  bytes: number;
}

export class DimseServices {
  onStored: StoredHook | null = null;
  /** tenant_tag mode (src/tenancy/tenant-tag.ts); null: the association's tenant. */
  tenantOf: TenantResolver | null = null;
  /** Why new instances are refused with A700 before they arrive (e.g. the outbox is full), or null. */
  refuseStore: (() => string | null) | null = null;

  constructor(
    private readonly storage: Storage,
    /** Limits on each data set and the record reservation (see InstanceSink). */
    private readonly sinkOptions: InstanceSinkOptions = DEFAULT_SINK_OPTIONS,
  ) {}

  /** Start the operation a request command set asks for. */
  begin(
    cmd: CommandSet,
    ctx: AssociationContext,
    contextTransferSyntax: string,
    abstractSyntax: string,
    stats: AssociationStats,
  ): Operation {
    switch (cmd.commandField) {
      case CommandField.CEchoRq:
        return this.echo(cmd, abstractSyntax);
      case CommandField.CStoreRq:
        return this.store(cmd, ctx, contextTransferSyntax, abstractSyntax, stats);
      case CommandField.CCancelRq:
        // C-CANCEL has no response; there is nothing of ours to cancel (we are not a Q/R SCP).
        return {
          data: cmd.hasDataSet ? new DiscardSink() : null,
          complete: async () => null,
          abort: async () => {},
        };
      default:
        return refused(
          cmd,
          abstractSyntax,
          new DimseError(
            Status.UnrecognizedOperation,
            `command 0x${hex4(cmd.commandField ?? 0)} is not supported`,
          ),
        );
    }
  }

  private echo(cmd: CommandSet, abstractSyntax: string): Operation {
    if (abstractSyntax !== VERIFICATION_SOP_CLASS) {
      return refused(
        cmd,
        abstractSyntax,
        new DimseError(Status.NoSuchSopClass, "C-ECHO on a non-Verification context"),
      );
    }
    return {
      data: cmd.hasDataSet ? new DiscardSink() : null,
      complete: async () => response(cmd, abstractSyntax, Status.Success),
      abort: async () => {},
    };
  }

  private store(
    cmd: CommandSet,
    ctx: AssociationContext,
    ts: string,
    abstractSyntax: string,
    stats: AssociationStats,
  ): Operation {
    const sopClass = cmd.affectedSopClassUid ?? "";
    const sopInstance = cmd.affectedSopInstanceUid ?? "";
    const started = performance.now();
    const byTag = this.tenantOf?.(cmd, ctx);
    if (byTag && "tenant" in byTag && byTag.tenant !== ctx.tenant) ctx = { ...ctx, tenant: byTag.tenant };
    const tagProblem: Problem | undefined =
      byTag && "refused" in byTag ? { status: Status.NotAuthorized, reason: byTag.refused } : undefined;
    const fail = (status: number, comment: string): Operation => {
      stats.failures += 1;
      event(log, "warning", "instance", {
        assoc: ctx.id,
        tenant: ctx.tenant.id,
        calling: ctx.callingAe,
        sop: sopInstance,
        ts,
        status: hex4(status),
        error: comment,
      });
      opsSink?.instance({
        assoc: ctx.id,
        tenant: ctx.tenant.id,
        status: hex4(status),
        failed: true,
        ts,
        bytes: 0,
        ms: performance.now() - started,
        patientId: undefined,
        modality: undefined,
        sop: sopInstance,
        calling: ctx.callingAe,
        error: comment,
      });
      return refused(cmd, abstractSyntax, new DimseError(status, comment));
    };
    if (!cmd.hasDataSet) return fail(Status.CannotUnderstand, "C-STORE-RQ without a data set");
    if (!this.storage.freeSpaceOk) return fail(Status.OutOfResources, "disk space below storage.min_free_mb");
    const quota = tagProblem ? null : ctx.tenant.quota;
    if (quota?.exceeded)
      return fail(Status.OutOfResources, `quota of tenant ${ctx.tenant.id} exceeded (max_gb)`);
    const refusal = this.refuseStore?.();
    if (refusal) return fail(Status.OutOfResources, refusal);
    // Problems visible in the command still let the data set arrive, into quarantine.
    const uidIssue = uidProblem(sopInstance);
    const commandProblem: Problem | undefined = tagProblem
      ? tagProblem
      : sopClass !== abstractSyntax
        ? {
            status: Status.DataSetDoesNotMatchSopClass,
            reason: `SOP Class ${sopClass} is not that of the presentation context`,
          }
        : uidIssue
          ? {
              status: Status.DataSetDoesNotMatchSopClass,
              reason: `Affected SOP Instance UID invalid: ${uidIssue}`,
            }
          : undefined;

    const sink = new InstanceSink(
      this.storage,
      {
        tenant: ctx.tenant,
        callingAe: ctx.callingAe,
        calledAe: ctx.calledAe,
        sourceIp: ctx.remoteAddress,
        sopClassUid: sopClass,
        sopInstanceUid: sopInstance,
        transferSyntaxUid: ts,
      },
      commandProblem,
      this.sinkOptions,
    );
    // Logged once the response is on its way: the modality waits for nothing that is not storage.
    let after: (() => void) | undefined;
    return {
      data: sink,
      complete: async () => {
        let status: number = Status.Success;
        let comment: string | undefined;
        let stored: StoredInstance | undefined;
        try {
          stored = await sink.finish();
          if (stored.outcome === "stored" || stored.outcome === "replaced") quota?.add(stored.fileSize);
          if (this.onStored) stored = await this.onStored(stored, ctx, cmd);
          const notDurable = await stored.nameDurable;
          if (notDurable) throw notDurable;
        } catch (err) {
          stored?.reservation?.release();
          if (err instanceof UnrecordedError) {
            await this.withdraw(sink, err);
            if (stored?.outcome === "stored") quota?.add(-stored.fileSize);
          }
          if (err instanceof DimseError) {
            status = err.status;
            comment = err.comment;
          } else {
            status = Status.ProcessingFailure;
            comment = `internal error: ${(err as Error).message}`;
            log.error("C-STORE failed unexpectedly: {error}", { error: err });
          }
        }
        // Whoever wanted the stored file's descriptor (the outbox, to hash it) has taken it by now.
        stored?.held?.release();
        if (isFailure(status)) stats.failures += 1;
        else {
          stats.instances += 1;
          stats.bytes += stored?.fileSize ?? 0;
        }
        const ms = performance.now() - started;
        after = () => {
          if (stored) this.storage.prepareNext(stored.path);
          // A failed instance has no StoredInstance, but what the scanner read says whose it was.
          const a = stored?.attributes ?? sink.attributes;
          opsSink?.instance({
            assoc: ctx.id,
            tenant: ctx.tenant.id,
            status: hex4(status),
            failed: isFailure(status),
            ts,
            bytes: stored?.fileSize ?? 0,
            ms,
            patientId: a.patientId,
            modality: a.modality,
            sop: sopInstance,
            calling: ctx.callingAe,
            error: comment,
            quarantined: sink.quarantined,
            storedTs: stored?.targetTs,
          });
          event(log, isFailure(status) ? "warning" : "info", "instance", {
            assoc: ctx.id,
            tenant: ctx.tenant.id,
            calling: ctx.callingAe,
            sop: sopInstance,
            ts,
            size: stored?.fileSize,
            status: hex4(status),
            ms: Math.round(ms),
            outcome: stored?.outcome,
            path: stored?.path,
            error: comment,
          });
          if (stored?.warnings !== undefined) {
            event(log, "warning", "instance-warnings", {
              assoc: ctx.id,
              tenant: ctx.tenant.id,
              calling: ctx.callingAe,
              sop: sopInstance,
              warnings: stored.warnings.join("; "),
              action: "stored (storage.require does not list them)",
            });
          }
        };
        return response(cmd, abstractSyntax, status, comment);
      },
      abort: () => sink.abort(),
      afterResponse: () => after?.(),
    };
  }

  /** The file is in the archive without its record: quarantine it (it is answered with a failure). */
  private async withdraw(sink: InstanceSink, err: UnrecordedError): Promise<void> {
    try {
      await sink.withdraw(err.path, { status: err.status, reason: err.comment });
    } catch (e) {
      log.error("an instance without its record could not be taken out of the archive: {path}: {error}", {
        path: err.path,
        error: e,
      });
    }
  }
}

function refused(cmd: CommandSet, abstractSyntax: string, err: DimseError): Operation {
  return {
    data: cmd.hasDataSet ? new DiscardSink() : null,
    complete: async () => response(cmd, abstractSyntax, err.status, err.comment),
    abort: async () => {},
  };
}

/** Response command set for any request: PS3.7 Tables 9.3-2 (C-STORE-RSP), 9.3-13 (C-ECHO-RSP). */
export function response(
  cmd: CommandSet,
  abstractSyntax: string,
  status: number,
  comment?: string,
): Uint8Array {
  const values: Array<[number, number | string]> = [
    [Tag.AffectedSopClassUid, cmd.affectedSopClassUid ?? abstractSyntax],
    [Tag.CommandField, ((cmd.commandField ?? 0) | 0x8000) & 0xffff],
    [Tag.MessageIdBeingRespondedTo, cmd.messageId ?? 0],
    [Tag.CommandDataSetType, NO_DATA_SET],
    [Tag.Status, status],
  ];
  const sopInstance = cmd.affectedSopInstanceUid;
  if (sopInstance !== undefined) values.push([Tag.AffectedSopInstanceUid, sopInstance]);
  if (comment !== undefined && isFailure(status)) values.push([Tag.ErrorComment, errorComment(comment)]);
  return encodeCommandSet(values);
}
