// Association establishment against real peers: rejections with the right result/source/reason,
// unknown SOP classes, uncompressed_only, limits, modes, timeouts and strict PDU sizes.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { defaultConfig } from "../../src/config/defaults.ts";
import { CommandField, encodeCommandSet, NO_DATA_SET, Tag } from "../../src/dimse/command.ts";
import { encodePdu } from "../../src/net/pdu/codec.ts";
import { PduType } from "../../src/net/pdu/types.ts";
import { StoreScpServer } from "../../src/scp/server.ts";
import { DimseServices } from "../../src/scp/services.ts";
import { AssociationRejectedError, ClientAssociation } from "../../src/scu/client.ts";
import { Storage } from "../../src/store/storage.ts";
import { TenantDirectory } from "../../src/tenancy/tenants.ts";
import {
  dcmtkEnv,
  echoscu,
  makeWorkDir,
  type OurServerHandle,
  run,
  startServer,
  storescu,
} from "../helpers/dcmtk.ts";
import { corpus, placedBelow, readPart10, storescuProfile } from "../helpers/fixtures.ts";
import { storePipeline } from "../helpers/pipeline.ts";

const VERIFY = "1.2.840.10008.1.1";
const IMPLICIT = "1.2.840.10008.1.2";
const echoRq = encodeCommandSet([
  [Tag.AffectedSopClassUid, VERIFY],
  [Tag.CommandField, CommandField.CEchoRq],
  [Tag.MessageId, 1],
  [Tag.CommandDataSetType, NO_DATA_SET],
]);

async function rejectionOf(port: number, called: string, calling: string): Promise<AssociationRejectedError> {
  const a = await ClientAssociation.connect("127.0.0.1", port);
  try {
    await a.associate(called, calling, [{ id: 1, abstractSyntax: VERIFY, transferSyntaxes: [IMPLICIT] }]);
  } catch (e) {
    if (e instanceof AssociationRejectedError) return e;
    throw e;
  } finally {
    a.close();
  }
  throw new Error("association was accepted");
}

