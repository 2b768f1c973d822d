// A careless or hostile peer, played over raw sockets (node:net, our own requestor): each attack
// returns what the SCP answered and how long it took to answer or close after the peer's last byte.
// Used by test/integration/hostile-peers.test.ts, which asserts the answers, and by bench/attacks.ts,
// which prints them as a table with each attack's peak RSS.

import { connect, type Socket } from "node:net";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { CommandField, encodeCommandSet, Tag } from "../../src/dimse/command.ts";
import { encodePdu } from "../../src/net/pdu/codec.ts";
import { PduType, UserIdentityType } from "../../src/net/pdu/types.ts";
import { AssociationRejectedError, ClientAssociation } from "../../src/scu/client.ts";
import {
  deepNesting,
  deflateNestingBomb,
  deflateZeroBomb,
  type Hostile,
  longModality,
  truncatedInPixelData,
  truncatedInSequence,
  wholeInstance,
} from "./hostile.ts";

const VERIFY = "1.2.840.10008.1.1";
const MiB = 1024 * 1024;

export interface AttackResult {
  /** What the SCP answered, e.g. "C000 truncated in (7FE0,0010)...", "A-ABORT", "RJ 2/3/2". */
  answer: string;
  /** From the peer's last byte to the answer (or the close). */
  ms: number;
}

export interface Peer {
  port: number;
  host?: string;
  /** Connect from this address (127.0.0.x: several peers over loopback). */
  from?: string;
  called?: string;
}

async function open(p: Peer): Promise<ClientAssociation> {
  return ClientAssociation.connect(p.host ?? "127.0.0.1", p.port, 10_000, p.from);
}

function storeCommand(h: Hostile, messageId = 1): Uint8Array {
  return encodeCommandSet([
    [Tag.AffectedSopClassUid, h.sopClassUid],
    [Tag.CommandField, CommandField.CStoreRq],
    [Tag.MessageId, messageId],
    [Tag.Priority, 0],
    [Tag.CommandDataSetType, 0],
    [Tag.AffectedSopInstanceUid, h.sopInstanceUid],
  ]);
}

function pdv(data: Uint8Array, isCommand: boolean, isLast: boolean): Uint8Array {
  return encodePdu({ type: PduType.PData, pdvs: [{ presentationContextId: 1, isCommand, isLast, data }] });
}

async function associateFor(a: ClientAssociation, p: Peer, h: Hostile): Promise<void> {
  await a.associate(p.called ?? "STORESCP", "HOSTILE", [
    { id: 1, abstractSyntax: h.sopClassUid, transferSyntaxes: [h.ts] },
  ]);
}

function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, "0");
}

/** Associate, send `h` as one C-STORE (its last PDV flagged last), release: the status and comment. */
export async function storeOne(p: Peer, h: Hostile): Promise<AttackResult & { status: number }> {
  const a = await open(p);
  try {
    await associateFor(a, p, h);
    const t0 = performance.now();
    const rsp = await a.store(1, h.sopClassUid, h.sopInstanceUid, h.bytes);
    const ms = performance.now() - t0;
    await a.release();
    const status = rsp.status ?? -1;
    const comment = rsp.string(Tag.ErrorComment);
    return { status, answer: `${hex4(status)}${comment ? ` ${comment}` : ""}`, ms };
  } finally {
    a.close();
  }
}

/** Wait for the server to end the association: A-ABORT (then the close), or just the close. */
async function ending(a: ClientAssociation, timeoutMs: number): Promise<string> {
  for (;;) {
    const n = await a.next(timeoutMs);
    if (n.kind === "closed") return "closed";
    if (n.kind === "pdu" && n.pdu.type === PduType.Abort) return "A-ABORT";
    if (n.kind === "pdu" && n.pdu.type === PduType.AssociateRj) {
      return `RJ ${n.pdu.result}/${n.pdu.source}/${n.pdu.reason}`;
    }
    if (n.kind === "command") return `response ${hex4(n.cmd.status ?? 0)}`;
  }
}

/** A C-STORE command and half of a whole data set, then silence: the SCP must end it by itself. */
export async function stallMidStore(p: Peer, timeoutMs = 60_000): Promise<AttackResult> {
  const h = wholeInstance(
    `1.2.826.0.1.3680043.8.498.${Date.now()}.${Math.floor(Math.random() * 1e6)}`,
    64 * 1024,
  );
  const a = await open(p);
  try {
    await associateFor(a, p, h);
    a.send(pdv(storeCommand(h), true, true));
    a.send(pdv(h.bytes.subarray(0, h.bytes.length >> 1), false, false));
    const t0 = performance.now();
    const answer = await ending(a, timeoutMs);
    return { answer, ms: performance.now() - t0 };
  } finally {
    a.close();
  }
}

/**
 * A C-STORE whose data set arrives one byte every `everyMs` (each byte its own P-DATA-TF): bytes keep
 * coming, far below any useful rate. The time is from the first trickled byte to the end.
 */
export async function trickle(p: Peer, everyMs: number, timeoutMs = 60_000): Promise<AttackResult> {
  const h = wholeInstance(`1.2.826.0.1.3680043.8.498.${Date.now()}.${Math.floor(Math.random() * 1e6)}`, 1024);
  const a = await open(p);
  let timer: ReturnType<typeof setInterval> | undefined;
  try {
    await associateFor(a, p, h);
    a.send(pdv(storeCommand(h), true, true));
    let at = 0;
    const t0 = performance.now();
    timer = setInterval(() => {
      if (at < h.bytes.length - 1) a.send(pdv(h.bytes.subarray(at, at + 1), false, false));
      at += 1;
    }, everyMs);
    const answer = await ending(a, timeoutMs);
    return { answer: `${answer} after ${at} bytes`, ms: performance.now() - t0 };
  } finally {
    clearInterval(timer);
    a.close();
  }
}

