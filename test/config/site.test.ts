import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { defaultConfig } from "../../src/config/defaults.ts";
import { loadConfig } from "../../src/config/load.ts";
import { ConfigSchema } from "../../src/config/schema.ts";

const SITE = resolve(import.meta.dir, "../../config/site.yaml");
const siteDir = resolve(import.meta.dir, "../../config");

test("config/site.yaml loads and documents exactly the defaults", () => {
  const c = loadConfig(SITE);
  const d = defaultConfig();
  d.storage.root = join(siteDir, "data");
  d.storage.quarantine = join(siteDir, "data/_quarantine");
  d.outbox.dir = join(siteDir, "outbox");
  d.license.certificate = join(siteDir, "license.pem");
  expect(c).toEqual(d);
});

test("config/site.yaml mentions every key of the schema", () => {
  const text = readFileSync(SITE, "utf8");
  const keys = new Set<string>();
  const walk = (shape: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(shape)) {
      keys.add(k);
      const s = unwrap(v);
      if (s !== null) walk(s);
    }
  };
  walk(ConfigSchema.shape);
  for (const k of keys) expect(text).toMatch(new RegExp(`\\b${k}\\b`));
});

/** The shape of an object schema under nullable/default/array wrappers, or null. */
function unwrap(v: unknown): Record<string, unknown> | null {
  let cur: unknown = v;
  for (let i = 0; i < 8 && typeof cur === "object" && cur !== null; i++) {
    const o = cur as { shape?: Record<string, unknown>; unwrap?: () => unknown; element?: unknown };
    if (o.shape !== undefined) return o.shape;
    if (o.element !== undefined) cur = o.element;
    else if (typeof o.unwrap === "function") cur = o.unwrap();
    else return null;
  }
  return null;
}
