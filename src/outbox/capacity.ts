// What `outbox status` says to plan with: how fast the outbox fills, when it reaches outbox.max_mb at
// that rate, and what an export would weigh now, with and without the files. Read from the backlog
// itself (each record's frame size, created_time and file_size), so it works in a process of its own
// beside a running server; memory does not grow with the backlog.

import { drainAdvice } from "./fill.ts";
import type { OutboxLog } from "./log.ts";

const MiB = 1024 * 1024;
const HOUR = 3_600_000;
/** What a record gains when it leaves (its hash, a bundle path), and what a manifest spends per file. */
const LEAVING_GROWTH = 160;
const MANIFEST_PER_FILE = 160;

export interface Capacity {
  records: number;
  bytes: number;
  /** Over the window: bytes and records that arrived per hour. */
  bytesPerHour: number;
  recordsPerHour: number;
  /** The window the rate is measured over (the last hour, or since the oldest record if younger). */
  windowMs: number;
  /**
   * "recent": the rate of the window above. "oldest": nothing arrived in the last hour, so the rate is
   * the average since the oldest record waiting (a quiet hour must not read as "never full").
   */
  basis: "recent" | "oldest";
  /** Until outbox.max_mb at that rate (null: not filling). */
  fullInMs: number | null;
  exportBytes: number;
  exportBytesWithFiles: number;
}

/** Read the backlog once; `now` for tests. */
export async function capacity(log: OutboxLog, maxBytes: number, now = Date.now()): Promise<Capacity> {
  let oldest = Number.POSITIVE_INFINITY;
  let recentBytes = 0;
  let recentRecords = 0;
  let datedBytes = 0;
  let datedRecords = 0;
  let records = 0;
  let frameBytes = 0;
  let files = 0;
  let pos = log.head;
  const decoder = new TextDecoder();
  for (;;) {
    const r = await log.read(5000, pos, 16 * MiB);
    if (r.entries.length === 0) break;
    for (const e of r.entries) {
      records += 1;
      const size = e.payload.length + 12;
      frameBytes += size;
      let created = Number.NaN;
      try {
        const v = JSON.parse(decoder.decode(e.payload)) as { created_time?: unknown; file_size?: unknown };
        created = Date.parse(String(v.created_time));
        if (typeof v.file_size === "number" && v.file_size > 0) files += v.file_size;
      } catch {
        // not a record: counted, not dated
      }
      if (!Number.isFinite(created)) continue;
      oldest = Math.min(oldest, created);
      datedBytes += size;
      datedRecords += 1;
      if (created > now - HOUR) {
        recentBytes += size;
        recentRecords += 1;
      }
    }
    pos = r.next;
  }
  const sinceOldest = now - oldest;
  const quietHour = recentRecords === 0 && datedRecords > 0 && sinceOldest > HOUR;
  const windowMs = quietHour
    ? sinceOldest
    : Number.isFinite(oldest)
      ? Math.min(HOUR, Math.max(60_000, sinceOldest))
      : HOUR;
  const bytesPerHour = ((quietHour ? datedBytes : recentBytes) * HOUR) / windowMs;
  const recordsPerHour = ((quietHour ? datedRecords : recentRecords) * HOUR) / windowMs;
  const bytes = log.bytes;
  const exportBytes = frameBytes + records * LEAVING_GROWTH;
  return {
    records: log.records,
    bytes,
    bytesPerHour,
    recordsPerHour,
    windowMs,
    basis: quietHour ? "oldest" : "recent",
    fullInMs: bytesPerHour > 0 ? Math.max(0, ((maxBytes - bytes) / bytesPerHour) * HOUR) : null,
    exportBytes,
    exportBytesWithFiles: exportBytes + files + records * MANIFEST_PER_FILE,
  };
}

export function sizeText(bytes: number): string {
  if (bytes >= 10 * 1024 * MiB) return `${(bytes / (1024 * MiB)).toFixed(1)} GiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

function duration(ms: number): string {
  const h = ms / HOUR;
  if (h < 1) return `${Math.round(ms / 60_000)} min`;
  if (h < 48) return `${h.toFixed(1)} h`;
  return `${(h / 24).toFixed(1)} d`;
}

/** The lines `outbox status` prints about capacity. */
export function capacityLines(
  c: Capacity,
  maxMb: number,
  kafkaEnabled: boolean,
  maxBundleMb: number,
): string[] {
  const over =
    c.basis === "oldest"
      ? "average since the oldest record waiting"
      : c.windowMs >= HOUR
        ? "last hour"
        : `last ${duration(c.windowMs)}`;
  const rate =
    c.bytesPerHour > 0
      ? `${sizeText(c.bytesPerHour)}/h, ${c.recordsPerHour.toFixed(0)} records/h (${over})`
      : `none (${over})`;
  const full =
    c.bytes >= maxMb * MiB
      ? `FULL now: ${drainAdvice(kafkaEnabled)}`
      : c.fullInMs === null
        ? "- (not filling)"
        : `in ~${duration(c.fullInMs)} at that rate${kafkaEnabled ? ", if nothing is published" : ""}`;
  const volumes = Math.max(1, Math.ceil(c.exportBytesWithFiles / (maxBundleMb * MiB)));
  return [
    `fill rate:     ${rate}`,
    `max_mb:        ${full}`,
    `export size:   ${sizeText(c.exportBytes)} records only; ${sizeText(c.exportBytesWithFiles)} --with-files ` +
      `(${volumes} volume(s) of at most ${maxBundleMb} MiB)`,
  ];
}
