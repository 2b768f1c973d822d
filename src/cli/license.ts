// `storescp license show|verify [-c FILE]`: what the configured license certificate says, and whether it
// passes the checks made at start (exit 0), or why not (exit 2). The license key is never printed.

import { readFileSync } from "node:fs";
import type { Config } from "../config/schema.ts";
import { loadLicense } from "../license/runtime.ts";
import {
  describe,
  hashCodeCandidates,
  LICENSE_EXTENSION_OID,
  LicenseError,
  parseCertificates,
} from "../license/verify.ts";

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

const std: Output = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

export async function licenseCommand(
  action: "show" | "verify",
  config: Config,
  vendorCaPem: string | null,
  io: Output = std,
): Promise<number> {
  const lic = config.license;
  if (action === "show") {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(lic.certificate);
    } catch (err) {
      io.err(`storescp: license: cannot read ${lic.certificate}: ${(err as Error).message}`);
      return 2;
    }
    try {
      const certs = parseCertificates(bytes);
      const leaf = certs[0];
      if (!leaf) throw new LicenseError("no certificate");
      io.out(`file:        ${lic.certificate}`);
      io.out(`subject:     ${leaf.subject}`);
      io.out(`issuer:      ${leaf.issuer}`);
      io.out(`serial:      ${leaf.serialNumber}`);
      io.out(`valid:       ${leaf.notBefore.toISOString()} .. ${leaf.notAfter.toISOString()}`);
      for (const c of certs.slice(1)) io.out(`chain:       ${c.subject}`);
      const ext = leaf.getExtension(LICENSE_EXTENSION_OID);
      io.out(
        `hash code:   ${ext ? `present (${hashCodeCandidates(new Uint8Array(ext.value))[0]?.length ?? 0} characters)` : "missing"}`,
      );
      io.out(`client_id:   ${lic.client_id === "" ? "(not set)" : lic.client_id}`);
      io.out(`vendor CA:   ${vendorCaPem === null ? "none embedded (unlicensed build)" : "embedded"}`);
    } catch (err) {
      io.err(`storescp: license: ${(err as Error).message}`);
      return 2;
    }
    if (vendorCaPem === null) return 0;
  }
  if (vendorCaPem === null) {
    io.err("storescp: license: unlicensed build: no vendor CA embedded, nothing to verify against");
    return 2;
  }
  try {
    const info = await loadLicense(lic, vendorCaPem);
    io.out(`license ok: ${describe(info)}`);
    return 0;
  } catch (err) {
    if (err instanceof LicenseError) {
      io.err(`storescp: license: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
