// Store-and-forward against the librdkafka mock cluster: every instance DCMTK storescu got 0000 for has
// its message on both topics, through broker outages, injected produce errors, SIGKILL, export/import,
// damaged outbox files and a full outbox.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OutboxLog } from "../../src/outbox/log.ts";
import type { OutboxRecord } from "../../src/outbox/record.ts";
import { uidHash } from "../../src/store/layout.ts";
import {
  type ConfigTree,
  makeWorkDir,
  type OurServerHandle,
  repoRoot,
  run,
  type StoreResult,
  startServer,
  storescu,
} from "../helpers/dcmtk.ts";
import { perfsetFiles, readPart10 } from "../helpers/fixtures.ts";
import { type Consumed, consumeTopics, type MockBroker, startMockBroker } from "../helpers/kafka.ts";

const TOPICS = ["storage_queue", "log_queue"];
let files: string[] = [];

beforeAll(() => {
  files = perfsetFiles(1000);
}, 300_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function config(mock: MockBroker | null, extra: ConfigTree = {}): ConfigTree {
  return {
    storage: { min_free_mb: 1, fsync: true },
    kafka: mock ? { enabled: true, brokers: mock.bootstrap.split(",") } : { enabled: false },
    ...extra,
  };
}

async function backlog(workDir: string): Promise<number> {
  const log = await OutboxLog.open({
    dir: join(workDir, "outbox"),
    maxBytes: 1,
    fsync: false,
    readOnly: true,
  });
  const n = log.records;
  await log.close();
  return n;
}

async function waitEmpty(workDir: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await backlog(workDir)) > 0) {
    if (Date.now() > deadline) throw new Error(`outbox of ${workDir} not empty after ${timeoutMs} ms`);
    await sleep(200);
  }
}

function ok(r: StoreResult): string[] {
  return r.responses.filter((x) => x.status === 0).map((x) => x.sopInstanceUid);
}

/** Both topics carry every SOP in `sops`, each record repeated only with its own trace_id. */
function checkDelivered(got: Consumed[], sops: Iterable<string>): Map<string, OutboxRecord> {
  const bySop = new Map<string, OutboxRecord>();
  for (const topic of TOPICS) {
    const traceOf = new Map<string, string>();
    for (const m of got.filter((x) => x.topic === topic)) {
      const r = JSON.parse(m.value) as OutboxRecord;
      expect(m.key).toBe(`${r.tenant_id}/${r.study_uid}`);
      expect(m.traceId).toBe(r.trace_id);
      if (r.tenant_id === "filler") continue;
      const seen = traceOf.get(r.sop_uid);
      // A repeat is allowed (at-least-once) only with the same trace_id.
      if (seen !== undefined) expect(r.trace_id).toBe(seen);
      traceOf.set(r.sop_uid, r.trace_id);
      bySop.set(r.sop_uid, r);
    }
    for (const sop of sops) expect(traceOf.has(sop)).toBe(true);
  }
  return bySop;
}

const started: Array<{ stop: () => Promise<unknown> }> = [];
const workDirs: string[] = [];
// Mock clusters, servers and work dirs of 1000 instances each: more than the default 5 s on a loaded machine.
afterAll(async () => {
  for (const s of started.reverse()) await s.stop();
  for (const d of workDirs) rmSync(d, { recursive: true, force: true });
}, 60_000);

async function mockBroker(): Promise<MockBroker> {
  const m = await startMockBroker(TOPICS.map((t) => `${t}:3`));
  started.push(m);
  return m;
}

async function server(cfg: ConfigTree, workDir?: string): Promise<OurServerHandle> {
  const s = await startServer({ config: cfg, ...(workDir ? { workDir } : {}) });
  started.push(s);
  if (!workDirs.includes(s.workDir)) workDirs.push(s.workDir);
  return s;
}

function cli(args: string[], cwd: string) {
  return run(process.execPath, [join(repoRoot, "src", "main.ts"), "outbox", ...args], {
    cwd,
    timeoutMs: 60_000,
  });
}

