// Trust, driven by DCMTK over loopback: two tenants on one server (own trees, access rules, crafted
// tenant_tag), user identity, quota, DICOM TLS (client certificates, TLS 1.0/1.1 refused, tls_subjects,
// plain and TLS side by side), the per-address limit, and a license that expires while running.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { defaultConfig } from "../../src/config/defaults.ts";
import { CommandField, encodeCommandSet, NO_DATA_SET, Tag } from "../../src/dimse/command.ts";
import { encodePdu } from "../../src/net/pdu/codec.ts";
import {
  DICOM_APPLICATION_CONTEXT,
  emptyUserInformation,
  PduType,
  UserIdentityType,
} from "../../src/net/pdu/types.ts";
import { StoreScpServer } from "../../src/scp/server.ts";
import { DimseServices } from "../../src/scp/services.ts";
import { AssociationRejectedError, ClientAssociation } from "../../src/scu/client.ts";
import { Storage } from "../../src/store/storage.ts";
import { hashPassword } from "../../src/tenancy/password-hash.ts";
import { TenantDirectory } from "../../src/tenancy/tenants.ts";
import { echoscu, makeWorkDir, type OurServerHandle, startServer, storescu } from "../helpers/dcmtk.ts";
import { corpus, filesBelow, placedBelow, readPart10 } from "../helpers/fixtures.ts";
import { storePipeline } from "../helpers/pipeline.ts";
import { type Issued, issue } from "../helpers/pki.ts";

const VERIFY = "1.2.840.10008.1.1";
const IMPLICIT = "1.2.840.10008.1.2";
const TENANT_TAG = 0x12111217;
const SC = () => corpus().find((f) => f.includes("03_sc_mono8")) ?? "";
const CT = () => corpus().find((f) => f.includes("01_ct_s16_explicitLE")) ?? "";

interface Identity {
  type: number;
  user: string;
  pass?: string;
  positive?: boolean;
}

/** A-ASSOCIATE-RQ (Verification) with an optional user identity; resolves with the AC or rejects. */
async function associate(port: number, called: string, calling: string, identity?: Identity) {
  const a = await ClientAssociation.connect("127.0.0.1", port);
  const ui = { ...emptyUserInformation(), maxLength: 16384 };
  if (identity) {
    ui.userIdentityRq = {
      identityType: identity.type,
      positiveResponseRequested: identity.positive ?? false,
      primaryField: new TextEncoder().encode(identity.user),
      secondaryField: new TextEncoder().encode(identity.pass ?? ""),
    };
  }
  a.send(
    encodePdu({
      type: PduType.AssociateRq,
      protocolVersion: 1,
      calledAeTitle: called,
      callingAeTitle: calling,
      applicationContext: DICOM_APPLICATION_CONTEXT,
      presentationContexts: [{ id: 1, abstractSyntax: VERIFY, transferSyntaxes: [IMPLICIT] }],
      userInformation: ui,
    }),
  );
  const answer = await a.next(5000);
  a.close();
  if (answer.kind === "pdu" && answer.pdu.type === PduType.AssociateAc) return answer.pdu;
  if (answer.kind === "pdu" && answer.pdu.type === PduType.AssociateRj) {
    throw new AssociationRejectedError(answer.pdu.result, answer.pdu.source, answer.pdu.reason);
  }
  throw new Error(`unexpected answer ${answer.kind}`);
}

async function rejection(p: Promise<unknown>): Promise<number[]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AssociationRejectedError) return [e.result, e.source, e.reason];
    throw e;
  }
  throw new Error("association was accepted");
}

const out = (r: { stdout: string; stderr: string }) => `${r.stderr}${r.stdout}`;

