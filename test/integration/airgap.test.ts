// Air-gapped sync: `outbox export` beside a server that keeps receiving (with the server SIGKILLed and
// the exporter killed along the way), bundles that carry the images to a second site and publish there,
// and a record hash that is always that of its own reception's bytes.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { readFileMeta } from "../../src/dicom/part10.ts";
import { bundleRecords } from "../../src/outbox/bundle.ts";
import { OutboxLog } from "../../src/outbox/log.ts";
import type { OutboxRecord } from "../../src/outbox/record.ts";
import {
  type ConfigTree,
  dcmsend,
  makeWorkDir,
  type OurServerHandle,
  repoRoot,
  run,
  startServer,
  storescu,
} from "../helpers/dcmtk.ts";
import { corpus, filesBelow, perfsetFiles } from "../helpers/fixtures.ts";
import { consumeTopics, type MockBroker, startMockBroker } from "../helpers/kafka.ts";
import { finalRecords } from "../helpers/tools.ts";

const TOPICS = ["storage_queue", "log_queue"];
let files: string[] = [];
const sops = new Map<string, string>();
const sopOf = (f: string): string => sops.get(f) ?? "";
const started: Array<{ stop: () => Promise<unknown> }> = [];
const workDirs: string[] = [];

beforeAll(() => {
  files = perfsetFiles(1000);
  for (const f of files.slice(0, 500))
    sops.set(f, readFileMeta(new Uint8Array(readFileSync(f))).meta.mediaStorageSopInstanceUid ?? "");
}, 300_000);

afterAll(async () => {
  for (const s of started.reverse()) await s.stop();
  for (const d of workDirs) rmSync(d, { recursive: true, force: true });
}, 60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const MAIN = join(repoRoot, "src", "main.ts");

async function server(config: ConfigTree, workDir?: string): Promise<OurServerHandle> {
  const s = await startServer({ config, ...(workDir ? { workDir } : {}) });
  started.push(s);
  if (!workDirs.includes(s.workDir)) workDirs.push(s.workDir);
  return s;
}

function cli(args: string[], cwd: string, timeoutMs = 120_000) {
  return run(process.execPath, [MAIN, "outbox", ...args], { cwd, timeoutMs });
}

/** A CLI command as a child process we can kill. */
function spawnCli(args: string[], cwd: string): { proc: ChildProcess; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [MAIN, "outbox", ...args], { cwd, stdio: "ignore" });
  return { proc, exited: new Promise((r) => proc.on("close", (code, signal) => r(signal ? 137 : code))) };
}

/** The records of an outbox left behind (from its cursor), read as `outbox status` does. */
async function outboxLeft(dir: string): Promise<OutboxRecord[]> {
  const log = await OutboxLog.open({ dir, maxBytes: 1 << 30, fsync: false, readOnly: true });
  const out: OutboxRecord[] = [];
  try {
    let pos = log.head;
    for (;;) {
      const r = await log.read(5000, pos);
      if (r.entries.length === 0) break;
      for (const e of r.entries) out.push(JSON.parse(new TextDecoder().decode(e.payload)) as OutboxRecord);
      pos = r.next;
    }
  } finally {
    await log.close();
  }
  return out;
}

type Bundled = OutboxRecord & { bundle_file?: string; carried?: string };

/** The records of every complete volume of a bundle, each with the SHA-256 of the file it carries. */
function bundled(dir: string): Bundled[] {
  if (!existsSync(dir)) return [];
  const out: Bundled[] = [];
  for (const v of readdirSync(dir).filter((n) => n.startsWith("vol-"))) {
    if (!existsSync(join(dir, v, "manifest.json"))) continue;
    const m = JSON.parse(readFileSync(join(dir, v, "manifest.json"), "utf8")) as {
      files: Array<{ path: string; sha256: string }>;
    };
    const sha = new Map(m.files.map((f) => [f.path, f.sha256]));
    for (const p of bundleRecords(join(dir, v, "records.seg"))) {
      const r = JSON.parse(new TextDecoder().decode(p)) as Bundled;
      if (r.bundle_file) r.carried = sha.get(r.bundle_file);
      out.push(r);
    }
  }
  return out;
}

const manifests = (dir: string) =>
  existsSync(dir) ? readdirSync(dir).filter((v) => existsSync(join(dir, v, "manifest.json"))).length : 0;

