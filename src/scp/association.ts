// One association of the Storage SCP: the service-user of an Upper Layer association
// (src/net/association.ts). It has the A-ASSOCIATE-RQ decided (admission.ts), assembles the PDVs the
// Upper Layer delivers into DIMSE messages (src/dimse/assembler.ts), starts the operation each request
// asks for (src/scp/services.ts), and sends the responses in request order, each as soon as its
// operation and all before it are done.

import { MessageAssembler } from "../dimse/assembler.ts";
import type { CommandSet } from "../dimse/command.ts";
import type { Operation } from "../dimse/operation.ts";
import { UpperLayerAssociation, type UpperLayerOptions } from "../net/association.ts";
import type { AcceptedContext } from "../net/negotiation.ts";
import { PduError } from "../net/pdu/errors.ts";
import { AbortReason, type AssociateRqPdu } from "../net/pdu/types.ts";
import type { Ending, ServiceUser } from "../net/service-user.ts";
import type { Connection } from "../net/transport.ts";
import { event, logger } from "../ops/log.ts";
import { opsSink } from "../ops/metrics.ts";
import type { AssociationContext } from "../tenancy/context.ts";
import type { TransientBytes } from "../util/transient-bytes.ts";
import type { AdmissionDecision, Admitted } from "./admission.ts";
import type { AssociationStats, DimseServices } from "./services.ts";

const log = logger("assoc");

export interface ScpAssociationOptions extends UpperLayerOptions {
  /**
   * Decide whether this A-ASSOCIATE-RQ may proceed (tenant, limits, disk, user identity). May take a
   * while (scrypt), so it may be a promise.
   */
  admit(rq: AssociateRqPdu, remoteAddress: string): AdmissionDecision | Promise<AdmissionDecision>;
}

export class ScpAssociation implements ServiceUser<Admitted> {
  private readonly upper: UpperLayerAssociation<Admitted>;
  private readonly assembler: MessageAssembler;
  private accepted: ReadonlyMap<number, AcceptedContext> = new Map();
  private ctx: AssociationContext | null = null;
  /** Responses go out in request order, each as soon as its operation and all before it are done. */
  private chain: Promise<void> = Promise.resolve();
  outstanding = 0;
  private readonly stats: AssociationStats = { instances: 0, failures: 0, bytes: 0 };
  private resolveDone!: () => void;
  /** Resolves when the association is over and every operation has finished. */
  readonly done = new Promise<void>((r) => {
    this.resolveDone = r;
  });

  constructor(
    socket: Connection,
    private readonly services: DimseServices,
    private readonly options: ScpAssociationOptions,
    id: string,
  ) {
    this.assembler = new MessageAssembler({
      accepted: (contextId) => this.accepted.has(contextId),
      begin: (contextId, cmd) => this.beginOperation(contextId, cmd),
      ready: (contextId, op) => this.operationReady(contextId, op),
    });
    this.upper = new UpperLayerAssociation(socket, this, options, id);
  }

  get id(): string {
    return this.upper.id;
  }

  /** When the connection was accepted (performance.now()). */
  get connectedAt(): number {
    return this.upper.connectedAt;
  }

  get remoteAddress(): string {
    return this.upper.remoteAddress;
  }

  /** Subject CN of the verified TLS client certificate, or null. */
  get tlsSubject(): string | null {
    return this.upper.tlsSubject;
  }

  /** Start on the accepted connection. */
  start(): void {
    this.upper.start();
  }

  /** Local abort (shutdown). */
  abort(why: Ending): void {
    this.upper.abort(why);
  }

  /** Close the connection at once, without an A-ABORT (a pending connection made room for another). */
  drop(): void {
    this.upper.drop();
  }

  // ---- ServiceUser ----------------------------------------------------------------------------

  associate(rq: AssociateRqPdu): AdmissionDecision | Promise<AdmissionDecision> {
    return this.options.admit(rq, this.upper.remoteAddress);
  }

