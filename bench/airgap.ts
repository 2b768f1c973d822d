// Air-gap bench: `outbox export` and `outbox import` of a large backlog, records only and with files
// (MiB/s and records/s), against `tar` and `cp -r` of the same storage tree in the same run; and W1 (1000
// x ~0.5 MB CT in one association, fsync on) while an export --with-files of that backlog runs beside
// the server, against W1 alone.
//
// The backlog is made directly (as a server would have left it, without sending it): copies of one CT
// instance under the storage layout, a record for each with its file's identity, and the hash notes
// the server writes after each answer. Before every measured step written data is synced and the page
// cache emptied (as root), so that each reads from the disk. Ours syncs what it writes (bundle files,
// placed files); tar and cp do not, so `cp -r` is also timed followed by `sync`.
//
// usage: bun bench/airgap.ts [--gb N (default 5)] [--no-w1] [--keep]

import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  appendFileSync,
  closeSync,
  cpSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { OutboxLog } from "../src/outbox/log.ts";
import { makeRecord } from "../src/outbox/record.ts";
import { hashNotesPath } from "../src/outbox/segments.ts";
import { fileIdentity } from "../src/store/held-file.ts";
import { dcmtkEnv, repoRoot, startServer } from "../test/helpers/dcmtk.ts";
import { perfset } from "../test/helpers/fixtures.ts";

const MiB = 1024 * 1024;
const WORK = join(repoRoot, "bench", ".work", "airgap");
const MAIN = join(repoRoot, "src", "main.ts");
const STUDY = "1.2.826.0.1.3680043.8.498.7";

function args(): { gb: number; w1: boolean; keep: boolean } {
  const a = process.argv.slice(2);
  const i = a.indexOf("--gb");
  const gb = i >= 0 ? Number(a[i + 1]) : 5;
  if (!(gb > 0)) throw new Error("usage: bun bench/airgap.ts [--gb N] [--no-w1] [--keep]");
  return { gb, w1: !a.includes("--no-w1"), keep: a.includes("--keep") };
}

function dropCaches(): void {
  spawnSync("sync");
  try {
    writeFileSync("/proc/sys/vm/drop_caches", "1\n");
  } catch {
    // Not root, or not Linux: steps keep whatever the cache holds.
  }
}

function sizeOf(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? sizeOf(p) : statSync(p).size;
  }
  return total;
}

/** A site whose outbox holds `gb` GiB of instances, as a server receiving with Kafka off leaves it. */
async function makeBacklog(site: string, gb: number, template: Uint8Array): Promise<number> {
  const data = join(site, "data");
  const outbox = join(site, "outbox");
  const n = Math.ceil((gb * 1024 * MiB) / template.length);
  const sha = createHash("sha256").update(template).digest("hex");
  const log = await OutboxLog.open({ dir: outbox, maxBytes: 1 << 50, fsync: false });
  let notes = new Map<number, string>();
  for (let i = 0; i < n; i++) {
    const series = `${STUDY}.${Math.floor(i / 500)}`;
    const sop = `${series}.${i}`;
    const dir = join(data, "default", "20240101", STUDY, series);
    if (i % 500 === 0) mkdirSync(dir, { recursive: true });
    const path = join(dir, `${sop}.dcm`);
    const fd = openSync(path, "w");
    writeSync(fd, template);
    const identity = fileIdentity(fstatSync(fd, { bigint: true }));
    closeSync(fd);
    const r = makeRecord({
      tenantId: "default",
      attributes: {
        patientId: "BENCH",
        studyInstanceUid: STUDY,
        seriesInstanceUid: series,
        sopInstanceUid: sop,
        sopClassUid: "1.2.840.10008.5.1.4.1.1.2",
        studyDate: "20240101",
        modality: "CT",
      },
      path,
      fileSize: template.length,
      sha256: null,
      transferSyntaxUid: "1.2.840.10008.1.2.1",
      sourceIp: "10.0.0.7",
      sourceAe: "CT01",
      calledAe: "STORESCP",
      fileIdentity: identity,
    });
    const at = await log.append(new TextEncoder().encode(JSON.stringify(r)));
    notes.set(at.segment, `${notes.get(at.segment) ?? ""}${r.trace_id} ${sha}\n`);
    if (i % 1000 === 999) {
      for (const [seq, text] of notes) appendFileSync(hashNotesPath(outbox, seq), text);
      notes = new Map();
    }
  }
  for (const [seq, text] of notes) appendFileSync(hashNotesPath(outbox, seq), text);
  log.syncNow();
  await log.close();
  return n;
}

