// Watching and stopping: /healthz flips to 503 when the storage root becomes unwritable and back,
// /metrics parses as Prometheus text and counts what was sent, the status page in headless Chromium shows
// a just-stored instance without a reload, and SIGTERM during a 100-instance send loses nothing that was
// answered 0000 (file and outbox record) and exits 0 within the bound.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { chromium } from "playwright-core";
import pkg from "../../package.json" with { type: "json" };
import { OutboxLog } from "../../src/outbox/log.ts";
import { echoscu, type OurServerHandle, run, startServer, storescu, tagValue } from "../helpers/dcmtk.ts";
import { corpus, filesBelow, perfsetFiles, readPart10, storescuProfile } from "../helpers/fixtures.ts";

let files: string[] = [];

beforeAll(() => {
  files = perfsetFiles(1000);
}, 300_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition format 0.0.4: samples (HELP/TYPE checked for form), or a thrown error. */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  const types = new Map<string, string>();
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      if (!m) throw new Error(`line ${i + 1}: bad comment: ${line}`);
      if (m[1] === "TYPE") {
        if (!/^(counter|gauge|histogram|summary|untyped)$/.test(m[3] ?? ""))
          throw new Error(`line ${i + 1}: bad type ${m[3]}`);
        types.set(m[2] ?? "", m[3] ?? "");
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( \d+)?$/.exec(line);
    if (!m) throw new Error(`line ${i + 1}: bad sample: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[3] ?? "";
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
    let consumed = 0;
    for (let l = re.exec(body); l !== null; l = re.exec(body)) {
      labels[l[1] ?? ""] = (l[2] ?? "").replace(/\\n/g, "\n").replace(/\\(.)/g, "$1");
      consumed += l[0].length;
    }
    if (consumed !== body.length) throw new Error(`line ${i + 1}: bad labels: ${body}`);
    const raw = m[4] ?? "";
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    if (Number.isNaN(value) && raw !== "NaN") throw new Error(`line ${i + 1}: bad value ${raw}`);
    const name = m[1] ?? "";
    const family = name.replace(/_(bucket|sum|count)$/, "");
    if (!types.has(name) && !types.has(family)) throw new Error(`line ${i + 1}: ${name} has no TYPE`);
    out.push({ name, labels, value });
  }
  return out;
}

/** Headless Chromium with a fresh profile (launchPersistentContext is how playwright takes --user-data-dir). */
async function launchChromium(viewport: { width: number; height: number }) {
  const profile = mkdtempSync(join(tmpdir(), "storescp-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    viewport,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return { browser, profile };
}

const sum = (samples: Sample[], name: string, labels: Record<string, string> = {}): number =>
  samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);

async function get(port: number, path: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, text: await r.text() };
}

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("ops endpoints", () => {
  let server: OurServerHandle;
  let opsPort: number;

  beforeAll(async () => {
    server = await startServer({
      config: {
        storage: { min_free_mb: 1, fsync: false },
        tenants: [{ id: "site", ae_titles: ["STORESCP"] }],
        ops: { http_port: 0 },
      },
    });
    opsPort = server.opsPort ?? 0;
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  test("/healthz: 200, then 503 naming storage_writable while the root is a file, then 200 again", async () => {
    const ok = await get(opsPort, "/healthz");
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text)).toMatchObject({ ok: true, failing: [] });

    // Root runs the tests: permissions do not stop it, so the root is replaced by a plain file.
    const aside = `${server.dataDir}.aside`;
    if (existsSync(server.dataDir)) renameSync(server.dataDir, aside);
    writeFileSync(server.dataDir, "not a directory");
    try {
      const bad = await get(opsPort, "/healthz");
      expect(bad.status).toBe(503);
      const body = JSON.parse(bad.text) as {
        ok: boolean;
        failing: string[];
        checks: Record<string, unknown>;
      };
      expect(body.ok).toBe(false);
      expect(body.failing).toEqual(["storage_writable"]);
      expect(body.checks.storage_writable).toMatchObject({ ok: false });
    } finally {
      rmSync(server.dataDir);
      if (existsSync(aside)) renameSync(aside, server.dataDir);
    }
    expect((await get(opsPort, "/healthz")).status).toBe(200);
    expect((await get(opsPort, "/nowhere")).status).toBe(404);
  });

  test("/metrics parses as Prometheus text and counts the instances sent", async () => {
    const before = parsePrometheus((await get(opsPort, "/metrics")).text);
    const sent = files.slice(0, 7);
    const r = await storescu({ port: server.port, calledAe: "STORESCP", files: sent });
    expect(r.statuses).toEqual(sent.map(() => 0));
    // An unknown called AE title: A-ASSOCIATE-RJ 1/1/7, counted by reason.
    const rj = await echoscu({ port: server.port, calledAe: "NOBODY" });
    expect(rj.code).not.toBe(0);
    const after = await until("association ended in metrics", async () => {
      const m = parsePrometheus((await get(opsPort, "/metrics")).text);
      return sum(m, "storescp_associations_active") === 0 ? m : undefined;
    });
    const d = (name: string, labels: Record<string, string> = {}) =>
      sum(after, name, labels) - sum(before, name, labels);
    expect(d("storescp_instances_total", { status: "0000", tenant: "site" })).toBe(7);
    expect(d("storescp_instances_total", { transfer_syntax: "1.2.840.10008.1.2.1" })).toBe(7);
    expect(d("storescp_associations_total")).toBe(1);
    expect(d("storescp_store_duration_seconds_count")).toBe(7);
    expect(d("storescp_instance_bytes_total")).toBeGreaterThan(7 * 1000);
    expect(sum(after, "storescp_outbox_backlog_records")).toBeGreaterThanOrEqual(7);
    expect(sum(after, "storescp_license_days_left")).toBe(-1);
    expect(sum(after, "storescp_disk_free_bytes")).toBeGreaterThan(0);
    expect(after.some((s) => s.name === "storescp_kafka_connected")).toBe(true);
    expect(after.some((s) => s.name === "storescp_outbox_oldest_age_seconds")).toBe(true);
    expect(
      d("storescp_associations_rejected_total", { result: "permanent", reason: "called-ae-not-recognized" }),
    ).toBe(1);
  });

  test("the status page in headless Chromium shows an instance stored after it loaded, without a reload", async () => {
    const { browser, profile } = await launchChromium({ width: 390, height: 844 }); // a phone
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      let loads = 0;
      page.on("load", () => {
        loads += 1;
      });
      await page.goto(`http://127.0.0.1:${opsPort}/`);
      // A locator, not waitForFunction: a string predicate that needs polling is eval'd in the page,
      // which the page's own Content-Security-Policy (script-src 'self') refuses.
      await page.locator("#health", { hasText: /^healthy$/ }).waitFor({ timeout: 10_000 });

      const file = files[100] ?? "";
      const p10 = await readPart10(file);
      const patientId = tagValue(file, "0010,0020") ?? "";
      expect(patientId).not.toBe("");
      const r = await storescu({ port: server.port, calledAe: "STORESCP", files: [file] });
      expect(r.statuses).toEqual([0]);

      const row = page.locator(`#recent tbody tr[data-sop="${p10.sopInstanceUid}"]`);
      await row.waitFor({ timeout: 10_000 });
      const cells = await row.locator("td").allTextContents();
      expect(cells[1]).toBe("site");
      expect(cells[2]).toBe(patientId);
      expect(cells[4]).toBe("Explicit VR Little Endian");
      expect(cells[5]).toBe("stored");
      expect(loads).toBe(1);
      expect(await page.locator("#license-state").textContent()).toBe("unlicensed build");
      expect(await page.locator("#kafka").textContent()).toBe("off: records accumulate, export needed");
      // Nothing overflows a phone's width but the table's own scroller.
      const overflow = await page.evaluate("document.documentElement.scrollWidth > window.innerWidth");
      expect(overflow).toBe(false);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("status page for a technician", () => {
  test("after a failure, a quarantine and a transcode: the why, whose, and what became of each (Chromium, DOM)", async () => {
    const server = await startServer({
      config: {
        storage: { min_free_mb: 1, fsync: false },
        tenants: [
          { id: "site", ae_titles: ["STORESCP"] },
          // A quota of a few kilobytes: its second instance is refused (a failure without quarantine).
          { id: "tiny", ae_titles: ["TINY"], storage: { max_gb: 0.000001 } },
        ],
        transcode: { supported_transfer_syntaxes: ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"] },
        ops: { http_port: 0 },
      },
    });
    const { browser, profile } = await launchChromium({ width: 1100, height: 800 });
    try {
      const ct = corpus().find((f) => f.includes("01_ct_s16_explicitLE")) ?? "";
      // Quarantined: no Series Instance UID (Type 1), but whose it is shows (patient ID, modality).
      const noSeries = join(server.workDir, "no-series.dcm");
      copyFileSync(ct, noSeries);
      expect((await run("dcmodify", ["-nb", "-ea", "(0020,000e)", noSeries])).code).toBe(0);
      const q = await storescu({ port: server.port, calledAe: "STORESCP", files: [noSeries], noHalt: true });
      expect(q.statuses).toEqual([0xa900]);
      // Refused: over the tenant's quota.
      const two = perfsetFiles(20).slice(0, 2);
      const f = await storescu({ port: server.port, calledAe: "TINY", files: two, noHalt: true });
      expect(f.statuses).toEqual([0, 0xa700]);
      // Transcoded: JPEG-LS is outside the supported list.
      const jls = corpus().find((x) => x.includes("15_ct_s16_jpegLS_lossless")) ?? "";
      const profileFile = await storescuProfile([jls], join(server.workDir, "jls.cfg"));
      const t = await storescu({
        port: server.port,
        calledAe: "STORESCP",
        files: [jls],
        extraArgs: ["-xf", profileFile, "Corpus"],
      });
      expect(t.statuses).toEqual([0]);

      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${server.opsPort}/`);
      await page.locator("#recent tbody tr[data-transcoded]").waitFor({ timeout: 10_000 });

      // Header: AE title, port and version, each once.
      expect(await page.locator("#ident").textContent()).toBe(`STORESCP \u00b7 port ${server.port}`);
      const body = (await page.locator("body").textContent()) ?? "";
      expect(body.split(`storescp ${pkg.version}`).length - 1).toBe(1);

      const cells = async (sop: string) =>
        page.locator(`#recent tbody tr[data-sop="${sop}"]`).first().locator("td").allTextContents();
      const quarantined = await cells((await readPart10(noSeries)).sopInstanceUid);
      expect(quarantined[2]).toBe(tagValue(noSeries, "0010,0020") ?? "?");
      expect(quarantined[3]).toBe("CT");
      expect(quarantined[5]).toBe("quarantined A900Series Instance UID (0020,000E) missing");
      expect(await page.locator("tr[data-quarantined] .why").first().textContent()).toBe(
        "Series Instance UID (0020,000E) missing",
      );
      const refused = await cells((await readPart10(two[1] ?? "")).sopInstanceUid);
      expect(refused[1]).toBe("tiny");
      expect(refused[5]).toBe("failed A700quota of tenant tiny exceeded (max_gb)");
      const transcoded = await cells((await readPart10(jls)).sopInstanceUid);
      expect(transcoded[4]).toBe("JPEG-LS Lossless Image Compression\u2192 Explicit VR Little Endian");
      expect(transcoded[5]).toBe("stored");
      expect(errors).toEqual([]);

      // The picture, for a person to look at (kept when STORESCP_SCREENSHOT names a file).
      const shot = join(server.workDir, "status.png");
      await page.screenshot({ path: shot, fullPage: true });
      expect(readFileSync(shot).subarray(1, 4).toString()).toBe("PNG");
      if (process.env.STORESCP_SCREENSHOT) copyFileSync(shot, process.env.STORESCP_SCREENSHOT);
    } finally {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
      expect(await server.stop()).toBe(0);
      rmSync(server.workDir, { recursive: true, force: true });
    }
  }, 90_000);
});

async function storedAndRecorded(server: OurServerHandle, sops: string[]): Promise<void> {
  const onDisk = new Set(filesBelow(server.dataDir).map((f) => basename(f, ".dcm")));
  const log = await OutboxLog.open({
    dir: join(server.workDir, "outbox"),
    maxBytes: 1,
    fsync: false,
    readOnly: true,
  });
  const records = await log.read(10_000);
  await log.close();
  const recorded = new Set(
    records.entries.map(
      (e) => (JSON.parse(new TextDecoder().decode(e.payload)) as { sop_uid: string }).sop_uid,
    ),
  );
  for (const sop of sops) {
    expect(onDisk.has(sop)).toBe(true);
    expect(recorded.has(sop)).toBe(true);
  }
  // No temp file is left behind either.
  expect(filesBelow(server.dataDir).filter((f) => basename(f).startsWith(".storescp-"))).toEqual([]);
}

describe("graceful stop", () => {
  test("SIGTERM during a 100-instance send: every 0000 is on disk with its outbox record; exit 0 in the bound", async () => {
    const server = await startServer({ config: { storage: { min_free_mb: 1, fsync: true } } });
    const sent = files.slice(200, 300);
    const send = storescu({ port: server.port, files: sent, timeoutMs: 60_000 });
    await server.waitForOutput(
      /instance .*status=0000[\s\S]*instance .*status=0000[\s\S]*instance .*status=0000/,
    );
    const signalled = Date.now();
    server.kill("SIGTERM");
    const code = await server.exited;
    const took = Date.now() - signalled;
    const r = await send;
    expect(code).toBe(0);
    expect(took).toBeLessThan(10_000 + 3_000); // the 10 s grace, plus the outbox's close
    expect(server.output()).toContain("stopping signal=SIGTERM");
    expect(server.output()).toContain("stopped");

    const ok = r.responses.filter((x) => x.status === 0).map((x) => x.sopInstanceUid);
    expect(ok.length).toBeGreaterThan(0);
    await storedAndRecorded(server, ok);
  }, 60_000);

  test("past scp.shutdown_grace_s the running association is aborted cleanly: still exit 0, nothing answered 0000 lost", async () => {
    const server = await startServer({
      config: { scp: { shutdown_grace_s: 1 }, storage: { min_free_mb: 1, fsync: true } },
    });
    const sent = files.slice(0, 1000);
    const send = storescu({ port: server.port, files: sent, timeoutMs: 120_000 });
    await server.waitForOutput(/instance .*status=0000[\s\S]*instance .*status=0000/);
    const signalled = Date.now();
    server.kill("SIGTERM");
    const code = await server.exited;
    const took = Date.now() - signalled;
    const r = await send;
    expect(code).toBe(0);
    expect(took).toBeLessThan(1_000 + 3_000);
    const ok = r.responses.filter((x) => x.status === 0).map((x) => x.sopInstanceUid);
    expect(ok.length).toBeGreaterThan(0);
    if (ok.length < sent.length) expect(server.output()).toContain("shutdown-abort");
    await storedAndRecorded(server, ok);
  }, 120_000);
});