describe("outbox to Kafka", () => {
  test("500 instances from storescu: 500 messages on each topic, every field right, no duplicates", async () => {
    const mock = await mockBroker();
    const srv = await server(config(mock));
    const batch = files.slice(0, 500);
    const r = await storescu({ port: srv.port, files: batch, timeoutMs: 120_000 });
    expect(r.statuses).toEqual(new Array(500).fill(0));
    const got = await consumeTopics(mock.bootstrap, TOPICS, 500, 60_000);
    for (const t of TOPICS) expect(got.filter((m) => m.topic === t)).toHaveLength(500);
    const bySop = checkDelivered(got, ok(r));
    expect(new Set(got.map((m) => m.traceId)).size).toBe(500);
    // Fields against the stored file, for a sample.
    for (const f of batch.filter((_, i) => i % 25 === 0)) {
      const src = await readPart10(f);
      const rec = bySop.get(src.sopInstanceUid);
      expect(rec).toBeDefined();
      if (!rec) continue;
      const a = src.attributes;
      const stored = readFileSync(rec.file_path);
      expect(rec.schema_version).toBe(1);
      expect(rec.trace_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(rec.file_size).toBe(stored.length);
      expect(rec.sha256).toBe(createHash("sha256").update(stored).digest("hex"));
      expect(rec.file_path.startsWith(srv.dataDir)).toBe(true);
      expect(rec.tenant_id).toBe("default");
      expect(rec.patient_id).toBe(a.patientId ?? "");
      expect(rec.study_uid).toBe(a.studyInstanceUid ?? "");
      expect(rec.series_uid).toBe(a.seriesInstanceUid ?? "");
      expect(rec.sop_uid).toBe(src.sopInstanceUid);
      expect(rec.sop_class_uid).toBe(src.sopClassUid);
      expect(rec.transfer_syntax_uid).toBe(src.transferSyntaxUid);
      expect(rec.target_ts).toBe(src.transferSyntaxUid);
      expect(rec.transfer_status).toBe("NoNeedTransfer");
      const da = a.studyDate ?? "";
      expect(rec.study_date).toBe(`${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6, 8)}`);
      expect(rec.number_of_frames).toBe(a.numberOfFrames ?? 1);
      expect(rec.accession_number).toBe(a.accessionNumber ? a.accessionNumber : null);
      expect(rec.study_uid_hash).toBe(uidHash(rec.study_uid));
      expect(rec.series_uid_hash).toBe(uidHash(rec.series_uid));
      expect(rec.source_ip).toMatch(/127\.0\.0\.1/);
      expect(rec.source_ae).toBe("STORESCU");
      expect(rec.called_ae).toBe("ANY-SCP");
      expect(Number.isNaN(Date.parse(rec.created_time))).toBe(false);
      expect(rec.worker_node_id.length).toBeGreaterThan(0);
    }
    // Messages of one study sit in one partition (key order).
    for (const t of TOPICS) {
      const partOf = new Map<string, number>();
      for (const m of got.filter((x) => x.topic === t)) {
        const p = partOf.get(m.key);
        if (p !== undefined) expect(m.partition).toBe(p);
        partOf.set(m.key, m.partition);
      }
    }
    await waitEmpty(srv.workDir);
    expect(await srv.stop()).toBe(0);
  }, 180_000);

  test("brokers down mid-run, injected produce errors: only successes, backlog grows, all arrive after up", async () => {
    const mock = await mockBroker();
    const srv = await server(config(mock));
    const first = await storescu({ port: srv.port, files: files.slice(0, 50) });
    expect(first.statuses).toEqual(new Array(50).fill(0));
    expect(await mock.control("down")).toBe("OK down");
    const during = await storescu({ port: srv.port, files: files.slice(50, 250), timeoutMs: 60_000 });
    expect(during.statuses).toEqual(new Array(200).fill(0));
    // The records are written once the burst's files are placed (a moment after the sender's end).
    for (let i = 0; i < 100 && (await backlog(srv.workDir)) < 150; i++) await sleep(100);
    expect(await backlog(srv.workDir)).toBeGreaterThanOrEqual(150);
    await sleep(1500);
    expect(await backlog(srv.workDir)).toBeGreaterThanOrEqual(150);
    // Back up, but with produce failures: transport errors (-195) and NOT_LEADER_FOR_PARTITION (6).
    expect(await mock.control("err 0 -195 3")).toBe("OK err");
    expect(await mock.control("err 0 6 3")).toBe("OK err");
    expect(await mock.control("up")).toBe("OK up");
    const after = await storescu({ port: srv.port, files: files.slice(250, 300) });
    expect(after.statuses).toEqual(new Array(50).fill(0));
    await waitEmpty(srv.workDir, 90_000);
    const got = await consumeTopics(mock.bootstrap, TOPICS, 300, 60_000);
    checkDelivered(got, [...ok(first), ...ok(during), ...ok(after)]);
    expect(srv.output()).toMatch(/publish-failed/);
    expect(srv.output()).toMatch(/publish-resumed/);
    expect(await srv.stop()).toBe(0);
  }, 240_000);

  test("SIGKILL while publishing, then restart: every acknowledged instance has its message", async () => {
    const mock = await mockBroker();
    const cfg = config(mock);
    const srv = await server(cfg);
    await mock.control("down");
    const r = await storescu({ port: srv.port, files: files.slice(300, 600), timeoutMs: 60_000 });
    expect(r.statuses).toEqual(new Array(300).fill(0));
    await mock.control("up");
    // Kill as soon as publishing has visibly started (the backlog shrinks), or after 5 s regardless.
    const before = await backlog(srv.workDir);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (await backlog(srv.workDir)) >= before) await sleep(20);
    srv.kill("SIGKILL");
    expect(await srv.exited).toBe(128 + 9);
    const again = await server(cfg, srv.workDir);
    await waitEmpty(again.workDir, 90_000);
    const got = await consumeTopics(mock.bootstrap, TOPICS, 300, 60_000);
    checkDelivered(got, ok(r));
    expect(await again.stop()).toBe(0);
  }, 240_000);

  test("above outbox.max_mb: A700 and a transient reject, nothing lost, normal service after the drain", async () => {
    const mock = await mockBroker();
    const work = makeWorkDir("outbox-full");
    workDirs.push(work);
    // Fill the outbox to just under 1 MiB with records of another tenant, brokers down.
    const pre = await OutboxLog.open({ dir: join(work, "outbox"), maxBytes: 1 << 20, fsync: false });
    const filler = (i: number) =>
      new TextEncoder().encode(
        JSON.stringify({
          trace_id: `filler-${i}`,
          tenant_id: "filler",
          study_uid: "1.2.3",
          created_time: new Date().toISOString(),
          pad: "x".repeat(1000),
        }),
      );
    let i = 0;
    while (pre.bytes < (1 << 20) - 6000) await pre.append(filler(i++));
    const fillers = pre.records;
    await pre.close();
    await mock.control("down");
    const srv = await server(config(mock, { outbox: { max_mb: 1 } }), work);
    const r = await storescu({
      port: srv.port,
      files: files.slice(600, 640),
      noHalt: true,
      timeoutMs: 60_000,
    });
    const good = ok(r);
    expect(good.length).toBeGreaterThan(0);
    expect(good.length).toBeLessThan(40);
    expect(r.statuses).toContain(0xa700);
    expect(r.statuses).toHaveLength(40);
    expect(r.statuses.every((s) => s === 0 || s === 0xa700)).toBe(true);
    await srv.waitForOutput(/outbox-full/);
    // A new association is refused for now (transient, 2/3/1).
    const refused = await storescu({ port: srv.port, files: files.slice(640, 641) });
    expect(refused.code).not.toBe(0);
    await srv.waitForOutput(/association-rejected .*outbox full/);
    await mock.control("up");
    await waitEmpty(work, 90_000);
    await srv.waitForOutput(/outbox-accepting/);
    // The modality sends again what was refused (and the one whose association was rejected).
    const again = [
      ...files.slice(600, 640).filter((_, k) => r.statuses[k] === 0xa700),
      ...files.slice(640, 641),
    ];
    const resend = await storescu({ port: srv.port, files: again, timeoutMs: 60_000 });
    expect(resend.statuses).toEqual(new Array(again.length).fill(0));
    await waitEmpty(work, 60_000);
    const got = await consumeTopics(mock.bootstrap, TOPICS, fillers + 41, 60_000);
    checkDelivered(got, [...good, ...ok(resend)]);
    expect(await srv.stop()).toBe(0);
  }, 240_000);
});

