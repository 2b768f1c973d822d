import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import fc from "fast-check";
import { defaultConfig } from "../../src/config/defaults.ts";
import {
  CommandField,
  decodeCommandSet,
  encodeCommandSet,
  NO_DATA_SET,
  Tag,
} from "../../src/dimse/command.ts";
import { encodePdu } from "../../src/net/pdu/codec.ts";
import { PduType } from "../../src/net/pdu/types.ts";
import { Rejection } from "../../src/net/rejections.ts";
import type { AdmissionDecision } from "../../src/scp/admission.ts";
import { ScpAssociation, type ScpAssociationOptions } from "../../src/scp/association.ts";
import { DimseServices } from "../../src/scp/services.ts";
import { Storage } from "../../src/store/storage.ts";
import { TenantDirectory } from "../../src/tenancy/tenants.ts";
import { encode } from "../dicom/encode.ts";
import { richDataSet, SOP_CLASS, SOP_INSTANCE } from "../dicom/fixture.ts";
import { associateRq, FakeConnection, settle, until, VERIFICATION } from "../helpers/fake-connection.ts";
import { storePipeline } from "../helpers/pipeline.ts";

const dir = mkdtempSync(join(tmpdir(), "scp-assoc-"));
afterAll(async () => {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

const config = defaultConfig();
config.storage.root = join(dir, "data");
const tenant = new TenantDirectory(config).tenants[0]!;
const storage = new Storage({
  fsync: false,
  onDuplicate: "overwrite",
  minFreeMb: 0,
  quarantineDir: join(dir, "quarantine"),
});
const services = new DimseServices(storePipeline(storage));
const dataSet = encode(richDataSet(100_000), "explicitLE");
const admitted: AdmissionDecision = { accepted: true, acceptance: { tenant, user: null } };

const connections: FakeConnection[] = [];
afterEach(() => {
  for (const c of connections.splice(0)) c.peerCloses();
});

function open(admit: ScpAssociationOptions["admit"] = () => admitted) {
  const conn = new FakeConnection();
  connections.push(conn);
  const assoc = new ScpAssociation(
    conn,
    services,
    {
      policy: { promiscuous: false, uncompressedOnly: false, maxPduLength: 16384 },
      strict: false,
      artimMs: 5000,
      idleMs: 5000,
      minRateBytesPerS: 0,
      bufferBytes: 4 * 1024 * 1024,
      maxRqBytes: 64 * 1024,
      admit,
    },
    "T1",
  );
  assoc.start();
  return { conn, assoc };
}

async function established() {
  const opened = open();
  opened.conn.sendPdu(associateRq());
  await settle();
  expect(opened.conn.pduTypes).toEqual([PduType.AssociateAc]);
  return opened;
}

const echoRq = encodeCommandSet([
  [Tag.AffectedSopClassUid, VERIFICATION],
  [Tag.CommandField, CommandField.CEchoRq],
  [Tag.MessageId, 7],
  [Tag.CommandDataSetType, NO_DATA_SET],
]);

const storeRq = encodeCommandSet([
  [Tag.AffectedSopClassUid, SOP_CLASS],
  [Tag.CommandField, CommandField.CStoreRq],
  [Tag.MessageId, 8],
  [Tag.Priority, 0],
  [Tag.CommandDataSetType, 0],
  [Tag.AffectedSopInstanceUid, SOP_INSTANCE],
]);

/** A message as P-DATA-TF PDUs, its bytes cut into PDVs of `pdvSize`. */
function pdata(contextId: number, bytes: Uint8Array, isCommand: boolean, pdvSize: number): Uint8Array {
  const pdus: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += pdvSize) {
    const data = bytes.subarray(o, o + pdvSize);
    const isLast = o + pdvSize >= bytes.length;
    pdus.push(
      encodePdu({
        type: PduType.PData,
        pdvs: [{ presentationContextId: contextId, isCommand, isLast, data }],
      }),
    );
  }
  return Buffer.concat(pdus);
}

/** Deliver `stream` in socket reads at the given cut points, a turn each. */
async function sendInReads(conn: FakeConnection, stream: Uint8Array, cuts: number[]): Promise<void> {
  const at = [...new Set(cuts.map((c) => c % stream.length))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...at, stream.length]) {
    if (to > from) conn.send(stream.subarray(from, to));
    from = to;
    await settle();
  }
}