describe("export beside a receiving server", () => {
  for (const round of [1, 2, 3]) {
    test(`round ${round}: storescu sends 500 instances in a loop; an exporter killed mid-way, the server SIGKILLed during the next export: every instance answered 0000 is in exactly one of bundle and outbox`, async () => {
      const cfg: ConfigTree = { storage: { min_free_mb: 1, fsync: true }, kafka: { enabled: false } };
      let srv = await server(cfg);
      const work = srv.workDir;
      const bundle = join(work, "bundle");
      const batch = files.slice(0, 500);
      const answered: string[] = [];
      const sent = new Map<string, number>();
      let sending = true;
      // The modality: batches of 20, each a new association; what was not answered is sent again (while
      // the server is down, after a pause).
      const loop = (async () => {
        for (let i = 0; i < batch.length; i += 20) {
          let pending = batch.slice(i, i + 20);
          for (let attempt = 0; pending.length > 0 && attempt < 300; attempt++) {
            if (attempt > 0) await sleep(50);
            for (const f of pending) sent.set(sopOf(f), (sent.get(sopOf(f)) ?? 0) + 1);
            const r = await storescu({ port: srv.port, files: pending, noHalt: true, timeoutMs: 60_000 });
            const ok = new Set(r.responses.filter((x) => x.status === 0).map((x) => x.sopInstanceUid));
            for (const s of ok) answered.push(s);
            pending = pending.filter((f) => !ok.has(sopOf(f)));
          }
        }
        sending = false;
      })();
      while (answered.length < 60) await sleep(20);

      // Exporter A, killed once it has completed two volumes.
      const a = spawnCli(
        ["export", bundle, "--with-files", "--max-bundle-mb", "1", "-c", srv.configPath],
        work,
      );
      while (manifests(bundle) < 2 && a.proc.exitCode === null) await sleep(5);
      a.proc.kill("SIGKILL");
      expect(await a.exited).toBe(137);

      // Exporter B continues into the same bundle; the server is SIGKILLed at a random moment meanwhile.
      const b = cli(["export", bundle, "--with-files", "--max-bundle-mb", "1", "-c", srv.configPath], work);
      await sleep(Math.floor(Math.random() * 600));
      srv.kill("SIGKILL");
      await srv.exited;
      srv = await server(cfg, work);
      const br = await b;
      expect(br.stderr).toBe("");
      expect(br.code).toBe(0);
      await loop;
      expect(sending).toBe(false);
      expect(await srv.stop()).toBe(0);

      const inBundle = bundled(bundle);
      const left = await outboxLeft(join(work, "outbox"));
      const all = [...inBundle, ...left];
      // No record twice, across the bundle and the outbox.
      const ids = all.map((r) => r.trace_id);
      expect(new Set(ids).size).toBe(ids.length);
      // Each instance answered 0000 (each was sent until answered, once) is there exactly once.
      const bySop = new Map<string, number>();
      for (const r of all) bySop.set(r.sop_uid, (bySop.get(r.sop_uid) ?? 0) + 1);
      expect(new Set(answered).size).toBe(500);
      for (const sop of answered) {
        // Sent once: exactly one record. Sent again because the SIGKILL swallowed its answer: the first
        // reception may have its record too (the modality was never told it was stored).
        if (sent.get(sop) === 1) expect(bySop.get(sop)).toBe(1);
        else expect(bySop.get(sop) ?? 0).toBeGreaterThanOrEqual(1);
      }
      expect(inBundle.length).toBeGreaterThan(0);
      // The bundle verifies; every record has its reception's hash (from the notes or its file).
      const st = await cli(["status", "--bundle", bundle], work);
      expect(st.code).toBe(0);
      expect(st.stdout).toMatch(/verifies$/m);
      for (const r of inBundle) {
        expect(r.carried).toMatch(/^[0-9a-f]{64}$/);
        // Its own bytes, unless a later reception replaced the file (and the record says so).
        if (r.sha256 !== r.carried) expect(r.warnings?.some((w) => w.includes("later version"))).toBe(true);
        if (r.sha256 !== null) expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
        else {
          // Only a reception whose file a resend replaced (its answer lost to the SIGKILL) has no hash.
          expect(r.warnings?.some((w) => w.startsWith("sha256 unknown"))).toBe(true);
          expect(sent.get(r.sop_uid) ?? 0).toBeGreaterThan(1);
        }
      }
      rmSync(work, { recursive: true, force: true });
    }, 240_000);
  }
});