export interface IdentityAttempt {
  user: string;
  pass: string;
}

/** One A-ASSOCIATE-RQ (Verification) with user identity type 2: "AC" or "RJ r/s/r". */
export async function login(
  p: Peer,
  who: IdentityAttempt,
  hold = false,
): Promise<{ answer: string; ms: number; assoc?: ClientAssociation }> {
  const t0 = performance.now();
  let a: ClientAssociation | undefined;
  try {
    a = await open(p);
    await a.associate(
      p.called ?? "STORESCP",
      "LOGIN",
      [{ id: 1, abstractSyntax: VERIFY, transferSyntaxes: [TS.ImplicitVRLittleEndian] }],
      16384,
      {
        identityType: UserIdentityType.UsernameAndPasscode,
        positiveResponseRequested: false,
        primaryField: new TextEncoder().encode(who.user),
        secondaryField: new TextEncoder().encode(who.pass),
      },
    );
    const ms = performance.now() - t0;
    if (hold) return { answer: "AC", ms, assoc: a };
    a.close();
    return { answer: "AC", ms };
  } catch (e) {
    a?.close();
    const ms = performance.now() - t0;
    if (e instanceof AssociationRejectedError)
      return { answer: `RJ ${e.result}/${e.source}/${e.reason}`, ms };
    return { answer: "closed", ms };
  }
}

/** How many of each answer. */
export function tally(answers: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) out[a] = (out[a] ?? 0) + 1;
  return out;
}

/**
 * `n` connections at once, each sending the header of an A-ASSOCIATE-RQ that claims `claim` bytes and
 * then `send` bytes of it, and nothing more. Resolves once the server has closed every one (or the
 * timeout): how each ended, and when the last did. Sources cycle through `from`.
 */
export async function pendingFlood(
  port: number,
  n: number,
  claim: number,
  send: number,
  from: string[],
  timeoutMs = 60_000,
): Promise<AttackResult & { endings: Record<string, number> }> {
  const header = new Uint8Array(6 + send);
  header[0] = PduType.AssociateRq;
  new DataView(header.buffer).setUint32(2, claim);
  const endings: string[] = [];
  const sockets: Socket[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        new Promise<void>((resolve) => {
          const s = connect({ host: "127.0.0.1", port, localAddress: from[i % from.length] });
          sockets.push(s);
          let got = "closed";
          const timer = setTimeout(() => {
            got = "still open";
            s.destroy();
          }, timeoutMs);
          s.on("connect", () => s.write(header));
          s.on("data", (d: Buffer) => {
            if (d[0] === PduType.Abort) got = "A-ABORT";
          });
          s.on("error", () => {});
          s.on("close", () => {
            clearTimeout(timer);
            endings.push(got);
            resolve();
          });
        }),
    ),
  );
  return { answer: summary(tally(endings)), ms: performance.now() - t0, endings: tally(endings) };
}

export function summary(t: Record<string, number>): string {
  return Object.entries(t)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${v} ${k}`)
    .join(", ");
}

/** C-ECHO over our requestor from `from`: the status, or the error. */
export async function echoFrom(p: Peer): Promise<string> {
  const a = await open(p);
  try {
    await a.associate(p.called ?? "STORESCP", "ECHO", [
      { id: 1, abstractSyntax: VERIFY, transferSyntaxes: [TS.ImplicitVRLittleEndian] },
    ]);
    const rsp = await a.request(
      1,
      encodeCommandSet([
        [Tag.AffectedSopClassUid, VERIFY],
        [Tag.CommandField, CommandField.CEchoRq],
        [Tag.MessageId, 1],
        [Tag.CommandDataSetType, 0x0101],
      ]),
    );
    await a.release();
    return hex4(rsp.status ?? -1);
  } catch (e) {
    return e instanceof AssociationRejectedError ? `RJ ${e.result}/${e.source}/${e.reason}` : String(e);
  } finally {
    a.close();
  }
}

/**
 * `n` hostile associations at once, from four addresses (scp.max_associations_per_address is 32): data
 * sets cut short, nested too deep, deflate bombs, a stall, a trickle, one too long for a path (with
 * {modality} in storage.path; otherwise stored). Resolves with each one's answer.
 */
export async function hostileMix(port: number, n: number, sop: () => string): Promise<string[]> {
  const bomb = await deflateNestingBomb(sop());
  const zeros = deflateZeroBomb(sop(), 128);
  const peer = (i: number): Peer => ({ port, from: `127.0.0.${20 + (i % 4)}` });
  const kinds: Array<(i: number) => Promise<string>> = [
    async (i) => (await storeOne(peer(i), truncatedInPixelData(sop(), 50 * MiB, 4 * MiB))).answer,
    async (i) => (await storeOne(peer(i), truncatedInSequence(sop()))).answer,
    async (i) => (await storeOne(peer(i), deepNesting(sop()))).answer,
    async (i) => (await storeOne(peer(i), bomb)).answer,
    async (i) => (await storeOne(peer(i), zeros)).answer,
    async (i) => (await stallMidStore(peer(i))).answer,
    async (i) => (await trickle(peer(i), 500)).answer,
    async (i) => (await storeOne(peer(i), longModality(sop()))).answer,
  ];
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      (kinds[i % kinds.length] as (i: number) => Promise<string>)(i).catch((e: Error) => e.message),
    ),
  );
}
