// Pending records and their final records in the outbox: the publisher sends only final records, in
// log order, waits at a pending record until its final one is written, and holds records that name a
// write-ahead log entry until told the entry is released; a scan at open finds what a stop left
// unsettled; an export passes over settled pending records.

import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OutboxLog } from "../../src/outbox/log.ts";
import { PendingRecords, settledPendingIds } from "../../src/outbox/pending.ts";
import { Drainer, type OutMessage, type Publisher } from "../../src/outbox/publisher.ts";
import { recordsBetween } from "../../src/outbox/segments.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

class Sent implements Publisher {
  connected = true;
  sent: OutMessage[] = [];
  async send(batch: readonly OutMessage[]): Promise<void> {
    this.sent.push(...batch);
  }
  async close(): Promise<void> {}
}

const enc = new TextEncoder();
const rec = (id: string, extra: Record<string, unknown> = {}) =>
  enc.encode(
    JSON.stringify({
      trace_id: id,
      tenant_id: "t",
      study_uid: "1.2",
      created_time: new Date(0).toISOString(),
      ...extra,
    }),
  );

async function fixture() {
  const dir = mkdtempSync(join(tmpdir(), "pending-"));
  dirs.push(dir);
  const log = await OutboxLog.open({ dir, maxBytes: 1 << 30, fsync: false });
  return { dir, log };
}

const topics = () => ({ storage: "s", log: "l" });
const sentIds = (p: Sent) =>
  p.sent.filter((m) => m.topic === "s").map((m) => JSON.parse(new TextDecoder().decode(m.value)));

describe("the publisher and pending records", () => {
  test("waits at a pending record, then sends its final record (where it was written) once", async () => {
    const { log } = await fixture();
    const pending = new PendingRecords();
    const pub = new Sent();
    const drainer = new Drainer(log, pub, topics, {
      disposition: (r) => pending.disposition(r),
      passedOver: (r) => pending.forget(r),
    });
    await log.append(rec("a"));
    await log.append(rec("b", { _pending: true, transfer_status: "NoNeedTransfer" }));
    await log.append(rec("c"));
    await drainer.publishOnce();
    expect(sentIds(pub).map((r) => r.trace_id)).toEqual(["a"]);
    expect(await drainer.publishOnce()).toBe(0);
    // b settles: its final record comes after c.
    await log.append(rec("b", { transfer_status: "Success" }));
    pending.markSettled("b");
    while ((await drainer.publishOnce()) > 0) {}
    const out = sentIds(pub);
    expect(out.map((r) => r.trace_id)).toEqual(["a", "c", "b"]);
    expect(out[2].transfer_status).toBe("Success");
    expect(out.some((r) => "_pending" in r)).toBe(false);
    expect(log.records).toBe(0);
  });

  test("records naming a write-ahead log entry wait until its release is durable", async () => {
    const { log } = await fixture();
    let released = false;
    const pending = new PendingRecords((id) => id === 7 && !released);
    const pub = new Sent();
    const drainer = new Drainer(log, pub, topics, { disposition: (r) => pending.disposition(r) });
    await log.append(rec("w", { _wal: 7 }));
    expect(await drainer.publishOnce()).toBe(0);
    released = true;
    expect(await drainer.publishOnce()).toBe(1);
    expect(sentIds(pub)[0]).toEqual({
      trace_id: "w",
      tenant_id: "t",
      study_uid: "1.2",
      created_time: new Date(0).toISOString(),
    });
  });

  test("a scan at open finds pending records without their final record and the entries records name", async () => {
    const { log } = await fixture();
    await log.append(rec("a", { _pending: true }));
    await log.append(rec("b", { _pending: true, _wal: 40 }));
    await log.append(rec("c", { _wal: 96 }));
    await log.append(rec("a"));
    const pending = new PendingRecords();
    const open = await pending.scan(log);
    expect(open.map((f) => f.record.trace_id)).toEqual(["b"]);
    expect(pending.disposition({ trace_id: "a", _pending: true })).toBe("skip");
    expect(pending.disposition({ trace_id: "b", _pending: true })).toBe("wait");
    expect([40, 96, 5].map((id) => pending.hasEntry(id))).toEqual([true, true, false]);
  });

  test("an export's range: which pending records have their final record in it", async () => {
    const { dir, log } = await fixture();
    await log.append(rec("a", { _pending: true }));
    await log.append(rec("b", { _pending: true }));
    await log.append(rec("x"));
    await log.append(rec("a"));
    const end = log.seal();
    const ids = await settledPendingIds(() => recordsBetween(dir, { segment: 0, offset: 0 }, end));
    expect([...ids]).toEqual(["a"]);
  });
});
