// Hostile and broken peers: random bytes, mutated and truncated PDUs, huge length fields, before and
// after the association is established. The server answers A-ABORT (or closes), never crashes, never
// allocates what a length field claims, and keeps serving a well-behaved peer.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { CommandField, encodeCommandSet, NO_DATA_SET, Tag } from "../../src/dimse/command.ts";
import { encodePdu } from "../../src/net/pdu/codec.ts";
import { DICOM_APPLICATION_CONTEXT, emptyUserInformation, PduType } from "../../src/net/pdu/types.ts";
import { ClientAssociation } from "../../src/scu/client.ts";
import { echoscu, type OurServerHandle, peakRss, startServer } from "../helpers/dcmtk.ts";

const VERIFY = "1.2.840.10008.1.1";
const IMPLICIT = "1.2.840.10008.1.2";

const validRq = encodePdu({
  type: PduType.AssociateRq,
  protocolVersion: 1,
  calledAeTitle: "STORESCP",
  callingAeTitle: "FUZZ",
  applicationContext: DICOM_APPLICATION_CONTEXT,
  presentationContexts: [{ id: 1, abstractSyntax: VERIFY, transferSyntaxes: [IMPLICIT] }],
  userInformation: { ...emptyUserInformation(), maxLength: 16384 },
});

const echoCommand = encodeCommandSet([
  [Tag.AffectedSopClassUid, VERIFY],
  [Tag.CommandField, CommandField.CEchoRq],
  [Tag.MessageId, 1],
  [Tag.CommandDataSetType, NO_DATA_SET],
]);

/** A P-DATA-TF with one command PDV (last fragment) on context 1. */
function commandPdu(command: Uint8Array): Uint8Array {
  return encodePdu({
    type: PduType.PData,
    pdvs: [{ presentationContextId: 1, isCommand: true, isLast: true, data: command }],
  });
}

/** validRq with raw bytes appended inside its User Information item (random sub-items). */
function rqWithUserItems(extra: Uint8Array): Uint8Array {
  let pos = 6 + 68;
  while (pos + 4 <= validRq.length && validRq[pos] !== 0x50) {
    pos += 4 + new DataView(validRq.buffer, validRq.byteOffset + pos + 2, 2).getUint16(0);
  }
  const out = new Uint8Array(validRq.length + extra.length);
  out.set(validRq, 0);
  out.set(extra, validRq.length);
  const v = new DataView(out.buffer);
  v.setUint32(2, out.length - 6);
  v.setUint16(pos + 2, v.getUint16(pos + 2) + extra.length);
  return out;
}

function header(type: number, length: number): Uint8Array {
  const b = new Uint8Array(6);
  b[0] = type;
  new DataView(b.buffer).setUint32(2, length >>> 0);
  return b;
}

type Outcome = "abort" | "reject" | "closed" | "response" | "other";

/** Send bytes (optionally after establishing an association) and see how the server ends it. */
async function probe(
  port: number,
  bytes: Uint8Array,
  established: boolean,
  closeAfter = false,
): Promise<Outcome> {
  const a = await ClientAssociation.connect("127.0.0.1", port);
  try {
    if (established)
      await a.associate("STORESCP", "FUZZ", [
        { id: 1, abstractSyntax: VERIFY, transferSyntaxes: [IMPLICIT] },
      ]);
    a.send(bytes);
    if (closeAfter) {
      a.socket.end();
      return "closed";
    }
    for (;;) {
      // An incomplete PDU leaves the server waiting for the rest (ARTIM and the idle timer bound that);
      // to keep the suite quick, the peer then hangs up, which must end the association cleanly.
      let next: Awaited<ReturnType<typeof a.next>>;
      try {
        next = await a.next(150);
      } catch {
        a.socket.end();
        next = await a.next(3000);
      }
      if (next.kind === "closed") return "closed";
      if (next.kind === "pdu" && next.pdu.type === PduType.Abort) return "abort";
      if (next.kind === "pdu" && next.pdu.type === PduType.AssociateRj) return "reject";
      if (next.kind === "pdu" && next.pdu.type === PduType.AssociateAc) continue; // random bytes may parse as a valid RQ
      if (next.kind === "command") return "response";
      return "other";
    }
  } catch (e) {
    return String(e).includes("no answer") ? "other" : "closed";
  } finally {
    a.close();
  }
}