function writeConfig(site: string, extra = ""): string {
  const p = join(site, "config.yaml");
  writeFileSync(
    p,
    `storage: { fsync: true, min_free_mb: 1, root: ./data }\noutbox: { max_mb: 1000000 }\n${extra}`,
  );
  return p;
}

interface Timed {
  s: number;
  code: number | null;
  out: string;
}

function timed(cmd: string, argv: string[], cwd: string): Promise<Timed> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn(cmd, argv, { cwd, env: dcmtkEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (b: Buffer) => {
      out += b.toString();
    });
    p.stderr.on("data", (b: Buffer) => {
      out += b.toString();
    });
    p.on("close", (code) => resolve({ s: (performance.now() - t0) / 1000, code, out }));
  });
}

function must(t: Timed, what: string): Timed {
  if (t.code !== 0) throw new Error(`${what} failed (${t.code}):\n${t.out}`);
  return t;
}

const cli = (argv: string[], cwd: string) => timed(process.execPath, [MAIN, "outbox", ...argv], cwd);

function row(what: string, s: number, bytes: number, records?: number): void {
  const mbs = bytes / MiB / s;
  console.log(
    `  ${what.padEnd(34)} ${s.toFixed(2).padStart(7)} s ${mbs.toFixed(0).padStart(6)} MiB/s` +
      (records !== undefined ? ` ${(records / s).toFixed(0).padStart(8)} records/s` : ""),
  );
}

async function w1(
  site: string,
  files: string,
  concurrent?: () => Promise<Timed>,
): Promise<{ s: number; export?: Timed }> {
  const cfg = join(site, "config.yaml");
  const srv = await startServer({ workDir: site, configYaml: readFileSync(cfg, "utf8") });
  try {
    dropCaches();
    const running = concurrent?.();
    const list = readdirSync(files)
      .filter((n) => n.endsWith(".dcm"))
      .sort()
      .map((n) => join(files, n));
    const t = must(
      await timed("storescu", ["-xe", "127.0.0.1", String(srv.port), ...list], site),
      "storescu",
    );
    const ex = running ? await running : undefined;
    return ex ? { s: t.s, export: ex } : { s: t.s };
  } finally {
    await srv.stop();
    // Received again in the next run: as new files, not replacements.
    rmSync(join(site, "data", "default", "20240101", readStudyOf(files)), { recursive: true, force: true });
  }
}

function readStudyOf(dir: string): string {
  const f = readdirSync(dir).find((n) => n.endsWith(".dcm")) ?? "";
  const out = spawnSync("dcmdump", ["+P", "0020,000d", join(dir, f)], { encoding: "utf8" }).stdout;
  return /\[([0-9.]+)\]/.exec(out)?.[1] ?? "none";
}

