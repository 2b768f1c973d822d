// After a crash: files in the archive that have no outbox record. An instance is renamed into the
// archive before its record is appended (and its record's space is reserved before that, so only a
// crash can come between the two). Such a file was written after the newest record in the outbox and
// before this process started; this check, run in the background at start, reports each one (a log
// line) so that an operator can have it sent again or its record made. It reads every directory of the
// archive but looks at the files only of directories changed since that record (a file renamed into a
// directory changes the directory's time), and stops at a budget of entries and time.

import type { Dirent } from "node:fs";
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { Storage } from "../store/storage.ts";
import type { OutboxLog } from "./log.ts";

export interface ArchiveCheckOptions {
  /** The storage roots to walk. */
  roots: readonly string[];
  /** Directories not to walk (the quarantine). */
  skip: readonly string[];
  /** Files written from then on belong to this process, whose records cannot have been lost. */
  startedAt: number;
  /** Directory entries read at most. */
  maxEntries?: number;
  /** Time spent at most. */
  maxMs?: number;
}

export interface ArchiveCheckResult {
  /** created_time of the newest record, or null: no record to compare with (nothing was checked). */
  since: string | null;
  /** Files without a record, in the order the walk found them. */
  unrecorded: string[];
  /** Directory entries read. */
  entries: number;
  /** False when the budget ran out before the whole archive was read. */
  complete: boolean;
}

const MAX_ENTRIES = 5_000_000;
const MAX_MS = 10 * 60_000;
/** A record's created_time has millisecond precision; a file's time is finer. */
const CLOCK_SLACK_MS = 2;

export async function checkArchive(outbox: OutboxLog, o: ArchiveCheckOptions): Promise<ArchiveCheckResult> {
  const last = await outbox.lastRecord();
  const record = last ? parseRecord(last) : null;
  const result: ArchiveCheckResult = { since: null, unrecorded: [], entries: 0, complete: true };
  if (!record) return result;
  result.since = record.createdTime;
  const since = Date.parse(record.createdTime) + CLOCK_SLACK_MS;
  if (!Number.isFinite(since)) return result;
  const deadline = Date.now() + (o.maxMs ?? MAX_MS);
  const maxEntries = o.maxEntries ?? MAX_ENTRIES;
  const skip = new Set(o.skip);

  const visit = async (dir: string): Promise<void> => {
    if (skip.has(dir) || !result.complete) return;
    let entries: Dirent[];
    let changed: boolean;
    try {
      changed = (await fsp.stat(dir)).mtimeMs > since;
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    for (const e of entries) {
      result.entries += 1;
      if (result.entries > maxEntries || Date.now() > deadline) {
        result.complete = false;
        return;
      }
      const p = join(dir, e.name);
      if (e.isDirectory()) await visit(p);
      else if (changed && e.isFile() && !Storage.isTempName(e.name) && p !== record.path) {
        const t = (await fsp.stat(p).catch(() => null))?.mtimeMs ?? 0;
        if (t > since && t < o.startedAt) result.unrecorded.push(p);
      }
    }
  };
  for (const root of new Set(o.roots)) await visit(root);
  return result;
}

function parseRecord(payload: Uint8Array): { createdTime: string; path: string } | null {
  try {
    const v = JSON.parse(new TextDecoder().decode(payload)) as {
      created_time?: unknown;
      file_path?: unknown;
    };
    if (typeof v.created_time !== "string") return null;
    return { createdTime: v.created_time, path: typeof v.file_path === "string" ? v.file_path : "" };
  } catch {
    return null;
  }
}
