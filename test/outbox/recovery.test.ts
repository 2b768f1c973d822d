// What opening the outbox log does with damage (src/outbox/recovery.ts): torn tails, flipped bits,
// garbage segments.

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HEADER } from "../../src/outbox/frame.ts";
import { open, readAll, rec, segs } from "../helpers/outbox-log.ts";
import { tmpDirs } from "../helpers/tmp.ts";

const tmp = tmpDirs("outbox");

describe("recovery at open", () => {
  test("a torn tail is set aside and truncated; appends continue after the last good record", async () => {
    const dir = tmp();
    let log = await open(dir);
    for (let i = 0; i < 10; i++) await log.append(rec(i));
    await log.close();
    const seg = join(dir, segs(dir)[0] ?? "");
    const size = statSync(seg).size;
    truncateSync(seg, size - 5);
    log = await open(dir);
    expect(log.records).toBe(9);
    expect(readdirSync(join(dir, "corrupt"))).toHaveLength(1);
    await log.append(rec(99));
    const all = await readAll(log);
    expect(all.map((s) => (JSON.parse(s) as { i: number }).i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 99]);
    await log.close();
  });

  test("a bit-flipped record in a sealed segment is set aside, the rest delivered", async () => {
    const dir = tmp();
    let log = await open(dir, { segmentBytes: 1500 });
    for (let i = 0; i < 30; i++) await log.append(rec(i));
    await log.close();
    const first = join(dir, segs(dir)[0] ?? "");
    const bytes = readFileSync(first);
    bytes[HEADER + 20] = (bytes[HEADER + 20] ?? 0) ^ 0x10;
    writeFileSync(first, bytes);
    log = await open(dir, { segmentBytes: 1500 });
    expect(log.records).toBe(29);
    const all = await readAll(log);
    expect(all).toHaveLength(29);
    expect(all.some((s) => (JSON.parse(s) as { i: number }).i === 0)).toBe(false);
    const corrupt = readdirSync(join(dir, "corrupt"));
    expect(corrupt).toHaveLength(1);
    await log.close();
  });

  test("garbage instead of a segment costs only that segment", async () => {
    const dir = tmp();
    let log = await open(dir, { segmentBytes: 1500 });
    for (let i = 0; i < 30; i++) await log.append(rec(i));
    await log.close();
    const names = segs(dir);
    const second = join(dir, names[1] ?? "");
    const n = statSync(second).size;
    writeFileSync(second, Buffer.alloc(n, 0x5a));
    log = await open(dir, { segmentBytes: 1500 });
    const all = await readAll(log);
    expect(all.length).toBeGreaterThan(20);
    expect(all.length).toBeLessThan(30);
    expect(log.records).toBe(all.length);
    await log.close();
  });
});