  established(rq: AssociateRqPdu, contexts: ReadonlyMap<number, AcceptedContext>, admitted: Admitted): void {
    const upper = this.upper;
    this.accepted = contexts;
    this.ctx = {
      id: this.id,
      tenant: admitted.tenant,
      callingAe: rq.callingAeTitle,
      calledAe: rq.calledAeTitle,
      remoteAddress: upper.remoteAddress,
      remotePort: upper.remotePort,
      user: admitted.user,
      tlsSubject: upper.tlsSubject,
    };
    event(log, "info", "association-accepted", {
      assoc: this.id,
      peer: upper.peer,
      calling: rq.callingAeTitle,
      called: rq.calledAeTitle,
      tenant: admitted.tenant.id,
      user: admitted.user ?? undefined,
      tls: upper.tlsSubject ?? undefined,
      contexts: `${contexts.size}/${rq.presentationContexts.length}`,
      peer_max_pdu: rq.userInformation.maxLength,
      impl: rq.userInformation.implementationVersionName ?? rq.userInformation.implementationClassUid,
    });
    opsSink?.associationAccepted({
      id: this.id,
      peer: upper.peer,
      calling: rq.callingAeTitle,
      called: rq.calledAeTitle,
      tenant: admitted.tenant.id,
    });
  }

  pdv(contextId: number, isCommand: boolean, isLast: boolean, chunk: TransientBytes, pdvEnd: boolean): void {
    this.assembler.pdv(contextId, isCommand, isLast, chunk, pdvEnd);
  }

  release(): Promise<void> {
    return this.chain;
  }

  dropIncomplete(): void {
    const op = this.assembler.takeIncomplete();
    if (op) {
      this.outstanding -= 1;
      op.abort().catch((err: Error) =>
        log.error("cleanup of an aborted instance failed: {error}", { error: err }),
      );
    }
  }

  ended(ending: Ending): void {
    this.chain.then(() => {
      const ctx = this.ctx;
      if (ctx) {
        event(log, "info", "association-ended", {
          assoc: this.id,
          peer: `${ctx.remoteAddress}:${ctx.remotePort}`,
          calling: ctx.callingAe,
          called: ctx.calledAe,
          tenant: ctx.tenant.id,
          instances: this.stats.instances,
          failures: this.stats.failures,
          bytes: this.stats.bytes,
          ms: Math.round(performance.now() - this.upper.connectedAt),
          ending,
        });
        opsSink?.associationEnded(this.id, ending);
      }
      this.resolveDone();
    });
  }

  get heldBytes(): number {
    return this.assembler.currentSink?.pendingBytes ?? 0;
  }

  get betweenMessages(): boolean {
    return this.assembler.idle;
  }

  // ---- DIMSE ----------------------------------------------------------------------------------

  private beginOperation(contextId: number, cmd: CommandSet): Operation {
    const pc = this.accepted.get(contextId);
    const ctx = this.ctx;
    if (!pc || !ctx)
      throw new PduError("P-DATA before the association is established", AbortReason.UnexpectedPdu);
    this.outstanding += 1;
    const op = this.services.begin(cmd, ctx, pc.transferSyntax, pc.abstractSyntax, this.stats);
    if (op.data) op.data.onProgress = () => this.upper.relieveBackpressure();
    return op;
  }

  private operationReady(contextId: number, op: Operation): void {
    const upper = this.upper;
    // A whole request arrived: progress, however slowly its bytes came.
    upper.noteProgress();
    // Start completing now (fsync, rename) so it overlaps with the next request; answer in order.
    const result = op.complete();
    upper.applyBackpressure();
    upper.relieveBackpressure();
    this.chain = this.chain
      .then(() => result)
      .then(
        (rsp) => {
          this.outstanding -= 1;
          if (rsp) upper.sendCommand(contextId, rsp);
          // The peer waited for us: its clock starts again now.
          upper.noteProgress();
          upper.relieveBackpressure();
          try {
            op.afterResponse?.();
          } catch (err) {
            // Bookkeeping only: it must not hold up the responses that follow on this chain.
            log.error("after-response bookkeeping failed: {error}", { error: err });
          }
        },
        (err: Error) => {
          this.outstanding -= 1;
          upper.relieveBackpressure();
          log.error("operation failed without a response: {error}", { error: err });
        },
      );
  }
}
