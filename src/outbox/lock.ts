// <dir>/LOCK: one owner of the log at a time: the server, or an `outbox drain|export|import` while the
// server is stopped. The file holds the owner's pid; one left by a process that is gone (a crash,
// SIGKILL) is taken over, so a crash never locks the outbox out.

import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { event, logger } from "../ops/log.ts";

const log = logger("outbox");

export class OutboxLockedError extends Error {
  override readonly name = "OutboxLockedError";
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The pid of the live process that owns the log of `dir`, or null (none, or it is gone). */
export function lockOwner(dir: string): number | null {
  let text: string;
  try {
    text = readFileSync(join(dir, "LOCK"), "utf8");
  } catch {
    return null;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isSafeInteger(pid) && pid > 0 && alive(pid) ? pid : null;
}

/** What the lock file of `dir` says (the pid of its owner, who may be gone), or null without one. */
export function lockText(dir: string): string | null {
  try {
    return readFileSync(join(dir, "LOCK"), "utf8").trim();
  } catch {
    return null;
  }
}

/** Take the lock of `dir`, waiting up to `waitMs` for a live owner to let go (OutboxLockedError after). */
export async function lockDir(dir: string, waitMs: number): Promise<void> {
  const p = join(dir, "LOCK");
  const deadline = Date.now() + waitMs;
  let waited = false;
  for (;;) {
    try {
      const fd = openSync(p, "wx");
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let pid = Number.NaN;
      try {
        pid = Number.parseInt(readFileSync(p, "utf8").trim(), 10);
      } catch (e) {
        // Removed in between (its owner closed): try again.
        if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw e;
      }
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        if (Date.now() >= deadline) throw new OutboxLockedError(`outbox ${dir} is in use by process ${pid}`);
        if (!waited) event(log, "info", "outbox-lock-wait", { dir, pid });
        waited = true;
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      // Left by a process that is gone (crash, SIGKILL), or empty (it died writing it): take it over.
      try {
        unlinkSync(p);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      }
    }
  }
}

/** Let go of the lock of `dir`, if it is ours. */
export function unlockDir(dir: string): void {
  try {
    const p = join(dir, "LOCK");
    if (readFileSync(p, "utf8").trim() === String(process.pid)) unlinkSync(p);
  } catch {
    // already gone
  }
}
