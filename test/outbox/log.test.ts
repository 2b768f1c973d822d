// The outbox log (src/outbox/log.ts): appends, acks and segments, read-only opening, the newest record.

import { describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { OutboxLog } from "../../src/outbox/log.ts";
import { dec, open, readAll, rec, segs } from "../helpers/outbox-log.ts";
import { tmpDirs } from "../helpers/tmp.ts";

const tmp = tmpDirs("outbox");

describe("OutboxLog", () => {
  test("appends survive reopening; ack removes; counts and bytes follow", async () => {
    const dir = tmp();
    let log = await open(dir);
    await Promise.all(Array.from({ length: 100 }, (_, i) => log.append(rec(i))));
    expect(log.records).toBe(100);
    const bytes = log.bytes;
    expect(bytes).toBe(statSync(join(dir, segs(dir)[0] ?? "")).size);
    await log.close();
    log = await open(dir);
    expect(log.records).toBe(100);
    const r = await log.read(40);
    expect(r.entries).toHaveLength(40);
    log.ack(r.next, 40);
    expect(log.records).toBe(60);
    await log.close();
    log = await open(dir);
    expect(log.records).toBe(60);
    const rest = await readAll(log);
    expect(rest.map((s) => (JSON.parse(s) as { i: number }).i)).toEqual(
      Array.from({ length: 60 }, (_, i) => i + 40),
    );
    await log.close();
  });

  test("segments roll and are deleted once acknowledged; the backlog reads across them in order", async () => {
    const dir = tmp();
    const log = await open(dir, { segmentBytes: 2000 });
    for (let i = 0; i < 200; i++) await log.append(rec(i));
    expect(segs(dir).length).toBeGreaterThan(5);
    const all = await readAll(log);
    expect(all).toHaveLength(200);
    let pos = log.head;
    let acked = 0;
    while (acked < 150) {
      const r = await log.read(30, pos);
      pos = r.next;
      acked += r.entries.length;
      log.ack(r.next, r.entries.length);
    }
    expect(log.records).toBe(50);
    const left = segs(dir).length;
    expect(left).toBeLessThan(6);
    const r = await log.read(1000);
    expect(r.entries).toHaveLength(50);
    log.ack(r.next, 50);
    expect(log.records).toBe(0);
    expect(log.bytes).toBe(0);
    expect(segs(dir).length).toBe(1);
    await log.close();
  });

  test("read-only opening (status) sees the backlog without touching anything", async () => {
    const dir = tmp();
    const log = await open(dir);
    for (let i = 0; i < 5; i++) await log.append(rec(i));
    const ro = await OutboxLog.open({ dir, maxBytes: 1, fsync: false, readOnly: true });
    expect(ro.records).toBe(5);
    expect(ro.full).toBe(true);
    expect(await ro.oldest()).toBe(null); // these test records have no created_time
    await ro.close();
    await log.close();
  });

  test("lastRecord: the newest record, published or not", async () => {
    const dir = tmp();
    const log = await open(dir);
    expect(await log.lastRecord()).toBeNull();
    for (let i = 0; i < 5; i++) await log.append(rec(i));
    const r = await log.read(10);
    log.ack(r.next, r.entries.length);
    expect(dec.decode((await log.lastRecord()) ?? new Uint8Array())).toBe(dec.decode(rec(4)));
    await log.close();
  });
});
