// The outbox record (docs/storage.md): one per stored instance, written before the C-STORE-RSP and published
// as is (JSON) to topics.storage and topics.log, keyed `tenant_id/study_uid`, header `trace_id`.

import { randomFillSync } from "node:crypto";
import { hostname } from "node:os";
import type { InstanceAttributes } from "../dicom/attribute-scanner.ts";
import type { TransferStatus } from "../pipeline/stages.ts";
import { uidHash } from "../store/layout.ts";
import { validDate } from "../store/validate.ts";

export const SCHEMA_VERSION = 1;

/** Field names and order are those of the original WADO-StoreSCP `DicomStoreMeta`, plus the new ones. */
export interface OutboxRecord {
  schema_version: number;
  trace_id: string;
  worker_node_id: string;
  tenant_id: string;
  patient_id: string;
  study_uid: string;
  series_uid: string;
  sop_uid: string;
  sop_class_uid: string;
  /**
   * Only when a lossy transcode (transcode.target JPEG Baseline) stored a new instance: the SOP Instance
   * UID the modality sent, whose file the new one (sop_uid) replaced. New field; absent otherwise, so
   * records of instances stored as sent are unchanged.
   */
  source_sop_uid?: string;
  file_path: string;
  file_size: number;
  /** null until the drainer hashes the stored file, just before publishing. */
  sha256: string | null;
  transfer_syntax_uid: string;
  target_ts: string;
  transfer_status: TransferStatus;
  /** YYYY-MM-DD; null when the instance's Study Date is absent, empty or not a date (see warnings). */
  study_date: string | null;
  number_of_frames: number;
  accession_number: string | null;
  study_uid_hash: string;
  series_uid_hash: string;
  source_ip: string;
  source_ae: string;
  called_ae: string;
  created_time: string;
  /**
   * Only when there is something to say: the Type 2 attributes the instance lacks (it was stored all
   * the same), e.g. "Study Date (0008,0020) absent", or why sha256 is null.
   */
  warnings?: string[];
  /**
   * Internal, never published or exported: fileIdentity of the stored file as written, so that its
   * bytes are hashed later only if they are still this reception's (src/outbox/hashes.ts).
   */
  _file_identity?: string;
}

/** What the record is made from: the stored instance and the association it came on. */
export interface RecordSource {
  tenantId: string;
  attributes: InstanceAttributes;
  path: string;
  fileSize: number;
  sha256: string | null;
  /** As received (the presentation context's). */
  transferSyntaxUid: string;
  /** As stored; equal to transferSyntaxUid until transcoding exists. */
  targetTs?: string;
  transferStatus?: TransferStatus;
  /** SOP Instance UID as received, when the instance stored is a new (lossy) one derived from it. */
  sourceSopUid?: string;
  sourceIp: string;
  sourceAe: string;
  calledAe: string;
  /** Type 2 gaps of the instance (InstanceSink); absent or empty: none. */
  warnings?: readonly string[];
  /** fileIdentity of the stored file (see OutboxRecord._file_identity). */
  fileIdentity?: string;
}

const NODE_ID = hostname();

export function makeRecord(s: RecordSource, now = Date.now()): OutboxRecord {
  const a = s.attributes;
  const study = a.studyInstanceUid ?? "";
  const series = a.seriesInstanceUid ?? "";
  return {
    schema_version: SCHEMA_VERSION,
    trace_id: uuidV7(now),
    worker_node_id: NODE_ID,
    tenant_id: s.tenantId,
    patient_id: a.patientId ?? "",
    study_uid: study,
    series_uid: series,
    sop_uid: a.sopInstanceUid ?? "",
    sop_class_uid: a.sopClassUid ?? "",
    ...(s.sourceSopUid ? { source_sop_uid: s.sourceSopUid } : {}),
    file_path: s.path,
    file_size: s.fileSize,
    sha256: s.sha256,
    transfer_syntax_uid: s.transferSyntaxUid,
    target_ts: s.targetTs ?? s.transferSyntaxUid,
    transfer_status: s.transferStatus ?? "NoNeedTransfer",
    study_date: isoDate(a.studyDate),
    number_of_frames: a.numberOfFrames ?? 1,
    accession_number: a.accessionNumber ? a.accessionNumber : null,
    study_uid_hash: uidHash(study),
    series_uid_hash: uidHash(series),
    source_ip: s.sourceIp,
    source_ae: s.sourceAe,
    called_ae: s.calledAe,
    created_time: new Date(now).toISOString(),
    ...(s.warnings !== undefined && s.warnings.length > 0 ? { warnings: [...s.warnings] } : {}),
    ...(s.fileIdentity ? { _file_identity: s.fileIdentity } : {}),
  };
}

