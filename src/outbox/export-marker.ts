// What exports committed. `outbox export` writes export.done-<export id>-<volume>.json into outbox.dir
// once a volume of the bundle is complete ({ "to": position }); whoever owns the log applies it (moves
// the cursor, deletes the segments passed) and removes it. Until then readers count from there too:
// records an export committed to a bundle leave the log as if acknowledged, whether or not the owner
// had applied that yet.

import { readdirSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { event, logger } from "../ops/log.ts";
import { before, type Position } from "./segments.ts";

const log = logger("outbox");

export const EXPORT_DONE_PREFIX = "export.done-";

/** The furthest position an export committed, from the export.done-* files, or null. */
export function exportedTo(dir: string): Position | null {
  let best: Position | null = null;
  for (const f of exportDoneFiles(dir)) {
    try {
      const v = JSON.parse(readFileSync(join(dir, f), "utf8")) as { to?: Partial<Position> };
      const to = v.to;
      if (!to || !Number.isSafeInteger(to.segment) || !Number.isSafeInteger(to.offset)) continue;
      const p = { segment: to.segment ?? 0, offset: to.offset ?? 0 };
      if (best === null || before(best, p)) best = p;
    } catch (err) {
      // Written by rename, so never partial: unreadable means someone else's file; leave it.
      event(log, "warning", "outbox-export-note-unreadable", { file: f, error: (err as Error).message });
    }
  }
  return best;
}

export function exportDoneFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => n.startsWith(EXPORT_DONE_PREFIX) && n.endsWith(".json"));
  } catch {
    return [];
  }
}

/** Remove the export.done-* files once their position is in cursor.json (they said no more than `upTo`). */
export function clearExportDone(dir: string, upTo: Position | null): void {
  if (upTo === null) return;
  for (const f of exportDoneFiles(dir)) {
    try {
      const v = JSON.parse(readFileSync(join(dir, f), "utf8")) as { to?: Position };
      if (v.to && before(upTo, v.to)) continue;
      unlinkSync(join(dir, f));
    } catch {
      // left for the next owner
    }
  }
}
