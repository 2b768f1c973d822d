// `outbox export DIR [--with-files] [--max-bundle-mb N]`: the backlog, up to the moment the export
// starts, leaves the outbox into a bundle (src/outbox/bundle.ts) while the server goes on receiving
// (src/outbox/handover-commands.ts). Each volume, once complete on disk, is handed over at once:
// records it holds leave the outbox, so an export killed mid-way leaves complete volumes and an outbox
// holding the rest, and the same command run again into DIR continues after the last complete volume.
//
// Each record leaves with the SHA-256 of its reception's bytes (src/outbox/hashes.ts). With files, the
// file at the record's path is copied (hashed on the way); it is that record's file when the hash
// matches, or, for a record whose hash was not taken yet, when the file is still the one written.
// Otherwise it is a later reception's: the record keeps its own hash (or null) and says so.

import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  writeSync,
} from "node:fs";
import { hostname, setPriority } from "node:os";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Config } from "../config/schema.ts";
import { fileIdentity } from "../store/held-file.ts";
import { safeSegment } from "../store/layout.ts";
import { durable } from "../util/durable.ts";
import {
  BackgroundSyncs,
  BUNDLE_FILE_FIELD,
  BUNDLE_FORMAT,
  type BundleFile,
  bundlePathProblem,
  type ExportIndex,
  FILES_DIR,
  hashCopy,
  INDEX,
  inBatches,
  listVolumes,
  MANIFEST,
  manifestIfComplete,
  RECORDS,
  type VolumeManifest,
  volumeName,
  volumeNumber,
} from "./bundle.ts";
import { encodeFrame } from "./frame.ts";
import { claimExport, endExport, exportAlive, exportCommitted } from "./handover-commands.ts";
import { type Claim, writeFileDurable } from "./handover-files.ts";
import { createHasher } from "./hasher.ts";
import { addWarning, INTERNAL_FIELDS, RecordHashes, WARN_NO_IDENTITY, WARN_REPLACED } from "./hashes.ts";
import { PENDING_FIELD, settledPendingIds } from "./pending.ts";
import { uuidV7 } from "./record.ts";
import { type Position, recordsBetween } from "./segments.ts";

const MiB = 1024 * 1024;
export const DEFAULT_MAX_BUNDLE_MB = 4000;
/** What a record may grow by when it leaves (its hash, a warning, bundle_file). */
const RECORD_GROWTH = 512;
/** A manifest's fixed part, and what each file entry adds beyond its path. */
const MANIFEST_BASE = 2048;
const MANIFEST_PER_FILE = 160;

/** A pending record exported before a server settled it (it stopped before, and has not run since). */
export const WARN_UNSETTLED =
  "exported before the instance was settled: file_path, target_ts and transfer_status are as received";
export const WARN_LATER_VERSION =
  "the bundle carries a later version of this file: the instance was received again before the export";

export interface ExportOptions {
  withFiles: boolean;
  maxBundleMb: number;
  out: (line: string) => void;
  warn: (line: string) => void;
}

export interface ExportSummary {
  records: number;
  files: number;
  bytes: number;
  /** The volumes written by this run. */
  volumes: string[];
  dir: string;
}

export class ExportError extends Error {
  override readonly name = "ExportError";
}

/** Volumes already complete in DIR (an interrupted export is continued), after removing incomplete ones. */
function prepareDir(dir: string): number {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    return 1;
  }
  const names = readdirSync(dir);
  if (names.includes(INDEX))
    throw new ExportError(`export: ${dir} holds a finished export; choose another DIR`);
  const others = names.filter((n) => volumeNumber(n) === null);
  if (others.length > 0)
    throw new ExportError(`export: ${dir} is not empty (${others.slice(0, 3).join(", ")})`);
  let next = 1;
  for (const v of listVolumes(dir)) {
    if (manifestIfComplete(v)) next = Math.max(next, (volumeNumber(v.split(sep).pop() ?? "") ?? 0) + 1);
    else rmSync(v, { recursive: true, force: true });
  }
  return next;
}

