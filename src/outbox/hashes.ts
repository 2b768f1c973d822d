// The SHA-256 of each record's file: always of the bytes stored for that record's reception, never of
// another version of the file, and never computed on the C-STORE's path.
//
// A record is written (and the peer answered) with `sha256: null`. Right after, the stored file is
// hashed in the hasher's low-priority thread from the descriptor held since it was written (HeldFile):
// those are the bytes of that reception even when the same instance arrives again a moment later and
// replaces the file. The digest is noted beside the record's segment (<seq>.hashes, one line per
// record: "trace_id sha256"), and the record leaves the site (published, exported) with it.
//
// Where no note exists (the process stopped before the hash was taken, or too many files waited to be
// hashed and the descriptor was let go) the file is hashed from its path, but only if it is still the
// file that was written: the record carries its identity (inode, size, modification time; files are
// replaced by rename, never rewritten). Otherwise the record leaves with `sha256: null` and a warning.
// A transcoded instance's record carries the hash of what the transcoder wrote from the start, and the
// final record of an instance whose file was written from the write-ahead log the hash taken as it was
// written (src/store/wal/copier.ts).

import { appendFileSync, closeSync, openSync, readSync, statSync } from "node:fs";
import { event, logger } from "../ops/log.ts";
import type { HeldDescriptor } from "../pipeline/stages.ts";
import type { Hasher } from "./hasher.ts";
import { hashNotesPath } from "./segments.ts";

const log = logger("outbox");

/** Record fields that stay on this site: removed from every record that is published or exported. */
export const INTERNAL_FIELDS = ["_file_identity", "_pending", "_wal"] as const;

export const WARN_REPLACED =
  "sha256 unknown: the stored file was replaced (the instance was received again) before it was hashed";
export const WARN_NO_IDENTITY = "sha256 unknown: the record does not identify its stored file";
export const warnUnreadable = (why: string): string =>
  `sha256 unknown: the stored file could not be read (${why})`;

/** Files hashed after the answer at most at once; beyond, the file is hashed from its path later. */
const MAX_HELD = 256;
/** Notes are written in batches, at most this long after their digest. */
const NOTE_DELAY_MS = 100;

type Digest = string | null;

/** Add a warning to a record (its `warnings` list, made when the first one comes), once. */
export function addWarning(record: Record<string, unknown>, warning: string): void {
  const list = Array.isArray(record.warnings) ? (record.warnings as unknown[]) : [];
  if (!list.includes(warning)) list.push(warning);
  record.warnings = list;
}

/** Notes of one segment read so far: trace_id -> digest, and how far the file was read. */
interface NotesCache {
  seq: number;
  offset: number;
  map: Map<string, Digest>;
}

/** Read the complete lines of a notes file from `offset` into `map`; returns the offset after them. */
function readNotes(path: string, offset: number, map: Map<string, Digest>): number {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return offset;
  }
  if (size <= offset) return offset;
  const buf = new Uint8Array(size - offset);
  const fd = openSync(path, "r");
  let n = 0;
  try {
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, offset + n);
      if (got === 0) break;
      n += got;
    }
  } finally {
    closeSync(fd);
  }
  const end = buf.subarray(0, n).lastIndexOf(0x0a) + 1;
  for (const line of new TextDecoder().decode(buf.subarray(0, end)).split("\n")) {
    const sp = line.indexOf(" ");
    if (sp <= 0) continue;
    const d = line.slice(sp + 1);
    map.set(line.slice(0, sp), /^[0-9a-f]{64}$/.test(d) ? d : null);
  }
  return offset + end;
}

export class RecordHashes {
  /** Digests being computed for records of this process, by trace_id. */
  private readonly inflight = new Map<string, Promise<Digest>>();
  /** Digests computed and not yet noted: segment -> lines. */
  private unnoted = new Map<number, Map<string, Digest>>();
  private noteTimer: ReturnType<typeof setTimeout> | null = null;
  private cache: NotesCache | null = null;
  private overflowed = 0;

  constructor(
    private readonly dir: string,
    private readonly hasher: Hasher,
  ) {}

