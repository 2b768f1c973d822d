// The record, and the drain loop against a fake Publisher: both topics per record, per-tenant topics,
// retries of whole batches (so per-key order holds and repeats keep their trace_id), acks only on success.

import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { OutboxLog } from "../../src/outbox/log.ts";
import { Drainer, type OutMessage, type Publisher, topicsResolver } from "../../src/outbox/publisher.ts";
import { isoDate, makeRecord, recordKey, uuidV7 } from "../../src/outbox/record.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

class FakePublisher implements Publisher {
  connected = true;
  sent: OutMessage[][] = [];
  failNext = 0;
  async send(batch: readonly OutMessage[]): Promise<void> {
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error("NOT_LEADER_FOR_PARTITION");
    }
    this.sent.push([...batch]);
  }
  async close(): Promise<void> {}
}

const enc = new TextEncoder();
function record(i: number, tenant = "default") {
  return makeRecord({
    tenantId: tenant,
    attributes: {
      studyInstanceUid: `1.2.${i % 3}`,
      seriesInstanceUid: "1.3",
      sopInstanceUid: `1.4.${i}`,
      studyDate: "20240102",
    },
    path: `/x/${i}.dcm`,
    fileSize: i,
    sha256: "ab",
    transferSyntaxUid: "1.2.840.10008.1.2.1",
    sourceIp: "10.0.0.1",
    sourceAe: "CT",
    calledAe: "STORESCP",
  });
}

describe("record", () => {
  test("UUIDv7: version 7, RFC variant, time-ordered", () => {
    const a = uuidV7(1_700_000_000_000);
    const b = uuidV7(1_700_000_000_001);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a < b).toBe(true);
    expect(Number.parseInt(a.replaceAll("-", "").slice(0, 12), 16)).toBe(1_700_000_000_000);
  });

  test("the original's fields in its order, key, dates", () => {
    const r = record(7);
    expect(Object.keys(r)).toEqual([
      "schema_version",
      "trace_id",
      "worker_node_id",
      "tenant_id",
      "patient_id",
      "study_uid",
      "series_uid",
      "sop_uid",
      "sop_class_uid",
      "file_path",
      "file_size",
      "sha256",
      "transfer_syntax_uid",
      "target_ts",
      "transfer_status",
      "study_date",
      "number_of_frames",
      "accession_number",
      "study_uid_hash",
      "series_uid_hash",
      "source_ip",
      "source_ae",
      "called_ae",
      "created_time",
    ]);
    expect(r.study_date).toBe("2024-01-02");
    expect(r.accession_number).toBe(null);
    expect(r.number_of_frames).toBe(1);
    expect(r.transfer_status).toBe("NoNeedTransfer");
    expect(recordKey(r)).toBe("default/1.2.1");
    expect(isoDate("2024")).toBe(null);
    expect(isoDate("20241301")).toBe(null);
    expect(isoDate(undefined)).toBe(null);
    expect(isoDate(" 20240229")).toBe("2024-02-29");
  });

  test("Type 2 gaps: study_date null, patient_id empty, and warnings only when there are any", () => {
    const gaps = makeRecord({
      tenantId: "default",
      attributes: { studyInstanceUid: "1.2", seriesInstanceUid: "1.3", sopInstanceUid: "1.4" },
      path: "/x/1.dcm",
      fileSize: 1,
      sha256: null,
      transferSyntaxUid: "1.2.840.10008.1.2.1",
      sourceIp: "10.0.0.1",
      sourceAe: "CT",
      calledAe: "STORESCP",
      warnings: ["Patient ID (0010,0020) absent", "Study Date (0008,0020) absent"],
    });
    expect(gaps.study_date).toBe(null);
    expect(gaps.patient_id).toBe("");
    expect(gaps.warnings).toEqual(["Patient ID (0010,0020) absent", "Study Date (0008,0020) absent"]);
    expect(Object.keys(gaps).at(-1)).toBe("warnings");
    expect("warnings" in record(1)).toBe(false);
  });
});

