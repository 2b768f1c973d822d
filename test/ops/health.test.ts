// /healthz's checks (src/ops/health.ts): each with its detail; a failing one names itself.

import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkHealth } from "../../src/ops/health.ts";
import { tmpDirs } from "../helpers/tmp.ts";

const tmp = tmpDirs("health");
const license = { info: null, problem: () => null, stop: () => {} };

describe("checkHealth", () => {
  test("listening, a writable root with room, no license problem: ok", async () => {
    const h = await checkHealth({
      listening: () => true,
      roots: [tmp()],
      minFreeMb: 0,
      outbox: null,
      license,
    });
    expect(h.ok).toBe(true);
    expect(Object.keys(h.checks).sort()).toEqual(["disk", "license", "listening", "storage_writable"]);
    expect(h.failing).toEqual([]);
    expect(h.checks.license?.detail).toBe("unlicensed build (no vendor CA)");
  });

  test("each failure is named: not listening, a root that is a file, an expired license", async () => {
    const file = join(tmp(), "not-a-dir");
    writeFileSync(file, "");
    const h = await checkHealth({
      listening: () => false,
      roots: [file],
      minFreeMb: 0,
      outbox: null,
      license: { ...license, problem: () => "the license expired" },
    });
    expect(h.ok).toBe(false);
    expect(h.failing).toEqual(expect.arrayContaining(["listening", "storage_writable", "license"]));
    expect(h.checks.license?.detail).toBe("the license expired");
  });
});
