// The ops endpoints on ops.http_port (node:http): /healthz, /metrics (Prometheus, prom-client), the status
// page at / with its /status.json. Installs the OpsSink (src/ops/metrics.ts) that counts what happens;
// gauges (backlog, disk, license) are read when scraped, not maintained.
//
// Everything here is read-only and unauthenticated: bind it to a management network (the status page
// shows patient IDs of the last instances, as a DCMTK log on the console would).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Counter, Gauge, Histogram, Registry } from "prom-client";
import { transferSyntaxInfo } from "../dicom/transfer-syntax.ts";
import { daysLeft, type LicenseGate } from "../license/info.ts";
import { drainAdvice } from "../outbox/fill.ts";
import type { OutboxService } from "../outbox/service.ts";
import { freeBytes, probeWritable } from "../store/preflight.ts";
import { event, logger } from "./log.ts";
import { type AssociationInfo, type InstanceEvent, type OpsSink, setOpsSink } from "./metrics.ts";
import { STATUS_PAGE_HTML, STATUS_PAGE_JS } from "./status-page.ts";

const log = logger("ops");

type PromClient = typeof import("prom-client");
/**
 * prom-client costs ~18 MB of RSS once loaded: it is required (a CommonJS package, evaluated on first
 * require) only when an OpsServer is made, i.e. with ops.http_port set. Not a dynamic import(): Bun 1.4.5
 * bytecode executables with that import beside the static graph do not start (build/build.ts smokeTest).
 */
function promClient(): PromClient {
  return require("prom-client") as PromClient;
}

/** Instances kept for the status page. */
const RECENT = 50;

export interface OpsDeps {
  host: string;
  port: number;
  version: string;
  /** For the status page's header: the SCP's AE title and DICOM port. */
  ae: string;
  dicomPort: number;
  /** The DICOM listener is up (and not stopping). */
  listening: () => boolean;
  /** Storage roots (storage.root and the tenants' own), checked for writability and free space. */
  roots: string[];
  minFreeMb: number;
  outbox: OutboxService | null;
  license: LicenseGate;
}

export interface Check {
  ok: boolean;
  detail: string;
}

export interface Health {
  ok: boolean;
  checks: Record<string, Check>;
  failing: string[];
  /** Not failing yet, but needs someone (e.g. the outbox past 80 % with Kafka off); ok stays true. */
  warnings: string[];
}

interface LiveAssociation extends AssociationInfo {
  started: string;
  instances: number;
  failures: number;
  bytes: number;
}

interface RecentInstance {
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

const REJECT_REASONS: Record<string, string> = {
  "1/1": "no-reason-given",
  "1/2": "application-context-not-supported",
  "1/3": "calling-ae-not-recognized",
  "1/7": "called-ae-not-recognized",
  "2/1": "no-reason-given",
  "2/2": "protocol-version-not-supported",
  "3/1": "temporary-congestion",
  "3/2": "local-limit-exceeded",
};

/** PS3.8 Table 9-21 as a label: the service-user "no reason" also covers identity, network and license. */
export function rejectReasonLabel(source: number, reason: number): string {
  return REJECT_REASONS[`${source}/${reason}`] ?? `source-${source}-reason-${reason}`;
}

export class OpsServer implements OpsSink {
  readonly registry: Registry;
  private readonly http: Server;
  private readonly live = new Map<string, LiveAssociation>();
  private readonly recent: RecentInstance[] = [];
  private readonly startedAt = Date.now();
  private totals = { associations: 0, rejected: 0, instances: 0, failures: 0, bytes: 0 };
  private publishedSeen = 0;

  private readonly associationsTotal: Counter<"tenant">;
  private readonly rejectedTotal: Counter<"result" | "reason">;
  private readonly instancesTotal: Counter<"tenant" | "status" | "transfer_syntax">;
  private readonly bytesTotal: Counter<"tenant">;
  private readonly storeSeconds: Histogram;
  private readonly transcodeSeconds: Histogram<"target" | "result">;