function responses(conn: FakeConnection) {
  return conn.pdus
    .filter((p) => p.type === PduType.PData)
    .map((p) =>
      p.type === PduType.PData ? decodeCommandSet(Buffer.concat(p.pdvs.map((v) => v.data))) : null,
    );
}

describe("SCP association over a fake connection", () => {
  test("admission decides on the RQ and the peer's address; its rejection goes out as the A-ASSOCIATE-RJ", async () => {
    const asked: string[] = [];
    const { conn, assoc } = open((rq, remoteAddress) => {
      asked.push(`${rq.callingAeTitle}@${remoteAddress}`);
      return { accepted: false, rejection: Rejection.LocalLimitExceeded, why: "full" };
    });
    conn.sendPdu(associateRq());
    await settle();
    expect(asked).toEqual(["SCU@127.0.0.1"]);
    expect(conn.pdus).toMatchObject([{ type: PduType.AssociateRj, result: 2, source: 3, reason: 2 }]);
    conn.peerCloses();
    await assoc.done;
  });

  test("P-DATA to DIMSE: a C-ECHO-RQ split anywhere is answered once, status 0000, on its context", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: echoRq.length }),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (pdvSize, cuts) => {
          const { conn } = await established();
          await sendInReads(conn, pdata(1, echoRq, true, pdvSize), cuts);
          await until(() => responses(conn).length === 1);
          const [rsp] = responses(conn);
          expect(rsp?.commandField).toBe(CommandField.CEchoRsp);
          expect(rsp?.status).toBe(0);
          expect(rsp?.number(Tag.MessageIdBeingRespondedTo)).toBe(7);
          conn.peerCloses();
        },
      ),
      { numRuns: 40 },
    );
  });

  test("C-STORE: any fragmenting of command and data set stores the same file", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40_000 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        async (pdvSize, cuts) => {
          const { conn, assoc } = await established();
          const stream = Buffer.concat([pdata(3, storeRq, true, 64), pdata(3, dataSet, false, pdvSize)]);
          await sendInReads(conn, stream, cuts);
          await until(() => responses(conn).length === 1);
          expect(responses(conn)[0]?.status).toBe(0);
          conn.sendPdu({ type: PduType.ReleaseRq });
          await until(() => conn.pduTypes.includes(PduType.ReleaseRp));
          conn.peerCloses();
          await assoc.done;
          const file = readFileSync(join(tenant.storageRoot, findStored()));
          expect(Buffer.compare(file.subarray(file.length - dataSet.length), Buffer.from(dataSet))).toBe(0);
        },
      ),
      { numRuns: 15 },
    );
  });

  test("release waits for the outstanding C-STORE: its response goes out before the A-RELEASE-RP", async () => {
    const { conn, assoc } = await established();
    conn.send(Buffer.concat([pdata(3, storeRq, true, 64), pdata(3, dataSet, false, 16_000)]));
    conn.sendPdu({ type: PduType.ReleaseRq });
    await until(() => conn.pduTypes.includes(PduType.ReleaseRp));
    expect(conn.pduTypes).toEqual([PduType.AssociateAc, PduType.PData, PduType.ReleaseRp]);
    conn.peerCloses();
    await assoc.done;
  });

  test("an abort in the middle of a data set leaves no file behind", async () => {
    const { conn, assoc } = await established();
    const before = listed().filter((f) => !isTemp(f));
    conn.send(
      Buffer.concat([pdata(3, storeRq, true, 64), pdata(3, dataSet.subarray(0, 50_000), false, 16_000)]),
    );
    await settle();
    conn.sendPdu({ type: PduType.Abort, source: 0, reason: 0 });
    await assoc.done;
    // The spare files kept for the next instance go too once nothing runs (as the server does).
    await storage.dropSpares();
    await until(() => listed().filter(isTemp).length === 0);
    expect(listed().filter((f) => !before.includes(f))).toEqual([]);
  });

  test("a command on a context that was not accepted aborts the association", async () => {
    const { conn } = await established();
    conn.send(pdata(5, echoRq, true, 100));
    await until(() => conn.ended);
    expect(conn.pdus.at(-1)).toMatchObject({ type: PduType.Abort, source: 2 });
  });
});

function isTemp(path: string): boolean {
  return Storage.isTempName(basename(path));
}

function listed(): string[] {
  return readdirSync(tenant.storageRoot, { recursive: true }).map(String);
}

function findStored(): string {
  const found = listed().find((f) => !isTemp(f) && f.includes(SOP_INSTANCE));
  if (!found) throw new Error("no stored file");
  return found;
}
