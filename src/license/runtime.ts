// The license while the server runs: checked at start (a LicenseError ends the start, exit 2), a warning
// from 30 days before expiry (at start and then daily), and once expired a gate that refuses new
// associations (transient) with a clear log line; running associations, stored data and the outbox go on.

import { readFileSync } from "node:fs";
import type { LicenseConfig } from "../config/schema.ts";
import { event, logger } from "../ops/log.ts";
import { daysLeft, EXPIRY_WARNING_DAYS, LicenseError, type LicenseGate, type LicenseInfo } from "./info.ts";

const log = logger("license");

/** Read and verify the license file named by the config; reasons as LicenseError. */
export async function loadLicense(config: LicenseConfig, vendorCaPem: string): Promise<LicenseInfo> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(config.certificate);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LicenseError(
      `cannot read ${config.certificate}: ${code === "ENOENT" ? "no such file" : (err as Error).message}`,
    );
  }
  // The verifier (and @peculiar/x509 with it) only where there is a license to check.
  const { verifyLicense } = await import("./verify.ts");
  return verifyLicense({
    certificate: bytes,
    clientId: config.client_id,
    licenseKey: config.license_key,
    vendorCaPem,
  });
}

/** A gate over a verified license: expiry warnings and the refusal once it has expired. */
export function licenseGate(info: LicenseInfo, now: () => number = Date.now): LicenseGate {
  let warnedAt = 0;
  let expiredLogged = false;
  const problem = (): string | null => {
    if (now() <= info.notAfter.getTime()) return null;
    const why = `license expired on ${info.notAfter.toISOString()}: new associations are refused`;
    if (!expiredLogged) {
      expiredLogged = true;
      event(log, "error", "license-expired", {
        not_after: info.notAfter.toISOString(),
        client: info.clientId,
      });
    }
    return why;
  };
  const check = (): void => {
    const left = daysLeft(info, new Date(now()));
    if (problem() !== null) return;
    if (left < EXPIRY_WARNING_DAYS && now() - warnedAt >= 86_400_000) {
      warnedAt = now();
      event(log, "warning", "license-expires-soon", {
        days_left: left,
        not_after: info.notAfter.toISOString(),
        client: info.clientId,
      });
    }
  };
  check();
  const timer = setInterval(check, 3_600_000);
  timer.unref();
  return { info, problem, stop: () => clearInterval(timer) };
}

/** At start: verify (throws LicenseError) or, in a build without a vendor CA, warn and run unlicensed. */
export async function startLicense(config: LicenseConfig, vendorCaPem: string | null): Promise<LicenseGate> {
  if (vendorCaPem === null) {
    event(log, "warning", "unlicensed-build", {
      detail: "no vendor CA embedded; the license is not checked",
    });
    return { info: null, problem: () => null, stop: () => {} };
  }
  const info = await loadLicense(config, vendorCaPem);
  event(log, "info", "license-ok", {
    client: info.clientId,
    not_after: info.notAfter.toISOString(),
    days_left: daysLeft(info),
  });
  return licenseGate(info);
}
