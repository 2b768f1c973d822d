// The Prometheus metrics of /metrics (prom-client): counters and histograms fed by what happens (the
// OpsSink calls, through OpsServer), and gauges read when scraped, not maintained: backlog, disk,
// license, associations running.

import type { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { LicenseGate } from "../license/info.ts";
import { daysLeft } from "../license/info.ts";
import type { OutboxService } from "../outbox/service.ts";
import { freeBytes } from "../store/preflight.ts";
import type { AssociationInfo, InstanceEvent, TranscodeEvent } from "./metrics.ts";

type PromClient = typeof import("prom-client");
/**
 * prom-client adds much to the process's memory once loaded: it is required (a CommonJS package,
 * evaluated on first require) only when an OpsServer is made, i.e. with ops.http_port set. Not a dynamic import(): Bun 1.4.5
 * bytecode executables with that import beside the static graph do not start (build/build.ts smokeTest).
 */
function promClient(): PromClient {
  return require("prom-client") as PromClient;
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

/** Age of the oldest record waiting in the outbox, seconds (0 when empty or without an outbox). */
export async function outboxOldestAgeSeconds(outbox: OutboxService | null): Promise<number> {
  const oldest = await outbox?.log.oldest();
  if (!oldest) return 0;
  return Math.max(0, (Date.now() - Date.parse(oldest)) / 1000);
}

export interface PromDeps {
  version: string;
  /** Storage roots, for the free space of each one's file system. */
  roots: string[];
  outbox: OutboxService | null;
  license: LicenseGate;
  /** Associations established and running. */
  activeAssociations: () => number;
  /** Date.now() at the start. */
  startedAt: number;
}

export class PromMetrics {
  readonly registry: Registry;
  private publishedSeen = 0;

  private readonly associationsTotal: Counter<"tenant">;
  private readonly rejectedTotal: Counter<"result" | "reason">;
  private readonly instancesTotal: Counter<"tenant" | "status" | "transfer_syntax">;
  private readonly bytesTotal: Counter<"tenant">;
  private readonly storeSeconds: Histogram;
  private readonly transcodeSeconds: Histogram<"target" | "result">;

  constructor(deps: PromDeps) {
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
    gauge("storescp_associations_active", "Associations established and running", deps.activeAssociations);
    const outbox = deps.outbox;
    if (outbox) {
      gauge("storescp_outbox_backlog_records", "Records waiting in the outbox", () => outbox.state.backlog);
      gauge(
        "storescp_outbox_backlog_bytes",
        "Bytes of outbox segments waiting",
        () => outbox.state.backlogBytes,
      );
      gauge("storescp_outbox_oldest_age_seconds", "Age of the oldest record waiting (0 when empty)", () =>
        outboxOldestAgeSeconds(outbox),
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
    gauge("storescp_uptime_seconds", "Seconds since the start", () => (Date.now() - deps.startedAt) / 1000);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text of /metrics (gauges read now). */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  associationAccepted(a: AssociationInfo): void {
    this.associationsTotal.labels(a.tenant).inc();
  }

  associationRejected(result: number, source: number, reason: number): void {
    this.rejectedTotal
      .labels(result === 1 ? "permanent" : "transient", rejectReasonLabel(source, reason))
      .inc();
  }

  instance(e: InstanceEvent): void {
    this.instancesTotal.labels(e.tenant, e.status, e.ts).inc();
    if (e.failed) return;
    this.bytesTotal.labels(e.tenant).inc(e.bytes);
    this.storeSeconds.observe(e.ms / 1000);
  }

  transcoded(e: TranscodeEvent): void {
    this.transcodeSeconds.labels(e.to, e.ok ? "ok" : "failed").observe(e.ms / 1000);
  }
}
