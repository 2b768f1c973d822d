// One association, acceptor side, as the Upper Layer runs it: owns the connection, feeds its bytes to
// the PDU reader, runs every PDU and timer through the PS3.8 state machine (fsm.ts), negotiates the
// presentation contexts, and hands its service-user (service-user.ts) the A-ASSOCIATE indication, the
// PDVs of P-DATA and the release and abort indications.
//
// Bounded in time in every state: until it is established the association has artimMs (the standard's
// ARTIM covers only the wait for the A-ASSOCIATE-RQ; here the decision on it, user identity included,
// is covered too); afterwards it is aborted when the peer makes no progress for idleMs, whatever it is
// in the middle of (an operation whose data set stops arriving included; progress.ts says what counts
// as progress). Time the peer spends waiting for our answers is not its idleness. Bounded in memory:
// reading pauses while more than bufferBytes of received data are not on disk yet, while the peer
// leaves that much of our answers unread, and while MAX_OUTSTANDING operations are unanswered.

import { event, logger } from "../ops/log.ts";
import { opsSink } from "../ops/metrics.ts";
import type { TransientBytes } from "../util/transient-bytes.ts";
import { type Event, type ProviderPort, type State, transition } from "./fsm.ts";
import { type NegotiationPolicy, negotiate } from "./negotiation.ts";
import { encodePdu } from "./pdu/codec.ts";
import { PduError } from "./pdu/errors.ts";
import { encodeCommandPdus } from "./pdu/pdata.ts";
import { PduReader } from "./pdu/reader.ts";
import {
  AbortReason,
  AbortSource,
  type AssociateAcPdu,
  type AssociateRqPdu,
  type PDataPdu,
  type Pdu,
  PduType,
} from "./pdu/types.ts";
import { ProgressClock } from "./progress.ts";
import { type AssociateRejection, Rejection } from "./rejections.ts";
import type { AssociateAnswer, Ending, ServiceUser } from "./service-user.ts";
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

export interface UpperLayerOptions {
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
}

export class UpperLayerAssociation<A> implements ProviderPort {
  state: State = "Sta1";
  private readonly reader: PduReader;
  private artim: ReturnType<typeof setTimeout> | null = null;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private establishTimer: ReturnType<typeof setTimeout> | null = null;
  /** When the peer last made progress (see the header comment), and the bytes it sent since. */
  private readonly clock: ProgressClock;
  /** Set by DT-2 for the P-DATA-TF being read: deliver its PDVs, or (AA-6) drop them. */
  private deliver = false;
  private rq: AssociateRqPdu | null = null;
  private ac: AssociateAcPdu | null = null;
  private rejection: AssociateRejection | null = null;
  private abortReason: number = AbortReason.NotSpecified;
  private outgoing: Uint8Array[] = [];
  private paused = false;
  private ending: Ending | null = null;
  /** A transition is running (see fire). */
  private firing = false;
  /** When the connection was accepted (performance.now()). */
  readonly connectedAt = performance.now();

