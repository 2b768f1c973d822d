// A config file that holds secrets (users' password hashes, kafka.sasl.password, license.license_key)
// should be readable by the service alone: warn at start when others may read it (POSIX mode & 0o004).

import { statSync } from "node:fs";
import type { Config } from "./schema.ts";

/** The config keys holding secrets that are set. */
export function secretKeys(config: Config): string[] {
  const keys: string[] = [];
  if (config.license.license_key !== "") keys.push("license.license_key");
  if (config.kafka.sasl && config.kafka.sasl.password !== "") keys.push("kafka.sasl.password");
  config.tenants.forEach((t, i) => {
    if (t.users.some((u) => u.password_hash !== null)) keys.push(`tenants[${i}].users`);
  });
  return keys;
}

/** The warning to log, or null (no file, no secrets, not world-readable, or Windows). */
export function worldReadableSecretsWarning(path: string | undefined, config: Config): string | null {
  if (path === undefined || process.platform === "win32") return null;
  const keys = secretKeys(config);
  if (keys.length === 0) return null;
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    return null;
  }
  if ((mode & 0o004) === 0) return null;
  return `config file ${path} holds secrets (${keys.join(", ")}) and is readable by others (mode ${(mode & 0o777).toString(8)}): chmod 600 it`;
}