/** Where each tenant's files are at this site: their paths below it are their paths in the bundle. */
function rootsOf(config: Config): { byTenant: Map<string, string>; fallback: string } {
  const fallback = resolve(config.storage.root);
  const byTenant = new Map<string, string>();
  for (const t of config.tenants) byTenant.set(t.id, resolve(t.storage?.root ?? config.storage.root));
  return { byTenant, fallback };
}

/** The path a record's file has in a bundle, or null when it lies outside every storage root. */
function bundlePathOf(filePath: string, tenant: string, roots: ReturnType<typeof rootsOf>): string | null {
  for (const root of [roots.byTenant.get(tenant), roots.fallback]) {
    if (root === undefined) continue;
    const rel = relative(root, filePath);
    if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) continue;
    const p = [FILES_DIR, safeSegment(tenant), ...rel.split(sep)].join("/");
    if (bundlePathProblem(p) === null) return p;
  }
  return null;
}

interface Carried extends BundleFile {
  identity: string;
}

/** One volume being written. */
class Volume {
  readonly dir: string;
  readonly id = uuidV7();
  private readonly fd: number;
  private readonly hash = createHash("sha256");
  records = 0;
  recordBytes = 0;
  readonly files = new Map<string, Carried>();
  filesBytes = 0;
  private manifestBytes = MANIFEST_BASE;
  private readonly dirs = new Set<string>();
  private readonly syncs = new BackgroundSyncs((path) => durable.syncFile(path));
  to: Position;

  constructor(
    parent: string,
    readonly n: number,
    readonly from: Position,
  ) {
    this.dir = join(parent, volumeName(n));
    mkdirSync(this.dir);
    this.fd = openSync(join(this.dir, RECORDS), "wx");
    this.to = from;
  }

  get bytes(): number {
    return this.recordBytes + this.filesBytes + this.manifestBytes;
  }

  get empty(): boolean {
    return this.records === 0;
  }

  /** Copy a file into the volume, hashing it on the way; the source descriptor is read from 0 to `size`. */
  async carry(srcFd: number, size: number, path: string, identity: string): Promise<Carried> {
    const dest = join(this.dir, ...path.split("/"));
    const parent = dirname(dest);
    if (!this.dirs.has(parent)) {
      mkdirSync(parent, { recursive: true });
      for (let d = parent; d.length > this.dir.length && !this.dirs.has(d); d = dirname(d)) this.dirs.add(d);
    }
    const out = openSync(dest, "wx");
    let got: { sha256: string; size: number };
    try {
      got = hashCopy(srcFd, out, size);
    } finally {
      closeSync(out);
    }
    if (got.size !== size)
      throw new ExportError(`export: ${path}: ${got.size} bytes, not the ${size} it had`);
    const f: Carried = { path, size, sha256: got.sha256, identity };
    this.files.set(path, f);
    await this.syncs.add(dest);
    this.filesBytes += size;
    this.manifestBytes += path.length + MANIFEST_PER_FILE;
    return f;
  }

  /** A record that does not travel (a settled pending record) is behind the volume all the same. */
  passOver(end: Position): void {
    this.to = end;
  }

  addRecord(payload: Uint8Array, end: Position): void {
    const frame = encodeFrame(payload);
    let done = 0;
    while (done < frame.length) done += writeSync(this.fd, frame, done, frame.length - done);
    this.hash.update(frame);
    this.records += 1;
    this.recordBytes += frame.length;
    this.to = end;
  }

