// The ops endpoints on ops.http_port (node:http): /healthz (health.ts), /metrics (Prometheus,
// prometheus.ts), the status page at / with its /status.json (live.ts, status-page.ts). Installs the
// OpsSink (src/ops/metrics.ts) that counts what happens and hands it to the metrics and the live lists.
//
// Everything here is read-only and unauthenticated: bind it to a management network (the status page
// shows patient IDs of the last instances, as a DCMTK log on the console would).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { daysLeft, type LicenseGate } from "../license/info.ts";
import type { OutboxService } from "../outbox/service.ts";
import { freeBytes } from "../store/preflight.ts";
import { checkHealth } from "./health.ts";
import { LiveLists } from "./live.ts";
import { event, logger } from "./log.ts";
import {
  type AssociationInfo,
  type InstanceEvent,
  type OpsSink,
  setOpsSink,
  type TranscodeEvent,
} from "./metrics.ts";
import { outboxOldestAgeSeconds, PromMetrics } from "./prometheus.ts";
import { STATUS_PAGE_HTML, STATUS_PAGE_JS } from "./status-page.ts";

const log = logger("ops");

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

export class OpsServer implements OpsSink {
  private readonly http: Server;
  private readonly live = new LiveLists();
  private readonly prom: PromMetrics;
  private readonly startedAt = Date.now();

  constructor(private readonly deps: OpsDeps) {
    this.prom = new PromMetrics({
      version: deps.version,
      roots: deps.roots,
      outbox: deps.outbox,
      license: deps.license,
      activeAssociations: () => this.live.active,
      startedAt: this.startedAt,
    });
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
    this.live.associationAccepted(a);
    this.prom.associationAccepted(a);
  }

  associationEnded(id: string): void {
    this.live.associationEnded(id);
  }

  associationRejected(result: number, source: number, reason: number): void {
    this.live.associationRejected();
    this.prom.associationRejected(result, source, reason);
  }

  instance(e: InstanceEvent): void {
    this.prom.instance(e);
    this.live.instance(e);
  }

  transcoded(e: TranscodeEvent): void {
    this.prom.transcoded(e);
    this.live.transcoded(e);
  }

  // ---- Reads ------------------------------------------------------------------------------------

  async status(): Promise<unknown> {
    const health = await checkHealth(this.deps);
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
      totals: this.live.totals,
      associations: this.live.associations,
      recent: this.live.recent,
      outbox: outbox
        ? { ...outbox.state, oldest_age_s: Math.round(await outboxOldestAgeSeconds(outbox)) }
        : null,
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
        const h = await checkHealth(this.deps);
        send(h.ok ? 200 : 503, "application/json", `${JSON.stringify(h)}\n`);
        return;
      }
      case "/metrics":
        send(200, this.prom.contentType, await this.prom.metrics());
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
