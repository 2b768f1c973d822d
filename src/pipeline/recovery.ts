// At start, before the listener opens: the instances a stop interrupted between their answer and their
// final record (pending records without one, src/outbox/pending.ts) are settled. Each was answered 0000:
//   - its file is placed first when the write-ahead log still holds it (StoreStage.placeRecorded);
//   - a transcode that had not finished runs again from the file as received (behind the listener, in
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
  /** Place the file of a write-ahead log entry at `path` if the log still holds it (else it is placed). */
  placeRecorded?: (entry: number, path: string) => Promise<void>;
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
  let placed = 0;
  for (const { record, pending } of items) {
    if (record._wal !== undefined && stages.placeRecorded) {
      await stages.placeRecorded(record._wal, record.file_path);
      placed += 1;
    }
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
      const received: Received = {
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
      stages.settler.settle(stored, received, pending);
    } else {
      await pending.settle({
        ...stored,
        targetTs: record.transfer_syntax_uid,
        transferStatus: needs ? "Failed" : "NoNeedTransfer",
      });
    }
  }
  if (items.length > 0) event(log, "info", "settle-interrupted", { instances: items.length, placed });
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
