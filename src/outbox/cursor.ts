// <dir>/cursor.json: how far the publisher got (segment, offset) and what it last said (its last error,
// its last success), for `outbox status` in another process. Replaced whole on each write, so a reader
// sees the old cursor or the new one. Without it everything still in the segments is published again
// (at-least-once), which is why an unreadable one is an error line and not a refusal to start.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { event, logger } from "../ops/log.ts";
import { durable } from "../util/durable.ts";
import type { Position } from "./segments.ts";

const log = logger("outbox");

/** What the publisher records beside the cursor, for `outbox status` in another process. */
export interface PublishNote {
  last_error: string | null;
  last_error_at: string | null;
  last_publish_at: string | null;
}

interface CursorFile extends PublishNote {
  segment: number;
  offset: number;
}

export const NO_NOTE: Readonly<PublishNote> = {
  last_error: null,
  last_error_at: null,
  last_publish_at: null,
};

/**
 * The cursor file of `dir`: null when there is none or it cannot be read (said in the log); its cursor
 * null when the position in it is not one.
 */
export function readCursor(dir: string): { cursor: Position | null; note: PublishNote } | null {
  const p = join(dir, "cursor.json");
  if (!existsSync(p)) return null;
  try {
    const c = JSON.parse(readFileSync(p, "utf8")) as Partial<CursorFile>;
    const valid = Number.isSafeInteger(c.segment) && Number.isSafeInteger(c.offset);
    return {
      cursor: valid ? { segment: c.segment ?? 0, offset: c.offset ?? 0 } : null,
      note: {
        last_error: c.last_error ?? null,
        last_error_at: c.last_error_at ?? null,
        last_publish_at: c.last_publish_at ?? null,
      },
    };
  } catch (err) {
    // At-least-once: without a cursor everything still in the segments is published again.
    event(log, "error", "outbox-cursor-unreadable", { file: p, error: (err as Error).message });
    return null;
  }
}

/** Replace the cursor file of `dir`; with `sync`, durable before it returns. */
export function writeCursor(dir: string, cursor: Position, note: PublishNote, sync: boolean): void {
  const body: CursorFile = { ...cursor, ...note };
  durable.replaceFileSync(join(dir, "cursor.json"), `${JSON.stringify(body)}\n`, sync, dir);
}
