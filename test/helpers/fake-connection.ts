// A connection without a socket, for in-process tests of the association layer: the test plays the
// peer (send, close) and reads what the association wrote as PDUs. Like Bun's transport it reports a
// close at once, from inside destroy(), and frees each chunk it delivers when its turn ends.

import { decodePdu, encodePdu } from "../../src/net/pdu/codec.ts";
import {
  type AssociateRqPdu,
  DICOM_APPLICATION_CONTEXT,
  emptyUserInformation,
  type Pdu,
  PduType,
} from "../../src/net/pdu/types.ts";
import type { Connection } from "../../src/net/transport.ts";
import { releaseChunk, type TransientBytes } from "../../src/util/transient-bytes.ts";

const noop = (): void => {};

export const VERIFICATION = "1.2.840.10008.1.1";
export const IMPLICIT_LE = "1.2.840.10008.1.2";
export const EXPLICIT_LE = "1.2.840.10008.1.2.1";
export const CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2";

export class FakeConnection implements Connection {
  readonly remoteAddress: string;
  readonly remotePort = 4242;
  readonly tlsSubject: string | null = null;
  onData: (chunk: TransientBytes) => void = noop;
  onClose: () => void = noop;
  onError: (err: Error) => void = noop;
  onDrain: () => void = noop;
  unsentBytes = 0;
  closed = false;
  /** end() was called: the association waits for the peer to close. */
  ended = false;
  paused = true;
  private readonly out: Uint8Array[] = [];

  constructor(remoteAddress = "127.0.0.1") {
    this.remoteAddress = remoteAddress;
  }

  write(bytes: Uint8Array): void {
    if (!this.closed) this.out.push(bytes.slice());
  }

  end(): void {
    this.ended = true;
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  // ---- the peer's side --------------------------------------------------------------------------

  /** Deliver bytes as one socket read: a buffer of its own, freed when the turn ends. */
  send(bytes: Uint8Array): void {
    const read = bytes.slice();
    this.onData(read);
    queueMicrotask(() => releaseChunk(read));
  }

  sendPdu(pdu: Pdu): void {
    this.send(encodePdu(pdu));
  }

  /** The peer closes its end. */
  peerCloses(): void {
    this.destroy();
  }

  /** Every PDU written so far, decoded. */
  get pdus(): Pdu[] {
    const all = Buffer.concat(this.out);
    const pdus: Pdu[] = [];
    let o = 0;
    while (o + 6 <= all.length) {
      const end = o + 6 + all.readUInt32BE(o + 2);
      pdus.push(decodePdu(all.subarray(o, end)));
      o = end;
    }
    return pdus;
  }

  /** The types of the PDUs written so far. */
  get pduTypes(): number[] {
    return this.pdus.map((p) => p.type);
  }
}

/** An A-ASSOCIATE-RQ proposing Verification and CT Image Storage, one transfer syntax each. */
export function associateRq(over: Partial<AssociateRqPdu> = {}): AssociateRqPdu {
  return {
    type: PduType.AssociateRq,
    protocolVersion: 1,
    calledAeTitle: "STORESCP",
    callingAeTitle: "SCU",
    applicationContext: DICOM_APPLICATION_CONTEXT,
    presentationContexts: [
      { id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] },
      { id: 3, abstractSyntax: CT_IMAGE, transferSyntaxes: [EXPLICIT_LE] },
    ],
    userInformation: { ...emptyUserInformation(), maxLength: 16384 },
    ...over,
  };
}

/** Resolves after the microtasks queued so far, and those they queue, have run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Polls until `ok` holds (timers of the association under test are real). */
export async function until(ok: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
