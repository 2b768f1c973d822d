// A small association requestor, enough for `storescp echo` (C-ECHO SCU) and for tests that need a
// peer doing things DCMTK will not (odd PDUs, huge lengths). Not on the server's hot path.

import { connect, type Socket } from "node:net";
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from "../dicom/implementation.ts";
import { VERIFICATION_SOP_CLASS } from "../dicom/sop-classes.ts";
import { TS } from "../dicom/transfer-syntax.ts";
import {
  CommandField,
  type CommandSet,
  decodeCommandSet,
  encodeCommandSet,
  NO_DATA_SET,
  Tag,
} from "../dimse/command.ts";
import { encodePdu } from "../net/pdu/codec.ts";
import { PduReader } from "../net/pdu/reader.ts";
import {
  type AssociateAcPdu,
  DICOM_APPLICATION_CONTEXT,
  emptyUserInformation,
  type Pdu,
  PduType,
  type PresentationContextRqItem,
  type UserIdentityRq,
} from "../net/pdu/types.ts";
import { copyTransient } from "../util/transient-bytes.ts";

export class AssociationRejectedError extends Error {
  override readonly name = "AssociationRejectedError";
  constructor(
    readonly result: number,
    readonly source: number,
    readonly reason: number,
  ) {
    super(`association rejected (result ${result}, source ${source}, reason ${reason})`);
  }
}

type Incoming =
  | { kind: "pdu"; pdu: Pdu }
  | { kind: "command"; contextId: number; cmd: CommandSet }
  | { kind: "closed" };

/** One requestor association: connect, then request and await in turn. */
export class ClientAssociation {
  private queue: Incoming[] = [];
  private waiter: ((i: Incoming) => void) | null = null;
  private commandParts: Uint8Array[] = [];
  ac: AssociateAcPdu | null = null;