describe("outbox files and the CLI", () => {
  test("export from one outbox, import into another: all delivered; a second import adds nothing", async () => {
    const mock = await mockBroker();
    const a = await server(config(null));
    const r = await storescu({ port: a.port, files: files.slice(700, 760) });
    expect(r.statuses).toEqual(new Array(60).fill(0));
    expect(await a.stop()).toBe(0);
    const st = await cli(["status", "-c", a.configPath], a.workDir);
    expect(st.code).toBe(0);
    expect(st.stdout).toMatch(/records: +60\b/);
    const bundle = join(a.workDir, "bundle");
    const ex = await cli(["export", bundle, "-c", a.configPath], a.workDir);
    expect(ex.stderr).toBe("");
    expect(ex.stdout).toMatch(/exported 60 record/);
    expect(await backlog(a.workDir)).toBe(0);

    const b = makeWorkDir("outbox-import");
    workDirs.push(b);
    const bConfig = join(b, "config.yaml");
    writeFileSync(
      bConfig,
      `kafka: { enabled: true, brokers: [${mock.bootstrap}] }\nstorage: { fsync: true }\n`,
    );
    const im = await cli(["import", bundle, "-c", bConfig], b);
    expect(im.stdout).toMatch(/imported 60 record/);
    const dr = await cli(["drain", "-c", bConfig], b);
    expect(dr.code).toBe(0);
    expect(dr.stdout).toMatch(/drained 60 record/);
    const again = await cli(["import", bundle, "-c", bConfig], b);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/imported 0 record.*60 already imported/);
    const dr2 = await cli(["drain", "-c", bConfig], b);
    expect(dr2.stdout).toMatch(/drained 0 record/);
    const got = await consumeTopics(mock.bootstrap, TOPICS, 60, 30_000);
    for (const t of TOPICS) expect(got.filter((m) => m.topic === t)).toHaveLength(60);
    checkDelivered(got, ok(r));
    // A damaged bundle is refused whole.
    const recs = join(bundle, "vol-0001", "records.seg");
    const bytes = readFileSync(recs);
    bytes[100] = (bytes[100] ?? 0) ^ 1;
    writeFileSync(recs, bytes);
    const bad = await cli(["import", bundle, "-c", bConfig], b);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/SHA-256/);
  }, 180_000);

  test("drain fails with a reason when Kafka is unreachable or disabled", async () => {
    const w = makeWorkDir("outbox-drain");
    workDirs.push(w);
    const pre = await OutboxLog.open({ dir: join(w, "outbox"), maxBytes: 1 << 30, fsync: false });
    await pre.append(
      new TextEncoder().encode(JSON.stringify({ trace_id: "t", tenant_id: "x", study_uid: "1" })),
    );
    await pre.close();
    writeFileSync(join(w, "off.yaml"), "kafka: { enabled: false }\n");
    const off = await cli(["drain", "-c", join(w, "off.yaml")], w);
    expect(off.code).toBe(1);
    expect(off.stderr).toMatch(/kafka.enabled is false/);
  }, 60_000);

  test("truncated and bit-flipped outbox files: set aside with a log line, the rest delivered, no crash", async () => {
    const mock = await mockBroker();
    const a = await server(config(null));
    const r = await storescu({ port: a.port, files: files.slice(800, 830) });
    expect(r.statuses).toEqual(new Array(30).fill(0));
    expect(await a.stop()).toBe(0);
    const outbox = join(a.workDir, "outbox");
    const seg = join(outbox, readdirSync(outbox).find((n) => n.endsWith(".seg")) ?? "");
    const bytes = readFileSync(seg);
    const size = statSync(seg).size;
    bytes[Math.floor(size / 2)] = (bytes[Math.floor(size / 2)] ?? 0) ^ 0x04;
    writeFileSync(seg, bytes);
    truncateSync(seg, size - 7);
    const b = await server(config(mock), a.workDir);
    await b.waitForOutput(/outbox-record-corrupt/);
    await b.waitForOutput(/outbox-torn-tail/);
    await waitEmpty(b.workDir);
    const got = await consumeTopics(mock.bootstrap, TOPICS, 28, 30_000);
    const delivered = new Set(
      got.filter((m) => m.topic === TOPICS[0]).map((m) => (JSON.parse(m.value) as OutboxRecord).sop_uid),
    );
    expect(delivered.size).toBe(28);
    expect(readdirSync(join(outbox, "corrupt"))).toHaveLength(2);
    // And it keeps working.
    const more = await storescu({ port: b.port, files: files.slice(830, 835) });
    expect(more.statuses).toEqual(new Array(5).fill(0));
    await waitEmpty(b.workDir);
    expect(await b.stop()).toBe(0);
  }, 180_000);
});
