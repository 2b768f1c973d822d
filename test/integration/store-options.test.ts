// storage.on_duplicate and JSON logs, end to end with DCMTK storescu.

import { describe, expect, test } from "bun:test";
import { readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { startServer, storescu } from "../helpers/dcmtk.ts";
import {
  corpus,
  eventually,
  filesBelow,
  perfsetFiles,
  placed,
  readPart10,
  storedPathOf,
} from "../helpers/fixtures.ts";

const file = (): string => corpus().find((f) => f.includes("03_sc_mono8")) ?? "";

async function storedPath(dataDir: string): Promise<string> {
  const a = (await readPart10(file())).attributes;
  return placed(storedPathOf(dataDir, a));
}

describe("on_duplicate", () => {
  test("keep: the second copy is answered 0000 and the first file stays", async () => {
    const s = await startServer({ config: { storage: { on_duplicate: "keep", min_free_mb: 1 } } });
    expect((await storescu({ port: s.port, files: [file()] })).statuses).toEqual([0]);
    const path = await storedPath(s.dataDir);
    const firstIno = statSync(path).ino;
    expect((await storescu({ port: s.port, files: [file()] })).statuses).toEqual([0]);
    expect(statSync(path).ino).toBe(firstIno);
    await s.waitForOutput(/outcome=kept-existing/);
    await s.stop();
  });

  test("reject: the second copy gets 0111 with a comment and goes to quarantine", async () => {
    const s = await startServer({ config: { storage: { on_duplicate: "reject", min_free_mb: 1 } } });
    expect((await storescu({ port: s.port, files: [file()] })).statuses).toEqual([0]);
    const r = await storescu({ port: s.port, files: [file()], noHalt: true });
    expect(r.statuses).toEqual([0x0111]);
    expect(r.responses[0]?.errorComment).toMatch(/already stored/);
    const q = filesBelow(join(s.dataDir, "_quarantine")).filter((f) => f.endsWith(".reason.json"));
    expect(q).toHaveLength(1);
    expect(JSON.parse(readFileSync(q[0] ?? "", "utf8")).status).toBe("0111");
    await s.stop();
  });

  test("overwrite (default): the second copy replaces the first atomically", async () => {
    const s = await startServer({ config: { storage: { min_free_mb: 1 } } });
    expect((await storescu({ port: s.port, files: [file()] })).statuses).toEqual([0]);
    const path = await storedPath(s.dataDir);
    const firstIno = statSync(path).ino;
    expect((await storescu({ port: s.port, files: [file()] })).statuses).toEqual([0]);
    const ino = await eventually(
      () => statSync(path).ino,
      (i) => i !== firstIno,
    );
    expect(ino).not.toBe(firstIno);
    await s.waitForOutput(/outcome=replaced/);
    await s.stop();
  });
});

describe("the tree under storage.root", () => {
  test("an operator removes a series directory between two instances: the next one is stored all the same", async () => {
    const s = await startServer({ config: { storage: { min_free_mb: 1 } } });
    const [first, second] = perfsetFiles(20);
    expect((await storescu({ port: s.port, files: [first ?? ""] })).statuses).toEqual([0]);
    const firstPath = await placed(storedPathOf(s.dataDir, (await readPart10(first ?? "")).attributes));
    // The series directory goes, with the spare temp file made for its next instance.
    rmSync(dirname(firstPath), { recursive: true });
    expect((await storescu({ port: s.port, files: [second ?? ""] })).statuses).toEqual([0]);
    const secondPath = await placed(storedPathOf(s.dataDir, (await readPart10(second ?? "")).attributes));
    expect(dirname(secondPath)).toBe(dirname(firstPath));
    expect(statSync(secondPath).size).toBeGreaterThan(0);
    await s.stop();
  });
});

describe("logs", () => {
  test("JSON format: one object per line with the association and instance fields", async () => {
    const s = await startServer({ config: { storage: { min_free_mb: 1 }, logging: { format: "json" } } });
    expect((await storescu({ port: s.port, files: [file()], callingAe: "CT_JSON" })).statuses).toEqual([0]);
    await s.waitForOutput(/association-ended/);
    const records = s
      .output()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { properties: Record<string, unknown> });
    const instance = records.find((r) => r.properties.event === "instance");
    expect(instance?.properties).toMatchObject({ tenant: "default", calling: "CT_JSON", status: "0000" });
    expect(instance?.properties.sop).toBe((await readPart10(file())).sopInstanceUid);
    const ended = records.find((r) => r.properties.event === "association-ended");
    expect(ended?.properties).toMatchObject({ instances: 1, ending: "released", calling: "CT_JSON" });
    await s.stop();
  });
});
