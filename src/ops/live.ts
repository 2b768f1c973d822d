// What the status page shows of what happens now: the associations running, the last instances, and
// totals since the start. Kept in memory, bounded: the list of instances holds the last RECENT, the
// oldest dropped as a new one comes, so the objects made per instance stay few.

import { transferSyntaxInfo } from "../dicom/transfer-syntax.ts";
import type { AssociationInfo, InstanceEvent, TranscodeEvent } from "./metrics.ts";

/** Instances kept for the status page. */
const RECENT = 50;

export interface LiveAssociation extends AssociationInfo {
  started: string;
  instances: number;
  failures: number;
  bytes: number;
}

export interface RecentInstance {
  time: string;
  assoc: string;
  tenant: string;
  calling: string;
  patient_id: string | null;
  modality: string | null;
  sop: string;
  ts: string;
  ts_name: string;
  /** As stored, when it was transcoded (else null). */
  stored_ts: string | null;
  stored_ts_name: string | null;
  status: string;
  failed: boolean;
  /** Kept in storage.quarantine (with its reason). */
  quarantined: boolean;
  /** The Error Comment of a failure. */
  error: string | null;
  bytes: number;
  ms: number;
}

export interface Totals {
  associations: number;
  rejected: number;
  instances: number;
  failures: number;
  bytes: number;
}

export class LiveLists {
  private readonly live = new Map<string, LiveAssociation>();
  private readonly recentList: RecentInstance[] = [];
  private readonly sums: Totals = { associations: 0, rejected: 0, instances: 0, failures: 0, bytes: 0 };

  /** Associations established and running. */
  get active(): number {
    return this.live.size;
  }

  get totals(): Totals {
    return this.sums;
  }

  get associations(): LiveAssociation[] {
    return [...this.live.values()];
  }

  /** The last instances, newest first. */
  get recent(): RecentInstance[] {
    return this.recentList;
  }

  associationAccepted(a: AssociationInfo): void {
    this.sums.associations += 1;
    this.live.set(a.id, { ...a, started: new Date().toISOString(), instances: 0, failures: 0, bytes: 0 });
  }

  associationEnded(id: string): void {
    this.live.delete(id);
  }

  associationRejected(): void {
    this.sums.rejected += 1;
  }

  instance(e: InstanceEvent): void {
    const a = this.live.get(e.assoc);
    if (e.failed) {
      this.sums.failures += 1;
      if (a) a.failures += 1;
    } else {
      this.sums.instances += 1;
      this.sums.bytes += e.bytes;
      if (a) {
        a.instances += 1;
        a.bytes += e.bytes;
      }
    }
    const transcoded = e.storedTs !== undefined && e.storedTs !== e.ts;
    this.recentList.unshift({
      time: new Date().toISOString(),
      assoc: e.assoc,
      tenant: e.tenant,
      calling: e.calling,
      patient_id: e.patientId ?? null,
      modality: e.modality ?? null,
      sop: e.sop,
      ts: e.ts,
      ts_name: transferSyntaxInfo(e.ts)?.name ?? e.ts,
      stored_ts: transcoded ? (e.storedTs ?? null) : null,
      stored_ts_name: transcoded ? (transferSyntaxInfo(e.storedTs ?? "")?.name ?? e.storedTs ?? null) : null,
      status: e.status,
      failed: e.failed,
      quarantined: e.quarantined === true,
      error: e.error ?? null,
      bytes: e.bytes,
      ms: Math.round(e.ms),
    });
    if (this.recentList.length > RECENT) this.recentList.pop();
  }

  /** Transcoded behind its answer: the instance's row shows how it is stored now. */
  transcoded(e: TranscodeEvent): void {
    if (!e.ok || e.sop === undefined) return;
    const row = this.recentList.find((r) => r.sop === e.sop && r.ts === e.from);
    if (!row) return;
    row.stored_ts = e.to;
    row.stored_ts_name = transferSyntaxInfo(e.to)?.name ?? e.to;
  }
}
