// One association, acceptor side: owns the socket, feeds bytes to the PDU reader, runs every PDU and
// timer through the PS3.8 state machine (fsm.ts), and connects the negotiation and the DIMSE layer.

import { MessageAssembler } from "../dimse/assembler.ts";
import type { CommandSet } from "../dimse/command.ts";
import type { AssociationStats, DimseServices, Operation } from "../dimse/services.ts";
import { event, logger } from "../ops/log.ts";
import { opsSink } from "../ops/metrics.ts";
import type { Rejection, Tenant } from "../tenancy/tenants.ts";
import type { NetContext } from "./context.ts";
import { type Event, type ProviderPort, type State, transition } from "./fsm.ts";
import { type AcceptedContext, type NegotiationPolicy, negotiate } from "./negotiation.ts";
import { encodePDataPdvHeader, encodePdu, PDATA_PDV_HEADER_LENGTH } from "./pdu/codec.ts";
import { PduError } from "./pdu/errors.ts";
import { PduReader } from "./pdu/reader.ts";
import {
  AbortReason,
  AbortSource,
  type AssociateAcPdu,
  type AssociateRqPdu,
  type PDataPdu,
  type Pdu,
  PduType,
  RejectReason,
  RejectResult,
  RejectSource,
} from "./pdu/types.ts";
import type { Connection } from "./transport.ts";

const log = logger("assoc");

/** Largest non-P-DATA PDU we buffer: an A-ASSOCIATE-RQ with 128 contexts is far below this. */
const MAX_OTHER_PDU_LENGTH = 1024 * 1024;
/** Pause reading when this much received data is not on disk yet; resume below LOW. */
const BACKPRESSURE_HIGH = 4 * 1024 * 1024;
const BACKPRESSURE_LOW = 1024 * 1024;

export interface AssociationOptions {
  policy: NegotiationPolicy;
  strict: boolean;
  artimMs: number;
  idleMs: number;
  /**
   * Decide whether this A-ASSOCIATE-RQ may proceed (tenant, limits, disk, user identity). Returns the
   * tenant or the rejection to send; may take a while (scrypt), so it may be a promise.
   */
  admit(rq: AssociateRqPdu, remoteAddress: string): Admission | Promise<Admission>;
}

export interface Admitted {
  tenant: Tenant;
  /** The verified user name (user identity negotiation), if any. */
  user?: string | null;
  /** Answer the requestor's User Identity sub-item with a positive response (PS3.7 D.3.3.7.2). */
  identityResponse?: boolean;
}

export type Admission = Admitted | Rejection;

export type Ending = "released" | "aborted-by-peer" | "aborted" | "rejected" | "disconnected" | "timeout";

export class Association implements ProviderPort {
  state: State = "Sta1";
  readonly id: string;
  private readonly reader: PduReader;
  private readonly assembler: MessageAssembler;
  private artim: ReturnType<typeof setTimeout> | null = null;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private lastActivity = Date.now();
  /** Set by DT-2 for the P-DATA-TF being read: deliver its PDVs, or (AA-6) drop them. */
  private deliver = false;
  private rq: AssociateRqPdu | null = null;
  private ac: AssociateAcPdu | null = null;
  private rejection: Rejection | null = null;
  private accepted = new Map<number, AcceptedContext>();
  private ctx: NetContext | null = null;
  private abortReason: number = AbortReason.NotSpecified;
  private outgoing: Uint8Array[] = [];
  /** Responses go out in request order, each as soon as its operation and all before it are done. */
  private chain: Promise<void> = Promise.resolve();
  private outstanding = 0;
  private paused = false;
  private ending: Ending | null = null;
  /** A transition is running (see fire). */
  private firing = false;
  private readonly started = performance.now();
  private readonly stats: AssociationStats = { instances: 0, failures: 0, bytes: 0 };
  private resolveDone!: () => void;
  /** Resolves when the association is over and every operation has finished. */
  readonly done = new Promise<void>((r) => {
    this.resolveDone = r;
  });

