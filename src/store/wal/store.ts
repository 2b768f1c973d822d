// The store stage with write-ahead durability (storage.durability: wal). Each data set streams into its
// temp file as with `file`, and into an entry of the write-ahead log (log.ts); the C-STORE is answered
// once that entry is durable, and the file is placed behind the answer (the pipeline's settler): once
// the burst it came with is over (gate.ts), its data synced, renamed into the archive, its directory
// synced, and only then is its entry released.
//
// At start the entries the log still holds (made durable, so answered or about to be, and not released)
// are settled like any other: their file written again from the log and placed (placeRecorded), their
// record written to the outbox; those whose record is in the outbox already are only released
// (src/pipeline/recovery.ts).

import { closeSync, openSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { event, logger } from "../../ops/log.ts";
import type { Placed, Problem, Received } from "../../pipeline/stages.ts";
import { durable } from "../../util/durable.ts";
import { InstanceSink, type InstanceSinkOptions } from "../instance-sink.ts";
import { InstanceStore } from "../instance-store.ts";
import type { Storage } from "../storage.ts";
import type { LogEntry, WriteAhead } from "../write-ahead.ts";
import { LogCopier } from "./copier.ts";
import { PlacementGate } from "./gate.ts";
import type { ReplayEntry, WriteAheadLog } from "./log.ts";
import { Placer } from "./placer.ts";

const log = logger("store");

export class WalStore extends InstanceStore implements WriteAhead {
  override readonly placesLater = true;
  /** Entries found at start, by id, until placed or let go. */
  private readonly replay = new Map<number, ReplayEntry>();
  private readonly placer: Placer;
  private readonly copier: LogCopier;
  private readonly gate: PlacementGate;

  constructor(
    storage: Storage,
    sinkOptions: InstanceSinkOptions,
    private readonly wal: WriteAheadLog,
    /** True when held files must be placed now (the outbox would be full once their records are written). */
    placeNow?: () => boolean,
  ) {
    super(storage, sinkOptions);
    this.copier = new LogCopier(wal.path, (at, into, n) => wal.readAt(at, into, n));
    // Its thread takes a moment to start: not on the first instance's way.
    this.copier.warm();
    this.placer = new Placer(storage);
    this.gate = new PlacementGate({
      freeShare: () => wal.free / wal.capacity,
      ...(placeNow ? { placeNow } : {}),
    });
    for (const e of wal.replay) this.replay.set(e.id, e);
  }

  override receive(received: Received, refused?: Problem): InstanceSink {
    return new InstanceSink(this.storage, received, refused, { ...this.sinkOptions, writeAhead: this });
  }

  begin(): LogEntry {
    this.gate.arriving();
    return this.wal.begin();
  }

  /**
   * Behind the answer: the file durable under its name (its entry is released once recorded). A temp
   * file that is gone (its directory removed meanwhile) is written again from the log.
   */
  async place(tempPath: string, finalPath: string, entry: LogEntry): Promise<Placed> {
    // An entry the log gave up on is placed before its answer: nothing to hold back.
    const held = entry.logged ? this.gate.hold() : undefined;
    if (held) await held;
    try {
      // Carried alone: the temp file is still empty, written now from the log (and hashed on the way).
      // At once, not with the placer's batch: copies spread out leave the log's syncs room on the disk.
      const copied = entry.carries
        ? await this.copier.copy({ ranges: entry.ranges, size: entry.size, path: tempPath })
        : undefined;
      await this.placer.place(tempPath, finalPath);
      return copied ? { sha256: copied.sha256 } : {};
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      event(log, "warning", "wal-temp-lost", {
        path: finalPath,
        action: "its directory was removed before the file was placed: written again from the log",
      });
      await this.placeFromLog(finalPath, (fd) => this.wal.copyLive(entry.id, fd));
      return {};
    }
  }

  /**
   * At start: the file of entry `id` written again from the log and placed at `path` (a file there,
   * partial or whole, is replaced). An entry the log no longer holds was placed before it was released.
   */
  async placeRecorded(id: number, path: string): Promise<void> {
    const entry = this.replay.get(id);
    if (!entry) return;
    await this.placeFromLog(path, (fd) => {
      entry.copyTo(fd);
      return true;
    });
  }

  /** A new temp file filled from the log by `copy`, synced, renamed to `path`, its directory synced. */
  private async placeFromLog(path: string, copy: (fd: number) => boolean): Promise<void> {
    const dir = dirname(path);
    await this.storage.ensureDirAgain(dir);
    const temp = this.storage.tempPath(dir);
    const fd = openSync(temp, "wx", 0o644);
    let copied = false;
    try {
      copied = copy(fd);
      if (copied) durable.syncDataSync(fd);
    } finally {
      closeSync(fd);
      if (!copied) unlinkSync(temp);
    }
    if (!copied) throw new Error(`${path}: the write-ahead log no longer holds it`);
    this.storage.rename(temp, path);
    await this.storage.syncName(dir);
  }

  /** The entries found at start, to be settled (src/pipeline/recovery.ts); each once. */
  takeReplay(): ReplayEntry[] {
    const all = [...this.replay.values()];
    if (all.length > 0) event(log, "info", "wal-replay", { entries: all.length });
    return all;
  }

  /**
   * The files held back go now (a stop, an export, the same instance again); later ones wait again
   * while a burst goes on.
   */
  placeHeld(): void {
    this.gate.release();
  }

  async close(): Promise<void> {
    this.gate.close();
    await this.copier.close();
    await this.wal.close();
  }
}
