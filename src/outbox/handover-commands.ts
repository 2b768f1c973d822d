// The commands' side of the hand-over (the files: handover-files.ts): `outbox export` claims the log and
// agrees with its owner on the records it takes, commits volumes as they complete and ends; `outbox
// import` queues records and waits until the owner has taken them in. When no server owns the log the
// command does the owner's part itself (runAsOwner), so the commands work with or without a server.

import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { durable } from "../util/durable.ts";
import { EXPORT_DONE_PREFIX } from "./export-marker.ts";
import { Handover } from "./handover.ts";
import {
  CLAIM,
  type Claim,
  claimLive,
  HandoverError,
  INCOMING,
  type IngestResult,
  readClaim,
  readJson,
  removeQuietly,
  SEALED,
  type Sealed,
  writeAll,
  writeFileDurable,
} from "./handover-files.ts";
import { lockOwner } from "./lock.ts";
import { OutboxLog } from "./log.ts";
import type { Position } from "./segments.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const CLAIM_TOUCH_MS = 10_000;

/** How long a command waits for the server to answer before it says why it gives up. */
const ANSWER_TIMEOUT_MS = 30_000;

/**
 * Do the owner's part ourselves when no server runs: take the lock for a moment, poll once, let go.
 * Returns false when a server holds the log (it does the part itself).
 */
export async function runAsOwner(outboxDir: string, maxBytes: number, fsync: boolean): Promise<boolean> {
  if (lockOwner(outboxDir) !== null) return false;
  let owned: OutboxLog;
  try {
    owned = await OutboxLog.open({ dir: outboxDir, maxBytes, fsync, lockWaitMs: 2000 });
  } catch (err) {
    if ((err as Error).name === "OutboxLockedError") return false;
    throw err;
  }
  try {
    await new Handover(owned).poll();
  } finally {
    await owned.close();
  }
  return true;
}

/** Until `done()`, run the owner's part ourselves whenever no server does; fail after the timeout. */
async function untilHandled(
  outboxDir: string,
  maxBytes: number,
  fsync: boolean,
  done: () => boolean,
  what: string,
  timeoutMs = ANSWER_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (!(await runAsOwner(outboxDir, maxBytes, fsync)) && Date.now() > deadline) {
      throw new HandoverError(
        `${what}: the server (pid ${lockOwner(outboxDir) ?? "?"}) did not answer within ${timeoutMs / 1000} s`,
      );
    }
    if (!done()) await sleep(50);
  }
}

export interface ClaimedExport {
  claim: Claim;
  /** The records to export: [from, cut) of the log. */
  from: Position;
  cut: Position;
}

/**
 * Claim the log for an export into `bundleDir` and agree on the records it takes. A claim left by a
 * dead exporter is cleared first (by the server, or here); a live one is an error.
 */
