// The store stage with write-ahead durability (storage.durability: wal). Each data set streams into its
// temp file as with `file`, and into an entry of the write-ahead log (log.ts); the C-STORE is answered
// once that entry is durable, and the file is placed behind the answer (the pipeline's settler): its
// data synced, renamed into the archive, its directory synced, and only then is its entry released.
//
// At start, before anything is received, the files of entries that were answered but not placed are
// written again from the log (placeRecorded, for every pending record that names an entry); entries
// that no record names were never answered and are let go (dropUnplaced).

import { closeSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { event, logger } from "../../ops/log.ts";
import type { Problem, Received } from "../../pipeline/stages.ts";
import { durable } from "../../util/durable.ts";
import { InstanceSink, type InstanceSinkOptions } from "../instance-sink.ts";
import { InstanceStore } from "../instance-store.ts";
import type { Storage } from "../storage.ts";
import type { LogEntry, WriteAhead } from "../write-ahead.ts";
import type { ReplayEntry, WriteAheadLog } from "./log.ts";

const log = logger("store");

export class WalStore extends InstanceStore implements WriteAhead {
  override readonly placesLater = true;
  /** Entries found at start, by id, until placed or let go. */
  private readonly replay = new Map<number, ReplayEntry>();

  constructor(
    storage: Storage,
    sinkOptions: InstanceSinkOptions,
    private readonly wal: WriteAheadLog,
  ) {
    super(storage, sinkOptions);
    for (const e of wal.replay) this.replay.set(e.id, e);
  }

  override receive(received: Received, refused?: Problem): InstanceSink {
    return new InstanceSink(this.storage, received, refused, { ...this.sinkOptions, writeAhead: this });
  }

  begin(): LogEntry {
    return this.wal.begin();
  }

  /** Behind the answer: the file durable under its name, then its log space given back. */
  async place(tempPath: string, finalPath: string, entry: LogEntry): Promise<void> {
    await this.storage.place(tempPath, finalPath);
    entry.release();
  }

  /**
   * At start: the file of entry `id` written again from the log and placed at `path` (a file there,
   * partial or whole, is replaced). An entry the log no longer holds was placed before it was released.
   */
  async placeRecorded(id: number, path: string): Promise<void> {
    const entry = this.replay.get(id);
    if (!entry) return;
    const dir = dirname(path);
    await this.storage.ensureDir(dir);
    const temp = this.storage.tempPath(dir);
    const fd = openSync(temp, "wx", 0o644);
    try {
      entry.copyTo(fd);
      durable.syncDataSync(fd);
    } finally {
      closeSync(fd);
    }
    durable.replace(temp, path);
    await durable.syncDir(dir);
    this.replay.delete(id);
    entry.release();
  }

  /** Entries no pending record names (never answered): their space is given back. */
  dropUnplaced(): void {
    if (this.replay.size > 0)
      event(log, "info", "wal-unanswered-dropped", {
        entries: this.replay.size,
        detail: "received but not answered before the stop: the modality sends them again",
      });
    for (const e of this.replay.values()) e.release();
    this.replay.clear();
  }

  close(): Promise<void> {
    return this.wal.close();
  }
}
