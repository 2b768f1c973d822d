// The hand-over between the log's owner and `outbox export|import` (src/outbox/handover*.ts), in one
// process: the claim is answered with a sealed range, committed volumes leave the log (also when no
// owner is there to apply them), a dead exporter's complete volumes are released and nothing else,
// and an import interrupted between its appends and its ledger appends nothing twice.

import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeFrame } from "../../src/outbox/frame.ts";
import { Handover } from "../../src/outbox/handover.ts";
import {
  awaitIncoming,
  claimExport,
  endExport,
  exportCommitted,
  queueIncoming,
} from "../../src/outbox/handover-commands.ts";
import { CLAIM, INCOMING, LEDGER } from "../../src/outbox/handover-files.ts";
import { OutboxLog } from "../../src/outbox/log.ts";
import { before, recordsBetween } from "../../src/outbox/segments.ts";
import { tmpDirs } from "../helpers/tmp.ts";

const tmp = tmpDirs("handover");

const enc = new TextEncoder();
const dec = new TextDecoder();
const rec = (id: string) => enc.encode(JSON.stringify({ trace_id: id, tenant_id: "t", study_uid: "1" }));
const open = (dir: string) => OutboxLog.open({ dir, maxBytes: 1 << 30, fsync: true });

async function ids(dir: string, from?: { segment: number; offset: number }): Promise<string[]> {
  const log = await OutboxLog.open({ dir, maxBytes: 1 << 30, fsync: false, readOnly: true });
  const out: string[] = [];
  let pos = from ?? log.head;
  for (;;) {
    const r = await log.read(1000, pos);
    if (r.entries.length === 0) break;
    for (const e of r.entries) out.push((JSON.parse(dec.decode(e.payload)) as { trace_id: string }).trace_id);
    pos = r.next;
  }
  await log.close();
  return out;
}