export async function claimExport(
  outboxDir: string,
  bundleDir: string,
  maxBytes: number,
  fsync: boolean,
): Promise<ClaimedExport> {
  mkdirSync(outboxDir, { recursive: true });
  const claim: Claim = {
    export_id: randomBytes(8).toString("hex"),
    pid: process.pid,
    dir: bundleDir,
    created_time: new Date().toISOString(),
  };
  const p = join(outboxDir, CLAIM);
  for (;;) {
    try {
      const fd = openSync(p, "wx");
      try {
        writeAll(fd, new TextEncoder().encode(`${JSON.stringify(claim)}\n`));
        durable.syncDataSync(fd);
      } finally {
        closeSync(fd);
      }
      durable.syncDirSync(outboxDir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const other = readClaim(outboxDir);
    if (
      other !== null &&
      other !== "unreadable" &&
      claimLive(outboxDir, other) &&
      other.pid !== process.pid
    ) {
      throw new HandoverError(`an export (pid ${other.pid}, into ${other.dir}) is already running`);
    }
    // Left by a dead exporter (or being written): the owner clears it; wait for that.
    const settled = () => {
      const c = readClaim(outboxDir);
      return c === null || (c !== "unreadable" && claimLive(outboxDir, c));
    };
    await untilHandled(outboxDir, maxBytes, fsync, settled, "clearing an earlier export");
  }
  try {
    let sealed: Partial<Sealed> | null = null;
    const mine = () => {
      sealed = readJson<Partial<Sealed>>(join(outboxDir, SEALED));
      return sealed?.export_id === claim.export_id;
    };
    const deadline = Date.now() + ANSWER_TIMEOUT_MS;
    while (!mine()) {
      if (lockOwner(outboxDir) === null) {
        // No server: the log is ours to read. One that starts now sees the claim and publishes nothing.
        const ro = await OutboxLog.open({ dir: outboxDir, maxBytes, fsync: false, readOnly: true });
        try {
          return { claim, from: ro.head, cut: ro.tail };
        } finally {
          await ro.close();
        }
      }
      if (Date.now() > deadline) {
        throw new HandoverError(
          `the server (pid ${lockOwner(outboxDir)}) did not answer the export within ${ANSWER_TIMEOUT_MS / 1000} s`,
        );
      }
      await sleep(50);
    }
    const s = sealed as unknown as Sealed;
    return { claim, from: s.from, cut: s.cut };
  } catch (err) {
    removeQuietly(p);
    throw err;
  }
}

let touched = 0;

/** The exporter is at work: keeps its claim from looking abandoned (call it as often as convenient). */
export function exportAlive(outboxDir: string): void {
  const now = Date.now();
  if (now - touched < CLAIM_TOUCH_MS) return;
  touched = now;
  try {
    utimesSync(join(outboxDir, CLAIM), now / 1000, now / 1000);
  } catch {
    // gone: the owner took it as abandoned; what this export commits is still applied
  }
}

/** Volume `volume` of the export is complete in the bundle, holding the records before `to`. */
export function exportCommitted(outboxDir: string, claim: Claim, volume: number, to: Position): void {
  const name = `${EXPORT_DONE_PREFIX}${claim.export_id}-${String(volume).padStart(4, "0")}.json`;
  writeFileDurable(join(outboxDir, name), `${JSON.stringify({ export_id: claim.export_id, volume, to })}\n`);
}

/**
 * The export is over (finished or failed): drop the claim, and see that what it committed has left the
 * log before returning (the server applies it, or we do).
 */
export async function endExport(
  outboxDir: string,
  claim: Claim,
  maxBytes: number,
  fsync: boolean,
): Promise<void> {
  const c = readClaim(outboxDir);
  if (c !== null && c !== "unreadable" && c.export_id === claim.export_id)
    removeQuietly(join(outboxDir, CLAIM));
  durable.syncDirSync(outboxDir);
  const applied = () =>
    readdirSync(outboxDir).every((n) => !n.startsWith(`${EXPORT_DONE_PREFIX}${claim.export_id}-`));
  await untilHandled(outboxDir, maxBytes, fsync, applied, "handing the export over");
}

/** Queue records for the log (an import): they are the owner's once this returns. Returns the file's base name. */
export function queueIncoming(outboxDir: string, bundleId: string, frames: Iterable<Uint8Array>): string {
  const inc = join(outboxDir, INCOMING);
  mkdirSync(inc, { recursive: true });
  const name = `${Date.now().toString(36)}-${bundleId.replace(/[^A-Za-z0-9-]/g, "_")}-${randomBytes(3).toString("hex")}`;
  const tmp = join(inc, `${name}.tmp`);
  const fd = openSync(tmp, "wx");
  try {
    for (const f of frames) writeAll(fd, f);
    durable.syncDataSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(inc, `${name}.seg`));
  durable.syncDirSync(inc);
  return name;
}

/** Wait until the owner (the server, or we) has taken in a queued import; its result. */
export async function awaitIncoming(
  outboxDir: string,
  name: string,
  maxBytes: number,
  fsync: boolean,
  timeoutMs = ANSWER_TIMEOUT_MS,
): Promise<IngestResult> {
  const base = join(outboxDir, INCOMING, name);
  await untilHandled(
    outboxDir,
    maxBytes,
    fsync,
    () => existsSync(`${base}.result`),
    `importing (the records wait in ${base}.seg and are taken in when it answers)`,
    timeoutMs,
  );
  const r = readJson<IngestResult>(`${base}.result`) ?? { imported: 0, skipped: 0 };
  removeQuietly(`${base}.result`);
  if (r.error) throw new HandoverError(`importing: ${r.error} (${r.imported} record(s) taken before it)`);
  return r;
}
