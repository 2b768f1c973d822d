// The listener: accepts connections, admits or rejects associations (limits, disk, tenants), and runs
// them concurrently (up to scp.max_associations) or one at a time (scp.mode: sequential), as the Rust
// original's non-blocking/blocking switch did.

import { readFileSync } from "node:fs";
import type { Config } from "../config/schema.ts";
import type { DimseServices } from "../dimse/services.ts";
import { event, logger } from "../ops/log.ts";
import type { Storage } from "../store/storage.ts";
import { checkIdentity } from "../tenancy/identity.ts";
import type { Rejection, Tenant, TenantDirectory } from "../tenancy/tenants.ts";
import { type Admission, Association } from "./association.ts";
import type { NegotiationPolicy } from "./negotiation.ts";
import {
  type AssociateRqPdu,
  DICOM_APPLICATION_CONTEXT,
  RejectReason,
  RejectResult,
  RejectSource,
} from "./pdu/types.ts";
import { type Connection, type Listener, listenTcp, listenTls } from "./transport.ts";

const log = logger("server");

export interface ServerDeps {
  config: Config;
  tenants: TenantDirectory;
  storage: Storage;
  services: DimseServices;
  /**
   * Why new associations must be refused right now (e.g. the license expired while running), or null.
   * Such associations get a transient reject; running ones and stored data are not affected.
   */
  licenseProblem?: () => string | null;
  /** Why new associations must wait (e.g. the outbox is full), or null: a transient reject (2/3/1). */
  congested?: () => string | null;
}

export class StoreScpServer {
  private listener: Listener | null = null;
  private tlsListener: Listener | null = null;
  private readonly active = new Set<Association>();
  /** Sequential mode: connections waiting for the running association to end. */
  private readonly waiting: Connection[] = [];
  private running: Association | null = null;
  private seq = 0;
  private stopping = false;
  private readonly policy: NegotiationPolicy;

  constructor(private readonly deps: ServerDeps) {
    const scp = deps.config.scp;
    this.policy = {
      promiscuous: scp.promiscuous,
      uncompressedOnly: scp.uncompressed_only,
      maxPduLength: scp.max_pdu_length,
    };
  }

  /**
   * Start listening; resolves with the bound port (useful with port 0): the plain one, or the TLS one
   * when scp.port itself speaks TLS (scp.tls without a port of its own).
   */
  async listen(): Promise<number> {
    const { host, port, tls } = this.deps.config.scp;
    if (tls) {
      const tlsPort = tls.port ?? port;
      this.tlsListener = await listenTls(
        host,
        tlsPort,
        {
          cert: readFileSync(tls.cert),
          key: readFileSync(tls.key),
          ca: tls.ca === null ? null : readFileSync(tls.ca),
          requireClientCert: tls.require_client_cert,
          minVersion: tls.min_version,
          handshakeTimeoutMs: this.deps.config.scp.artim_timeout_s * 1000,
          onHandshakeError: (err, remote) =>
            event(log, "warning", "tls-handshake-failed", { peer: remote, error: err.message }),
        },
        (c) => this.onConnection(c),
      );
      event(log, "info", "listening-tls", {
        on: `${host}:${this.tlsListener.port}`,
        min_version: tls.min_version,
        client_cert: tls.require_client_cert ? "required" : tls.ca === null ? "no" : "optional",
      });
      if (tls.port === null) return this.tlsListener.port;
    }
    this.listener = await listenTcp(host, port, (c) => this.onConnection(c));
    event(log, "info", "listening", {
      on: `${host}:${this.listener.port}`,
      ae: this.deps.config.scp.ae_title,
      mode: this.deps.config.scp.mode,
      tenants: this.deps.tenants.tenants.map((t) => t.id).join(","),
    });
    return this.listener.port;
  }

  /** The bound TLS port, or null without scp.tls. */
  get tlsPort(): number | null {
    return this.tlsListener?.port ?? null;
  }

  /** Accepting associations: listening and not stopping (for /healthz). */
  get listening(): boolean {
    return !this.stopping && (this.listener !== null || this.tlsListener !== null);
  }

  get activeCount(): number {
    return this.active.size;
  }

