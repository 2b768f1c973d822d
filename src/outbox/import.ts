// `outbox import DIR [--files-to ROOT]`: the records of a bundle (src/outbox/bundle.ts) join this
// site's outbox, beside a running server or not (src/outbox/handover-commands.ts); each volume on its own.
//
// A volume is verified whole before anything of it is taken: records.seg against its manifest, and
// every file while it is copied next to its destination under a temporary name. One file that does not
// match refuses the volume, naming the file: its temporary copies go, nothing of it is placed or
// imported. Then the files get their names (synced, renamed, directories synced) under ROOT
// (storage.root by default; a tenant with its own storage.root here keeps it), in the layout they had
// below their tenant's root at the edge, and the records, their file_path rewritten, go to the outbox.
//
// Run again after an interruption it finishes the job: files already in place with the right hash are
// kept, and records an earlier run took (imported.ids, by trace_id) are skipped.

import { closeSync, existsSync, openSync, renameSync, rmSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Config } from "../config/schema.ts";
import { Storage } from "../store/storage.ts";
import { durable } from "../util/durable.ts";
import {
  BackgroundSyncs,
  BUNDLE_FILE_FIELD,
  BundleError,
  type BundleFile,
  bundleRecords,
  hashCopy,
  hashFileSync,
  inBatches,
  listVolumes,
  RECORDS,
  readManifest,
  type VolumeManifest,
  verifyRecords,
} from "./bundle.ts";
import { encodeFrame } from "./frame.ts";
import { awaitIncoming, queueIncoming } from "./handover-commands.ts";
import type { IngestResult } from "./handover-files.ts";
import { addWarning } from "./hashes.ts";

const MiB = 1024 * 1024;

export interface ImportOptions {
  /** Root for the files (default storage.root); tenants with their own storage.root keep theirs. */
  filesTo?: string;
  out: (line: string) => void;
  warn: (line: string) => void;
  /** How long to wait for the server to take the records in (default 10 min). */
  waitMs?: number;
}

export interface ImportSummary extends IngestResult {
  volumes: number;
  files: number;
  /** Volumes refused, with the reason. */
  refused: string[];
}

const WARN_FILES_AT_EDGE =
  "the bundle carries no files: file_path names the file where it was stored, at the edge";

/** Where the files of a tenant go here. */
function rootFor(config: Config, filesTo: string | undefined): (tenant: string) => string {
  const base = resolve(filesTo ?? config.storage.root);
  const own = new Map<string, string>();
  for (const t of config.tenants) if (t.storage?.root) own.set(t.id, resolve(t.storage.root));
  return (tenant) => own.get(tenant) ?? base;
}

/** The destination of a bundle file, or null when it would leave its root (a hostile bundle). */
function destinationOf(f: BundleFile, root: (tenant: string) => string): string | null {
  const [, tenant = "", ...rest] = f.path.split("/");
  const r = root(tenant);
  const dest = join(r, ...rest);
  const rel = relative(r, dest);
  return rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel) ? null : dest;
}

/** Copy a bundle file to `tmp`, hashing it: why it does not match its entry, or null. */
function copyVerified(src: string, tmp: string, f: BundleFile): string | null {
  let fd: number;
  try {
    fd = openSync(src, "r");
  } catch (err) {
    return `${f.path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : (err as Error).message}`;
  }
  const out = openSync(tmp, "w", 0o644);
  let got: { sha256: string; size: number };
  try {
    got = hashCopy(fd, out, f.size);
  } finally {
    closeSync(out);
    closeSync(fd);
  }
  if (got.size !== f.size)
    return `${f.path}: ${got.size > f.size ? "larger" : `${got.size} bytes`}, the manifest says ${f.size}`;
  if (got.sha256 !== f.sha256) return `${f.path}: SHA-256 does not match the manifest`;
  return null;
}

