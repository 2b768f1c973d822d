// At start, before the listener opens: the instances a stop interrupted between their answer and their
// final record are settled. Each was answered 0000 (or was about to be):
//   - what the write-ahead log still holds (settleLogged): the file written again from the log and
//     placed, the record written, as for an instance just received;
//   - pending records without their final record (settleInterrupted; src/outbox/pending.ts): a transcode that had not finished runs again from the file as received (behind the listener, in
//     the settler, like any other); one that had finished (the file is in the target syntax already) is
//     recorded Success; a file that cannot be read is recorded as received, Failed, with a warning.

import { closeSync, openSync, readSync, statSync } from "node:fs";
import { AttributeScanner, type InstanceAttributes } from "../dicom/attribute-scanner.ts";
import { readFileMeta } from "../dicom/part10.ts";
import { event, logger } from "../ops/log.ts";
import type { Tenant } from "../tenancy/tenants.ts";
import type { Settler } from "./settler.ts";
import type {
  PendingRecord,
  Received,
  StoredInstance,
  TranscodedInstance,
  TranscodeStage,
} from "./stages.ts";

const log = logger("store");

/** What recovery reads of a pending record (the fields written before the answer). */
export interface InterruptedRecord {
  trace_id: string;
  tenant_id: string;
  file_path: string;
  file_size: number;
  sop_uid: string;
  sop_class_uid: string;
  transfer_syntax_uid: string;
  source_ip: string;
  source_ae: string;
  called_ae: string;
  warnings?: string[];
  _wal?: number;
}

export interface Interrupted {
  record: InterruptedRecord;
  pending: PendingRecord;
}

export interface RecoveryStages {
  transcode: TranscodeStage | null;
  settler: Settler;
  tenantOf: (id: string) => Tenant | undefined;
}

/** The head of a file read to know what it is: its meta and the identifying attributes. */
const HEAD_BYTES = 1024 * 1024;

/** Settle what a stop interrupted; resolves once every file is placed (transcodes may still run). */
export async function settleInterrupted(
  items: readonly Interrupted[],
  stages: RecoveryStages,
): Promise<void> {
  for (const { record, pending } of items) {
    const head = readHead(record.file_path);
    const stored: StoredInstance = {
      path: record.file_path,
      fileSize: head?.size ?? record.file_size,
      attributes: head?.attributes ?? { sopInstanceUid: record.sop_uid, sopClassUid: record.sop_class_uid },
      outcome: "stored",
      transferSyntaxUid: record.transfer_syntax_uid,
      ...(record.warnings ? { warnings: record.warnings } : {}),
    };
    const tenant = stages.tenantOf(record.tenant_id);
    const transcode = stages.transcode;
    const needs = transcode?.needs(record.transfer_syntax_uid) === true;
    if (head === null) {
      // Nothing to read at its path: recorded as received, Failed, so that the consumer learns of it.
      event(log, "error", "settle-file-missing", { path: record.file_path, trace_id: record.trace_id });
      const final: TranscodedInstance = {
        ...stored,
        targetTs: record.transfer_syntax_uid,
        transferStatus: "Failed",
        warnings: [...(record.warnings ?? []), "the stored file could not be read when the server restarted"],
      };
      await pending.settle(final);
    } else if (needs && head.ts !== record.transfer_syntax_uid) {
      // The transcode had replaced the file before the stop.
      await pending.settle({ ...stored, targetTs: head.ts, transferStatus: "Success" });
    } else if (needs && tenant) {
      stages.settler.settle(stored, receivedOf(record, tenant), pending);
    } else {
      await pending.settle({
        ...stored,
        targetTs: record.transfer_syntax_uid,
        transferStatus: needs ? "Failed" : "NoNeedTransfer",
      });
    }
  }
  if (items.length > 0) event(log, "info", "settle-interrupted", { instances: items.length });
}

/** An entry of the write-ahead log found at start: its header names the file and holds the record. */
export interface LoggedEntry {
  readonly id: number;
  readonly header: Uint8Array;
  release(): void;
}

interface LoggedHeader {
  path: string;
  size: number;
  attributes: InstanceAttributes;
  record: InterruptedRecord;
}

export interface LoggedStages extends RecoveryStages {
  /** Whether the outbox holds a record naming the entry (then its file was placed). */
  recorded: (entry: number) => boolean;
  /** The file of the entry written again from the log and placed at `path`. */
  place: (entry: number, path: string) => Promise<void>;
  /** The record of the header, to be written pending or final. */
  pendingOf: (record: InterruptedRecord) => PendingRecord;
}

/**
 * At start: what the write-ahead log still holds was made durable (answered, or about to be) and is
 * settled now, in the settler, like an instance just received; an entry whose record reached the
 * outbox is only released.
 */
export function settleLogged(entries: readonly LoggedEntry[], stages: LoggedStages): void {
  let resettled = 0;
  for (const entry of entries) {
    if (stages.recorded(entry.id)) {
      entry.release();
      continue;
    }
    const h = JSON.parse(new TextDecoder().decode(entry.header)) as LoggedHeader;
    const tenant = stages.tenantOf(h.record.tenant_id);
    const stored: StoredInstance = {
      path: h.path,
      fileSize: h.size,
      attributes: h.attributes,
      outcome: "stored",
      transferSyntaxUid: h.record.transfer_syntax_uid,
      walEntry: entry.id,
      place: async () => {
        await stages.place(entry.id, h.path);
        return {};
      },
      release: () => entry.release(),
      ...(h.record.warnings ? { warnings: h.record.warnings } : {}),
    };
    const pending = stages.pendingOf(h.record);
    if (tenant) stages.settler.settle(stored, receivedOf(h.record, tenant), pending);
    else {
      // Its tenant is gone from the configuration: placed and recorded as received, not transcoded.
      void (async () => {
        await stages.place(entry.id, h.path);
        await pending.settle({
          ...stored,
          targetTs: stored.transferSyntaxUid,
          transferStatus: "NoNeedTransfer",
        });
        entry.release();
      })().catch((err: Error) => event(log, "error", "settle-failed", { path: h.path, error: err.message }));
    }
    resettled += 1;
  }
  if (entries.length > 0) event(log, "info", "wal-replayed", { entries: entries.length, settled: resettled });
}

function receivedOf(record: InterruptedRecord, tenant: Tenant): Received {
  return {
    origin: {
      id: "restart",
      tenant,
      callingAe: record.source_ae,
      calledAe: record.called_ae,
      remoteAddress: record.source_ip,
    },
    sopClassUid: record.sop_class_uid,
    sopInstanceUid: record.sop_uid,
    transferSyntaxUid: record.transfer_syntax_uid,
  };
}

/** The file's size, transfer syntax and identifying attributes; null when it cannot be read. */
function readHead(path: string): { size: number; ts: string; attributes: InstanceAttributes } | null {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return null;
  }
  try {
    const size = statSync(path).size;
    const buf = new Uint8Array(Math.min(size, HEAD_BYTES));
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) break;
      n += got;
    }
    const { meta, dataSetOffset } = readFileMeta(buf.subarray(0, n));
    const ts = meta.transferSyntaxUid;
    const scanner = new AttributeScanner(ts);
    scanner.push(buf.subarray(dataSetOffset, n));
    const attributes = { ...scanner.attributes };
    scanner.abort();
    return { size, ts, attributes };
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