/**
 * Room for everything of a record but its variable text: the keys, the fixed-size values, and what a
 * transcode may add or change after the bound is taken (target_ts, transfer_status, source_sop_uid, a
 * file_path under a new UID) and a few warnings.
 */
const RECORD_FIXED_BYTES = 4096;
/** JSON writes one UTF-16 unit as at most 6 bytes (\u00XX); UTF-8 as at most 3. */
const JSON_BYTES_PER_UNIT = 6;

/**
 * At most how many bytes the record of `s` takes as written, from what is known before the instance's
 * file is committed: the outbox reserves this much then (OutboxService.reserve).
 */
export function recordSizeBound(s: Omit<RecordSource, "fileSize" | "sha256">): number {
  const a = s.attributes;
  let units = s.tenantId.length + s.path.length + s.transferSyntaxUid.length;
  units += s.sourceIp.length + s.sourceAe.length + s.calledAe.length;
  for (const v of [
    a.patientId,
    a.studyInstanceUid,
    a.seriesInstanceUid,
    a.sopInstanceUid,
    a.sopClassUid,
    a.studyDate,
    a.accessionNumber,
  ]) {
    units += v?.length ?? 0;
  }
  return RECORD_FIXED_BYTES + JSON_BYTES_PER_UNIT * units;
}

/** Kafka message key: per-study order (docs/storage.md). */
export function recordKey(r: Pick<OutboxRecord, "tenant_id" | "study_uid">): string {
  return `${r.tenant_id}/${r.study_uid}`;
}

/** DICOM DA "YYYYMMDD" as "YYYY-MM-DD"; null for anything that is not a date (absent, empty, odd). */
export function isoDate(da: string | undefined): string | null {
  const d = da?.trim();
  return d !== undefined && validDate(d) ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}` : null;
}

/** RFC 9562 UUID version 7: 48-bit Unix milliseconds, version, variant, 74 random bits. */
export function uuidV7(now = Date.now()): string {
  const b = new Uint8Array(16);
  takeRandom(b, 6, 10);
  const ms = Math.max(0, Math.floor(now));
  b[0] = Math.floor(ms / 2 ** 40) & 0xff;
  b[1] = Math.floor(ms / 2 ** 32) & 0xff;
  b[2] = (ms >>> 24) & 0xff;
  b[3] = (ms >>> 16) & 0xff;
  b[4] = (ms >>> 8) & 0xff;
  b[5] = ms & 0xff;
  b[6] = 0x70 | ((b[6] ?? 0) & 0x0f);
  b[8] = 0x80 | ((b[8] ?? 0) & 0x3f);
  let out = "";
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += "-";
    out += HEX[b[i] ?? 0];
  }
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Random bytes drawn from a pool refilled 4 KiB at a time: one system call per ~400 records, not one each. */
const randomPool = new Uint8Array(4096);
let randomUsed = randomPool.length;

function takeRandom(into: Uint8Array, offset: number, length: number): void {
  if (randomUsed + length > randomPool.length) {
    randomFillSync(randomPool);
    randomUsed = 0;
  }
  into.set(randomPool.subarray(randomUsed, randomUsed + length), offset);
  // Used bytes are never handed out twice.
  randomUsed += length;
}

/** The fields a published message must have to be usable; for records read back from disk or a bundle. */
export function isOutboxRecord(v: unknown): v is OutboxRecord {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.trace_id === "string" &&
    typeof r.tenant_id === "string" &&
    typeof r.study_uid === "string" &&
    typeof r.created_time === "string"
  );
}