  private constructor(readonly socket: Socket) {
    const reader = new PduReader(
      {
        pdu: (pdu) => this.push({ kind: "pdu", pdu }),
        pdataStart: () => {},
        pdvData: (contextId, isCommand, isLast, chunk, pdvEnd) => {
          if (!isCommand) return;
          this.commandParts.push(copyTransient(chunk));
          if (isLast && pdvEnd) {
            const all = Buffer.concat(this.commandParts);
            this.commandParts = [];
            this.push({ kind: "command", contextId, cmd: decodeCommandSet(all) });
          }
        },
        pdataEnd: () => {},
      },
      { maxPDataLength: 0, maxOtherPduLength: 1024 * 1024 },
    );
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => reader.push(chunk));
    socket.on("close", () => this.push({ kind: "closed" }));
    socket.on("error", () => this.push({ kind: "closed" }));
  }

  /** `localAddress`: the address to connect from (tests that play several peers over loopback). */
  static connect(
    host: string,
    port: number,
    timeoutMs = 10_000,
    localAddress?: string,
  ): Promise<ClientAssociation> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true, ...(localAddress ? { localAddress } : {}) });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out`));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        resolve(new ClientAssociation(socket));
      });
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  private push(i: Incoming): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(i);
    } else this.queue.push(i);
  }

  next(timeoutMs = 30_000): Promise<Incoming> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error("no answer from the peer in time"));
      }, timeoutMs);
      this.waiter = (i) => {
        clearTimeout(timer);
        resolve(i);
      };
    });
  }

  send(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  async associate(
    calledAe: string,
    callingAe: string,
    contexts: PresentationContextRqItem[],
    maxLength = 131072,
    identity?: UserIdentityRq,
  ): Promise<AssociateAcPdu> {
    const ui = emptyUserInformation();
    ui.maxLength = maxLength;
    ui.implementationClassUid = IMPLEMENTATION_CLASS_UID;
    ui.implementationVersionName = IMPLEMENTATION_VERSION_NAME;
    if (identity) ui.userIdentityRq = identity;
    this.send(
      encodePdu({
        type: PduType.AssociateRq,
        protocolVersion: 1,
        calledAeTitle: calledAe,
        callingAeTitle: callingAe,
        applicationContext: DICOM_APPLICATION_CONTEXT,
        presentationContexts: contexts,
        userInformation: ui,
      }),
    );
    const answer = await this.next();
    if (answer.kind === "pdu" && answer.pdu.type === PduType.AssociateAc) {
      this.ac = answer.pdu;
      return answer.pdu;
    }
    if (answer.kind === "pdu" && answer.pdu.type === PduType.AssociateRj) {
      throw new AssociationRejectedError(answer.pdu.result, answer.pdu.source, answer.pdu.reason);
    }
    throw new Error(
      `unexpected answer to A-ASSOCIATE-RQ: ${answer.kind === "pdu" ? `PDU type ${answer.pdu.type}` : "connection closed"}`,
    );
  }

  /** Send a command (and optional data set) as single-PDV P-DATA-TF PDUs; returns the response command. */
  async request(
    contextId: number,
    command: Uint8Array,
    dataSet?: Uint8Array,
    maxPdv = 16_000,
  ): Promise<CommandSet> {
    this.send(
      encodePdu({
        type: PduType.PData,
        pdvs: [{ presentationContextId: contextId, isCommand: true, isLast: true, data: command }],
      }),
    );
    if (dataSet) {
      for (let pos = 0; pos < dataSet.length || pos === 0; pos += maxPdv) {
        const part = dataSet.subarray(pos, pos + maxPdv);
        const isLast = pos + maxPdv >= dataSet.length;
        this.send(
          encodePdu({
            type: PduType.PData,
            pdvs: [{ presentationContextId: contextId, isCommand: false, isLast, data: part }],
          }),
        );
        if (isLast) break;
      }
    }
    const answer = await this.next();
    if (answer.kind === "command") return answer.cmd;
    throw new Error(
      `unexpected answer to a request: ${answer.kind === "pdu" ? `PDU type ${answer.pdu.type}` : "connection closed"}`,
    );
  }

  /** C-STORE-RQ with its data set (already encoded in the context's transfer syntax); returns the response. */
  store(
    contextId: number,
    sopClassUid: string,
    sopInstanceUid: string,
    dataSet: Uint8Array,
    messageId = 1,
  ): Promise<CommandSet> {
    return this.request(
      contextId,
      encodeCommandSet([
        [Tag.AffectedSopClassUid, sopClassUid],
        [Tag.CommandField, CommandField.CStoreRq],
        [Tag.MessageId, messageId],
        [Tag.Priority, 0],
        [Tag.CommandDataSetType, 0],
        [Tag.AffectedSopInstanceUid, sopInstanceUid],
      ]),
      dataSet,
    );
  }

  async release(): Promise<void> {
    this.send(encodePdu({ type: PduType.ReleaseRq }));
    const answer = await this.next();
    this.socket.end();
    if (answer.kind !== "pdu" || answer.pdu.type !== PduType.ReleaseRp)
      throw new Error("release not confirmed");
  }

  close(): void {
    this.socket.destroy();
  }
}

/** C-ECHO: returns the status and the round-trip time of the whole exchange. */
export async function echo(
  host: string,
  port: number,
  calledAe: string,
  callingAe: string,
): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const assoc = await ClientAssociation.connect(host, port);
  try {
    const ac = await assoc.associate(calledAe, callingAe, [
      { id: 1, abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: [TS.ImplicitVRLittleEndian] },
    ]);
    if (ac.presentationContexts[0]?.result !== 0) throw new Error("Verification SOP Class not accepted");
    const rsp = await assoc.request(
      1,
      encodeCommandSet([
        [Tag.AffectedSopClassUid, VERIFICATION_SOP_CLASS],
        [Tag.CommandField, CommandField.CEchoRq],
        [Tag.MessageId, 1],
        [Tag.CommandDataSetType, NO_DATA_SET],
      ]),
    );
    await assoc.release();
    return { status: rsp.status ?? 0xffff, ms: performance.now() - started };
  } finally {
    assoc.close();
  }
}