  constructor(
    private readonly socket: Connection,
    private readonly user: ServiceUser<A>,
    private readonly options: UpperLayerOptions,
    readonly id: string,
  ) {
    this.clock = new ProgressClock(options.minRateBytesPerS);
    this.reader = new PduReader(
      {
        pdu: (pdu) => this.onPdu(pdu),
        pdataStart: (length) => this.onPDataStart(length),
        pdvData: (contextId, isCommand, isLast, chunk, pdvEnd) => {
          if (!this.deliver) return;
          this.user.pdv(contextId, isCommand, isLast, chunk, pdvEnd);
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
        peer: this.peer,
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

  get remoteAddress(): string {
    return this.socket.remoteAddress;
  }

  get remotePort(): number {
    return this.socket.remotePort;
  }

  /** address:port, as log lines name the peer. */
  get peer(): string {
    return `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }

  /** Subject CN of the verified TLS client certificate, or null. */
  get tlsSubject(): string | null {
    return this.socket.tlsSubject ?? null;
  }

  /** The peer made progress (a whole message arrived, or it was answered): its idle clock restarts. */
  noteProgress(): void {
    this.clock.progress();
  }

  /** P-DATA request primitive: send a command set, fragmented to the peer's maximum PDU length. */
  sendCommand(contextId: number, command: Uint8Array): void {
    if (this.state !== "Sta6" && this.state !== "Sta8") return;
    const peerMax = this.rq?.userInformation.maxLength ?? 0;
    for (const pdu of encodeCommandPdus(contextId, command, peerMax)) this.outgoing.push(pdu);
    this.fire("Evt9");
  }

  /** Pause reading while too much is held for this association (see the header comment). */
  applyBackpressure(): void {
    if (this.paused) return;
    if (
      this.user.heldBytes > this.options.bufferBytes ||
      this.user.outstanding > MAX_OUTSTANDING ||
      this.socket.unsentBytes > this.options.bufferBytes
    ) {
      this.paused = true;
      this.socket.pause();
    }
  }

  /** Read again once what is held has fallen to a quarter of the bound. */
  relieveBackpressure(): void {
    if (!this.paused) return;
    const low = this.options.bufferBytes / 4;
    if (
      this.user.heldBytes < low &&
      this.user.outstanding <= MAX_OUTSTANDING &&
      this.socket.unsentBytes < low
    ) {
      this.paused = false;
      this.socket.resume();
    }
  }

  // ---- bytes in -------------------------------------------------------------------------------

  private onData(chunk: TransientBytes): void {
    this.clock.received(chunk.length);
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
    this.socket.write(
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
        this.user.release().then(() => {
          if (this.state === "Sta8") {
            this.ending ??= "released";
            this.fire("Evt14");
          }
        });
        break;
      case "abort":
        this.ending ??= "aborted";
        this.deliver = false;
        this.user.dropIncomplete();
        break;
      case "closed":
        break;
    }
  }

  sendAssociateAc(): void {
    if (this.ac) this.socket.write(encodePdu(this.ac));
  }

  sendAssociateRj(): void {
    const r = this.rejection;
    if (r)
      this.socket.write(
        encodePdu({ type: PduType.AssociateRj, result: r.result, source: r.source, reason: r.reason }),
      );
  }

  sendPData(): void {
    const queued = this.outgoing;
    this.outgoing = [];
    for (const b of queued) this.socket.write(b);
  }

  sendReleaseRp(): void {
    this.socket.write(encodePdu({ type: PduType.ReleaseRp }));
  }

  // ---- A-ASSOCIATE indication: the service-user's decision (Evt7 / Evt8) -------------------------

  private decideAssociation(): void {
    const rq = this.rq;
    if (!rq) return;
    let pending: AssociateAnswer<A> | Promise<AssociateAnswer<A>>;
    try {
      pending = this.user.associate(rq);
    } catch (err) {
      pending = Promise.reject(err);
    }
    if (!(pending instanceof Promise)) {
      this.decided(rq, pending);
      return;
    }
    pending.then(
      (answer) => this.decided(rq, answer),
      (err: Error) => {
        log.error("admission failed: {error}", { error: err });
        this.decided(rq, {
          accepted: false,
          rejection: Rejection.TransientNoReason,
          why: `internal error: ${err.message}`,
        });
      },
    );
  }

  private decided(rq: AssociateRqPdu, answer: AssociateAnswer<A>): void {
    // The peer may have aborted or gone away while the decision was being made (user identity).
    if (this.state !== "Sta3") return;
    if (!answer.accepted) {
      const { result, source, reason } = answer.rejection;
      this.rejection = answer.rejection;
      this.ending = "rejected";
      event(log, "warning", "association-rejected", {
        assoc: this.id,
        peer: this.peer,
        calling: rq.callingAeTitle,
        called: rq.calledAeTitle,
        result,
        source,
        reason,
        why: answer.why,
      });
      opsSink?.associationRejected(result, source, reason);
      this.stopEstablishTimer();
      this.fire("Evt8");
      return;
    }
    const { ac, accepted } = negotiate(rq, this.options.policy);
    // Types 1 and 2 have no server response: the item is sent empty (PS3.7 D.3.3.7.2).
    if (answer.identityResponse) ac.userInformation.userIdentityAc = { serverResponse: new Uint8Array(0) };
    this.ac = ac;
    this.user.established(rq, accepted, answer.acceptance);
    this.stopEstablishTimer();
    this.noteProgress();
    this.fire("Evt7");
  }

  private stopEstablishTimer(): void {
    if (this.establishTimer) clearTimeout(this.establishTimer);
    this.establishTimer = null;
  }

  // ---- timers and the end ---------------------------------------------------------------------

  /**
   * Every operation the peer started has all its input, and the reader is between PDUs: the peer is
   * waiting for our answers, and that time is ours, not its idleness.
   */
  private get waitingForUs(): boolean {
    if (this.state === "Sta3") return true; // our decision on its A-ASSOCIATE-RQ (ARTIM bounds it)
    return this.user.outstanding > 0 && this.user.betweenMessages && this.reader.idle;
  }

  private armIdle(): void {
    const idle = this.options.idleMs;
    const check = (): void => {
      if (this.state === "Sta1") return;
      const now = Date.now();
      if (this.waitingForUs) this.clock.progress(now);
      const quiet = this.clock.quietFor(now);
      if (quiet >= idle && this.state !== "Sta13") {
        event(log, "warning", "idle-timeout", {
          assoc: this.id,
          state: this.state,
          seconds: Math.round(quiet / 1000),
          bytes_since_progress: this.clock.bytesSinceProgress,
          why:
            this.clock.bytesSinceProgress > 0
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
    this.user.dropIncomplete();
    if (!this.socket.closed) this.socket.destroy();
    this.user.ended(this.ending ?? (this.reader.idle ? "disconnected" : "aborted"));
  }
}