  private onConnection(socket: Connection): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    if (this.deps.config.scp.mode === "sequential" && this.running) {
      // The peer waits (its A-ASSOCIATE-RQ stays unread) until the running association ends.
      this.waiting.push(socket);
      socket.onClose = () => {
        const i = this.waiting.indexOf(socket);
        if (i >= 0) this.waiting.splice(i, 1);
      };
      return;
    }
    this.run(socket);
  }

  private run(socket: Connection): void {
    this.seq += 1;
    const id = `A${this.seq}`;
    const scp = this.deps.config.scp;
    const assoc: Association = new Association(
      socket,
      this.deps.services,
      {
        policy: this.policy,
        strict: scp.strict,
        artimMs: scp.artim_timeout_s * 1000,
        idleMs: scp.idle_timeout_s * 1000,
        admit: (rq, remote) => this.admitWithIdentity(rq, remote, assoc),
      },
      id,
    );
    this.active.add(assoc);
    if (scp.mode === "sequential") this.running = assoc;
    assoc.done.then(() => {
      this.active.delete(assoc);
      // Spare temp files only serve running associations: an idle server leaves none in the tree.
      if (this.active.size === 0) void this.deps.storage.dropSpares();
      if (this.running === assoc) {
        this.running = null;
        const next = this.waiting.shift();
        if (next && !this.stopping) this.run(next);
      }
    });
    assoc.start();
    socket.resume();
  }

  /** admit(), then the tenant's user identity check (scrypt, asynchronous). */
  private admitWithIdentity(
    rq: AssociateRqPdu,
    remote: string,
    self: Association,
  ): Admission | Promise<Admission> {
    const admission = this.admit(rq, remote, self);
    if (!("tenant" in admission)) return admission;
    const { tenant } = admission;
    const identity = rq.userInformation.userIdentityRq;
    if (tenant.users.size === 0) return { tenant };
    return checkIdentity(tenant, identity).then((r): Admission => {
      if (!r.ok) {
        // PS3.7 D.3.3.7: a failed identity is a permanent rejection by the service-user, no reason given.
        return {
          result: RejectResult.Permanent,
          source: RejectSource.ServiceUser,
          reason: RejectReason.NoReasonGiven,
          why: r.why,
        };
      }
      return { tenant, user: r.username, identityResponse: identity?.positiveResponseRequested === true };
    });
  }

  /** PS3.8 Table 9-21: which A-ASSOCIATE-RJ an RQ gets, or the tenant it belongs to. */
  private admit(rq: AssociateRqPdu, remote: string, self: Association): { tenant: Tenant } | Rejection {
    if ((rq.protocolVersion & 1) === 0) {
      return {
        result: RejectResult.Permanent,
        source: RejectSource.ServiceProviderAcse,
        reason: RejectReason.ProtocolVersionNotSupported,
        why: `protocol version ${rq.protocolVersion} not supported`,
      };
    }
    if (rq.applicationContext !== DICOM_APPLICATION_CONTEXT) {
      return {
        result: RejectResult.Permanent,
        source: RejectSource.ServiceUser,
        reason: RejectReason.ApplicationContextNameNotSupported,
        why: `application context ${rq.applicationContext} not supported`,
      };
    }
    const established = [...this.active].filter((a) => a !== self && a.established).length;
    if (established >= this.deps.config.scp.max_associations) {
      return {
        result: RejectResult.Transient,
        source: RejectSource.ServiceProviderPresentation,
        reason: RejectReason.LocalLimitExceeded,
        why: `${established} associations running (scp.max_associations)`,
      };
    }
    const perAddress = this.deps.config.scp.max_associations_per_address;
    if (perAddress > 0) {
      const fromPeer = [...this.active].filter((a) => a !== self && a.remoteAddress === remote).length;
      if (fromPeer >= perAddress) {
        return {
          result: RejectResult.Transient,
          source: RejectSource.ServiceProviderPresentation,
          reason: RejectReason.LocalLimitExceeded,
          why: `${fromPeer} associations from ${remote} (scp.max_associations_per_address)`,
        };
      }
    }
    const licenseProblem = this.deps.licenseProblem?.() ?? null;
    if (licenseProblem !== null) {
      return {
        result: RejectResult.Transient,
        source: RejectSource.ServiceUser,
        reason: RejectReason.NoReasonGiven,
        why: licenseProblem,
      };
    }
    if (!this.deps.storage.freeSpaceOk) {
      return {
        result: RejectResult.Transient,
        source: RejectSource.ServiceProviderPresentation,
        reason: RejectReason.TemporaryCongestion,
        why: "free disk space below storage.min_free_mb",
      };
    }
    const congestion = this.deps.congested?.() ?? null;
    if (congestion !== null) {
      return {
        result: RejectResult.Transient,
        source: RejectSource.ServiceProviderPresentation,
        reason: RejectReason.TemporaryCongestion,
        why: congestion,
      };
    }
    const admission = this.deps.tenants.admit(rq.calledAeTitle, rq.callingAeTitle, {
      remoteAddress: remote,
      tlsSubject: self.tlsSubject,
    });
    return admission.ok ? { tenant: admission.tenant } : admission;
  }

  /**
   * Stop accepting, let running associations finish for up to `graceMs`, then abort what is left.
   * Resolves when every association has ended (their files committed or removed).
   */
  async close(graceMs: number): Promise<void> {
    this.stopping = true;
    this.listener?.close();
    this.tlsListener?.close();
    for (const s of this.waiting.splice(0)) s.destroy();
    const all = Promise.all([...this.active].map((a) => a.done));
    const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), graceMs).unref());
    if ((await Promise.race([all, timer])) === "timeout") {
      event(log, "warning", "shutdown-abort", { associations: this.active.size });
      for (const a of this.active) a.abort("aborted");
      await all;
    }
  }
}