  constructor(private readonly deps: OpsDeps) {
    const { Counter, Gauge, Histogram, Registry } = promClient();
    this.registry = new Registry();
    const registers = [this.registry];
    new Gauge({
      name: "storescp_build_info",
      help: "Version of this storescp (value 1)",
      labelNames: ["version"],
      registers,
    })
      .labels(deps.version)
      .set(1);
    this.associationsTotal = new Counter({
      name: "storescp_associations_total",
      help: "Associations accepted",
      labelNames: ["tenant"],
      registers,
    });
    this.rejectedTotal = new Counter({
      name: "storescp_associations_rejected_total",
      help: "A-ASSOCIATE-RJ sent, by result (transient/permanent) and PS3.8 reason",
      labelNames: ["result", "reason"],
      registers,
    });
    this.instancesTotal = new Counter({
      name: "storescp_instances_total",
      help: "C-STORE requests answered, by tenant, DIMSE status (hex) and transfer syntax as received",
      labelNames: ["tenant", "status", "transfer_syntax"],
      registers,
    });
    this.bytesTotal = new Counter({
      name: "storescp_instance_bytes_total",
      help: "Bytes of instances stored (Part-10 files, meta included)",
      labelNames: ["tenant"],
      registers,
    });
    this.storeSeconds = new Histogram({
      name: "storescp_store_duration_seconds",
      help: "C-STORE from the command to the response (data transfer, write, sync, outbox record)",
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.transcodeSeconds = new Histogram({
      name: "storescp_transcode_duration_seconds",
      help: "Transcoding of one instance, by target transfer syntax and result",
      labelNames: ["target", "result"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    const gauge = (name: string, help: string, read: () => number | Promise<number>): void => {
      const g: Gauge = new Gauge({
        name,
        help,
        registers,
        async collect() {
          g.set(await read());
        },
      });
    };
    gauge("storescp_associations_active", "Associations established and running", () => this.live.size);
    const outbox = deps.outbox;
    if (outbox) {
      gauge("storescp_outbox_backlog_records", "Records waiting in the outbox", () => outbox.state.backlog);
      gauge(
        "storescp_outbox_backlog_bytes",
        "Bytes of outbox segments waiting",
        () => outbox.state.backlogBytes,
      );
      gauge("storescp_outbox_oldest_age_seconds", "Age of the oldest record waiting (0 when empty)", () =>
        this.oldestAgeSeconds(),
      );
      gauge("storescp_outbox_full", "1 while the outbox is above outbox.max_mb (instances refused)", () =>
        outbox.state.full ? 1 : 0,
      );
      gauge("storescp_kafka_enabled", "1 when kafka.enabled", () => (outbox.state.enabled ? 1 : 0));
      gauge("storescp_kafka_connected", "1 while the Kafka producer is connected", () =>
        outbox.state.connected ? 1 : 0,
      );
      const published: Counter = new Counter({
        name: "storescp_kafka_published_total",
        help: "Outbox records acknowledged by Kafka on both topics",
        registers,
        collect: () => {
          const now = outbox.state.published;
          if (now > this.publishedSeen) published.inc(now - this.publishedSeen);
          this.publishedSeen = now;
        },
      });
    }
    gauge("storescp_license_days_left", "Days until the license expires (-1: unlicensed build)", () => {
      const info = deps.license.info;
      return info === null ? -1 : daysLeft(info);
    });
    const free: Gauge<"path"> = new Gauge({
      name: "storescp_disk_free_bytes",
      help: "Free bytes (for unprivileged users) on each storage root's file system",
      labelNames: ["path"],
      registers,
      async collect() {
        for (const root of deps.roots) {
          try {
            free.labels(root).set(await freeBytes(root));
          } catch {
            free.remove(root);
          }
        }
      },
    });
    gauge("storescp_uptime_seconds", "Seconds since the start", () => (Date.now() - this.startedAt) / 1000);
    this.http = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        event(log, "error", "ops-http-failed", { path: req.url, error: err.message });
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end("internal error\n");
      });
    });
  }

  /** Listen; resolves with the bound port (useful with port 0). Installs the sink. */
  async listen(): Promise<number> {
    setOpsSink(this);
    await new Promise<void>((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(this.deps.port, this.deps.host, () => {
        this.http.off("error", reject);
        resolve();
      });
    });
    const addr = this.http.address();
    const port = typeof addr === "object" && addr !== null ? addr.port : this.deps.port;
    event(log, "info", "ops-listening", {
      on: `${this.deps.host}:${port}`,
      endpoints: "/ /status.json /healthz /metrics",
    });
    return port;
  }

  async close(): Promise<void> {
    setOpsSink(null);
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  // ---- OpsSink -------------------------------------------------------------------------------

  associationAccepted(a: AssociationInfo): void {
    this.totals.associations += 1;
    this.associationsTotal.labels(a.tenant).inc();
    this.live.set(a.id, { ...a, started: new Date().toISOString(), instances: 0, failures: 0, bytes: 0 });
  }

  associationEnded(id: string): void {
    this.live.delete(id);
  }

  associationRejected(result: number, source: number, reason: number): void {
    this.totals.rejected += 1;
    this.rejectedTotal
      .labels(result === 1 ? "permanent" : "transient", rejectReasonLabel(source, reason))
      .inc();
  }

  instance(e: InstanceEvent): void {
    this.instancesTotal.labels(e.tenant, e.status, e.ts).inc();
    const a = this.live.get(e.assoc);
    if (e.failed) {
      this.totals.failures += 1;
      if (a) a.failures += 1;
    } else {
      this.totals.instances += 1;
      this.totals.bytes += e.bytes;
      this.bytesTotal.labels(e.tenant).inc(e.bytes);
      this.storeSeconds.observe(e.ms / 1000);
      if (a) {
        a.instances += 1;
        a.bytes += e.bytes;
      }
    }
    // The list for the status page: objects made here are few (RECENT), the oldest is dropped.
    const transcoded = e.storedTs !== undefined && e.storedTs !== e.ts;
    this.recent.unshift({
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
    if (this.recent.length > RECENT) this.recent.pop();
  }

  transcoded(e: { from: string; to: string; ms: number; ok: boolean }): void {
    this.transcodeSeconds.labels(e.to, e.ok ? "ok" : "failed").observe(e.ms / 1000);
  }

  // ---- Reads ------------------------------------------------------------------------------------

  private async oldestAgeSeconds(): Promise<number> {
    const oldest = await this.deps.outbox?.log.oldest();
    if (!oldest) return 0;
    return Math.max(0, (Date.now() - Date.parse(oldest)) / 1000);
  }

  async health(): Promise<Health> {
    const checks: Record<string, Check> = {};
    const listening = this.deps.listening();
    checks.listening = { ok: listening, detail: listening ? "accepting associations" : "not listening" };
    const writable = await Promise.all(
      this.deps.roots.map((r) =>
        probeWritable(r).then(
          () => null,
          (err: Error) => `${r}: ${err.message}`,
        ),
      ),
    );
    const notWritable = writable.filter((w) => w !== null);
    checks.storage_writable = {
      ok: notWritable.length === 0,
      detail: notWritable.length === 0 ? `${this.deps.roots.join(", ")} writable` : notWritable.join("; "),
    };
    const disk: string[] = [];
    let diskOk = true;
    for (const r of this.deps.roots) {
      try {
        const mb = (await freeBytes(r)) / 1024 / 1024;
        if (mb < this.deps.minFreeMb) diskOk = false;
        disk.push(`${r}: ${Math.floor(mb)} MB free (min_free_mb ${this.deps.minFreeMb})`);
      } catch (err) {
        diskOk = false;
        disk.push(`${r}: ${(err as Error).message}`);
      }
    }
    checks.disk = { ok: diskOk, detail: disk.join("; ") };
    const licenseProblem = this.deps.license.problem();
    const info = this.deps.license.info;
    checks.license = {
      ok: licenseProblem === null,
      detail:
        licenseProblem ??
        (info === null
          ? "unlicensed build (no vendor CA)"
          : `valid until ${info.notAfter.toISOString()} (${daysLeft(info)} days)`),
    };
    const svc = this.deps.outbox;
    const warnings: string[] = [];
    if (svc) {
      const outbox = svc.state;
      const pct = Math.floor(svc.fillRatio * 100);
      checks.outbox = {
        ok: !outbox.full,
        detail: outbox.full
          ? `full (${outbox.backlog} records): instances are refused; ${drainAdvice(svc.kafkaEnabled)}`
          : `${outbox.backlog} records waiting (${pct} % of outbox.max_mb)`,
      };
      const w = svc.warning;
      if (w !== null) warnings.push(w);
    }
    const failing = Object.entries(checks)
      .filter(([, c]) => !c.ok)
      .map(([k]) => k);
    return { ok: failing.length === 0, checks, failing, warnings };
  }

  async status(): Promise<unknown> {
    const health = await this.health();
    const info = this.deps.license.info;
    const outbox = this.deps.outbox;
    const disks = await Promise.all(
      this.deps.roots.map(async (r) => ({
        path: r,
        free_mb: await freeBytes(r).then(
          (b) => Math.floor(b / 1024 / 1024),
          () => null,
        ),
        min_free_mb: this.deps.minFreeMb,
      })),
    );
    return {
      version: this.deps.version,
      ae: this.deps.ae,
      port: this.deps.dicomPort,
      now: new Date().toISOString(),
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      health,
      totals: this.totals,
      associations: [...this.live.values()],
      recent: this.recent,
      outbox: outbox ? { ...outbox.state, oldest_age_s: Math.round(await this.oldestAgeSeconds()) } : null,
      disks,
      license:
        info === null
          ? { state: "unlicensed build", client: null, not_after: null, days_left: null }
          : {
              state: this.deps.license.problem() === null ? "valid" : "expired",
              client: info.clientId,
              not_after: info.notAfter.toISOString(),
              days_left: daysLeft(info),
            },
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" });
      res.end("method not allowed\n");
      return;
    }
    const send = (code: number, type: string, body: string, extra: Record<string, string> = {}): void => {
      res.writeHead(code, {
        "content-type": type,
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        ...extra,
      });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    switch (path) {
      case "/healthz": {
        const h = await this.health();
        send(h.ok ? 200 : 503, "application/json", `${JSON.stringify(h)}\n`);
        return;
      }
      case "/metrics":
        send(200, this.registry.contentType, await this.registry.metrics());
        return;
      case "/status.json":
        send(200, "application/json", JSON.stringify(await this.status()));
        return;
      case "/":
      case "/index.html":
        send(200, "text/html; charset=utf-8", STATUS_PAGE_HTML, {
          "content-security-policy":
            "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
          "referrer-policy": "no-referrer",
        });
        return;
      case "/status.js":
        send(200, "text/javascript; charset=utf-8", STATUS_PAGE_JS);
        return;
      default:
        send(404, "text/plain", "not found: / /status.json /healthz /metrics\n");
    }
  }
}