  constructor(
    private readonly socket: Connection,
    private readonly services: DimseServices,
    private readonly options: AssociationOptions,
    id: string,
  ) {
    this.id = id;
    this.reader = new PduReader(
      {
        pdu: (pdu) => this.onPdu(pdu),
        pdataStart: (length) => this.onPDataStart(length),
        pdvData: (contextId, isCommand, isLast, chunk, pdvEnd) => {
          if (this.deliver) this.assembler.pdv(contextId, isCommand, isLast, chunk, pdvEnd);
        },
        pdataEnd: () => this.applyBackpressure(),
      },
      {
        maxPDataLength: options.strict ? options.policy.maxPduLength : 0,
        maxOtherPduLength: MAX_OTHER_PDU_LENGTH,
      },
    );
    this.assembler = new MessageAssembler({
      accepted: (id) => this.accepted.has(id),
      begin: (contextId, cmd) => this.beginOperation(contextId, cmd),
      ready: (contextId, op) => this.operationReady(contextId, op),
    });
    socket.onData = (chunk) => this.onData(chunk);
    socket.onError = (err) => {
      if (!this.ending) event(log, "debug", "socket-error", { assoc: this.id, error: err.message });
    };
    socket.onClose = () => this.fire("Evt17");
  }

  /** Start the state machine on the accepted connection (Evt5). */
  start(): void {
    this.fire("Evt5");
    this.armIdle();
  }

  /** Local abort (idle timeout, shutdown): Evt15. */
  abort(why: Ending): void {
    if (this.state === "Sta1") return;
    this.ending ??= why;
    this.fire("Evt15");
  }

  get established(): boolean {
    return this.state === "Sta6" || this.state === "Sta8";
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress;
  }

  /** Subject CN of the verified TLS client certificate, or null. */
  get tlsSubject(): string | null {
    return this.socket.tlsSubject ?? null;
  }

  // ---- bytes in -------------------------------------------------------------------------------

  private onData(chunk: Uint8Array): void {
    this.lastActivity = Date.now();
    try {
      this.reader.push(chunk);
    } catch (err) {
      // A protocol error is the peer's; anything else is ours. Either way this association ends with
      // an A-ABORT and every other association goes on: the process must not fall over.
      if (err instanceof PduError) {
        this.abortReason = err.abortReason;
        event(log, "warning", "protocol-error", { assoc: this.id, state: this.state, error: err.message });
      } else {
        this.abortReason = AbortReason.NotSpecified;
        log.error("internal error on association {assoc}, aborting it: {error}", {
          assoc: this.id,
          error: err,
        });
      }
      this.fire("Evt19");
      this.socket.pause();
    }
  }

  private onPdu(pdu: Exclude<Pdu, PDataPdu>): void {
    switch (pdu.type) {
      case PduType.AssociateRq:
        this.rq = pdu;
        this.fire("Evt6");
        break;
      case PduType.AssociateAc:
        this.fire("Evt3");
        break;
      case PduType.AssociateRj:
        this.fire("Evt4");
        break;
      case PduType.ReleaseRq:
        this.fire("Evt12");
        break;
      case PduType.ReleaseRp:
        this.fire("Evt13");
        break;
      case PduType.Abort:
        this.ending ??= "aborted-by-peer";
        this.fire("Evt16");
        break;
    }
  }

  private onPDataStart(length: number): void {
    if (
      this.options.strict &&
      this.options.policy.maxPduLength > 0 &&
      length > this.options.policy.maxPduLength
    ) {
      throw new PduError(
        `P-DATA-TF of ${length} bytes exceeds the ${this.options.policy.maxPduLength} we announced (strict)`,
        AbortReason.InvalidPduParameterValue,
      );
    }
    this.deliver = false;
    this.fire("Evt10");
  }

  private fire(ev: Event): void {
    // An action that closes the socket may see the close reported at once (Bun does): that event
    // belongs after this transition, once the state has moved on, not in the middle of it.
    if (this.firing) {
      queueMicrotask(() => this.fire(ev));
      return;
    }
    const from = this.state;
    // Once idle again (Sta1) only a new connection could be an event; a late close is not one.
    if (from === "Sta1" && ev !== "Evt5") return;
    this.firing = true;
    let step: ReturnType<typeof transition>;
    try {
      step = transition(from, ev, this);
    } finally {
      this.firing = false;
    }
    const { next, action } = step;
    this.state = next;
    if (from !== next) event(log, "debug", "fsm", { assoc: this.id, from, event: ev, action, to: next });
    if (next === "Sta1") this.finished();
  }

  // ---- ProviderPort: what the state machine's actions do ----------------------------------------

  startArtim(): void {
    this.stopArtim();
    this.artim = setTimeout(() => {
      this.artim = null;
      this.ending ??= "timeout";
      this.fire("Evt18");
    }, this.options.artimMs);
  }

  stopArtim(): void {
    if (this.artim) clearTimeout(this.artim);
    this.artim = null;
  }

  closeTransport(): void {
    this.socket.destroy();
  }

