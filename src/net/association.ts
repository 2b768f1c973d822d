// One association, acceptor side: owns the socket, feeds bytes to the PDU reader, runs every PDU and
// timer through the PS3.8 state machine (fsm.ts), and connects the negotiation and the DIMSE layer.
//
// Bounded in time in every state: until it is established the association has artimMs (the standard's
// ARTIM covers only the wait for the A-ASSOCIATE-RQ; here the decision on it, user identity included,
// is covered too); afterwards it is aborted when the peer makes no progress for idleMs, whatever it is
// in the middle of (an operation whose data set stops arriving included). Progress is a complete DIMSE
// message, a response sent, or data delivered at minRateBytesPerS on average since the last progress,
// so a peer trickling a byte now and then does not count as alive. Time the peer spends waiting for
// our answers is not its idleness. Bounded in memory: reading pauses while more than bufferBytes of
// received data are not on disk yet, while the peer leaves that much of our answers unread, and while
// MAX_OUTSTANDING operations are unanswered.

import { MessageAssembler } from "../dimse/assembler.ts";
import type { CommandSet } from "../dimse/command.ts";
import type { AssociationStats, DimseServices, Operation } from "../dimse/services.ts";
import { event, logger } from "../ops/log.ts";
import { opsSink } from "../ops/metrics.ts";
import type { Rejection, Tenant } from "../tenancy/tenants.ts";
import type { TransientBytes } from "../util/transient-bytes.ts";
import type { NetContext } from "./context.ts";
import { type Event, type ProviderPort, type State, transition } from "./fsm.ts";
import { type AcceptedContext, type NegotiationPolicy, negotiate } from "./negotiation.ts";
import { encodePdu } from "./pdu/codec.ts";
import { PduError } from "./pdu/errors.ts";
import { encodePDataPdvHeader, PDATA_PDV_HEADER_LENGTH } from "./pdu/pdata.ts";
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

/**
 * Operations of one association started and not yet answered. We answer an asynchronous operations
 * window of 1/1 (PS3.7 D.3.3.3): a conformant peer has one at a time; one that sends on regardless is
 * read no further until some are answered.
 */
const MAX_OUTSTANDING = 8;
/** How often the idle rule is checked at most (a timer per association, not per chunk). */
const IDLE_CHECK_MS = 1000;

export interface AssociationOptions {
  policy: NegotiationPolicy;
  strict: boolean;
  /** From the connection to the association being established (the ARTIM timeout). */
  artimMs: number;
  /** Without progress for this long, in any state, the association is aborted. */
  idleMs: number;
  /** Data arriving at this average rate since the last progress counts as progress (0: any byte). */
  minRateBytesPerS: number;
  /**
   * Received data not on disk yet (and answers the peer leaves unread) above this: reading pauses until
   * it is below a quarter of it.
   */
  bufferBytes: number;
  /** The largest A-ASSOCIATE-RQ (or other non-P-DATA PDU) read: buffered whole before it is decoded. */
  maxRqBytes: number;
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

export type Ending =
  | "released"
  | "aborted-by-peer"
  | "aborted"
  | "rejected"
  | "disconnected"
  | "timeout"
  | "dropped";

export class Association implements ProviderPort {
  state: State = "Sta1";
  readonly id: string;
  private readonly reader: PduReader;
  private readonly assembler: MessageAssembler;
  private artim: ReturnType<typeof setTimeout> | null = null;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private establishTimer: ReturnType<typeof setTimeout> | null = null;
  /** When the peer last made progress (see the header comment), and the bytes it sent since. */
  private lastProgress = Date.now();
  private bytesSinceProgress = 0;
  private readonly minBytesPerMs: number;
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
  /** When the connection was accepted (performance.now()). */
  readonly connectedAt = this.started;
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
    this.minBytesPerMs = options.minRateBytesPerS / 1000;
    this.reader = new PduReader(
      {
        pdu: (pdu) => this.onPdu(pdu),
        pdataStart: (length) => this.onPDataStart(length),
        pdvData: (contextId, isCommand, isLast, chunk, pdvEnd) => {
          if (!this.deliver) return;
          this.assembler.pdv(contextId, isCommand, isLast, chunk, pdvEnd);
          // Per piece, not per PDU: a PDU may be as long as the peer likes when strict is off.
          this.applyBackpressure();
        },
        pdataEnd: () => {},
      },
      {
        maxPDataLength: options.strict ? options.policy.maxPduLength : 0,
        maxOtherPduLength: options.maxRqBytes,
      },
    );
    this.assembler = new MessageAssembler({
      accepted: (id) => this.accepted.has(id),
      begin: (contextId, cmd) => this.beginOperation(contextId, cmd),
      ready: (contextId, op) => this.operationReady(contextId, op),
    });
    socket.onData = (chunk) => this.onData(chunk);
    socket.onDrain = () => this.relieveBackpressure();
    socket.onError = (err) => {
      if (!this.ending) event(log, "debug", "socket-error", { assoc: this.id, error: err.message });
    };
    socket.onClose = () => this.fire("Evt17");
  }