/** Poll like the server does, until `done` settles. */
async function owning<T>(h: Handover, done: Promise<T>): Promise<T> {
  let over = false;
  const loop = (async () => {
    while (!over) {
      await h.poll();
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  try {
    return await done;
  } finally {
    over = true;
    await loop;
  }
}

describe("export hand-over", () => {
  test("a claim is answered with a sealed range; appends go after it; committed volumes leave the log", async () => {
    const dir = tmp();
    const log = await open(dir);
    for (let i = 0; i < 10; i++) await log.append(rec(`a${i}`));
    let publishingIdle = 0;
    const h = new Handover(log, {
      publishingIdle: async () => {
        publishingIdle += 1;
      },
    });
    await h.poll();
    expect(h.paused).toBe(false);
    const claimed = await owning(h, claimExport(dir, join(dir, "..", "bundle"), 1 << 30, true));
    expect(h.paused).toBe(true);
    expect(publishingIdle).toBe(1);
    for (let i = 0; i < 5; i++) await log.append(rec(`b${i}`));
    const taken: string[] = [];
    let mid = claimed.from;
    for await (const e of recordsBetween(dir, claimed.from, claimed.cut)) {
      taken.push((JSON.parse(dec.decode(e.payload)) as { trace_id: string }).trace_id);
      if (taken.length === 4) mid = e.end;
    }
    expect(taken).toEqual(Array.from({ length: 10 }, (_, i) => `a${i}`));
    // Volume 1 holds 4 records: they leave at the next poll; the claim still pauses publishing.
    exportCommitted(dir, claimed.claim, 1, mid);
    await h.poll();
    expect(log.records).toBe(11);
    expect(h.paused).toBe(true);
    exportCommitted(dir, claimed.claim, 2, claimed.cut);
    await owning(h, endExport(dir, claimed.claim, 1 << 30, true));
    expect(h.paused).toBe(false);
    expect(log.records).toBe(5);
    expect(readdirSync(dir).filter((n) => n.startsWith("export."))).toEqual([]);
    await log.close();
    expect(await ids(dir)).toEqual(Array.from({ length: 5 }, (_, i) => `b${i}`));
  });

  test("without a server the exporter reads the log itself, and what it committed leaves at the next open", async () => {
    const dir = tmp();
    let log = await open(dir);
    for (let i = 0; i < 6; i++) await log.append(rec(`a${i}`));
    await log.close();
    const claimed = await claimExport(dir, join(dir, "..", "bundle"), 1 << 30, true);
    const all: Array<{ end: { segment: number; offset: number } }> = [];
    for await (const e of recordsBetween(dir, claimed.from, claimed.cut)) all.push(e);
    expect(all).toHaveLength(6);
    exportCommitted(dir, claimed.claim, 1, all[2]?.end ?? claimed.cut);
    // Read-only (status) already counts from there; the exporter dies before handing over.
    expect(await ids(dir)).toEqual(["a3", "a4", "a5"]);
    rmSync(join(dir, CLAIM));
    log = await open(dir);
    expect(log.records).toBe(3);
    expect(readdirSync(dir).some((n) => n.startsWith("export.done-"))).toBe(false);
    await log.close();
  });

  test("a dead exporter: what its complete volumes hold leaves, the rest stays, publishing resumes", async () => {
    const dir = tmp();
    const bundle = join(tmp(), "bundle");
    const log = await open(dir);
    const ends = [];
    for (let i = 0; i < 8; i++) ends.push(await log.append(rec(`a${i}`)));
    const h = new Handover(log);
    // A volume committed (its manifest written) but not reported before the exporter died.
    mkdirSync(join(bundle, "vol-0001"), { recursive: true });
    mkdirSync(join(bundle, "vol-0002"), { recursive: true });
    const manifest = (to: unknown) => ({
      format: "storescp-outbox-bundle",
      version: 2,
      bundle_id: "b",
      export_id: "dead",
      records: 0,
      bytes: 0,
      sha256: "",
      from: { segment: 1, offset: 0 },
      to,
    });
    writeFileSync(join(bundle, "vol-0001", "manifest.json"), JSON.stringify(manifest(ends[4])));
    writeFileSync(
      join(dir, CLAIM),
      JSON.stringify({ export_id: "dead", pid: 999_999_999, dir: bundle, created_time: "" }),
    );
    await h.poll();
    expect(existsSync(join(dir, CLAIM))).toBe(false);
    expect(h.paused).toBe(false);
    expect(log.records).toBe(3);
    await log.close();
    expect(await ids(dir)).toEqual(["a5", "a6", "a7"]);
  });

  test("acknowledgements never move the cursor back", async () => {
    const dir = tmp();
    const log = await open(dir);
    const ends = [];
    for (let i = 0; i < 4; i++) ends.push(await log.append(rec(`a${i}`)));
    log.ack(ends[2] ?? log.head, 3);
    log.ack(ends[0] ?? log.head, 1);
    expect(log.records).toBe(1);
    expect(before(log.head, ends[2] ?? log.head)).toBe(false);
    expect(await log.release(ends[1] ?? log.head)).toBe(0);
    await log.close();
  });
});

describe("import hand-over", () => {
  test("queued records are appended once; a crash between appends and ledger appends nothing twice", async () => {
    const dir = tmp();
    const log = await open(dir);
    await log.append(rec("old"));
    const h = new Handover(log);
    const frames = (n: number, p: string) =>
      Array.from({ length: n }, (_, i) => encodeFrame(rec(`${p}${i}`)));
    const name = queueIncoming(dir, "bundle-1", frames(5, "x"));
    const r = await owning(h, awaitIncoming(dir, name, 1 << 30, true));
    expect(r).toEqual({ imported: 5, skipped: 0 });
    const again = queueIncoming(dir, "bundle-1", frames(5, "x"));
    expect(await owning(h, awaitIncoming(dir, again, 1 << 30, true))).toEqual({ imported: 0, skipped: 5 });

    // An owner that appended y0..y2 of a queued file, then died before its ledger: y0..y2 stay once.
    const third = queueIncoming(dir, "bundle-2", frames(5, "y"));
    writeFileSync(join(dir, INCOMING, `${third}.at`), JSON.stringify({ at: log.tail }));
    for (let i = 0; i < 3; i++) await log.append(rec(`y${i}`));
    expect(await owning(h, awaitIncoming(dir, third, 1 << 30, true))).toEqual({ imported: 2, skipped: 3 });
    await log.close();
    const all = await ids(dir);
    expect(all).toEqual(["old", "x0", "x1", "x2", "x3", "x4", "y0", "y1", "y2", "y3", "y4"]);
    expect(readFileSync(join(dir, LEDGER), "utf8").trim().split("\n")).toHaveLength(7);
    expect(readdirSync(join(dir, INCOMING))).toEqual([]);
  });

  test("without a server the importer appends them itself", async () => {
    const dir = tmp();
    const name = queueIncoming(dir, "b", [encodeFrame(rec("z"))]);
    expect(await awaitIncoming(dir, name, 1 << 30, true)).toEqual({ imported: 1, skipped: 0 });
    expect(await ids(dir)).toEqual(["z"]);
  });
});
