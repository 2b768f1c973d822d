import { afterEach, describe, expect, test } from "bun:test";
import { UpperLayerAssociation, type UpperLayerOptions } from "../../src/net/association.ts";
import type { AcceptedContext } from "../../src/net/negotiation.ts";
import { encodePdu } from "../../src/net/pdu/codec.ts";
import type { AssociateAcPdu, AssociateRjPdu, AssociateRqPdu } from "../../src/net/pdu/types.ts";
import { AbortReason, AbortSource, PduType } from "../../src/net/pdu/types.ts";
import { Rejection } from "../../src/net/rejections.ts";
import type { AssociateAnswer, Ending, ServiceUser } from "../../src/net/service-user.ts";
import { copyTransient, type TransientBytes } from "../../src/util/transient-bytes.ts";
import { associateRq, FakeConnection, settle, until } from "../helpers/fake-connection.ts";

const OPTIONS: UpperLayerOptions = {
  policy: { promiscuous: false, uncompressedOnly: false, maxPduLength: 16384 },
  strict: false,
  artimMs: 5000,
  idleMs: 5000,
  minRateBytesPerS: 0,
  bufferBytes: 1024 * 1024,
  maxRqBytes: 64 * 1024,
};

/** A service-user that answers as told and records what the association hands it (PDVs copied). */
class RecordingUser implements ServiceUser<string> {
  readonly calls: string[] = [];
  readonly pdvs: Array<{
    contextId: number;
    isCommand: boolean;
    isLast: boolean;
    data: Uint8Array;
    end: boolean;
  }> = [];
  contexts: ReadonlyMap<number, AcceptedContext> | null = null;
  ending: Ending | null = null;
  outstanding = 0;
  heldBytes = 0;
  betweenMessages = true;
  releaseGate: Promise<void> = Promise.resolve();

  constructor(private readonly answer: () => AssociateAnswer<string> | Promise<AssociateAnswer<string>>) {}

  associate(rq: AssociateRqPdu): AssociateAnswer<string> | Promise<AssociateAnswer<string>> {
    this.calls.push(`associate:${rq.callingAeTitle}`);
    return this.answer();
  }
  established(_rq: AssociateRqPdu, contexts: ReadonlyMap<number, AcceptedContext>, acceptance: string): void {
    this.calls.push(`established:${acceptance}`);
    this.contexts = contexts;
  }
  pdv = (
    contextId: number,
    isCommand: boolean,
    isLast: boolean,
    chunk: TransientBytes,
    end: boolean,
  ): void => {
    this.pdvs.push({ contextId, isCommand, isLast, data: copyTransient(chunk), end });
  };
  release(): Promise<void> {
    this.calls.push("release");
    return this.releaseGate;
  }
  dropIncomplete(): void {
    this.calls.push("dropIncomplete");
  }
  ended(ending: Ending): void {
    this.calls.push(`ended:${ending}`);
    this.ending = ending;
  }
}

const accept = (): AssociateAnswer<string> => ({ accepted: true, acceptance: "tenant-a" });

/** Connections of the test running: closed after it, so no association's timers outlive it. */
const connections: FakeConnection[] = [];
afterEach(() => {
  for (const c of connections.splice(0)) c.peerCloses();
});

function open(
  answer: () => AssociateAnswer<string> | Promise<AssociateAnswer<string>> = accept,
  options: Partial<UpperLayerOptions> = {},
) {
  const conn = new FakeConnection();
  connections.push(conn);
  const user = new RecordingUser(answer);
  const assoc = new UpperLayerAssociation(conn, user, { ...OPTIONS, ...options }, "T1");
  assoc.start();
  return { conn, user, assoc };
}

async function established(options: Partial<UpperLayerOptions> = {}) {
  const opened = open(accept, options);
  opened.conn.sendPdu(associateRq());
  await settle();
  expect(opened.assoc.state).toBe("Sta6");
  return opened;
}