  /** Start the state machine on the accepted connection (Evt5). */
  start(): void {
    this.fire("Evt5");
    this.armIdle();
    this.establishTimer = setTimeout(() => {
      this.establishTimer = null;
      if (this.state !== "Sta2" && this.state !== "Sta3") return;
      event(log, "warning", "association-timeout", {
        assoc: this.id,
        peer: `${this.socket.remoteAddress}:${this.socket.remotePort}`,
        state: this.state,
        why: "not established within scp.artim_timeout_s",
      });
      this.abort("timeout");
    }, this.options.artimMs);
  }

  /** Local abort (idle timeout, shutdown): Evt15. */
  abort(why: Ending): void {
    if (this.state === "Sta1") return;
    this.ending ??= why;
    this.fire("Evt15");
  }

  /** Close the connection at once, without an A-ABORT (a pending connection made room for another). */
  drop(): void {
    if (this.state === "Sta1") return;
    this.ending ??= "dropped";
    this.socket.destroy();
  }

  get established(): boolean {
    return this.state === "Sta6" || this.state === "Sta8";
  }

  /** Still waiting for (the rest of) the A-ASSOCIATE-RQ. */
  get awaitingRequest(): boolean {
    return this.state === "Sta2";
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress;
  }

  /** Subject CN of the verified TLS client certificate, or null. */
  get tlsSubject(): string | null {
    return this.socket.tlsSubject ?? null;
  }

  // ---- bytes in -------------------------------------------------------------------------------

  private onData(chunk: TransientBytes): void {
    this.bytesSinceProgress += chunk.length;
    const now = Date.now();
    if (this.bytesSinceProgress >= this.minBytesPerMs * (now - this.lastProgress)) this.progress(now);
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
      this.stopEstablishTimer();
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
    this.stopEstablishTimer();
    this.progress(Date.now());
    this.fire("Evt7");
  }

  private stopEstablishTimer(): void {
    if (this.establishTimer) clearTimeout(this.establishTimer);
    this.establishTimer = null;
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
    // A whole request arrived: progress, however slowly its bytes came.
    this.progress(Date.now());
    // Start completing now (fsync, rename) so it overlaps with the next request; answer in order.
    const result = op.complete();
    this.applyBackpressure();
    this.relieveBackpressure();
    this.chain = this.chain
      .then(() => result)
      .then(
        (rsp) => {
          this.outstanding -= 1;
          if (rsp) this.sendResponse(contextId, rsp);
          // The peer waited for us: its clock starts again now.
          this.progress(Date.now());
          this.relieveBackpressure();
          try {
            op.afterResponse?.();
          } catch (err) {
            // Bookkeeping only: it must not hold up the responses that follow on this chain.
            log.error("after-response bookkeeping failed: {error}", { error: err });
          }
        },
        (err: Error) => {
          this.outstanding -= 1;
          this.relieveBackpressure();
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

  /** Pause reading while too much is held for this association (see the header comment). */
  private applyBackpressure(): void {
    if (this.paused) return;
    const sink = this.assembler.currentSink;
    if (
      (sink !== null && sink.pendingBytes > this.options.bufferBytes) ||
      this.outstanding > MAX_OUTSTANDING ||
      this.socket.unsentBytes > this.options.bufferBytes
    ) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private relieveBackpressure(): void {
    if (!this.paused) return;
    const low = this.options.bufferBytes / 4;
    const sink = this.assembler.currentSink;
    if (
      (sink === null || sink.pendingBytes < low) &&
      this.outstanding <= MAX_OUTSTANDING &&
      this.socket.unsentBytes < low
    ) {
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

  private progress(now: number): void {
    this.lastProgress = now;
    this.bytesSinceProgress = 0;
  }

  /**
   * Every operation the peer started has all its input, and the reader is between PDUs: the peer is
   * waiting for our answers, and that time is ours, not its idleness.
   */
  private get waitingForUs(): boolean {
    if (this.state === "Sta3") return true; // our decision on its A-ASSOCIATE-RQ (ARTIM bounds it)
    return this.outstanding > 0 && this.assembler.idle && this.reader.idle;
  }

  private armIdle(): void {
    const idle = this.options.idleMs;
    const check = (): void => {
      if (this.state === "Sta1") return;
      const now = Date.now();
      if (this.waitingForUs) this.progress(now);
      const quiet = now - this.lastProgress;
      if (quiet >= idle && this.state !== "Sta13") {
        event(log, "warning", "idle-timeout", {
          assoc: this.id,
          state: this.state,
          seconds: Math.round(quiet / 1000),
          bytes_since_progress: this.bytesSinceProgress,
          why:
            this.bytesSinceProgress > 0
              ? "data arriving slower than limits.min_rate_bytes_per_s"
              : "nothing received for scp.idle_timeout_s",
        });
        this.abort("timeout");
        return;
      }
      this.idleTimer = setTimeout(check, Math.min(IDLE_CHECK_MS, Math.max(50, idle - quiet)));
    };
    this.idleTimer = setTimeout(check, Math.min(IDLE_CHECK_MS, idle));
  }

  private finished(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.stopEstablishTimer();
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
