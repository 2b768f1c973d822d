// The bundle an air-gapped site carries away (`outbox export DIR`): numbered volumes, each a directory
// that imports on its own and is never larger than --max-bundle-mb:
//
//   DIR/vol-0001/records.seg     the records, in the outbox's own framing (CRC per record)
//   DIR/vol-0001/files/...       with --with-files: each record's DICOM file, as <tenant>/<path below
//                                that tenant's storage root> (the storage layout)
//   DIR/vol-0001/manifest.json   written last, once everything above is on stable storage: what the
//                                volume holds, with the SHA-256 and size of records.seg and of each file
//   DIR/export.json              written when the export finished: the volumes, in order
//
// A volume without its manifest is incomplete and is never imported. A record that travels with its
// file names it in `bundle_file` (removed again by the import, which rewrites `file_path`). The first
// format (version 1: records.seg and manifest.json right in DIR, no files) still imports.

import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { HEADER, MAX_PAYLOAD, parseFrames } from "./frame.ts";
import type { Position } from "./segments.ts";

export const BUNDLE_FORMAT = "storescp-outbox-bundle";
export const RECORDS = "records.seg";
export const MANIFEST = "manifest.json";
export const INDEX = "export.json";
export const FILES_DIR = "files";
/** The record field naming its file in the volume (relative to the volume directory). */
export const BUNDLE_FILE_FIELD = "bundle_file";

export interface BundleFile {
  /** Relative to the volume directory, "/"-separated: files/<tenant>/<path below the tenant's root>. */
  path: string;
  size: number;
  sha256: string;
}

export interface VolumeManifest {
  format: typeof BUNDLE_FORMAT;
  version: 1 | 2;
  /** This volume's id: imports remember it. */
  bundle_id: string;
  /** The export it belongs to (version 2). */
  export_id?: string;
  volume?: number;
  created_time: string;
  source_node: string;
  /** The outbox it came from (version 2). */
  source_outbox?: string;
  records: number;
  /** Bytes of records.seg and its SHA-256. */
  bytes: number;
  sha256: string;
  with_files?: boolean;
  files?: BundleFile[];
  files_bytes?: number;
  /** The range of the source outbox it holds (version 2): an export's hand-over is checked against it. */
  from?: Position;
  to?: Position;
}

export interface ExportIndex {
  format: typeof BUNDLE_FORMAT;
  version: 2;
  created_time: string;
  volumes: string[];
}

export class BundleError extends Error {
  override readonly name = "BundleError";
}

export function volumeName(n: number): string {
  return `vol-${String(n).padStart(4, "0")}`;
}

const VOLUME_RE = /^vol-(\d{4,})$/;

/** The number of a volume directory name, or null. */
export function volumeNumber(name: string): number | null {
  const m = VOLUME_RE.exec(name);
  return m ? Number(m[1]) : null;
}

/**
 * The volume directories of a bundle, in order: DIR itself when it is one volume (it has a manifest),
 * else its vol-NNNN directories (complete or not).
 */
export function listVolumes(dir: string): string[] {
  if (existsSync(join(dir, MANIFEST))) return [dir];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new BundleError(`${dir}: ${(err as Error).message}`);
  }
  return names
    .filter((n) => volumeNumber(n) !== null)
    .sort((a, b) => (volumeNumber(a) ?? 0) - (volumeNumber(b) ?? 0))
    .map((n) => join(dir, n));
}

const isPosition = (v: unknown): v is Position =>
  typeof v === "object" &&
  v !== null &&
  Number.isSafeInteger((v as Position).segment) &&
  Number.isSafeInteger((v as Position).offset);

