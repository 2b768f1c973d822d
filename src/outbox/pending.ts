// Pending records: the record of an instance that is placed or transcoded behind its answer is written
// before the answer as it was received, marked `_pending`. Once the instance is settled, its final
// record (same trace_id, the final file_path, file_size, target_ts, transfer_status) is appended, and
// that is the one published or exported; the pending one is passed over. Until then publishing waits at
// the pending record, so the cursor never moves past an instance that a restart would have to settle.
//
// At open, the records after the cursor are read once: pending records without their final record are
// what a stop interrupted, and are settled by the server before it accepts (src/pipeline/recovery.ts).

import type { TranscodedInstance } from "../pipeline/stages.ts";
import type { OutboxLog } from "./log.ts";
import type { OutboxRecord } from "./record.ts";

/** Marks a pending record (an internal field: never published). */
export const PENDING_FIELD = "_pending";
/** The write-ahead log entry holding a pending record's bytes until placed (internal). */
export const WAL_FIELD = "_wal";

const PENDING_MARK = new TextEncoder().encode(`"${PENDING_FIELD}":true`);
const WAL_MARK = new TextEncoder().encode(`"${WAL_FIELD}":`);

/** What the publisher does with a record: send it, pass over it (acknowledged unsent), or wait there. */
export type Disposition = "publish" | "skip" | "wait";

export interface FoundPending {
  record: OutboxRecord;
}

export class PendingRecords {
  /** Trace ids of pending records whose final record is written (they are passed over). */
  private readonly settled = new Set<string>();
  /** Write-ahead log entries named by records after the cursor at start. */
  private readonly entries = new Set<number>();

  /** `holdEntry(id)`: records naming log entry `id` must wait (see OutboxServiceOptions.holdEntry). */
  constructor(private readonly holdEntry: (id: number) => boolean = () => false) {}

  /** Whether a record after the cursor at start named write-ahead log entry `id`. */
  hasEntry(id: number): boolean {
    return this.entries.has(id);
  }

  /** A pending record's final record is durable. */
  markSettled(traceId: string): void {
    this.settled.add(traceId);
  }

  /** What the publisher (or an export) does with `record`. */
  disposition(record: Record<string, unknown>): Disposition {
    const entry = record[WAL_FIELD];
    if (typeof entry === "number" && this.holdEntry(entry)) return "wait";
    if (record[PENDING_FIELD] !== true) return "publish";
    return this.settled.has(String(record.trace_id)) ? "skip" : "wait";
  }

  /** The pending record was passed over (acknowledged): nothing more to remember of it. */
  forget(record: Record<string, unknown>): void {
    this.settled.delete(String(record.trace_id));
  }

  /**
   * Read the log from its cursor: note which pending records are settled, and return those that are
   * not (in log order).
   */
  async scan(log: OutboxLog): Promise<FoundPending[]> {
    const open = new Map<string, OutboxRecord>();
    let from = log.head;
    for (;;) {
      const r = await log.read(1024, from);
      for (const e of r.entries) {
        const walMarked = contains(e.payload, WAL_MARK);
        if (!walMarked && !contains(e.payload, PENDING_MARK) && open.size === 0) continue;
        let record: OutboxRecord;
        try {
          record = JSON.parse(new TextDecoder().decode(e.payload)) as OutboxRecord;
        } catch {
          continue;
        }
        const id = String(record.trace_id);
        const fields = record as unknown as Record<string, unknown>;
        if (walMarked && typeof fields[WAL_FIELD] === "number") this.entries.add(fields[WAL_FIELD]);
        if (fields[PENDING_FIELD] === true) open.set(id, record);
        else if (open.delete(id)) this.settled.add(id);
      }
      const tail = log.tail;
      if (r.entries.length === 0 || (r.next.segment === tail.segment && r.next.offset >= tail.offset)) break;
      from = r.next;
    }
    return [...open.values()].map((record) => ({ record }));
  }
}

/** Cheap: most payloads are passed over without parsing. */
function contains(payload: Uint8Array, mark: Uint8Array): boolean {
  const first = mark[0] ?? 0;
  outer: for (let i = payload.indexOf(first); i >= 0; i = payload.indexOf(first, i + 1)) {
    for (let j = 1; j < mark.length; j++) if (payload[i + j] !== mark[j]) continue outer;
    return true;
  }
  return false;
}

const containsPendingMark = (payload: Uint8Array): boolean => contains(payload, PENDING_MARK);

/**
 * The final record of a pending one: everything as written before the answer, but what settling decided
 * (where and how the instance is stored, and its hash when known). Same trace_id: consumers see one.
 */
export function finalRecord(
  pending: OutboxRecord,
  final: TranscodedInstance,
  fileIdentity: string | undefined,
): OutboxRecord {
  // The log entry stays named: the record waits until the entry's release is durable.
  const {
    [PENDING_FIELD]: _p,
    _file_identity: _i,
    ...rest
  } = pending as OutboxRecord & { [PENDING_FIELD]?: boolean };
  return {
    ...rest,
    sop_uid: final.attributes.sopInstanceUid ?? rest.sop_uid,
    ...(final.sourceSopInstanceUid ? { source_sop_uid: final.sourceSopInstanceUid } : {}),
    file_path: final.path,
    file_size: final.fileSize,
    sha256: final.sha256 ?? null,
    target_ts: final.targetTs,
    transfer_status: final.transferStatus,
    ...(fileIdentity ? { _file_identity: fileIdentity } : {}),
  };
}

/**
 * The trace ids of pending records in a range read twice by `read` (an export's) whose final record
 * is in it too. The second reading only happens when the range holds pending records.
 */
export async function settledPendingIds(
  read: () => AsyncIterable<{ payload: Uint8Array }>,
): Promise<Set<string>> {
  const pendingIds = new Set<string>();
  for await (const e of read()) {
    if (!containsPendingMark(e.payload)) continue;
    const id = traceIdOf(e.payload);
    if (id !== null) pendingIds.add(id);
  }
  const settled = new Set<string>();
  if (pendingIds.size === 0) return settled;
  for await (const e of read()) {
    if (containsPendingMark(e.payload)) continue;
    const id = traceIdOf(e.payload);
    if (id !== null && pendingIds.has(id)) settled.add(id);
  }
  return settled;
}

function traceIdOf(payload: Uint8Array): string | null {
  try {
    const r = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    return typeof r.trace_id === "string" ? r.trace_id : null;
  } catch {
    return null;
  }
}