describe("Upper Layer association over a fake connection", () => {
  test("accept: the A-ASSOCIATE-AC carries the negotiated contexts, the service-user learns them", async () => {
    const { conn, user, assoc } = await established();
    expect(conn.pduTypes).toEqual([PduType.AssociateAc]);
    const ac = conn.pdus[0] as AssociateAcPdu;
    expect(ac.presentationContexts.map((pc) => [pc.id, pc.result])).toEqual([
      [1, 0],
      [3, 0],
    ]);
    expect(user.calls).toEqual(["associate:SCU", "established:tenant-a"]);
    expect([...(user.contexts?.keys() ?? [])]).toEqual([1, 3]);
    expect(assoc.state).toBe("Sta6");
  });

  test("a decision that takes a while (a promise) is awaited in Sta3", async () => {
    let answer: (a: AssociateAnswer<string>) => void = () => {};
    const { conn, assoc } = open(() => new Promise((resolve) => (answer = resolve)));
    conn.sendPdu(associateRq());
    await settle();
    expect(assoc.state).toBe("Sta3");
    answer(accept());
    await settle();
    expect(conn.pduTypes).toEqual([PduType.AssociateAc]);
  });

  test("reject: A-ASSOCIATE-RJ with the service-user's result/source/reason, then closed by the peer", async () => {
    const { conn, user, assoc } = open(() => ({
      accepted: false,
      rejection: Rejection.CalledAeNotRecognized,
      why: "test",
    }));
    conn.sendPdu(associateRq());
    await settle();
    const rj = conn.pdus[0] as AssociateRjPdu;
    expect([rj.type, rj.result, rj.source, rj.reason]).toEqual([PduType.AssociateRj, 1, 1, 7]);
    expect(assoc.state).toBe("Sta13");
    conn.peerCloses();
    await settle();
    expect(user.ending).toBe("rejected");
  });

  test("a decision that fails is a transient rejection (2/1/1)", async () => {
    const { conn } = open(() => Promise.reject(new Error("boom")));
    conn.sendPdu(associateRq());
    await settle();
    const rj = conn.pdus[0] as AssociateRjPdu;
    expect([rj.result, rj.source, rj.reason]).toEqual([2, 1, 1]);
  });

  test("P-DATA: every PDV reaches the service-user in order, however the bytes are split", async () => {
    const { conn, user } = await established();
    const pdata = encodePdu({
      type: PduType.PData,
      pdvs: [
        { presentationContextId: 1, isCommand: true, isLast: true, data: Uint8Array.of(9, 8) },
        { presentationContextId: 3, isCommand: false, isLast: true, data: Uint8Array.of(7, 6) },
      ],
    });
    for (let i = 0; i < pdata.length; i++) conn.send(pdata.subarray(i, i + 1));
    await settle();
    const merged = new Map<string, number[]>();
    for (const p of user.pdvs) {
      const key = `${p.contextId}/${p.isCommand}/${p.isLast}`;
      merged.set(key, [...(merged.get(key) ?? []), ...p.data]);
    }
    expect([...merged]).toEqual([
      ["1/true/true", [9, 8]],
      ["3/false/true", [7, 6]],
    ]);
  });

  test("release: A-RELEASE-RP only once the service-user's outstanding work is answered", async () => {
    const { conn, user, assoc } = await established();
    let answered: () => void = () => {};
    user.releaseGate = new Promise((resolve) => (answered = resolve));
    conn.sendPdu({ type: PduType.ReleaseRq });
    await settle();
    expect(assoc.state).toBe("Sta8");
    expect(conn.pduTypes).toEqual([PduType.AssociateAc]);
    answered();
    await settle();
    expect(conn.pduTypes).toEqual([PduType.AssociateAc, PduType.ReleaseRp]);
    expect(assoc.state).toBe("Sta13");
    conn.peerCloses();
    await settle();
    expect(user.ending).toBe("released");
  });

  test("A-ABORT from the peer: the incomplete operation is dropped, the association ends", async () => {
    const { conn, user, assoc } = await established();
    conn.sendPdu({ type: PduType.Abort, source: AbortSource.ServiceUser, reason: 0 });
    await settle();
    expect(assoc.state).toBe("Sta1");
    expect(conn.closed).toBe(true);
    expect(user.calls).toContain("dropIncomplete");
    expect(user.ending).toBe("aborted-by-peer");
  });

  test("the transport closing unexpectedly is an A-P-ABORT indication", async () => {
    const { conn, user } = await established();
    conn.peerCloses();
    await settle();
    expect(user.calls).toContain("dropIncomplete");
    expect(user.ending).toBe("aborted");
  });

  test("ARTIM: no A-ASSOCIATE-RQ in time closes the connection without a word", async () => {
    const { conn, user } = open(accept, { artimMs: 30 });
    await until(() => user.ending !== null);
    expect(conn.closed).toBe(true);
    expect(conn.pduTypes).toEqual([]);
    expect(user.ending).toBe("timeout");
  });

  test("idle: an established association without progress is aborted (A-ABORT, service-user source)", async () => {
    const { conn, user } = await established({ idleMs: 60 });
    await until(() => conn.ended);
    const abort = conn.pdus.at(-1);
    expect(abort).toMatchObject({ type: PduType.Abort, source: AbortSource.ServiceUser });
    conn.peerCloses();
    await settle();
    expect(user.ending).toBe("timeout");
  });

  test("waiting for our answers is not idleness", async () => {
    const { conn, user, assoc } = await established({ idleMs: 60 });
    user.outstanding = 1;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(assoc.state).toBe("Sta6");
    expect(conn.ended).toBe(false);
    assoc.abort("aborted");
  });

  test("an unexpected PDU (A-ASSOCIATE-AC in Sta6) is answered with a provider A-ABORT (AA-8)", async () => {
    const { conn, user, assoc } = await established();
    conn.sendPdu({ ...(conn.pdus[0] as AssociateAcPdu) });
    await settle();
    expect(conn.pdus.at(-1)).toMatchObject({ type: PduType.Abort, source: AbortSource.ServiceProvider });
    expect(assoc.state).toBe("Sta13");
    expect(user.calls).toContain("dropIncomplete");
  });

  test("an unrecognized PDU type is a protocol error: A-ABORT with reason unrecognized-PDU", async () => {
    const { conn, assoc } = await established();
    conn.send(Uint8Array.of(0x09, 0, 0, 0, 0, 0));
    await settle();
    expect(conn.pdus.at(-1)).toMatchObject({
      type: PduType.Abort,
      source: AbortSource.ServiceProvider,
      reason: AbortReason.UnrecognizedPdu,
    });
    expect(assoc.state).toBe("Sta13");
  });

  test("P-DATA before the association is established: A-ABORT (AA-1), nothing delivered", async () => {
    const { conn, user, assoc } = open();
    conn.send(new Uint8Array([0x04, 0, 0, 0, 0, 8, 0, 0, 0, 4, 1, 0x03, 9, 8]));
    await settle();
    expect(conn.pdus.at(-1)).toMatchObject({ type: PduType.Abort, source: AbortSource.ServiceUser });
    expect(user.pdvs).toEqual([]);
    expect(assoc.state).toBe("Sta13");
  });

  test("backpressure: reading pauses while the service-user holds too much, resumes below a quarter", async () => {
    const { conn, user, assoc } = await established({ bufferBytes: 1000 });
    conn.resume();
    user.heldBytes = 2000;
    conn.send(new Uint8Array([0x04, 0, 0, 0, 0, 8, 0, 0, 0, 4, 3, 0x00, 1, 2]));
    expect(conn.paused).toBe(true);
    user.heldBytes = 300;
    assoc.relieveBackpressure();
    expect(conn.paused).toBe(true);
    user.heldBytes = 100;
    assoc.relieveBackpressure();
    expect(conn.paused).toBe(false);
  });

  test("a response goes out fragmented to the peer's maximum PDU length", async () => {
    const { conn, assoc } = await established();
    const command = new Uint8Array(40_000).fill(5);
    assoc.sendCommand(1, command);
    const pdatas = conn.pdus.filter((p) => p.type === PduType.PData);
    expect(pdatas.length).toBe(3);
    const bytes = pdatas.flatMap((p) => (p.type === PduType.PData ? p.pdvs.map((v) => v.data.length) : []));
    expect(bytes.reduce((a, b) => a + b, 0)).toBe(40_000);
    expect(pdatas.every((p) => p.type === PduType.PData && p.pdvs.every((v) => v.isCommand))).toBe(true);
  });
});
