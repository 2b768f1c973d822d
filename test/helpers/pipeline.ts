// The store pipeline for tests that drive DimseServices in process, without an outbox or a transcoder,
// and one C-STORE through DimseServices.

import { CommandField, decodeCommandSet, encodeCommandSet, Tag } from "../../src/dimse/command.ts";
import { StorePipeline } from "../../src/pipeline/pipeline.ts";
import type { PendingRecord, RecordStage } from "../../src/pipeline/stages.ts";
import type { DimseServices } from "../../src/scp/services.ts";
import type { InstanceSinkOptions } from "../../src/store/instance-sink.ts";
import { InstanceStore } from "../../src/store/instance-store.ts";
import type { Storage } from "../../src/store/storage.ts";
import type { AssociationContext } from "../../src/tenancy/context.ts";
import type { Hostile } from "./hostile.ts";

const NO_PENDING: PendingRecord = { traceId: "", writePending: async () => {}, settle: async () => {} };

/** A record stage that refuses nothing and records nothing (no outbox in the test). */
export const NO_OUTBOX: RecordStage = {
  refusal: () => null,
  reserve: () => ({ release: () => {} }),
  record: async () => {},
  recordPending: async () => NO_PENDING,
  draft: () => ({ bytes: new Uint8Array(0), pending: NO_PENDING }),
};

/** Stored into `storage`, never transcoded, recorded by `record` (default: nowhere). */
export function storePipeline(
  storage: Storage,
  opts: { sink?: InstanceSinkOptions; record?: RecordStage } = {},
): StorePipeline {
  return new StorePipeline({
    store: new InstanceStore(storage, opts.sink),
    transcode: null,
    record: opts.record ?? NO_OUTBOX,
  });
}

/**
 * C-STORE of `h` through the services, in 16 KiB pieces; the response's status and comment. With
 * `afterResponse`, what follows the answer runs too (a spare temp file for the next instance).
 */
export async function cStore(
  services: DimseServices,
  ctx: AssociationContext,
  h: Hostile,
  opts: { afterResponse?: boolean } = {},
): Promise<{ status: number; comment: string }> {
  const cmd = decodeCommandSet(
    encodeCommandSet([
      [Tag.AffectedSopClassUid, h.sopClassUid],
      [Tag.CommandField, CommandField.CStoreRq],
      [Tag.MessageId, 1],
      [Tag.CommandDataSetType, 0],
      [Tag.AffectedSopInstanceUid, h.sopInstanceUid],
    ]),
  );
  const op = services.begin(cmd, ctx, h.ts, h.sopClassUid, { instances: 0, failures: 0, bytes: 0 });
  for (let o = 0; o < h.bytes.length; o += 16384) op.data?.write(h.bytes.subarray(o, o + 16384));
  const rsp = decodeCommandSet((await op.complete()) ?? new Uint8Array());
  if (opts.afterResponse) op.afterResponse?.();
  return { status: rsp.status ?? -1, comment: rsp.string(Tag.ErrorComment) ?? "" };
}
