// What happens, told to whoever watches: the ops HTTP endpoints (src/ops/http.ts) install a sink here
// when ops.http_port is set; otherwise every call is one null check. The hot path (one call per
// instance) only passes a few values; counting, histograms and the status page's lists live in the sink.
// No prom-client here: it is loaded with the ops server only.

export interface AssociationInfo {
  id: string;
  peer: string;
  calling: string;
  called: string;
  tenant: string;
}

export interface InstanceEvent {
  assoc: string;
  tenant: string;
  /** DIMSE status, 4 hex digits. */
  status: string;
  failed: boolean;
  /** Transfer syntax as received. */
  ts: string;
  bytes: number;
  /** From the start of the C-STORE to its response, milliseconds. */
  ms: number;
  patientId: string | undefined;
  modality: string | undefined;
  sop: string;
  calling: string;
  /** The Error Comment sent with a failure status. */
  error?: string | undefined;
  /** The data set was kept in storage.quarantine. */
  quarantined?: boolean;
  /** Transfer syntax as stored, when transcoding was attempted. */
  storedTs?: string | undefined;
}

export interface TranscodeEvent {
  from: string;
  to: string;
  ms: number;
  ok: boolean;
  /** The instance (transcoded behind its answer: its row on the status page learns how it is stored). */
  sop?: string;
}

export interface OpsSink {
  associationAccepted(a: AssociationInfo): void;
  associationEnded(id: string, ending: string): void;
  /** PS3.8 Table 9-21 result/source/reason of an A-ASSOCIATE-RJ. */
  associationRejected(result: number, source: number, reason: number): void;
  instance(e: InstanceEvent): void;
  /** The transcoder calls this once per transcoded instance (behind the instance's answer). */
  transcoded(e: TranscodeEvent): void;
}

export let opsSink: OpsSink | null = null;

export function setOpsSink(sink: OpsSink | null): void {
  opsSink = sink;
}
