import { expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../src/config/error.ts";
import { loadConfig } from "../../src/config/load.ts";
import { worldReadableSecretsWarning } from "../../src/config/secrets.ts";
import { makeWorkDir } from "../helpers/dcmtk.ts";

test("a config file holding secrets and readable by others is warned about", () => {
  const dir = makeWorkDir("secrets");
  const path = join(dir, "c.yaml");
  writeFileSync(path, 'license: { client_id: c, license_key: "HC-123" }\n');
  chmodSync(path, 0o644);
  const config = loadConfig(path);
  const w = worldReadableSecretsWarning(path, config);
  expect(w).toMatch(/holds secrets \(license.license_key\) and is readable by others \(mode 644\)/);
  expect(w).not.toContain("HC-123");
  chmodSync(path, 0o600);
  expect(worldReadableSecretsWarning(path, config)).toBeNull();
  // No secrets: nothing to warn about.
  writeFileSync(path, "scp: { port: 104 }\n");
  chmodSync(path, 0o644);
  expect(worldReadableSecretsWarning(path, loadConfig(path))).toBeNull();
});

test("config errors never echo a secret's value", () => {
  const dir = makeWorkDir("secrets");
  const path = join(dir, "c.yaml");
  writeFileSync(path, "license: { license_key: 98765432 }\n");
  expect(() => loadConfig(path)).toThrow(ConfigError);
  try {
    loadConfig(path);
  } catch (e) {
    expect((e as Error).message).not.toContain("98765432");
  }
  writeFileSync(
    path,
    'tenants: [{ id: a, ae_titles: [A], users: [{ username: u, password_hash: "plain-pw" }] }]\n',
  );
  try {
    loadConfig(path);
    throw new Error("accepted");
  } catch (e) {
    expect((e as Error).message).toMatch(/password_hash: must be a hash/);
    expect((e as Error).message).not.toContain("plain-pw");
  }
});