describe("a bundle with its files, imported at a second site", () => {
  test("files byte-identical under the new root (tenant roots honoured), paths rewritten, hashes right; a corrupt file refuses its volume; an interrupted import completes; published to Kafka", async () => {
    // Site A: two tenants, one with its own storage root.
    const tenants: ConfigTree[] = [
      { id: "hosp-a", ae_titles: ["HOSPA"], storage: { root: "./data-a" } },
      { id: "hosp-b", ae_titles: ["HOSPB"] },
    ];
    const edge = await server({
      storage: { min_free_mb: 1, fsync: true },
      kafka: { enabled: false },
      tenants,
    });
    const ra = await storescu({ port: edge.port, calledAe: "HOSPA", files: files.slice(500, 530) });
    const rb = await storescu({ port: edge.port, calledAe: "HOSPB", files: files.slice(530, 560) });
    expect([...ra.statuses, ...rb.statuses]).toEqual(new Array(60).fill(0));
    expect(await edge.stop()).toBe(0);
    const edgeRecords = await outboxLeft(join(edge.workDir, "outbox"));
    const bundle = join(edge.workDir, "bundle");
    const ex = await cli(
      ["export", bundle, "--with-files", "--max-bundle-mb", "2", "-c", edge.configPath],
      edge.workDir,
    );
    expect(ex.stderr).toBe("");
    expect(ex.stdout).toMatch(/exported 60 record\(s\) and 60 file\(s\)/);
    const vols = readdirSync(bundle).filter((n) => n.startsWith("vol-"));
    expect(vols.length).toBeGreaterThan(3);
    for (const v of vols) {
      const size = filesBelow(join(bundle, v)).reduce((s, f) => s + readFileSync(f).length, 0);
      expect(size).toBeLessThanOrEqual(2 * 1024 * 1024);
    }

    // Site B, receiving itself (a server runs): its own config and roots; hosp-a has its own root there.
    const mock: MockBroker = await startMockBroker(TOPICS.map((t) => `${t}:3`));
    started.push(mock);
    const central = makeWorkDir("central");
    workDirs.push(central);
    const root = join(central, "archive");
    const centralServer = await startServer({
      workDir: central,
      configYaml: [
        "storage: { fsync: true, min_free_mb: 1, root: ./unused }",
        `kafka: { enabled: true, brokers: [${mock.bootstrap}] }`,
        "tenants:",
        "  - { id: hosp-a, ae_titles: [CA], storage: { root: ./archive-a } }",
        "  - { id: hosp-b, ae_titles: [CB] }",
        "",
      ].join("\n"),
    });
    started.push(centralServer);
    const bConfig = centralServer.configPath;
    const published = async (n: number): Promise<OutboxRecord[]> => {
      const got = await consumeTopics(mock.bootstrap, TOPICS, n, 60_000);
      const byTrace = new Map<string, OutboxRecord>();
      for (const m of got.filter((x) => x.topic === TOPICS[0])) {
        const r = JSON.parse(m.value) as OutboxRecord;
        byTrace.set(r.trace_id, r);
      }
      return [...byTrace.values()];
    };

    // A corrupted file: its volume is refused by name, nothing of it is imported.
    const bad = join(central, "bad-bundle");
    cpSync(bundle, bad, { recursive: true });
    const badVol = join(bad, vols[1] ?? "");
    const victim = filesBelow(join(badVol, "files"))[0] ?? "";
    const bytes = readFileSync(victim);
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] ?? 0) ^ 0xff;
    writeFileSync(victim, bytes);
    const victimRel = relative(badVol, victim).split("\\").join("/");
    const refused = await cli(["import", bad, "--files-to", root, "-c", bConfig], central);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(victimRel);
    const refusedManifest = JSON.parse(readFileSync(join(badVol, "manifest.json"), "utf8")) as {
      files: Array<{ path: string }>;
    };
    const refusedNames = refusedManifest.files.map((f) => f.path.split("/").pop());
    const placedAfterRefusal = [...filesBelow(root), ...filesBelow(join(central, "archive-a"))];
    for (const n of refusedNames) expect(placedAfterRefusal.some((p) => p.endsWith(`/${n}`))).toBe(false);
    expect(refused.stdout).toContain(`imported ${60 - refusedNames.length} record(s)`);

    // The good bundle, interrupted, then run again.
    rmSync(bad, { recursive: true, force: true });
    const first = spawnCli(["import", bundle, "--files-to", root, "-c", bConfig], central);
    const staging = () =>
      [...filesBelow(root), ...filesBelow(join(central, "archive-a"))].some((f) => f.endsWith(".tmp"));
    while (first.proc.exitCode === null && !staging()) await sleep(2);
    first.proc.kill("SIGKILL");
    await first.exited;
    const again = await cli(["import", bundle, "--files-to", root, "-c", bConfig], central);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/imported \d+ record\(s\)/);
    const third = await cli(["import", bundle, "--files-to", root, "-c", bConfig], central);
    expect(third.stdout).toMatch(/imported 0 record\(s\).*60 already imported/);
    expect(filesBelow(root).some((f) => f.endsWith(".tmp"))).toBe(false);

    // Published by the central server, each once (by trace_id), with its new path and its own hash.
    const imported = await published(60);
    expect(imported.length).toBe(60);
    const edgeBySop = new Map(edgeRecords.map((r) => [r.sop_uid, r]));
    for (const r of imported) {
      const e = edgeBySop.get(r.sop_uid);
      expect(e).toBeDefined();
      if (!e) continue;
      expect(r.trace_id).toBe(e.trace_id);
      const newRoot = r.tenant_id === "hosp-a" ? join(central, "archive-a") : root;
      const oldRoot = r.tenant_id === "hosp-a" ? join(edge.workDir, "data-a") : edge.dataDir;
      expect(r.file_path).toBe(join(newRoot, relative(oldRoot, e.file_path)));
      const placed = readFileSync(r.file_path);
      expect(Buffer.compare(placed, readFileSync(e.file_path))).toBe(0);
      expect(r.sha256).toBe(sha256(placed));
      expect(r.file_size).toBe(placed.length);
      expect("bundle_file" in r).toBe(false);
      expect("_file_identity" in r).toBe(false);
    }
    expect(await centralServer.stop()).toBe(0);
  }, 240_000);
});