/** A volume's manifest, checked for shape; BundleError when it is missing or not one of ours. */
export function readManifest(volDir: string): VolumeManifest {
  const p = join(volDir, MANIFEST);
  let m: Partial<VolumeManifest>;
  try {
    m = JSON.parse(readFileSync(p, "utf8")) as Partial<VolumeManifest>;
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    throw new BundleError(`${p}: ${missing ? "missing (an incomplete volume)" : (err as Error).message}`);
  }
  if (
    m.format !== BUNDLE_FORMAT ||
    (m.version !== 1 && m.version !== 2) ||
    typeof m.sha256 !== "string" ||
    typeof m.bundle_id !== "string" ||
    !Number.isSafeInteger(m.records) ||
    !Number.isSafeInteger(m.bytes)
  ) {
    throw new BundleError(`${volDir} is not a storescp outbox bundle (version 1 or 2)`);
  }
  if (m.version === 2) {
    const files = m.files ?? [];
    if (!Array.isArray(files) || !isPosition(m.from) || !isPosition(m.to))
      throw new BundleError(`${p}: malformed`);
    for (const f of files) {
      const problem = bundlePathProblem(f?.path);
      if (problem || !Number.isSafeInteger(f.size) || !/^[0-9a-f]{64}$/.test(String(f.sha256))) {
        throw new BundleError(
          `${p}: bad file entry ${JSON.stringify(f?.path)}${problem ? `: ${problem}` : ""}`,
        );
      }
    }
  }
  return m as VolumeManifest;
}

/** A manifest if the volume is complete, else null (for the hand-over's recovery, which must not throw). */
export function manifestIfComplete(volDir: string): VolumeManifest | null {
  try {
    return readManifest(volDir);
  } catch {
    return null;
  }
}

// Characters Windows does not allow in names, and control characters: a hostile bundle must not be able
// to name anything but a plain relative path below the volume's files/.
const BAD_CHARS = /[\\:*?"<>|]/;
const hasControl = (p: string): boolean => {
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) < 0x20) return true;
  return false;
};

/** Why a file path from a manifest or record is unsafe to use, or null when it is fine. */
export function bundlePathProblem(p: unknown): string | null {
  if (typeof p !== "string" || p.length === 0 || p.length > 4096) return "not a path";
  if (BAD_CHARS.test(p) || hasControl(p)) return "has characters that are not allowed in a path";
  const segs = p.split("/");
  if (segs[0] !== FILES_DIR || segs.length < 3) return `must lie below ${FILES_DIR}/<tenant>/`;
  if (segs.some((s) => s === "" || s === "." || s === "..")) return 'has empty, "." or ".." segments';
  return null;
}

