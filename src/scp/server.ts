// The listener: accepts connections, admits or rejects associations (limits, disk, tenants), and runs
// them concurrently (up to scp.max_associations) or one at a time (scp.mode: sequential), as the Rust
// original's non-blocking/blocking switch did.
//
// Limits are counted where they bite: an association holds one of scp.max_associations from the moment
// its A-ASSOCIATE-RQ is read (while its user identity is checked too) until it ends or is rejected
// (admission.ts); connections still sending their RQ are capped (limits.max_pending_connections), as
// many more wait unread for a place (the newest read first; beyond them the one waiting longest is
// closed); one pending for over a second makes room for a newcomer, so a flood of half-sent RQs cannot
// lock real peers out until ARTIM.

import { readFileSync } from "node:fs";
import type { Config } from "../config/schema.ts";
import type { NegotiationPolicy } from "../net/negotiation.ts";
import { type Connection, type Listener, listenTcp, listenTls } from "../net/transport.ts";
import { event, logger } from "../ops/log.ts";
import type { Storage } from "../store/storage.ts";
import type { TenantDirectory } from "../tenancy/tenants.ts";
import { AdmissionControl } from "./admission.ts";
import { ScpAssociation } from "./association.ts";
import type { DimseServices } from "./services.ts";

const log = logger("server");

/** A connection still without its whole A-ASSOCIATE-RQ after this long may be closed to make room. */
const PENDING_GRACE_MS = 1000;

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
  private readonly active = new Set<ScpAssociation>();
  /** Connections whose A-ASSOCIATE-RQ has not been read yet, oldest first. */
  private readonly pending = new Set<ScpAssociation>();
  /** Connections accepted while every pending place was taken, not read yet, oldest first. */
  private readonly unread: Connection[] = [];
  /** Sequential mode: connections waiting for the running association to end. */
  private readonly waiting: Connection[] = [];
  private running: ScpAssociation | null = null;
  private seq = 0;
  private stopping = false;
  private readonly policy: NegotiationPolicy;
  private readonly admission: AdmissionControl;
  /** Pending connections closed to make room, since the last log line about them. */
  private dropped = 0;
  private droppedLogAt = 0;

  constructor(private readonly deps: ServerDeps) {
    const { scp } = deps.config;
    this.policy = {
      promiscuous: scp.promiscuous,
      uncompressedOnly: scp.uncompressed_only,
      maxPduLength: scp.max_pdu_length,
    };
    this.admission = new AdmissionControl({
      config: deps.config,
      tenants: deps.tenants,
      freeSpaceOk: () => deps.storage.freeSpaceOk,
      licenseProblem: deps.licenseProblem,
      congested: deps.congested,
    });
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
    const cap = this.deps.config.limits.max_pending_connections;
    if (this.deps.config.scp.mode === "sequential" && this.running) {
      if (this.waiting.length + this.pending.size >= cap) {
        // Those waiting are served in order: the newest is the one refused.
        this.noteDropped(socket.remoteAddress, "sequential queue full");
        socket.destroy();
        return;
      }
      // The peer waits (its A-ASSOCIATE-RQ stays unread) until the running association ends.
      this.waiting.push(socket);
      socket.onClose = () => {
        const i = this.waiting.indexOf(socket);
        if (i >= 0) this.waiting.splice(i, 1);
      };
      return;
    }
    if (this.pending.size >= cap) this.evictStalePending();
    if (this.unread.length >= cap) {
      // Under a flood those waiting longest are the flood's: the newcomer may be a real peer.
      const oldest = this.unread.shift();
      if (oldest) {
        this.noteDropped(oldest.remoteAddress, "pending connections at limits.max_pending_connections");
        oldest.destroy();
      }
    }
    // Read as soon as a pending place is free, the newest first: a burst of real peers only waits,
    // and a real peer arriving during a flood is read before the flood's backlog.
    this.unread.push(socket);
    socket.onClose = () => {
      const i = this.unread.indexOf(socket);
      if (i >= 0) this.unread.splice(i, 1);
    };
    this.readNext();
  }

  /**
   * A real peer sends its A-ASSOCIATE-RQ right after connecting: one still pending after
   * PENDING_GRACE_MS is stalled or hostile, and the one waiting longest makes room (refusing
   * newcomers instead would let a flood of half-sent RQs lock everyone out until ARTIM).
   */
  private evictStalePending(): void {
    const oldest = this.pending.values().next();
    if (oldest.done || performance.now() - oldest.value.connectedAt < PENDING_GRACE_MS) return;
    this.pending.delete(oldest.value);
    this.noteDropped(oldest.value.remoteAddress, "pending connections at limits.max_pending_connections");
    oldest.value.drop();
  }

  /** Start reading queued connections while there is room among the pending ones. */
  private readNext(): void {
    const cap = this.deps.config.limits.max_pending_connections;
    while (!this.stopping && this.pending.size < cap) {
      const next = this.unread.pop();
      if (!next) return;
      this.run(next);
    }
  }

  private run(socket: Connection): void {
    this.seq += 1;
    const id = `A${this.seq}`;
    const { scp, limits } = this.deps.config;
    const assoc: ScpAssociation = new ScpAssociation(
      socket,
      this.deps.services,
      {
        policy: this.policy,
        strict: scp.strict,
        artimMs: scp.artim_timeout_s * 1000,
        idleMs: scp.idle_timeout_s * 1000,
        minRateBytesPerS: limits.min_rate_bytes_per_s,
        bufferBytes: limits.association_buffer_mb * 1024 * 1024,
        maxRqBytes: limits.max_associate_rq_kb * 1024,
        admit: (rq, remoteAddress) => {
          // Its RQ is read: a pending place is free for the next connection.
          this.pending.delete(assoc);
          this.readNext();
          return this.admission.decide(assoc, rq, { remoteAddress, tlsSubject: assoc.tlsSubject });
        },
      },
      id,
    );
    this.active.add(assoc);
    this.pending.add(assoc);
    if (scp.mode === "sequential") this.running = assoc;
    assoc.done.then(() => {
      this.active.delete(assoc);
      this.pending.delete(assoc);
      this.admission.release(assoc);
      this.readNext();
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

  /** Log pending connections closed to make room: the first, then at most one line per 10 s. */
  private noteDropped(remote: string, why: string): void {
    this.dropped += 1;
    const now = Date.now();
    if (now - this.droppedLogAt < 10_000) return;
    event(log, "warning", "connections-dropped", { count: this.dropped, last_peer: remote, why });
    this.dropped = 0;
    this.droppedLogAt = now;
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
    for (const s of this.unread.splice(0)) s.destroy();
    const all = Promise.all([...this.active].map((a) => a.done));
    const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), graceMs).unref());
    if ((await Promise.race([all, timer])) === "timeout") {
      event(log, "warning", "shutdown-abort", { associations: this.active.size });
      for (const a of this.active) a.abort("aborted");
      await all;
    }
  }
}