describe("a hash that always describes its reception", () => {
  test("one SOP Instance received three times in quick succession (one transcoded): each record has its reception's hash and size, or null with a warning", async () => {
    const ct = corpus().find((f) => f.endsWith("01_ct_s16_explicitLE.dcm")) ?? "";
    const rle = corpus().find((f) => f.endsWith("17_ct_s16_RLE.dcm")) ?? "";
    const work = makeWorkDir("receptions");
    workDirs.push(work);
    const variants = [0, 1, 2].map((i) => join(work, `v${i}.dcm`));
    const py = `
import sys, pydicom
for i, (src, out) in enumerate(zip(sys.argv[1:4], sys.argv[4:7])):
    ds = pydicom.dcmread(src)
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.17"; ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.17.1"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.8.498.17.1.1"
    ds.StudyDate = "20240102"; ds.SeriesDescription = "reception " + "x" * i
    ds.save_as(out)
`;
    const made = spawnSync("/usr/bin/python3", ["-c", py, ct, rle, ct, ...variants], { encoding: "utf8" });
    expect(made.stderr).toBe("");
    const mock = await startMockBroker(TOPICS.map((t) => `${t}:3`));
    started.push(mock);
    const cfg = (kafka: boolean): ConfigTree => ({
      storage: { min_free_mb: 1, fsync: true },
      transcode: { supported_transfer_syntaxes: ["1.2.840.10008.1.2.1"], workers: 1 },
      kafka: kafka ? { enabled: true, brokers: mock.bootstrap.split(",") } : { enabled: false },
    });

    // What each reception is stored as, one at a time on a reference server (storing is deterministic).
    const ref = await server(cfg(false));
    const expected: Array<{ sha: string; size: number }> = [];
    for (const [i, v] of variants.entries()) {
      const r = await dcmsend({ port: ref.port, files: [v] });
      expect(r.statuses).toEqual([0]);
      // Transcoded (or placed) behind the answer: what is stored once its final record is written.
      await finalRecords(join(ref.workDir, "outbox"), i + 1);
      const stored = filesBelow(ref.dataDir).filter((f) => f.endsWith(".dcm"));
      expect(stored).toHaveLength(1);
      const b = readFileSync(stored[0] ?? "");
      expected.push({ sha: sha256(b), size: b.length });
    }
    expect(await ref.stop()).toBe(0);
    expect(new Set(expected.map((e) => e.sha)).size).toBe(3);

    // The three in one association, back to back: each replaces the previous file at once.
    const srv = await server(cfg(true));
    const r = await dcmsend({ port: srv.port, files: variants });
    expect(r.statuses).toEqual([0, 0, 0]);
    const got = await consumeTopics(mock.bootstrap, TOPICS, 3, 60_000);
    for (const t of TOPICS) {
      // One key, one partition: in the order they were received.
      const recs = got.filter((m) => m.topic === t).map((m) => JSON.parse(m.value) as OutboxRecord);
      expect(recs).toHaveLength(3);
      expect(recs.map((x) => x.transfer_status)).toEqual(["NoNeedTransfer", "Success", "NoNeedTransfer"]);
      for (const [i, rec] of recs.entries()) {
        if (rec.sha256 === null) {
          expect(rec.warnings?.some((w) => w.startsWith("sha256 unknown"))).toBe(true);
          continue;
        }
        expect(rec.sha256).toBe(expected[i]?.sha ?? "");
        expect(rec.file_size).toBe(expected[i]?.size ?? -1);
      }
    }
    expect(await srv.stop()).toBe(0);
  }, 180_000);
});