/** Every record payload of a records.seg, in order (copies); throws at the first bad byte. */
export function* bundleRecords(path: string): Generator<Uint8Array> {
  const size = statSync(path).size;
  const fd = openSync(path, "r");
  const buf = new Uint8Array(2 * MAX_PAYLOAD + HEADER);
  try {
    let pos = 0;
    while (pos < size) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
      const parsed = parseFrames(buf.subarray(0, n), pos, pos + n >= size);
      const bad = parsed.bad[0];
      if (bad) throw new BundleError(`${path}: bad record at byte ${bad.offset}`);
      for (const f of parsed.frames) yield f.payload.slice();
      if (parsed.consumed === 0) throw new BundleError(`${path}: truncated at byte ${pos}`);
      pos += parsed.consumed;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Read an open file from its start, hashing it and, with `out`, writing each piece there too; stops
 * once more than `maxBytes` were read (a file larger than it should be is not read to its end).
 */
export function hashCopy(
  src: number,
  out: number | null,
  maxBytes = Number.POSITIVE_INFINITY,
): { sha256: string; size: number } {
  const h = createHash("sha256");
  const buf = new Uint8Array(1024 * 1024);
  let size = 0;
  while (size <= maxBytes) {
    const n = readSync(src, buf, 0, buf.length, size);
    if (n === 0) break;
    h.update(buf.subarray(0, n));
    if (out !== null) {
      let w = 0;
      while (w < n) w += writeSync(out, buf, w, n - w);
    }
    size += n;
  }
  return { sha256: h.digest("hex"), size };
}

/** SHA-256 and size of a file. */
export function hashFileSync(path: string): { sha256: string; size: number } {
  const fd = openSync(path, "r");
  try {
    return hashCopy(fd, null);
  } finally {
    closeSync(fd);
  }
}

/**
 * Check a volume's records.seg against its manifest (SHA-256, size, record count): throws BundleError
 * naming what is wrong. Files are checked by checkFile.
 */
export function verifyRecords(volDir: string, m: VolumeManifest): void {
  const p = join(volDir, RECORDS);
  if (!existsSync(p)) throw new BundleError(`${p} is missing`);
  const got = hashFileSync(p);
  if (got.sha256 !== m.sha256 || got.size !== m.bytes) {
    throw new BundleError(`${p} does not match the SHA-256 of its manifest`);
  }
  let count = 0;
  for (const _ of bundleRecords(p)) count += 1;
  if (count !== m.records)
    throw new BundleError(`${p} holds ${count} records, the manifest says ${m.records}`);
}

/** Why a file of a volume does not match its manifest entry, or null when it does. */
export function checkFile(volDir: string, f: BundleFile): string | null {
  const p = join(volDir, ...f.path.split("/"));
  let got: { sha256: string; size: number };
  try {
    got = hashFileSync(p);
  } catch (err) {
    return `${f.path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : (err as Error).message}`;
  }
  if (got.size !== f.size) return `${f.path}: ${got.size} bytes, the manifest says ${f.size}`;
  if (got.sha256 !== f.sha256) return `${f.path}: SHA-256 does not match the manifest`;
  return null;
}

/** What one volume holds by its manifest, and why it does not verify (`outbox status --bundle`). */
export interface VolumeCheck {
  dir: string;
  /** Null when the manifest cannot be read (then problems says why). */
  manifest: VolumeManifest | null;
  records: number;
  files: number;
  /** Bytes of records.seg and the files together. */
  bytes: number;
  /** Why the volume does not verify; empty when it does. */
  problems: string[];
}

/** Check a volume: its manifest, its records.seg and every file against the manifest. */
export function checkVolume(volDir: string): VolumeCheck {
  const problems: string[] = [];
  let m: VolumeManifest;
  try {
    m = readManifest(volDir);
  } catch (err) {
    problems.push((err as Error).message);
    return { dir: volDir, manifest: null, records: 0, files: 0, bytes: 0, problems };
  }
  try {
    verifyRecords(volDir, m);
  } catch (err) {
    problems.push((err as Error).message);
  }
  for (const f of m.files ?? []) {
    const p = checkFile(volDir, f);
    if (p) problems.push(p);
  }
  const files = m.files?.length ?? 0;
  return {
    dir: volDir,
    manifest: m,
    records: m.records,
    files,
    bytes: m.bytes + (m.files_bytes ?? 0),
    problems,
  };
}

/** Did the export of the bundle in `dir` finish (export.json written)? A lone volume counts as finished. */
export function bundleFinished(dir: string, volumes: readonly string[]): boolean {
  return existsSync(join(dir, INDEX)) || volumes[0] === dir;
}

/**
 * Files to bring to stable storage, synced in the background as they are written (a few at a time, so
 * the disk writes one while the next is copied) rather than all at the end; done() waits for all.
 */
export class BackgroundSyncs {
  private readonly running = new Set<Promise<void>>();
  private failure: Error | null = null;

  constructor(
    private readonly sync: (path: string) => Promise<void>,
    private readonly width = 16,
  ) {}

  async add(path: string): Promise<void> {
    while (this.running.size >= this.width) await Promise.race(this.running);
    const p: Promise<void> = this.sync(path).then(
      () => {
        this.running.delete(p);
      },
      (err: Error) => {
        this.running.delete(p);
        this.failure ??= err;
      },
    );
    this.running.add(p);
  }

  async done(): Promise<void> {
    await Promise.all(this.running);
    if (this.failure) throw this.failure;
  }
}

/** Run `f` over `items`, `width` at a time (syncing many files: the disk takes several at once). */
export async function inBatches<T>(items: T[], width: number, f: (x: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(f));
}
