// License verification (docs/cli.md, License): every way a license can be wrong fails with its own reason; the test CA,
// intermediates and licenses are made here.

import { beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { licenseCommand } from "../../src/cli/license.ts";
import { defaultConfig } from "../../src/config/defaults.ts";
import { licenseGate, startLicense } from "../../src/license/runtime.ts";
import {
  hashCodeCandidates,
  LicenseError,
  type LicenseInfo,
  verifyLicense,
} from "../../src/license/verify.ts";
import { makeWorkDir } from "../helpers/dcmtk.ts";
import { days, type Issued, issue, licenseExtension, utf8StringDer } from "../helpers/pki.ts";

const CLIENT = "clinic-42";
const KEY = "HC-7f3a9c21e0b44d5e";

let vendor: Issued;
let other: Issued;
let good: Issued;

const lic = (o: { subject?: string; issuer?: Issued; ext?: Uint8Array | null; from?: Date; to?: Date }) =>
  issue({
    subject: o.subject ?? `CN=${CLIENT}`,
    issuer: o.issuer ?? vendor,
    notBefore: o.from,
    notAfter: o.to,
    extensions: o.ext === null ? [] : [licenseExtension(o.ext ?? utf8StringDer(KEY))],
  });

const pemBytes = (...certs: Issued[]): Uint8Array =>
  new TextEncoder().encode(certs.map((c) => c.pem).join("\n"));

async function reason(certificate: Uint8Array, clientId = CLIENT, licenseKey = KEY): Promise<string> {
  try {
    await verifyLicense({ certificate, clientId, licenseKey, vendorCaPem: vendor.pem });
  } catch (e) {
    expect(e).toBeInstanceOf(LicenseError);
    const msg = (e as Error).message;
    expect(msg).not.toContain("\n");
    expect(msg).not.toContain(KEY);
    return msg;
  }
  throw new Error("license was accepted");
}

beforeAll(async () => {
  vendor = await issue({ subject: "CN=Test Vendor CA", ca: true, notAfter: days(3650) });
  other = await issue({ subject: "CN=Other CA", ca: true });
  good = await lic({});
});

describe("license verification", () => {
  test("a valid license passes as PEM and as DER", async () => {
    for (const certificate of [pemBytes(good), new Uint8Array(good.cert.rawData)]) {
      const info = await verifyLicense({
        certificate,
        clientId: CLIENT,
        licenseKey: KEY,
        vendorCaPem: vendor.pem,
      });
      expect(info.clientId).toBe(CLIENT);
      expect(info.chain).toEqual([`CN=${CLIENT}`]);
    }
  });

  test("an intermediate CA chain in the PEM file works", async () => {
    const inter = await issue({ subject: "CN=Test Vendor Licensing", ca: true, issuer: vendor });
    const leaf = await lic({ issuer: inter });
    const info = await verifyLicense({
      certificate: pemBytes(leaf, inter),
      clientId: CLIENT,
      licenseKey: KEY,
      vendorCaPem: vendor.pem,
    });
    expect(info.chain).toEqual([`CN=${CLIENT}`, "CN=Test Vendor Licensing"]);
    // Without the intermediate in the file there is no path.
    expect(await reason(pemBytes(leaf))).toMatch(/not issued by the vendor CA/);
    // An intermediate that is not a CA does not count.
    const notCa = await issue({ subject: "CN=Not A CA", issuer: vendor });
    const under = await lic({ issuer: notCa });
    expect(await reason(pemBytes(under, notCa))).toMatch(/is not a CA certificate/);
  });

  test("expired", async () => {
    const c = await lic({ from: days(-30), to: days(-1) });
    expect(await reason(pemBytes(c))).toMatch(/^license certificate expired on \d{4}-/);
  });

  test("not yet valid", async () => {
    const c = await lic({ from: days(2), to: days(300) });
    expect(await reason(pemBytes(c))).toMatch(/^license certificate is not yet valid \(valid from /);
  });

  test("issued by another CA", async () => {
    const c = await lic({ issuer: other });
    expect(await reason(pemBytes(c))).toMatch(
      /^not issued by the vendor CA: no path from issuer "CN=Other CA"/,
    );
    // Another CA that copies the vendor CA's name: the signature gives it away.
    const impostor = await issue({ subject: "CN=Test Vendor CA", ca: true });
    const c2 = await lic({ issuer: impostor });
    expect(await reason(pemBytes(c2))).toMatch(/signature of the license certificate does not verify/);
  });

  test("wrong client id", async () => {
    expect(await reason(pemBytes(good), "clinic-43")).toBe(
      `subject CN "${CLIENT}" does not match license.client_id "clinic-43"`,
    );
  });

  test("wrong hash code (and an empty license_key never matches)", async () => {
    expect(await reason(pemBytes(good), CLIENT, "HC-wrong")).toMatch(/does not match license.license_key$/);
    const empty = await lic({ ext: utf8StringDer("") });
    expect(await reason(pemBytes(empty), CLIENT, "")).toMatch(/does not match license.license_key$/);
  });

  test("missing extension", async () => {
    const c = await lic({ ext: null });
    expect(await reason(pemBytes(c))).toBe(
      "no hash code extension 1.3.6.1.4.15967132172.1 in the license certificate",
    );
  });

  test("tampered signature", async () => {
    const der = new Uint8Array(good.cert.rawData).slice();
    der[der.length - 5] = (der[der.length - 5] as number) ^ 0x01;
    expect(await reason(der)).toMatch(
      /^signature of the license certificate does not verify against the vendor CA/,
    );
    // A tampered body (the subject CN edited in place, the signature kept) fails the same way.
    const body = Buffer.from(good.cert.rawData);
    const at = body.indexOf(Buffer.from(CLIENT));
    body[at + CLIENT.length - 1] = "3".charCodeAt(0);
    expect(await reason(new Uint8Array(body), "clinic-43")).toMatch(/^signature of the license certificate/);
  });

  test("not a certificate, and an unreadable file", async () => {
    expect(await reason(new TextEncoder().encode("hello"))).toMatch(/^not a certificate \(PEM or DER\)/);
    const cfg = defaultConfig().license;
    cfg.certificate = "/nonexistent/license.pem";
    await expect(startLicense(cfg, vendor.pem)).rejects.toThrow(
      /cannot read \/nonexistent\/license.pem: no such file/,
    );
  });

  test("hash code extension values: strings, OCTET STRING (text or hex), raw", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(hashCodeCandidates(utf8StringDer("abc"))).toEqual(["abc"]);
    expect(hashCodeCandidates(new Uint8Array([0x13, 3, ...enc("ABC")]))).toEqual(["ABC"]);
    expect(hashCodeCandidates(new Uint8Array([0x04, 3, ...enc("k-1")]))).toEqual(["k-1", "6b2d31"]);
    expect(hashCodeCandidates(new Uint8Array([0x04, 2, 0xff, 0xfe]))).toEqual(["fffe"]);
    expect(hashCodeCandidates(enc("raw-key"))).toEqual(["raw-key", Buffer.from("raw-key").toString("hex")]);
  });

  test("an OCTET STRING hash code matches the key as text", async () => {
    const c = await lic({ ext: new Uint8Array([0x04, KEY.length, ...new TextEncoder().encode(KEY)]) });
    await verifyLicense({
      certificate: pemBytes(c),
      clientId: CLIENT,
      licenseKey: KEY,
      vendorCaPem: vendor.pem,
    });
  });
});

describe("license at run time", () => {
  test("a build without a vendor CA runs unlicensed", async () => {
    const gate = await startLicense(defaultConfig().license, null);
    expect(gate.info).toBeNull();
    expect(gate.problem()).toBeNull();
  });

  test("the gate refuses once the license expired while running", () => {
    const notAfter = new Date(Date.now() + 1000);
    const info: LicenseInfo = {
      clientId: CLIENT,
      subject: `CN=${CLIENT}`,
      issuer: "CN=Test Vendor CA",
      serialNumber: "01",
      notBefore: new Date(0),
      notAfter,
      chain: [],
    };
    let now = Date.now();
    const gate = licenseGate(info, () => now);
    expect(gate.problem()).toBeNull();
    now = notAfter.getTime() + 1;
    expect(gate.problem()).toMatch(/^license expired on .*: new associations are refused$/);
    gate.stop();
  });

  test("storescp license show|verify: exit 0 with a valid license, 2 with the reason otherwise", async () => {
    const dir = makeWorkDir("license");
    mkdirSync(dir, { recursive: true });
    const path = join(dir, "license.pem");
    writeFileSync(path, good.pem);
    const cfg = defaultConfig();
    cfg.license = { certificate: path, client_id: CLIENT, license_key: KEY };
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(`E ${l}`) };
    expect(await licenseCommand("verify", cfg, vendor.pem, io)).toBe(0);
    expect(lines.at(-1)).toMatch(/^license ok: client clinic-42, valid .* days left\)$/);
    lines.length = 0;
    expect(await licenseCommand("show", cfg, vendor.pem, io)).toBe(0);
    expect(lines.join("\n")).toMatch(/subject: +CN=clinic-42/);
    expect(lines.join("\n")).toMatch(/hash code: +present/);
    expect(lines.join("\n")).not.toContain(KEY);
    lines.length = 0;
    cfg.license.license_key = "nope";
    expect(await licenseCommand("verify", cfg, vendor.pem, io)).toBe(2);
    expect(lines).toEqual([
      "E storescp: license: hash code extension 1.3.6.1.4.15967132172.1 does not match license.license_key",
    ]);
    lines.length = 0;
    expect(await licenseCommand("verify", cfg, null, io)).toBe(2);
    expect(lines[0]).toMatch(/unlicensed build/);
  });
});