/** A CT of the corpus relabelled with a SOP class no standard knows. */
function unknownClassFile(dir: string): string {
  const out = join(dir, "unknown-class.dcm");
  copyFileSync(corpus().find((f) => f.includes("01_ct_s16_explicitLE")) ?? "", out);
  const r = spawnSync("dcmodify", ["-nb", "-m", "(0008,0016)=1.2.826.0.1.3680043.9999.1", out], {
    env: dcmtkEnv(),
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return out;
}

describe("tenants and access rules", () => {
  let server: OurServerHandle;
  beforeAll(async () => {
    server = await startServer({
      config: {
        storage: { min_free_mb: 1 },
        tenants: [
          { id: "hospital-a", ae_titles: ["HOSPA"], allowed_calling_aes: ["CT_A"] },
          { id: "hospital-b", ae_titles: ["HOSPB"], allowed_networks: ["192.0.2.0/24"] },
        ],
      },
    });
  });
  afterAll(async () => {
    await server.stop();
  });

  test("DCMTK echoscu to an unknown called AE: rejected permanent, service-user, called AE not recognized", async () => {
    const r = await echoscu({ port: server.port, calledAe: "NOBODY", callingAe: "CT_A" });
    expect(r.code).not.toBe(0);
    expect(`${r.stderr}${r.stdout}`).toMatch(/Called AE Title Not Recognized/i);
    const e = await rejectionOf(server.port, "NOBODY", "CT_A");
    expect([e.result, e.source, e.reason]).toEqual([1, 1, 7]);
  });

  test("a calling AE not allowed for the tenant: rejected, calling AE not recognized", async () => {
    const r = await echoscu({ port: server.port, calledAe: "HOSPA", callingAe: "INTRUDER" });
    expect(`${r.stderr}${r.stdout}`).toMatch(/Calling AE Title Not Recognized/i);
    const e = await rejectionOf(server.port, "HOSPA", "INTRUDER");
    expect([e.result, e.source, e.reason]).toEqual([1, 1, 3]);
  });

  test("an address outside the tenant's networks: rejected permanent, service-user", async () => {
    const e = await rejectionOf(server.port, "HOSPB", "ANY");
    expect([e.result, e.source, e.reason]).toEqual([1, 1, 1]);
    await server.waitForOutput(
      /association-rejected .*why=.*not in the allowed networks of tenant hospital-b/,
    );
  });

  test("an allowed peer is accepted and stores into its tenant's tree", async () => {
    expect((await echoscu({ port: server.port, calledAe: "HOSPA", callingAe: "CT_A" })).statuses).toEqual([
      0,
    ]);
    const f = corpus().find((x) => x.includes("03_sc_mono8")) ?? "";
    const r = await storescu({ port: server.port, calledAe: "HOSPA", callingAe: "CT_A", files: [f] });
    expect(r.statuses).toEqual([0]);
    const stored = await placedBelow(server.dataDir, 1);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toContain(join(server.dataDir, "hospital-a"));
  });
});

describe("presentation contexts", () => {
  test("an unknown SOP class is refused (result 3) unless promiscuous", async () => {
    const strict = await startServer({ config: { storage: { min_free_mb: 1 } } });
    const file = unknownClassFile(strict.workDir);
    // storescu proposes an unknown class only from an explicit profile.
    const profile = await storescuProfile([file], join(strict.workDir, "unknown.cfg"));
    const r = await storescu({ port: strict.port, files: [file], extraArgs: ["-xf", profile, "Corpus"] });
    expect(r.code).not.toBe(0);
    expect(`${r.stderr}${r.stdout}`).toMatch(
      /No presentation context|no acceptable presentation context|not supported/i,
    );
    const a = await ClientAssociation.connect("127.0.0.1", strict.port);
    const ac = await a.associate("STORESCP", "X", [
      { id: 1, abstractSyntax: "1.2.826.0.1.3680043.9999.1", transferSyntaxes: [IMPLICIT] },
    ]);
    expect(ac.presentationContexts[0]?.result).toBe(3);
    await a.release();
    await strict.stop();

    const open = await startServer({ config: { storage: { min_free_mb: 1 } }, args: ["--promiscuous"] });
    const file2 = unknownClassFile(open.workDir);
    const profile2 = await storescuProfile([file2], join(open.workDir, "unknown.cfg"));
    const r2 = await storescu({ port: open.port, files: [file2], extraArgs: ["-xf", profile2, "Corpus"] });
    expect(r2.statuses).toEqual([0]);
    expect(await placedBelow(open.dataDir, 1)).toHaveLength(1);
    await open.stop();
  }, 60_000);

  test("uncompressed_only: a compressed-only proposal is refused (result 4), a native one accepted", async () => {
    const server = await startServer({
      config: { storage: { min_free_mb: 1 }, scp: { uncompressed_only: true } },
    });
    const jls = corpus().find((f) => f.includes("15_ct_s16_jpegLS")) ?? "";
    const profile = await storescuProfile([jls], join(server.workDir, "jls.cfg"));
    const r = await storescu({ port: server.port, files: [jls], extraArgs: ["-xf", profile, "Corpus"] });
    expect(r.code).not.toBe(0);
    const src = await readPart10(jls);
    const a = await ClientAssociation.connect("127.0.0.1", server.port);
    const ac = await a.associate("STORESCP", "X", [
      { id: 1, abstractSyntax: src.sopClassUid, transferSyntaxes: [src.transferSyntaxUid] },
      {
        id: 3,
        abstractSyntax: src.sopClassUid,
        transferSyntaxes: [src.transferSyntaxUid, "1.2.840.10008.1.2.1"],
      },
    ]);
    expect(ac.presentationContexts.map((p) => [p.result, p.transferSyntax])).toEqual([
      [4, ""],
      [0, "1.2.840.10008.1.2.1"],
    ]);
    await a.release();
    // storescu falls back to decompressing when offered an uncompressed syntax too.
    const ok = await storescu({ port: server.port, files: [jls], extraArgs: ["-xe"] });
    expect(ok.code).not.toBe(0); // storescu -xe cannot decompress JPEG-LS itself...
    const ex = corpus().find((f) => f.includes("01_ct_s16_explicitLE")) ?? "";
    expect((await storescu({ port: server.port, files: [ex] })).statuses).toEqual([0]);
    await server.stop();
  }, 60_000);
});

describe("limits, modes and timers", () => {
  test("max_associations: one more is rejected transient, provider (presentation), local limit exceeded", async () => {
    const server = await startServer({
      config: { storage: { min_free_mb: 1 }, scp: { max_associations: 1 } },
    });
    const first = await ClientAssociation.connect("127.0.0.1", server.port);
    await first.associate("STORESCP", "ONE", [
      { id: 1, abstractSyntax: VERIFY, transferSyntaxes: [IMPLICIT] },
    ]);
    const e = await rejectionOf(server.port, "STORESCP", "TWO");
    expect([e.result, e.source, e.reason]).toEqual([2, 3, 2]);
    await first.release();
    expect((await echoscu({ port: server.port })).statuses).toEqual([0]);
    await server.stop();
  });

  test("disk below min_free_mb while running: rejected transient, provider (presentation), temporary congestion", async () => {
    // In process: below min_free_mb at start the server does not start at all (start-up checks); here
    // the disk "fills up" after the start, as the free-space watch would see it.
    const config = defaultConfig();
    const work = makeWorkDir("disk-full");
    Object.assign(config.scp, { host: "127.0.0.1", port: 0 });
    Object.assign(config.storage, { root: work, quarantine: join(work, "_q"), min_free_mb: 1 });
    const minFree = { fsync: false, onDuplicate: "overwrite" as const, quarantineDir: join(work, "_q") };
    const storage = new Storage({ ...minFree, minFreeMb: 1_000_000_000 });
    await storage.hasFreeSpace(work);
    const server = new StoreScpServer({
      config,
      tenants: new TenantDirectory(config),
      storage,
      services: new DimseServices(storePipeline(storage)),
    });
    const port = await server.listen();
    const e = await rejectionOf(port, "STORESCP", "X");
    expect([e.result, e.source, e.reason]).toEqual([2, 3, 1]);
    await server.close(1000);
    await storage.close();
    rmSync(work, { recursive: true, force: true });
  });

  test("sequential mode: a second association waits until the first ends", async () => {
    const server = await startServer({ config: { storage: { min_free_mb: 1 } }, args: ["--sequential"] });
    const first = await ClientAssociation.connect("127.0.0.1", server.port);
    await first.associate("STORESCP", "FIRST", [
      { id: 1, abstractSyntax: VERIFY, transferSyntaxes: [IMPLICIT] },
    ]);
    const second = await ClientAssociation.connect("127.0.0.1", server.port);
    const pending = second.associate("STORESCP", "SECOND", [
      { id: 1, abstractSyntax: VERIFY, transferSyntaxes: [IMPLICIT] },
    ]);
    let answered = false;
    pending.then(
      () => (answered = true),
      () => (answered = true),
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(answered).toBe(false);
    expect((await first.request(1, echoRq)).status).toBe(0);
    await first.release();
    await pending;
    expect((await second.request(1, echoRq)).status).toBe(0);
    await second.release();
    await server.stop();
  });

  test("ARTIM: a connection that never sends an A-ASSOCIATE-RQ is closed; idle timeout aborts a silent association", async () => {
    const server = await startServer({
      config: { storage: { min_free_mb: 1 }, scp: { artim_timeout_s: 1, idle_timeout_s: 1 } },
    });
    const silent = await ClientAssociation.connect("127.0.0.1", server.port);
    const t0 = Date.now();
    const closed = await silent.next(5000);
    expect(closed.kind).toBe("closed");
    expect(Date.now() - t0).toBeLessThan(3000);

    const idle = await ClientAssociation.connect("127.0.0.1", server.port);
    await idle.associate("STORESCP", "IDLE", [
      { id: 1, abstractSyntax: VERIFY, transferSyntaxes: [IMPLICIT] },
    ]);
    const abort = await idle.next(5000);
    expect(abort.kind === "pdu" && abort.pdu.type).toBe(PduType.Abort);
    await server.waitForOutput(/idle-timeout/);
    expect((await echoscu({ port: server.port })).statuses).toEqual([0]);
    await server.stop();
  });

  test("strict: a P-DATA-TF longer than the announced maximum is aborted", async () => {
    const server = await startServer({
      config: { storage: { min_free_mb: 1 }, scp: { strict: true, max_pdu_length: 16384 } },
    });
    const a = await ClientAssociation.connect("127.0.0.1", server.port);
    const ac = await a.associate("STORESCP", "BIG", [
      { id: 1, abstractSyntax: VERIFY, transferSyntaxes: [IMPLICIT] },
    ]);
    expect(ac.userInformation.maxLength).toBe(16384);
    a.send(
      encodePdu({
        type: PduType.PData,
        pdvs: [{ presentationContextId: 1, isCommand: false, isLast: false, data: new Uint8Array(20000) }],
      }),
    );
    const answer = await a.next(5000);
    expect(answer.kind === "pdu" && answer.pdu.type).toBe(PduType.Abort);
    a.close();
    expect((await echoscu({ port: server.port })).statuses).toEqual([0]);
    await server.stop();
  });
});

describe("command line", () => {
  test("a config error exits 2 with FILE:LINE:COL", async () => {
    const r = await run(process.execPath, ["src/main.ts", "--config", "test/fixtures/bad-config.yaml"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad-config\.yaml:3:3: .*unknown/i);
  });

  test("storescp echo talks to DCMTK's storescp", async () => {
    const { startDcmtkStorescp, makeWorkDir } = await import("../helpers/dcmtk.ts");
    const dcmtk = await startDcmtkStorescp({ outDir: makeWorkDir("dcmtk") });
    const r = await run(process.execPath, [
      "src/main.ts",
      "echo",
      "127.0.0.1",
      String(dcmtk.port),
      "--called",
      "ANY-SCP",
    ]);
    expect(r.stdout).toMatch(/status 0000/);
    expect(r.code).toBe(0);
    await dcmtk.stop();
  });
});
