// Concurrency and size: 10 parallel storescu associations, and a 1 GiB instance in bounded memory.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { type OurServerHandle, peakRss, startServer, storescu } from "../helpers/dcmtk.ts";
import {
  bigInstance,
  filesBelow,
  perfset,
  perfsetFiles,
  placedBelow,
  readPart10,
  storedPathOf,
} from "../helpers/fixtures.ts";

let server: OurServerHandle;

beforeAll(async () => {
  perfset(1000);
  bigInstance(1024);
  // fsync on, as shipped: the memory bound must hold on the durable path.
  server = await startServer({ config: { storage: { fsync: true, min_free_mb: 1 } } });
}, 300_000);

afterAll(async () => {
  expect(await server.stop()).toBe(0);
  rmSync(server.workDir, { recursive: true, force: true });
});

describe("load", () => {
  test("10 parallel storescu associations of 100 instances each: 1000 files, none mixed up or missing", async () => {
    const all = perfsetFiles(1000);
    expect(all).toHaveLength(1000);
    const groups = Array.from({ length: 10 }, (_, i) => all.slice(i * 100, i * 100 + 100));
    const results = await Promise.all(
      groups.map((files, i) =>
        storescu({ port: server.port, files, callingAe: `SCU${i}`, timeoutMs: 120_000 }),
      ),
    );
    for (const r of results) {
      expect(r.code).toBe(0);
      expect(r.statuses).toEqual(new Array(100).fill(0));
    }
    const stored = await placedBelow(join(server.dataDir, "default"), 1000);
    expect(stored).toHaveLength(1000);
    // Every source instance is at its own path with its own data set.
    for (const f of all.filter((_, i) => i % 37 === 0)) {
      const src = await readPart10(f);
      const a = src.attributes;
      const got = await readPart10(storedPathOf(server.dataDir, a));
      expect(got.sopInstanceUid).toBe(src.sopInstanceUid);
      expect(Buffer.compare(Buffer.from(got.dataSet), Buffer.from(src.dataSet))).toBe(0);
    }
    const sources = new Set(["SCU0", "SCU5", "SCU9"]);
    for (const s of sources)
      await server.waitForOutput(new RegExp(`association-ended .*calling=${s} .*instances=100 `));
  }, 300_000);

  test("a 1 GiB instance is stored while our peak RSS stays under 200 MB", async () => {
    const big = bigInstance(1024);
    const size = statSync(big).size;
    expect(size).toBeGreaterThan(1024 ** 3);
    const r = await storescu({ port: server.port, files: [big], timeoutMs: 240_000 });
    expect(r.statuses).toEqual([0]);
    const rss = peakRss(server.pid) ?? Number.POSITIVE_INFINITY;
    console.log(
      `peak RSS after a ${(size / 2 ** 20).toFixed(0)} MiB instance: ${(rss / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(rss).toBeLessThan(200 * 1024 * 1024);
    const stored = filesBelow(server.dataDir).filter((f) => statSync(f).size > 1024 ** 3);
    expect(stored).toHaveLength(1);
  }, 300_000);
});
