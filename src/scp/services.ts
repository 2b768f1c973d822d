// DIMSE services of a Storage SCP: C-ECHO (Verification, PS3.7 9.1.5) and C-STORE (PS3.7 9.1.1,
// PS3.4 Annex B). A request becomes an Operation: it takes the data set fragments (if any) and ends in
// the encoded response command set. Unknown commands are answered 0211. A C-STORE runs through the
// store pipeline (src/pipeline/pipeline.ts); its failures carry the status the peer is answered with.

import { VERIFICATION_SOP_CLASS } from "../dicom/sop-classes.ts";
import { uidProblem } from "../dicom/uid.ts";
import {
  CommandField,
  type CommandSet,
  encodeCommandSet,
  errorComment,
  NO_DATA_SET,
  Tag,
} from "../dimse/command.ts";
import type { DataSink, Operation } from "../dimse/operation.ts";
import { DimseError, hex4, isFailure, Status } from "../dimse/status.ts";
import { event, logger } from "../ops/log.ts";
import { opsSink } from "../ops/metrics.ts";
import type { StorePipeline } from "../pipeline/pipeline.ts";
import type { Problem, Received } from "../pipeline/stages.ts";
import type { AssociationContext } from "../tenancy/context.ts";
import type { TenantResolver } from "../tenancy/tenant-tag.ts";

const log = logger("store");

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
  constructor(
    /** Where a C-STORE's data set goes, and what must happen before it is answered. */
    private readonly pipeline: StorePipeline,
    /** tenant_tag mode (src/tenancy/tenant-tag.ts); null: the association's tenant. */
    private readonly tenantOf: TenantResolver | null = null,
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
    const received: Received = {
      origin: ctx,
      sopClassUid: sopClass,
      sopInstanceUid: sopInstance,
      transferSyntaxUid: ts,
    };
    // An instance the command names no tenant of ours for counts against no quota.
    const refusal = this.pipeline.refusal(received, tagProblem ? null : ctx.tenant.quota);
    if (refusal) return fail(refusal.status, refusal.comment);
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

    const run = this.pipeline.begin(received, commandProblem);
    // Logged once the response is on its way: the modality waits for nothing that is not storage.
    let after: (() => void) | undefined;
    return {
      data: run.data,
      complete: async () => {
        let status: number = Status.Success;
        let comment: string | undefined;
        try {
          await run.complete();
        } catch (err) {
          if (err instanceof DimseError) {
            status = err.status;
            comment = err.comment;
          } else {
            status = Status.ProcessingFailure;
            comment = `internal error: ${(err as Error).message}`;
            log.error("C-STORE failed unexpectedly: {error}", { error: err });
          }
        }
        const stored = run.instance;
        if (isFailure(status)) stats.failures += 1;
        else {
          stats.instances += 1;
          stats.bytes += stored?.fileSize ?? 0;
        }
        const ms = performance.now() - started;
        after = () => {
          run.afterAnswer();
          // A failed instance has no StoredInstance, but what the scanner read says whose it was.
          const a = stored?.attributes ?? run.data.attributes;
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
            quarantined: run.data.quarantined,
            storedTs: run.storedTs,
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
      abort: () => run.abort(),
      afterResponse: () => after?.(),
    };
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