/** Place a volume's files; returns bundle path -> where it is now. Throws BundleError to refuse the volume. */
async function placeFiles(
  volDir: string,
  m: VolumeManifest,
  root: (tenant: string) => string,
  storage: Storage,
): Promise<Map<string, string>> {
  const placed = new Map<string, string>();
  const staged: Array<{ tmp: string; dest: string }> = [];
  const bad: string[] = [];
  const tag = m.bundle_id.replace(/[^A-Za-z0-9]/g, "").slice(-12);
  const syncs = new BackgroundSyncs((path) => durable.syncFile(path));
  try {
    for (const [i, f] of (m.files ?? []).entries()) {
      const dest = destinationOf(f, root);
      if (dest === null) {
        bad.push(`${f.path}: would leave its storage root`);
        continue;
      }
      placed.set(f.path, dest);
      if (existsSync(dest)) {
        const have = hashFileSync(dest);
        if (have.sha256 === f.sha256 && have.size === f.size) continue;
      }
      await storage.ensureDir(dirname(dest));
      // Named as the server's temp files: one that a crash leaves is removed at the server's next start.
      const tmp = join(dirname(dest), `.storescp-import-${tag}-${i}.tmp`);
      const problem = copyVerified(join(volDir, ...f.path.split("/")), tmp, f);
      if (problem) {
        bad.push(problem);
        rmSync(tmp, { force: true });
      } else {
        staged.push({ tmp, dest });
        await syncs.add(tmp);
      }
    }
    await syncs.done();
    if (bad.length > 0) {
      throw new BundleError(`${bad.join("; ")}: nothing of ${volDir} was imported`);
    }
  } catch (err) {
    for (const s of staged) rmSync(s.tmp, { force: true });
    throw err;
  }
  const dirs = new Set<string>();
  for (const s of staged) {
    renameSync(s.tmp, s.dest);
    dirs.add(dirname(s.dest));
  }
  await inBatches([...dirs], 16, (dir) => durable.syncDir(dir));
  return placed;
}

/** The records of a volume as they join this outbox: file_path where the file is now. */
function* rewritten(volDir: string, placed: Map<string, string> | null): Generator<Uint8Array> {
  for (const payload of bundleRecords(join(volDir, RECORDS))) {
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    } catch {
      yield encodeFrame(payload);
      continue;
    }
    const bf = r[BUNDLE_FILE_FIELD];
    delete r[BUNDLE_FILE_FIELD];
    if (typeof bf === "string") {
      const dest = placed?.get(bf);
      if (dest) r.file_path = dest;
      else
        addWarning(r, "the file was not in the bundle: file_path names it where it was stored, at the edge");
    }
    yield encodeFrame(new TextEncoder().encode(JSON.stringify(r)));
  }
}

export async function importBundle(config: Config, dir: string, opts: ImportOptions): Promise<ImportSummary> {
  const summary: ImportSummary = { imported: 0, skipped: 0, volumes: 0, files: 0, refused: [] };
  const root = rootFor(config, opts.filesTo);
  const storage = new Storage({
    fsync: true,
    onDuplicate: "overwrite",
    minFreeMb: 0,
    quarantineDir: config.storage.quarantine,
  });
  let warnedEdge = false;
  const volumes = listVolumes(dir);
  if (volumes.length === 0) throw new BundleError(`${dir} holds no bundle (no manifest.json, no vol-NNNN)`);
  for (const v of volumes) {
    let m: VolumeManifest;
    let placed: Map<string, string> | null = null;
    try {
      m = readManifest(v);
      verifyRecords(v, m);
      const withFiles = m.with_files === true;
      if (withFiles) placed = await placeFiles(v, m, root, storage);
      else if (!warnedEdge) {
        warnedEdge = true;
        opts.warn(`import: warning: ${WARN_FILES_AT_EDGE} (exported without --with-files)`);
      }
      const name = queueIncoming(config.outbox.dir, m.bundle_id, rewritten(v, placed));
      const r = await awaitIncoming(
        config.outbox.dir,
        name,
        config.outbox.max_mb * MiB,
        config.storage.fsync,
        opts.waitMs ?? 600_000,
      );
      summary.imported += r.imported;
      summary.skipped += r.skipped;
      summary.volumes += 1;
      summary.files += m.files?.length ?? 0;
      opts.out(
        `  ${v}: ${r.imported} record(s) imported${r.skipped > 0 ? `, ${r.skipped} already imported before` : ""}` +
          (withFiles ? `, ${m.files?.length ?? 0} file(s) in place` : ""),
      );
    } catch (err) {
      if (!(err instanceof BundleError)) throw err;
      summary.refused.push(err.message);
      opts.warn(`import: refused: ${err.message}`);
    }
  }
  return summary;
}