  /**
   * The record of `traceId` (in `segment`) is durable: hash its file (at `path`) from the descriptor
   * held since it was written, in the background, and note the digest. Takes the descriptor, or lets
   * it go when too many are waiting (the file is then hashed from its path when the record leaves).
   */
  hashHeld(traceId: string, segment: number, held: HeldDescriptor, path: string): void {
    if (this.inflight.size >= MAX_HELD) {
      held.release();
      this.overflowed += 1;
      if (this.overflowed === 1 || this.overflowed % 1000 === 0) {
        event(log, "info", "hash-deferred", {
          count: this.overflowed,
          detail: "files arrive faster than they are hashed: the rest are hashed from their path later",
        });
      }
      return;
    }
    const fd = held.take();
    // Nothing held (Windows): the file by its path, while it is still the one written.
    const digest =
      fd === null ? this.hasher.digestIfSame(path, held.identity) : this.hasher.digestFd(fd, held.size);
    const p = digest.then(
      (d): Digest => d,
      (err: Error): Digest => {
        event(log, "warning", "outbox-hash-failed", { trace_id: traceId, error: err.message });
        return null;
      },
    );
    this.inflight.set(traceId, p);
    void p.then((d) => {
      this.inflight.delete(traceId);
      // A failed hash is not noted: the path may still serve later.
      if (d !== null) this.note(segment, traceId, d);
    });
  }

  private note(segment: number, traceId: string, d: Digest): void {
    let m = this.unnoted.get(segment);
    if (!m) {
      m = new Map();
      this.unnoted.set(segment, m);
    }
    m.set(traceId, d);
    this.noteTimer ??= setTimeout(() => this.flushNotes(), NOTE_DELAY_MS);
    this.noteTimer.unref?.();
  }

  /** Write the notes computed so far (one append per segment). */
  flushNotes(): void {
    if (this.noteTimer) clearTimeout(this.noteTimer);
    this.noteTimer = null;
    const all = this.unnoted;
    this.unnoted = new Map();
    for (const [seq, m] of all) {
      let text = "";
      for (const [id, d] of m) text += `${id} ${d ?? "-"}\n`;
      try {
        appendFileSync(hashNotesPath(this.dir, seq), text);
      } catch (err) {
        // The segment was acknowledged and deleted meanwhile (published already), or the disk refuses:
        // its records fall back to their file's identity.
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
          event(log, "warning", "outbox-hash-note-failed", { segment: seq, error: (err as Error).message });
        }
      }
    }
  }

  /** Wait for every hash started so far and write its note (before an export reads the notes). */
  async settle(): Promise<void> {
    await Promise.all([...this.inflight.values()]);
    this.flushNotes();
  }

  /** The digest known for a record without reading its file: undefined when there is none. */
  async known(record: Record<string, unknown>, segment: number): Promise<Digest | undefined> {
    if (typeof record.sha256 === "string") return record.sha256;
    const id = String(record.trace_id);
    const running = this.inflight.get(id);
    if (running) {
      const d = await running;
      if (d !== null) return d;
    }
    const unnoted = this.unnoted.get(segment)?.get(id);
    if (unnoted !== undefined) return unnoted;
    return this.noted(segment, id);
  }

  private noted(segment: number, id: string): Digest | undefined {
    if (this.cache?.seq !== segment) this.cache = { seq: segment, offset: 0, map: new Map() };
    const c = this.cache;
    if (!c.map.has(id)) c.offset = readNotes(hashNotesPath(this.dir, segment), c.offset, c.map);
    return c.map.get(id);
  }

  /**
   * The record as it leaves the site: `sha256` of its reception's bytes, or null with a warning when
   * those can no longer be read; internal fields removed. Changes `record` in place.
   */
  async resolve(record: Record<string, unknown>, segment: number): Promise<void> {
    const identity = record._file_identity;
    for (const f of INTERNAL_FIELDS) delete record[f];
    if (typeof record.sha256 === "string") return;
    const known = await this.known(record, segment);
    if (typeof known === "string") {
      record.sha256 = known;
      return;
    }
    record.sha256 = null;
    const path = String(record.file_path);
    if (typeof identity !== "string") {
      // Already explained (e.g. by the site that exported it), or written without an identity.
      const explained =
        Array.isArray(record.warnings) && record.warnings.some((w) => String(w).startsWith("sha256"));
      if (!explained) addWarning(record, WARN_NO_IDENTITY);
      return;
    }
    try {
      const d = await this.hasher.digestIfSame(path, identity);
      if (d !== null) {
        record.sha256 = d;
        return;
      }
      addWarning(record, WARN_REPLACED);
    } catch (err) {
      addWarning(record, warnUnreadable((err as NodeJS.ErrnoException).code ?? (err as Error).message));
    }
    event(log, "warning", "outbox-hash-unknown", {
      trace_id: String(record.trace_id),
      path,
      why: (record.warnings as string[]).join("; "),
    });
  }

  async close(): Promise<void> {
    await this.settle();
  }
}