describe("tenants, tenant_tag, user identity and quota on one server", () => {
  let server: OurServerHandle;
  beforeAll(async () => {
    server = await startServer({
      config: {
        storage: { min_free_mb: 1 },
        tenant_tag: "(1211,1217)",
        tenants: [
          { id: "hospital-a", ae_titles: ["HOSPA"], allowed_calling_aes: ["CT_A"] },
          {
            id: "hospital-b",
            ae_titles: ["HOSPB"],
            allowed_calling_aes: ["CT_B"],
            storage: { root: "./tree-b", path: "{tenant}/{study_uid}/{sop_uid}.dcm" },
          },
          { id: "hospital-c", ae_titles: ["HOSPC"], allowed_networks: ["192.0.2.0/24"] },
          { id: "open", ae_titles: ["OPEN"] },
          { id: "small", ae_titles: ["SMALL"], storage: { max_gb: 0.000001 } },
          {
            id: "secure",
            ae_titles: ["SECURE"],
            users: [
              { username: "modality", password_hash: hashPassword("s3cret pass") },
              { username: "ultrasound", password_hash: null },
            ],
          },
        ],
      },
    });
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  test("each modality's instances land only in its own tenant's tree", async () => {
    const a = await storescu({ port: server.port, calledAe: "HOSPA", callingAe: "CT_A", files: [SC()] });
    const b = await storescu({ port: server.port, calledAe: "HOSPB", callingAe: "CT_B", files: [CT()] });
    expect([a.statuses, b.statuses]).toEqual([[0], [0]]);
    const inA = await placedBelow(join(server.dataDir, "hospital-a"), 1);
    const inB = await placedBelow(join(server.workDir, "tree-b"), 1);
    expect(inA).toHaveLength(1);
    expect(inB).toHaveLength(1);
    expect(inB[0]).toContain(join(server.workDir, "tree-b", "hospital-b"));
    expect(filesBelow(server.dataDir).filter((f) => f.includes("hospital-b"))).toEqual([]);
    await server.waitForOutput(/instance .*tenant=hospital-a .*calling=CT_A .*status=0000/);
    await server.waitForOutput(/instance .*tenant=hospital-b .*calling=CT_B .*status=0000/);
  });

  test("a calling AE or an address not allowed for the tenant is rejected with the right reason", async () => {
    const r = await storescu({ port: server.port, calledAe: "HOSPA", callingAe: "CT_B", files: [SC()] });
    expect(out(r)).toMatch(/Calling AE Title Not Recognized/i);
    expect(await rejection(associate(server.port, "HOSPA", "CT_B"))).toEqual([1, 1, 3]);
    expect(await rejection(associate(server.port, "HOSPC", "ANY"))).toEqual([1, 1, 1]);
    expect(await rejection(associate(server.port, "NOBODY", "CT_A"))).toEqual([1, 1, 7]);
  });

  test("tenant_tag: a crafted tag naming a tenant that does not admit the sender is refused (0124), quarantined", async () => {
    const src = await readPart10(SC());
    const send = async (called: string, calling: string, tag: string | null, uid: string) => {
      const a = await ClientAssociation.connect("127.0.0.1", server.port);
      await a.associate(called, calling, [
        { id: 1, abstractSyntax: src.sopClassUid, transferSyntaxes: [src.transferSyntaxUid] },
      ]);
      const values: Array<[number, number | string]> = [
        [Tag.AffectedSopClassUid, src.sopClassUid],
        [Tag.CommandField, CommandField.CStoreRq],
        [Tag.MessageId, 1],
        [Tag.Priority, 0],
        [Tag.CommandDataSetType, 0],
        [Tag.AffectedSopInstanceUid, uid],
      ];
      if (tag !== null) values.push([TENANT_TAG, tag]);
      const rsp = await a.request(1, encodeCommandSet(values), src.dataSet);
      await a.release();
      return rsp;
    };
    const uid = src.sopInstanceUid;
    // hospital-b only admits CT_B; hospital-c only 192.0.2.0/24; "../../etc" is no tenant.
    for (const [tag, why] of [
      ["hospital-b", /calling AE title \\?"CT_A\\?" is not allowed/],
      ["hospital-c", /not in the allowed networks/],
      ["../../etc", /unknown tenant/],
      ["secure", /requires user identity/],
    ] as const) {
      const rsp = await send("HOSPA", "CT_A", tag, uid);
      expect(rsp.status).toBe(0x0124);
      expect(rsp.string(Tag.ErrorComment)).toMatch(/^tenant_tag /);
      await server.waitForOutput(why);
    }
    const quarantine = join(server.dataDir, "_quarantine", "hospital-a");
    const reasons = filesBelow(quarantine).filter((f) => f.endsWith(".reason.json"));
    expect(reasons).toHaveLength(4);
    for (const r of reasons) {
      const j = JSON.parse(readFileSync(r, "utf8")) as { tenant_id: string; status: string };
      expect([j.tenant_id, j.status]).toEqual(["hospital-a", "0124"]);
    }
    expect(await placedBelow(join(server.workDir, "tree-b"), 1)).toHaveLength(1);
    expect(filesBelow(server.dataDir).some((f) => f.includes("etc"))).toBe(false);
    // A tag naming a tenant that does admit the sender moves the instance there; its own tenant is fine.
    expect((await send("HOSPA", "CT_A", "open", uid)).status).toBe(0);
    expect(await placedBelow(join(server.dataDir, "open"), 1)).toHaveLength(1);
    expect((await send("HOSPA", "CT_A", "hospital-a", uid)).status).toBe(0);
  });

  test("DCMTK storescu --user/--password: accepted with the right password, rejected otherwise", async () => {
    const base = { port: server.port, calledAe: "SECURE", callingAe: "US1", files: [SC()] };
    const ok = await storescu({
      ...base,
      extraArgs: ["--user", "modality", "--password", "s3cret pass", "-rsp"],
    });
    expect(ok.statuses).toEqual([0]);
    const wrong = await storescu({ ...base, extraArgs: ["--user", "modality", "--password", "guess"] });
    expect(wrong.statuses).toEqual([]);
    expect(out(wrong)).toMatch(/Association Rejected|rejected/i);
    const none = await storescu(base);
    expect(out(none)).toMatch(/Association Rejected|rejected/i);
    const nameOnly = await storescu({ ...base, extraArgs: ["--user", "ultrasound"] });
    expect(nameOnly.statuses).toEqual([0]);
    // The exact reject (permanent, service-user, no reason given) and the positive response item.
    expect(
      await rejection(associate(server.port, "SECURE", "X", { type: 2, user: "modality", pass: "no" })),
    ).toEqual([1, 1, 1]);
    expect(await rejection(associate(server.port, "SECURE", "X", { type: 1, user: "modality" }))).toEqual([
      1, 1, 1,
    ]);
    expect(
      await rejection(associate(server.port, "SECURE", "X", { type: 2, user: "nobody", pass: "x" })),
    ).toEqual([1, 1, 1]);
    expect(await rejection(associate(server.port, "SECURE", "X", { type: 3, user: "kerberos" }))).toEqual([
      1, 1, 1,
    ]);
    const ac = await associate(server.port, "SECURE", "X", {
      type: UserIdentityType.UsernameAndPasscode,
      user: "modality",
      pass: "s3cret pass",
      positive: true,
    });
    expect(ac.userInformation.userIdentityAc?.serverResponse.length).toBe(0);
    const noAsk = await associate(server.port, "SECURE", "X", {
      type: 2,
      user: "modality",
      pass: "s3cret pass",
    });
    expect(noAsk.userInformation.userIdentityAc).toBeUndefined();
    // No secret in the log: neither passcode nor hash.
    expect(server.output()).not.toContain("s3cret");
    expect(server.output()).not.toContain("scrypt$");
    expect(server.output()).toMatch(/association-rejected .*why="?wrong passcode for user/);
  });

  test("quota (max_gb): once the tenant's tree is over it, C-STORE is refused with A700 and a comment", async () => {
    const first = await storescu({ port: server.port, calledAe: "SMALL", files: [SC()] });
    expect(first.statuses).toEqual([0]);
    const second = await storescu({ port: server.port, calledAe: "SMALL", files: [CT()] });
    expect(second.statuses).toEqual([0xa700]);
    expect(second.responses[0]?.errorComment).toMatch(/quota of tenant small exceeded/);
  });
});

describe("DICOM TLS", () => {
  let server: OurServerHandle;
  let tlsPort: number;
  let dir: string;
  let ca: Issued;
  const file = (name: string) => join(dir, name);
  const tlsArgs = (who: string) => ["+tls", file(`${who}.key`), file(`${who}.pem`), "+cf", file("ca.pem")];

  beforeAll(async () => {
    dir = makeWorkDir("tls");
    ca = await issue({ subject: "CN=Test Hospital CA", ca: true });
    const otherCa = await issue({ subject: "CN=Rogue CA", ca: true });
    const srv = await issue({
      subject: "CN=localhost",
      issuer: ca,
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
      usage: "server",
    });
    const write = (name: string, c: Issued) => {
      writeFileSync(file(`${name}.pem`), c.pem);
      writeFileSync(file(`${name}.key`), c.keyPem);
    };
    write("ca", ca);
    write("server", srv);
    write("modality", await issue({ subject: "CN=modality-1", issuer: ca, usage: "client" }));
    write("stranger", await issue({ subject: "CN=stranger", issuer: ca, usage: "client" }));
    write("rogue", await issue({ subject: "CN=modality-1", issuer: otherCa, usage: "client" }));
    server = await startServer({
      workDir: dir,
      config: {
        storage: { min_free_mb: 1 },
        scp: {
          tls: {
            cert: "server.pem",
            key: "server.key",
            ca: "ca.pem",
            require_client_cert: true,
            port: 0,
          },
        },
        tenants: [
          { id: "plain", ae_titles: ["PLAIN"] },
          { id: "certified", ae_titles: ["CERTIFIED"], tls_subjects: ["modality-1"] },
        ],
      },
    });
    tlsPort = server.tlsPort ?? 0;
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  test("storescu +tls with a client certificate from the test CA stores; plain TCP runs beside it", async () => {
    const r = await storescu({
      port: tlsPort,
      calledAe: "PLAIN",
      files: [SC()],
      extraArgs: tlsArgs("modality"),
    });
    expect(r.statuses).toEqual([0]);
    const p = await storescu({ port: server.port, calledAe: "PLAIN", files: [CT()] });
    expect(p.statuses).toEqual([0]);
    expect(await placedBelow(join(server.dataDir, "plain"), 2)).toHaveLength(2);
  });

  test("without a client certificate, or with one from another CA, the handshake fails", async () => {
    const anon = await echoscu({
      port: tlsPort,
      calledAe: "PLAIN",
      extraArgs: ["+tla", "+cf", file("ca.pem")],
    });
    expect(anon.statuses).toEqual([]);
    expect(anon.code).not.toBe(0);
    const rogue = await echoscu({ port: tlsPort, calledAe: "PLAIN", extraArgs: tlsArgs("rogue") });
    expect(rogue.statuses).toEqual([]);
    expect(rogue.code).not.toBe(0);
    await server.waitForOutput(/tls-handshake-failed/);
  });

  test("TLS 1.0 and 1.1 are refused, TLS 1.2 and 1.3 accepted", async () => {
    const attempt = (
      minVersion: "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3",
      maxVersion: typeof minVersion,
    ) =>
      new Promise<string>((resolve) => {
        const s = tlsConnect({
          host: "127.0.0.1",
          port: tlsPort,
          minVersion,
          maxVersion,
          ca: readFileSync(file("ca.pem")),
          cert: readFileSync(file("modality.pem")),
          key: readFileSync(file("modality.key")),
          checkServerIdentity: () => undefined,
        });
        s.on("secureConnect", () => {
          resolve(`ok ${s.getProtocol()}`);
          s.destroy();
        });
        s.on("error", (e) => resolve(`error ${e.message}`));
      });
    expect(await attempt("TLSv1", "TLSv1")).toMatch(
      /^error .*(PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|version)/i,
    );
    expect(await attempt("TLSv1.1", "TLSv1.1")).toMatch(
      /^error .*(PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|version)/i,
    );
    expect(await attempt("TLSv1.2", "TLSv1.2")).toBe("ok TLSv1.2");
    expect(await attempt("TLSv1.3", "TLSv1.3")).toBe("ok TLSv1.3");
  });

  test("tls_subjects: the tenant requires a verified certificate with one of its subjects", async () => {
    const ok = await echoscu({ port: tlsPort, calledAe: "CERTIFIED", extraArgs: tlsArgs("modality") });
    expect(ok.statuses).toEqual([0]);
    const stranger = await echoscu({ port: tlsPort, calledAe: "CERTIFIED", extraArgs: tlsArgs("stranger") });
    expect(stranger.statuses).toEqual([]);
    expect(out(stranger)).toMatch(/rejected/i);
    expect(await rejection(associate(server.port, "CERTIFIED", "X"))).toEqual([1, 1, 1]);
    await server.waitForOutput(/tenant certified requires a TLS client certificate/);
    await server.waitForOutput(/client certificate CN "?\\?"?stranger/);
  });
});

describe("limits and the license gate", () => {
  test("max_associations_per_address: one more from the same address is rejected transient, local limit", async () => {
    const server = await startServer({
      config: { storage: { min_free_mb: 1 }, scp: { max_associations_per_address: 1 } },
    });
    const first = await ClientAssociation.connect("127.0.0.1", server.port);
    await first.associate("STORESCP", "ONE", [
      { id: 1, abstractSyntax: VERIFY, transferSyntaxes: [IMPLICIT] },
    ]);
    expect(await rejection(associate(server.port, "STORESCP", "TWO"))).toEqual([2, 3, 2]);
    await first.release();
    await server.waitForOutput(/association-ended .*calling=ONE/);
    await associate(server.port, "STORESCP", "THREE");
    expect(await server.stop()).toBe(0);
  });

  test("a license that expires while running: new associations are refused (transient), with a clear log", async () => {
    const config = defaultConfig();
    const work = makeWorkDir("license-gate");
    config.scp.host = "127.0.0.1";
    config.scp.port = 0;
    config.storage.root = work;
    config.storage.quarantine = join(work, "_q");
    config.storage.min_free_mb = 1;
    const storage = new Storage({
      fsync: false,
      onDuplicate: "overwrite",
      minFreeMb: 1,
      quarantineDir: join(work, "_q"),
    });
    let expired: string | null = null;
    const server = new StoreScpServer({
      config,
      tenants: new TenantDirectory(config),
      storage,
      services: new DimseServices(storePipeline(storage)),
      licenseProblem: () => expired,
    });
    const port = await server.listen();
    const running = await ClientAssociation.connect("127.0.0.1", port);
    await running.associate("STORESCP", "EARLY", [
      { id: 1, abstractSyntax: VERIFY, transferSyntaxes: [IMPLICIT] },
    ]);
    expired = "license expired on 2026-01-01T00:00:00.000Z: new associations are refused";
    expect(await rejection(associate(port, "STORESCP", "LATE"))).toEqual([2, 1, 1]);
    // The running association goes on.
    const echoRq = encodeCommandSet([
      [Tag.AffectedSopClassUid, VERIFY],
      [Tag.CommandField, CommandField.CEchoRq],
      [Tag.MessageId, 1],
      [Tag.CommandDataSetType, NO_DATA_SET],
    ]);
    expect((await running.request(1, echoRq)).status).toBe(0);
    await running.release();
    await server.close(1000);
    await storage.close();
  });
});