  sendAbort(source: "user" | "provider"): void {
    this.ending ??= "aborted";
    this.write(
      encodePdu({
        type: PduType.Abort,
        source: source === "user" ? AbortSource.ServiceUser : AbortSource.ServiceProvider,
        reason: source === "user" ? 0 : this.abortReason,
      }),
    );
    // After A-ABORT the peer closes; the ARTIM timer covers one that does not.
    this.socket.end();
  }

  indicate(what: "associate" | "data" | "discard" | "release" | "abort" | "closed"): void {
    switch (what) {
      case "associate":
        // The decision fires Evt7/Evt8, which must run after AE-6 has moved us to Sta3.
        queueMicrotask(() => this.decideAssociation());
        break;
      case "data":
        this.deliver = true;
        break;
      case "discard":
        this.deliver = false;
        break;
      case "release":
        // Answer the release only once every outstanding operation has been answered (PS3.8 7.2).
        this.chain = this.chain.then(() => {
          if (this.state === "Sta8") {
            this.ending ??= "released";
            this.fire("Evt14");
          }
        });
        break;
      case "abort":
        this.ending ??= "aborted";
        this.deliver = false;
        this.abortIncomplete();
        break;
      case "closed":
        break;
    }
  }

  sendAssociateAc(): void {
    if (this.ac) this.write(encodePdu(this.ac));
  }

  sendAssociateRj(): void {
    const r = this.rejection;
    if (r)
      this.write(
        encodePdu({ type: PduType.AssociateRj, result: r.result, source: r.source, reason: r.reason }),
      );
  }

  sendPData(): void {
    const queued = this.outgoing;
    this.outgoing = [];
    for (const b of queued) this.write(b);
  }

  sendReleaseRp(): void {
    this.write(encodePdu({ type: PduType.ReleaseRp }));
  }

  private write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  // ---- A-ASSOCIATE indication: the service user's decision (Evt7 / Evt8) -------------------------

  private decideAssociation(): void {
    const rq = this.rq;
    if (!rq) return;
    const remote = this.socket.remoteAddress;
    let pending: Admission | Promise<Admission>;
    try {
      pending = this.options.admit(rq, remote);
    } catch (err) {
      pending = Promise.reject(err);
    }
    if (!(pending instanceof Promise)) {
      this.decided(rq, pending);
      return;
    }
    pending.then(
      (admission) => this.decided(rq, admission),
      (err: Error) => {
        log.error("admission failed: {error}", { error: err });
        this.decided(rq, {
          result: RejectResult.Transient,
          source: RejectSource.ServiceUser,
          reason: RejectReason.NoReasonGiven,
          why: `internal error: ${err.message}`,
        });
      },
    );
  }

  private decided(rq: AssociateRqPdu, admission: Admission): void {
    // The peer may have aborted or gone away while the decision was being made (user identity).
    if (this.state !== "Sta3") return;
    const remote = this.socket.remoteAddress;
    if (!("tenant" in admission)) {
      this.rejection = admission;
      this.ending = "rejected";
      event(log, "warning", "association-rejected", {
        assoc: this.id,
        peer: `${remote}:${this.socket.remotePort}`,
        calling: rq.callingAeTitle,
        called: rq.calledAeTitle,
        result: admission.result,
        source: admission.source,
        reason: admission.reason,
        why: admission.why,
      });
      opsSink?.associationRejected(admission.result, admission.source, admission.reason);
      this.fire("Evt8");
      return;
    }
    const { ac, accepted } = negotiate(rq, this.options.policy);
    // Types 1 and 2 have no server response: the item is sent empty (PS3.7 D.3.3.7.2).
    if (admission.identityResponse) ac.userInformation.userIdentityAc = { serverResponse: new Uint8Array(0) };
    this.ac = ac;
    this.accepted = accepted;
    this.ctx = {
      id: this.id,
      tenant: admission.tenant,
      callingAe: rq.callingAeTitle,
      calledAe: rq.calledAeTitle,
      remoteAddress: remote,
      remotePort: this.socket.remotePort,
      user: admission.user ?? null,
      tlsSubject: this.socket.tlsSubject ?? null,
    };
    event(log, "info", "association-accepted", {
      assoc: this.id,
      peer: `${remote}:${this.socket.remotePort}`,
      calling: rq.callingAeTitle,
      called: rq.calledAeTitle,
      tenant: admission.tenant.id,
      user: admission.user ?? undefined,
      tls: this.socket.tlsSubject ?? undefined,
      contexts: `${accepted.size}/${rq.presentationContexts.length}`,
      peer_max_pdu: rq.userInformation.maxLength,
      impl: rq.userInformation.implementationVersionName ?? rq.userInformation.implementationClassUid,
    });
    opsSink?.associationAccepted({
      id: this.id,
      peer: `${remote}:${this.socket.remotePort}`,
      calling: rq.callingAeTitle,
      called: rq.calledAeTitle,
      tenant: admission.tenant.id,
    });
    this.fire("Evt7");
  }