let server: OurServerHandle;
beforeAll(async () => {
  server = await startServer({
    config: { storage: { min_free_mb: 1 }, scp: { artim_timeout_s: 2, idle_timeout_s: 2 } },
  });
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

describe("protocol robustness (fixed seed, bounded runs)", () => {
  test("huge length fields of every PDU type are answered with A-ABORT at once", async () => {
    for (const type of [1, 2, 3, 5, 6, 7, 9, 0xff]) {
      expect(await probe(server.port, header(type, 0xffffffff), false)).toBe("abort");
    }
    // After establishment too: an A-ASSOCIATE-RQ claiming 4 GiB, an unknown type.
    expect(await probe(server.port, header(1, 0xffffffff), true)).toBe("abort");
    expect(await probe(server.port, header(0x42, 12), true)).toBe("abort");
    // A P-DATA-TF whose single PDV claims 4 GiB but holds a few bytes: streamed, never allocated; the
    // peer then hanging up is an abort on our side, nothing is stored.
    const pdv = new Uint8Array([...header(4, 0xfffffff0), 0xff, 0xff, 0xff, 0xf0, 1, 0, 1, 2, 3]);
    expect(await probe(server.port, pdv, true, true)).toBe("closed");
    expect(peakRss(server.pid) ?? 0).toBeLessThan(300 * 1024 * 1024);
  });

  test("random bytes, before and after association: A-ABORT, reject or close, never anything else", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.boolean(),
        async (bytes, established) => {
          const outcome = await probe(server.port, bytes, established);
          expect(["abort", "reject", "closed"]).toContain(outcome);
        },
      ),
      { seed: 20261127, numRuns: 100 },
    );
  }, 120_000);

  test("mutated and truncated A-ASSOCIATE-RQs", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: validRq.length - 1 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 1, max: validRq.length }),
        async (pos, value, cut) => {
          const mutated = validRq.slice(0, cut);
          if (pos < mutated.length) mutated[pos] = value;
          const outcome = await probe(server.port, mutated, false, cut < validRq.length && pos >= cut);
          expect(["abort", "reject", "closed"]).toContain(outcome);
        },
      ),
      { seed: 7, numRuns: 100 },
    );
  }, 120_000);

  test("random and mutated command sets on an established association: a response, A-ABORT or close", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 400 }), async (bytes) => {
        const outcome = await probe(server.port, commandPdu(bytes), true);
        expect(["abort", "closed", "response"]).toContain(outcome);
      }),
      { seed: 5150, numRuns: 60 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: echoCommand.length - 1 }),
        fc.integer({ min: 0, max: 255 }),
        async (pos, value) => {
          const mutated = echoCommand.slice();
          mutated[pos] = value;
          const outcome = await probe(server.port, commandPdu(mutated), true);
          expect(["abort", "closed", "response"]).toContain(outcome);
        },
      ),
      { seed: 99, numRuns: 60 },
    );
  }, 120_000);

  test("random User Information sub-items (user identity included): accept, reject or A-ABORT", async () => {
    const subItem = fc
      .record({
        type: fc.constantFrom(0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x77),
        body: fc.uint8Array({ maxLength: 80 }),
        lie: fc.integer({ min: -3, max: 3 }),
      })
      .map(({ type, body, lie }) => {
        const len = Math.max(0, Math.min(0xffff, body.length + lie));
        return new Uint8Array([type, 0, len >> 8, len & 0xff, ...body]);
      });
    await fc.assert(
      fc.asyncProperty(fc.array(subItem, { maxLength: 4 }), async (items) => {
        const extra = new Uint8Array(items.reduce((n, i) => n + i.length, 0));
        let at = 0;
        for (const i of items) {
          extra.set(i, at);
          at += i.length;
        }
        const outcome = await probe(server.port, rqWithUserItems(extra), false);
        expect(["abort", "reject", "closed", "other"]).toContain(outcome);
      }),
      { seed: 31337, numRuns: 80 },
    );
  }, 120_000);

  test("after all that, a well-behaved peer is served and memory stayed bounded", async () => {
    expect((await echoscu({ port: server.port, repeat: 2 })).statuses).toEqual([0, 0]);
    expect(peakRss(server.pid) ?? 0).toBeLessThan(300 * 1024 * 1024);
    expect(server.output()).not.toMatch(/unexpected failure/);
  });
});