describe("Drainer", () => {
  async function setup(n: number, tenantOf = (_i: number) => "default") {
    const dir = mkdtempSync(join(tmpdir(), "drainer-"));
    dirs.push(dir);
    const log = await OutboxLog.open({ dir, maxBytes: 1 << 30, fsync: false });
    for (let i = 0; i < n; i++) await log.append(enc.encode(JSON.stringify(record(i, tenantOf(i)))));
    return log;
  }

  test("every record to both topics, in outbox order, acknowledged only after a successful send", async () => {
    const log = await setup(25);
    const pub = new FakePublisher();
    const d = new Drainer(log, pub, () => ({ storage: "s", log: "l" }), { batch: 10, minBackoffMs: 1 });
    pub.failNext = 2;
    await expect(d.publishOnce()).rejects.toThrow("NOT_LEADER");
    expect(log.records).toBe(25);
    await expect(d.publishOnce()).rejects.toThrow();
    while (log.records > 0) await d.publishOnce();
    const all = pub.sent.flat();
    expect(all).toHaveLength(50);
    for (const topic of ["s", "l"]) {
      const sops = all
        .filter((m) => m.topic === topic)
        .map((m) => JSON.parse(new TextDecoder().decode(m.value)).sop_uid);
      expect(sops).toEqual(Array.from({ length: 25 }, (_, i) => `1.4.${i}`));
    }
    expect(d.state.backlog).toBe(0);
    expect(d.state.published).toBe(25);
    await log.close();
  });

  test("a tenant's own topics", async () => {
    const log = await setup(4, (i) => (i % 2 === 0 ? "a" : "b"));
    const config = loadConfig(undefined, {});
    config.tenants = [
      // only the fields topicsResolver reads matter here
      { ...({} as (typeof config.tenants)[number]), id: "a", topics: { storage: "a_store" } },
    ];
    const pub = new FakePublisher();
    const d = new Drainer(log, pub, topicsResolver(config));
    await d.publishOnce();
    const topics = pub.sent.flat().map((m) => `${m.key.split("/")[0]}:${m.topic}`);
    expect(new Set(topics)).toEqual(new Set(["a:a_store", "a:log_queue", "b:storage_queue", "b:log_queue"]));
    await log.close();
  });

  test("while receivers are busy only records older than the allowed lag go out; all of them once idle", async () => {
    const dir = mkdtempSync(join(tmpdir(), "drainer-"));
    dirs.push(dir);
    const log = await OutboxLog.open({ dir, maxBytes: 1 << 30, fsync: false });
    const now = Date.now();
    // 3 records made 10 s ago, then 4 made now
    for (let i = 0; i < 7; i++) {
      const r = { ...record(i), created_time: new Date(i < 3 ? now - 10_000 : now).toISOString() };
      await log.append(enc.encode(JSON.stringify(r)));
    }
    const pub = new FakePublisher();
    let busy = true;
    const d = new Drainer(log, pub, () => ({ storage: "s", log: "l" }), {
      busy: () => busy,
      busyLagMs: 5000,
    });
    expect(await d.publishOnce(5000)).toBe(3);
    expect(log.records).toBe(4);
    expect(await d.publishOnce(5000)).toBe(0);
    expect(log.records).toBe(4);
    busy = false;
    d.start();
    const deadline = Date.now() + 5000;
    while (log.records > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await d.stop();
    expect(pub.sent.flat().map((m) => JSON.parse(new TextDecoder().decode(m.value)).sop_uid)).toEqual(
      ["1.4.0", "1.4.1", "1.4.2", "1.4.3", "1.4.4", "1.4.5", "1.4.6"].flatMap((u) => [u, u]),
    );
    await log.close();
  });

  test("the loop retries with backoff and delivers after failures; the state reports it", async () => {
    const log = await setup(5);
    const pub = new FakePublisher();
    pub.failNext = 3;
    const d = new Drainer(log, pub, () => ({ storage: "s", log: "l" }), {
      minBackoffMs: 5,
      maxBackoffMs: 20,
      lingerMs: 1,
    });
    d.start();
    const deadline = Date.now() + 5000;
    while (log.records > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await d.stop();
    expect(log.records).toBe(0);
    expect(pub.sent.flat()).toHaveLength(10);
    expect(d.state.rate).toBeGreaterThan(0);
    expect(d.state.lastError).toBe("NOT_LEADER_FOR_PARTITION");
    await log.close();
  });
});