async function main(): Promise<void> {
  const o = args();
  rmSync(WORK, { recursive: true, force: true });
  const edge = join(WORK, "edge");
  mkdirSync(edge, { recursive: true });
  const perfDir = perfset(1000, "01_ct_s16_explicitLE.dcm");
  const template = new Uint8Array(
    readFileSync(join(perfDir, readdirSync(perfDir).find((n) => n.endsWith(".dcm")) ?? "")),
  );
  console.log(
    `airgap bench: building a ${o.gb} GiB backlog of ${(template.length / MiB).toFixed(2)} MiB instances ...`,
  );
  const records = await makeBacklog(edge, o.gb, template);
  const edgeCfg = writeConfig(edge);
  const dataBytes = sizeOf(join(edge, "data"));
  const snapshot = join(WORK, "outbox-snapshot");
  cpSync(join(edge, "outbox"), snapshot, { recursive: true });
  const restore = () => {
    rmSync(join(edge, "outbox"), { recursive: true, force: true });
    cpSync(snapshot, join(edge, "outbox"), { recursive: true });
  };
  console.log(
    `backlog: ${records} records, ${(dataBytes / MiB).toFixed(0)} MiB of files; load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );

  console.log("the same tree, copied by the usual tools:");
  dropCaches();
  let t = must(
    await timed("tar", ["cf", join(WORK, "tree.tar"), "-C", join(edge, "data"), "."], WORK),
    "tar",
  );
  row("tar cf", t.s, dataBytes, records);
  rmSync(join(WORK, "tree.tar"), { force: true });
  dropCaches();
  t = must(await timed("cp", ["-r", join(edge, "data"), join(WORK, "cp")], WORK), "cp");
  row("cp -r", t.s, dataBytes, records);
  rmSync(join(WORK, "cp"), { recursive: true, force: true });
  dropCaches();
  t = must(
    await timed("sh", ["-c", `cp -r '${join(edge, "data")}' '${join(WORK, "cp")}' && sync`], WORK),
    "cp",
  );
  row("cp -r && sync", t.s, dataBytes, records);
  rmSync(join(WORK, "cp"), { recursive: true, force: true });

  console.log("ours (each step from a cold page cache, everything it writes synced):");
  const b1 = join(WORK, "bundle-records");
  dropCaches();
  t = must(await cli(["export", b1, "-c", edgeCfg], edge), "export");
  row("export (records only)", t.s, sizeOf(b1), records);
  restore();
  const b2 = join(WORK, "bundle-files");
  dropCaches();
  t = must(await cli(["export", b2, "--with-files", "-c", edgeCfg], edge), "export --with-files");
  row("export --with-files", t.s, sizeOf(b2), records);
  restore();
  const c1 = join(WORK, "central-1");
  mkdirSync(c1, { recursive: true });
  dropCaches();
  t = must(await cli(["import", b1, "-c", writeConfig(c1)], c1), "import");
  row("import (records only)", t.s, sizeOf(b1), records);
  const c2 = join(WORK, "central-2");
  mkdirSync(c2, { recursive: true });
  dropCaches();
  t = must(
    await cli(["import", b2, "--files-to", join(c2, "archive"), "-c", writeConfig(c2)], c2),
    "import --files-to",
  );
  row("import --files-to", t.s, sizeOf(b2), records);
  for (const d of [b1, c1, c2]) rmSync(d, { recursive: true, force: true });

  if (o.w1) {
    const w1Dir = perfset(1000, "01_ct_s16_explicitLE.dcm");
    const w1Bytes = sizeOf(w1Dir);
    console.log(`W1 (1000 x ~0.5 MB CT, 1 association, fsync on) into the server of that backlog:`);
    const alone = await w1(edge, w1Dir);
    row("W1 alone", alone.s, w1Bytes, 1000);
    restore();
    rmSync(b2, { recursive: true, force: true });
    const b3 = join(WORK, "bundle-during");
    const during = await w1(edge, w1Dir, () => cli(["export", b3, "--with-files", "-c", edgeCfg], edge));
    row("W1 while export --with-files runs", during.s, w1Bytes, 1000);
    if (during.export) {
      must(during.export, "export beside W1");
      row("  that export", during.export.s, sizeOf(b3), records);
    }
    console.log(`  W1 during export / alone: ${(during.s / alone.s).toFixed(2)}x`);
  }
  console.log(
    `load at the end: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
  if (!o.keep && existsSync(WORK)) rmSync(WORK, { recursive: true, force: true });
}

await main();
