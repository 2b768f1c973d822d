// Bundles in one process (no server): volumes never above --max-bundle-mb and each importable on its
// own, records naming their file in their own volume, a later version of a file said so, paths from a
// bundle that could leave their root refused.

import { describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import {
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join, relative, resolve } from "node:path";
import fc from "fast-check";
import { loadConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { bundlePathProblem, bundleRecords, readManifest } from "../../src/outbox/bundle.ts";
import { ExportError, exportBundle, WARN_LATER_VERSION } from "../../src/outbox/export.ts";
import { importBundle } from "../../src/outbox/import.ts";
import { OutboxLog } from "../../src/outbox/log.ts";
import { makeRecord, type OutboxRecord } from "../../src/outbox/record.ts";
import { fileIdentity } from "../../src/store/held-file.ts";
import { tmpDirs } from "../helpers/tmp.ts";

const tmp = tmpDirs("bundle");

const quiet = { out: () => {}, warn: () => {} };

function site(dir: string): Config {
  const c = loadConfig(undefined, {});
  c.outbox.dir = join(dir, "outbox");
  c.storage.root = join(dir, "data");
  c.storage.quarantine = join(dir, "q");
  return c;
}

/** Store a file as the server does (temp, rename) and its record. */
async function receive(c: Config, log: OutboxLog, sop: string, bytes: Uint8Array): Promise<OutboxRecord> {
  const path = join(c.storage.root, "default", "20240101", "1.2", "1.2.3", `${sop}.dcm`);
  mkdirSync(join(path, ".."), { recursive: true });
  const fd = openSync(`${path}.tmp`, "w");
  writeSync(fd, bytes);
  const identity = fileIdentity(fstatSync(fd, { bigint: true }));
  renameSync(`${path}.tmp`, path);
  const r = makeRecord({
    tenantId: "default",
    attributes: {
      studyInstanceUid: "1.2",
      seriesInstanceUid: "1.2.3",
      sopInstanceUid: sop,
      studyDate: "20240101",
    },
    path,
    fileSize: bytes.length,
    sha256: null,
    transferSyntaxUid: "1.2.840.10008.1.2.1",
    sourceIp: "10.0.0.1",
    sourceAe: "CT",
    calledAe: "SCP",
    fileIdentity: identity,
  });
  await log.append(new TextEncoder().encode(JSON.stringify(r)));
  return r;
}

const sizeOf = (d: string): number =>
  readdirSync(d, { withFileTypes: true }).reduce(
    (s, e) => s + (e.isDirectory() ? sizeOf(join(d, e.name)) : statSync(join(d, e.name)).size),
    0,
  );

describe("bundle paths", () => {
  test("a path a manifest may name never leaves its root", () => {
    const seg = fc.oneof(
      fc.constantFrom("..", ".", "", "a", "..a", "a..", "c:", "x\\..", "\u0001"),
      fc.string(),
    );
    fc.assert(
      fc.property(fc.array(seg, { minLength: 1, maxLength: 6 }), (segs) => {
        const p = ["files", ...segs].join("/");
        if (bundlePathProblem(p) !== null) return;
        const root = resolve("/srv/root");
        const rel = relative(root, join(root, ...segs));
        expect(rel === ".." || rel.startsWith("../")).toBe(false);
        expect(rel.length).toBeGreaterThan(0);
      }),
    );
    for (const bad of [
      "/etc/passwd",
      "files/a/../../x",
      "files/t",
      "other/t/x",
      "files/t/a\\b",
      "files/t/c:x",
    ])
      expect(bundlePathProblem(bad)).not.toBe(null);
    expect(bundlePathProblem("files/default/20240101/1.2/1.2.3/4.dcm")).toBe(null);
  });
});

describe("volumes", () => {
  test("no volume above the limit; records travel with their own files; each volume imports on its own", async () => {
    const edgeDir = tmp();
    const edge = site(edgeDir);
    const log = await OutboxLog.open({ dir: edge.outbox.dir, maxBytes: 1 << 30, fsync: false });
    const bodies = Array.from({ length: 12 }, () => randomBytes(300_000));
    for (const [i, b] of bodies.entries()) await receive(edge, log, `1.2.3.${i}`, b);
    // The first instance is received again with other bytes: its first record's bytes are gone.
    const again = randomBytes(300_000);
    await receive(edge, log, "1.2.3.0", again);
    await log.close();

    const bundle = join(edgeDir, "bundle");
    const s = await exportBundle(edge, bundle, { withFiles: true, maxBundleMb: 1, ...quiet });
    expect(s.records).toBe(13);
    const vols = readdirSync(bundle)
      .filter((n) => n.startsWith("vol-"))
      .sort();
    expect(vols.length).toBe(s.volumes.length);
    expect(vols.length).toBeGreaterThanOrEqual(5);
    const recs: Array<OutboxRecord & { bundle_file: string; warnings?: string[] }> = [];
    for (const v of vols) {
      expect(sizeOf(join(bundle, v))).toBeLessThanOrEqual(1024 * 1024);
      const m = readManifest(join(bundle, v));
      const files = new Map((m.files ?? []).map((f) => [f.path, f.sha256]));
      for (const p of bundleRecords(join(bundle, v, "records.seg"))) {
        const r = JSON.parse(new TextDecoder().decode(p)) as (typeof recs)[number];
        expect(files.has(r.bundle_file)).toBe(true);
        expect("_file_identity" in r).toBe(false);
        if (r.sha256 === files.get(r.bundle_file)) expect(r.warnings).toBeUndefined();
        else expect(r.warnings).toContain(WARN_LATER_VERSION);
        recs.push(r);
      }
    }
    const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
    // The first reception left with no hash (its bytes were replaced before any was taken), said so.
    expect(recs[0]?.sha256).toBe(null);
    expect(recs[0]?.warnings?.some((w) => w.startsWith("sha256 unknown"))).toBe(true);
    expect(recs.slice(1, 12).map((r) => r.sha256)).toEqual(bodies.slice(1).map(sha));
    expect(recs[12]?.sha256).toBe(sha(again));

    // The second volume alone, at another site.
    const central = site(tmp());
    const vol = join(bundle, vols[1] ?? "");
    const i = await importBundle(central, vol, quiet);
    const expected = readManifest(vol).records;
    expect(i).toMatchObject({ imported: expected, skipped: 0, refused: [] });
    const placed = readdirSync(join(central.storage.root, "default", "20240101", "1.2", "1.2.3"));
    expect(placed.length).toBe(readManifest(vol).files?.length ?? -1);
  });

  test("a file larger than a volume is refused with its name; the records before it are exported", async () => {
    const edgeDir = tmp();
    const edge = site(edgeDir);
    const log = await OutboxLog.open({ dir: edge.outbox.dir, maxBytes: 1 << 30, fsync: false });
    await receive(edge, log, "1.1", randomBytes(1000));
    const big = await receive(edge, log, "1.2", randomBytes(1_200_000));
    await log.close();
    const bundle = join(edgeDir, "bundle");
    const run = exportBundle(edge, bundle, { withFiles: true, maxBundleMb: 1, ...quiet });
    expect(run).rejects.toBeInstanceOf(ExportError);
    await run.catch((e: Error) => expect(e.message).toContain(big.file_path));
    const left = await OutboxLog.open({
      dir: edge.outbox.dir,
      maxBytes: 1 << 30,
      fsync: false,
      readOnly: true,
    });
    expect(left.records).toBe(1);
    await left.close();
    expect(readdirSync(bundle)).toEqual(["vol-0001"]);
  });

  test("a manifest naming a path outside its root: the volume is refused, nothing written", async () => {
    const edgeDir = tmp();
    const edge = site(edgeDir);
    const log = await OutboxLog.open({ dir: edge.outbox.dir, maxBytes: 1 << 30, fsync: false });
    await receive(edge, log, "1.1", randomBytes(100));
    await log.close();
    const bundle = join(edgeDir, "bundle");
    await exportBundle(edge, bundle, { withFiles: true, maxBundleMb: 10, ...quiet });
    const mPath = join(bundle, "vol-0001", "manifest.json");
    const m = JSON.parse(readFileSync(mPath, "utf8")) as { files: Array<{ path: string }> };
    for (const f of m.files) f.path = "files/default/../../../escaped.dcm";
    writeFileSync(mPath, JSON.stringify(m));
    const central = site(tmp());
    const r = await importBundle(central, bundle, quiet);
    expect(r.imported).toBe(0);
    expect(r.refused[0]).toMatch(/bad file entry/);
  });
});