  // ---- DIMSE ----------------------------------------------------------------------------------

  private beginOperation(contextId: number, cmd: CommandSet): Operation {
    const pc = this.accepted.get(contextId);
    const ctx = this.ctx;
    if (!pc || !ctx)
      throw new PduError("P-DATA before the association is established", AbortReason.UnexpectedPdu);
    this.outstanding += 1;
    const op = this.services.begin(cmd, ctx, pc.transferSyntax, pc.abstractSyntax, this.stats);
    if (op.data) op.data.onProgress = () => this.relieveBackpressure();
    return op;
  }

  private operationReady(contextId: number, op: Operation): void {
    // Start completing now (fsync, rename) so it overlaps with the next request; answer in order.
    const result = op.complete();
    this.relieveBackpressure();
    this.chain = this.chain
      .then(() => result)
      .then(
        (rsp) => {
          this.outstanding -= 1;
          if (rsp) this.sendResponse(contextId, rsp);
          try {
            op.afterResponse?.();
          } catch (err) {
            // Bookkeeping only: it must not hold up the responses that follow on this chain.
            log.error("after-response bookkeeping failed: {error}", { error: err });
          }
        },
        (err: Error) => {
          this.outstanding -= 1;
          log.error("operation failed without a response: {error}", { error: err });
        },
      );
  }

  private sendResponse(contextId: number, command: Uint8Array): void {
    if (this.state !== "Sta6" && this.state !== "Sta8") return;
    // Fragment to the peer's maximum PDU length (0 = unlimited), PS3.8 D.1.
    const peerMax = this.rq?.userInformation.maxLength ?? 0;
    const maxData = peerMax > 0 ? Math.max(1, peerMax - 6) : command.length;
    for (let pos = 0; pos < command.length || pos === 0; pos += maxData) {
      const part = command.subarray(pos, pos + maxData);
      const last = pos + maxData >= command.length;
      const header = encodePDataPdvHeader(contextId, true, last, part.length);
      const pdu = new Uint8Array(PDATA_PDV_HEADER_LENGTH + part.length);
      pdu.set(header, 0);
      pdu.set(part, PDATA_PDV_HEADER_LENGTH);
      this.outgoing.push(pdu);
      if (last) break;
    }
    this.fire("Evt9");
  }

  private applyBackpressure(): void {
    const sink = this.assembler.currentSink;
    if (!this.paused && sink && sink.pendingBytes > BACKPRESSURE_HIGH) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private relieveBackpressure(): void {
    if (!this.paused) return;
    const sink = this.assembler.currentSink;
    if (!sink || sink.pendingBytes < BACKPRESSURE_LOW) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private abortIncomplete(): void {
    const op = this.assembler.takeIncomplete();
    if (op) {
      this.outstanding -= 1;
      op.abort().catch((err: Error) =>
        log.error("cleanup of an aborted instance failed: {error}", { error: err }),
      );
    }
  }

  // ---- timers and the end ---------------------------------------------------------------------

  private armIdle(): void {
    const idle = this.options.idleMs;
    const check = (): void => {
      if (this.state === "Sta1") return;
      const quiet = Date.now() - this.lastActivity;
      if (this.state === "Sta6" && this.outstanding === 0 && quiet >= idle) {
        event(log, "warning", "idle-timeout", { assoc: this.id, seconds: Math.round(quiet / 1000) });
        this.abort("timeout");
        return;
      }
      this.idleTimer = setTimeout(check, Math.max(250, idle - quiet));
    };
    this.idleTimer = setTimeout(check, idle);
  }

  private finished(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.stopArtim();
    this.abortIncomplete();
    if (!this.socket.closed) this.socket.destroy();
    const ending = this.ending ?? (this.reader.idle ? "disconnected" : "aborted");
    this.chain.then(() => {
      if (this.ctx) {
        event(log, "info", "association-ended", {
          assoc: this.id,
          peer: `${this.ctx.remoteAddress}:${this.ctx.remotePort}`,
          calling: this.ctx.callingAe,
          called: this.ctx.calledAe,
          tenant: this.ctx.tenant.id,
          instances: this.stats.instances,
          failures: this.stats.failures,
          bytes: this.stats.bytes,
          ms: Math.round(performance.now() - this.started),
          ending,
        });
        opsSink?.associationEnded(this.id, ending);
      }
      this.resolveDone();
    });
  }
}