  /** Everything on stable storage, then the manifest: the volume is complete. */
  async commit(
    manifest: Omit<VolumeManifest, "records" | "bytes" | "sha256" | "files" | "files_bytes">,
  ): Promise<VolumeManifest> {
    closeSync(this.fd);
    const files = [...this.files.values()];
    await this.syncs.add(join(this.dir, RECORDS));
    await this.syncs.done();
    await inBatches(
      [...this.dirs].sort((a, b) => b.length - a.length),
      16,
      (dir: string) => durable.syncDir(dir),
    );
    const m: VolumeManifest = {
      ...manifest,
      records: this.records,
      bytes: this.recordBytes,
      sha256: this.hash.digest("hex"),
      files: files.map(({ path, size, sha256 }) => ({ path, size, sha256 })),
      files_bytes: this.filesBytes,
    };
    writeFileDurable(join(this.dir, MANIFEST), `${JSON.stringify(m, null, 1)}\n`);
    await durable.syncDir(dirname(this.dir));
    return m;
  }

  abandon(): void {
    try {
      closeSync(this.fd);
    } catch {
      // closed by commit already
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** An open source file and what it is now. */
interface Source {
  fd: number;
  size: number;
  identity: string;
}

function openSource(path: string): Source | { missing: string } {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    return { missing: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  }
  const st = fstatSync(fd, { bigint: true });
  return { fd, size: Number(st.size), identity: fileIdentity(st) };
}

export async function exportBundle(
  config: Config,
  dirArg: string,
  opts: ExportOptions,
): Promise<ExportSummary> {
  const dir = resolve(dirArg);
  const outboxDir = config.outbox.dir;
  const maxBytes = config.outbox.max_mb * MiB;
  const limit = Math.floor(opts.maxBundleMb * MiB);
  if (!(limit > MANIFEST_BASE * 2))
    throw new ExportError(`export: --max-bundle-mb ${opts.maxBundleMb} is too small`);
  const claimed = await claimExport(outboxDir, dir, maxBytes, config.storage.fsync);
  const claim: Claim = claimed.claim;
  try {
    // Receiving comes first: the export takes what CPU and disk the server leaves.
    setPriority(10);
  } catch {
    // not allowed here: runs at normal priority
  }
  const summary: ExportSummary = { records: 0, files: 0, bytes: 0, volumes: [], dir };
  let vol: Volume | null = null;
  const hasher = createHasher();
  const hashes = new RecordHashes(outboxDir, hasher);
  try {
    let n = prepareDir(dir);
    if (n > 1) opts.out(`continuing the export in ${dir} after ${n - 1} complete volume(s)`);
    const roots = rootsOf(config);
    const commit = async (v: Volume, to: Position): Promise<void> => {
      v.to = to;
      await v.commit({
        format: BUNDLE_FORMAT,
        version: 2,
        bundle_id: v.id,
        export_id: claim.export_id,
        volume: v.n,
        created_time: new Date().toISOString(),
        source_node: hostname(),
        source_outbox: resolve(outboxDir),
        with_files: opts.withFiles,
        from: v.from,
        to,
      });
      // The bundle holds them now: they leave the outbox.
      exportCommitted(outboxDir, claim, v.n, to);
      summary.records += v.records;
      summary.files += v.files.size;
      summary.bytes += v.bytes;
      summary.volumes.push(v.dir);
      opts.out(`  ${volumeName(v.n)}: ${v.records} record(s), ${v.files.size} file(s), ${mb(v.bytes)}`);
    };
    vol = new Volume(dir, n++, claimed.from);
    // Settled pending records are passed over: their final record travels instead.
    const settled = await settledPendingIds(() => recordsBetween(outboxDir, claimed.from, claimed.cut));
    for await (const e of recordsBetween(outboxDir, claimed.from, claimed.cut)) {
      exportAlive(outboxDir);
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(new TextDecoder().decode(e.payload)) as Record<string, unknown>;
      } catch {
        // Not ours to judge: it travels as it is (the import skips what is not a record).
        record = {};
      }
      const isRecord = typeof record.trace_id === "string";
      if (isRecord && record[PENDING_FIELD] === true) {
        if (settled.has(String(record.trace_id))) {
          vol.passOver(e.end);
          continue;
        }
        addWarning(record, WARN_UNSETTLED);
      }
      let source: Source | null = null;
      let bundlePath: string | null = null;
      // The file, opened when the volume that will hold the record does not hold it yet.
      const openFor = (v: Volume): void => {
        if (bundlePath === null || source !== null || v.files.has(bundlePath)) return;
        const s = openSource(String(record.file_path));
        if ("missing" in s) {
          addWarning(record, `the file could not be read at export (${s.missing}): not in the bundle`);
          opts.warn(`export: ${record.file_path}: ${s.missing}; the record goes without its file`);
          bundlePath = null;
        } else source = s;
      };
      if (opts.withFiles && isRecord) {
        bundlePath = bundlePathOf(String(record.file_path), String(record.tenant_id), roots);
        if (bundlePath === null)
          addWarning(record, "the file lies outside the storage roots: not in the bundle");
        openFor(vol);
      }
      try {
        const grow = (): number =>
          RECORD_GROWTH + (source ? source.size + (bundlePath?.length ?? 0) + MANIFEST_PER_FILE : 0);
        if (!vol.empty && vol.bytes + e.payload.length + grow() > limit) {
          await commit(vol, vol.to);
          vol = new Volume(dir, n++, vol.to);
          openFor(vol);
        }
        if (source && vol.bytes + e.payload.length + grow() > limit) {
          throw new ExportError(
            `export: ${record.file_path} (${mb((source as Source).size)}) does not fit in a volume of --max-bundle-mb ${opts.maxBundleMb}`,
          );
        }
        let payload = e.payload;
        if (isRecord) {
          await leaving(record, e.end.segment, vol, source as Source | null, bundlePath, hashes);
          payload = new TextEncoder().encode(JSON.stringify(record));
        }
        vol.addRecord(payload, e.end);
      } finally {
        if (source) closeSync((source as Source).fd);
      }
    }
    if (!vol.empty || summary.volumes.length === 0) await commit(vol, claimed.cut);
    else vol.abandon();
    vol = null;
    const index: ExportIndex = {
      format: BUNDLE_FORMAT,
      version: 2,
      created_time: new Date().toISOString(),
      volumes: listVolumes(dir)
        .filter((v) => manifestIfComplete(v) !== null)
        .map((v) => v.split(sep).pop() ?? ""),
    };
    writeFileDurable(join(dir, INDEX), `${JSON.stringify(index, null, 1)}\n`);
  } catch (err) {
    vol?.abandon();
    throw err;
  } finally {
    await hasher.close();
    // Whatever was committed leaves the outbox before we return, whether the export finished or not.
    await endExport(outboxDir, claim, maxBytes, config.storage.fsync);
  }
  return summary;
}

/**
 * Make a record fit to leave: its reception's hash (or null with a warning), with files its bundle_file
 * (the file copied into the volume if it is not there yet), internal fields removed.
 */
async function leaving(
  record: Record<string, unknown>,
  segment: number,
  vol: Volume,
  source: Source | null,
  bundlePath: string | null,
  hashes: RecordHashes,
): Promise<void> {
  if (bundlePath === null) {
    await hashes.resolve(record, segment);
    return;
  }
  const known = await hashes.known(record, segment);
  const carried = source
    ? await vol.carry(source.fd, source.size, bundlePath, source.identity)
    : vol.files.get(bundlePath);
  const identity = record._file_identity;
  for (const f of INTERNAL_FIELDS) delete record[f];
  record[BUNDLE_FILE_FIELD] = bundlePath;
  if (typeof known === "string") record.sha256 = known;
  else if (carried && identity === carried.identity) record.sha256 = carried.sha256;
  else {
    record.sha256 = null;
    addWarning(record, typeof identity === "string" ? WARN_REPLACED : WARN_NO_IDENTITY);
  }
  if (carried && record.sha256 !== carried.sha256) addWarning(record, WARN_LATER_VERSION);
}

function mb(bytes: number): string {
  return bytes >= 10 * MiB ? `${(bytes / MiB).toFixed(0)} MiB` : `${(bytes / MiB).toFixed(2)} MiB`;
}
