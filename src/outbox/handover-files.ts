// The files through which `outbox export` and `outbox import` talk to the owner of the log, beside a
// running server. The server owns the log (LOCK) and stays its only writer; the commands talk to it
// through files in outbox.dir, which work the same on Linux and Windows and survive a crash of either
// side, and do the owner's part themselves (taking the lock for a moment) when no server runs. The
// owner's side is handover.ts, the commands' side handover-commands.ts; this module is what both read
// and write.
//
// Export (records up to a point leave the log into a bundle, the server appending after it):
//   export.claim                  the exporter: {export_id, pid, dir}, created exclusively (one at a time)
//   export.sealed                 the owner's answer: publishing paused, hashes noted, the active segment
//                                 sealed; {export_id, from, cut}: the export takes the records in [from, cut),
//                                 all in segments no one writes again
//   export.done-<id>-<n>.json     the exporter, once volume n is complete in the bundle: {to}; the owner
//                                 moves its cursor there (export-marker.ts), as if those were published
//   (claim removed)               the exporter, after its last export.done: publishing resumes
// A crash of the exporter leaves its claim: the owner sees its pid gone, releases what the bundle's
// complete volumes hold (their manifests say up to where) and resumes; the records of an incomplete
// volume stay. A crash of the owner changes nothing: the next one (or the exporter, if none runs)
// applies the export.done files when it opens the log. A record is thus always in the log or in a
// complete volume, and in both only if the exporter dies between a volume's manifest and its
// export.done while its bundle cannot be read by the owner (at-least-once; trace_id dedupes).
//
// Import (records of a bundle join the log):
//   incoming/<name>.seg           the importer: records, verified, their file_path rewritten, synced
//   incoming/<name>.at            the owner, before appending them: where the log ended
//   incoming/<name>.result        the owner, after: {imported, skipped}, for the waiting importer
// imported.ids (trace_ids already taken) is updated after the appends; if the owner crashes in between,
// the next one finds <name>.at and skips what it had appended after that position.

import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { durable } from "../util/durable.ts";
import { listVolumes, manifestIfComplete } from "./bundle.ts";
import { alive } from "./lock.ts";
import { before, type Position } from "./segments.ts";

export const CLAIM = "export.claim";
export const SEALED = "export.sealed";
export const INCOMING = "incoming";
export const LEDGER = "imported.ids";
/**
 * An exporter touches its claim as it goes (exportAlive); one untouched this long is abandoned even if
 * a process with its pid runs (pids are reused). Generous: one large file on slow media is one step.
 */
const CLAIM_STALE_MS = 600_000;

export interface Claim {
  export_id: string;
  pid: number;
  /** The bundle directory, absolute. */
  dir: string;
  created_time: string;
}

export interface Sealed {
  export_id: string;
  from: Position;
  cut: Position;
}

export interface IngestResult {
  imported: number;
  skipped: number;
  /** The queued file turned out damaged: set aside after what it held up to there. */
  error?: string;
}

export class HandoverError extends Error {
  override readonly name = "HandoverError";
}

/** Write a small file so that it appears whole or not at all: temp, sync, rename, directory sync. */
export function writeFileDurable(path: string, text: string): void {
  const tmp = `${path}.${process.pid}-${randomBytes(3).toString("hex")}.tmp`;
  const fd = openSync(tmp, "wx");
  try {
    writeAll(fd, new TextEncoder().encode(text));
    durable.syncDataSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  durable.syncDirSync(join(path, ".."));
}

export function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

export function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    return null;
  }
}

export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

/** The claim in outbox.dir: null (none), "unreadable" (being written, or torn by a crash), or the claim. */
export function readClaim(outboxDir: string): Claim | "unreadable" | null {
  const p = join(outboxDir, CLAIM);
  if (!existsSync(p)) return null;
  const c = readJson<Partial<Claim>>(p);
  if (!c || typeof c.export_id !== "string" || !Number.isSafeInteger(c.pid) || typeof c.dir !== "string") {
    return "unreadable";
  }
  return c as Claim;
}

/** Is the exporter of this claim still at work? */
export function claimLive(outboxDir: string, c: Claim): boolean {
  if (!alive(c.pid)) return false;
  try {
    return Date.now() - statSync(join(outboxDir, CLAIM)).mtimeMs < CLAIM_STALE_MS;
  } catch {
    return false;
  }
}

/** How far the complete volumes of an export reach, from their manifests (its exporter is gone). */
export function committedTo(dir: string, exportId: string): Position | null {
  let best: Position | null = null;
  let vols: string[] = [];
  try {
    vols = listVolumes(dir);
  } catch {
    return null;
  }
  for (const v of vols) {
    const m = manifestIfComplete(v);
    if (m?.export_id !== exportId || !m.to) continue;
    if (best === null || before(best, m.to)) best = m.to;
  }
  return best;
}

/** The trace_ids an earlier import already took (imported.ids). */
export function readLedger(path: string): Set<string> {
  if (!existsSync(path)) return new Set();
  return new Set(
    readFileSync(path, "utf8")
      .split("\n")
      .filter((l) => l.length > 0),
  );
}

/** The trace_id of a record, or null (none, or not a record). */
export function traceIdOf(payload: Uint8Array): string | null {
  try {
    const v = JSON.parse(new TextDecoder().decode(payload)) as { trace_id?: unknown };
    return typeof v.trace_id === "string" && v.trace_id.length > 0 ? v.trace_id : null;
  } catch {
    return null;
  }
}
