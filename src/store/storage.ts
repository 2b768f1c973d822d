// The durable side of storing: directories, temp names, disk space, the atomic commit
// (rename + directory fsync), duplicates, quarantine, and cleaning what a crash left behind.

import { randomBytes } from "node:crypto";
import { existsSync, promises as fsp, statfs, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import type { StoreOutcome } from "../pipeline/stages.ts";
import { durable } from "../util/durable.ts";
import { walkFiles } from "../util/tree.ts";
import { safeSegment } from "./layout.ts";
import { SpareFiles } from "./spare-files.ts";
import { StreamingFile } from "./streaming-file.ts";

const statfsAsync = promisify(statfs);

/** A file creation slower than this moves spare creation to the thread pool for SLOW_FOR_MS. */
const SLOW_CREATE_MS = 0.2;
const SLOW_FOR_MS = 10_000;

export type OnDuplicate = "overwrite" | "keep" | "reject";

export interface StorageOptions {
  fsync: boolean;
  /**
   * Start the disk writing temp files while they arrive (default with fsync). Off with write-ahead
   * durability: the log's writes are the ones the answer waits for, the files are synced behind it.
   */
  earlyWriteback?: boolean;
  onDuplicate: OnDuplicate;
  minFreeMb: number;
  quarantineDir: string;
}

/** Why an instance was set aside, written as <file>.reason.json beside it. */
export interface QuarantineReason {
  reason: string;
  status: string;
  tenant_id: string;
  calling_ae: string;
  called_ae: string;
  source_ip: string;
  transfer_syntax_uid: string;
  command_sop_class_uid: string;
  command_sop_instance_uid: string;
  attributes: Record<string, string | number | undefined>;
  received_at: string;
}

const TEMP_PREFIX = ".storescp-";
const TEMP_SUFFIX = ".tmp";

/** "duplicate": on_duplicate reject found the name taken; the temp file is still there. */
export type CommitResult = StoreOutcome | "duplicate";

/**
 * A file given its final name. `durable` resolves once the name survives power loss (the directory's
 * fsync, with storage.fsync). The store pipeline writes the outbox record meanwhile and answers only
 * after both (why that is safe: src/pipeline/pipeline.ts).
 */
export interface Commit {
  outcome: CommitResult;
  durable: Promise<void>;
}

const DONE: Promise<void> = Promise.resolve();

export class Storage {
  /** Distinguishes our temp files from those a previous (crashed) process left. */
  readonly bootId = randomBytes(4).toString("hex");
  private seq = 0;
  private readonly knownDirs = new Set<string>();
  /** Syncs of the series directories being filled: cached descriptors, one sync per round. */
  private readonly dirs = durable.directories();
  private readonly spares = new SpareFiles();
  private freeCheck: { at: number; ok: boolean; freeMb: number } | null = null;
  /** Until then spares are made in the thread pool (see newTemp). */
  private slowCreatesUntil = 0;

  constructor(readonly options: StorageOptions) {}

  /** A temp name in the final directory, so the rename is atomic and never crosses file systems. */
  tempPath(dir: string): string {
    this.seq += 1;
    return join(dir, `${TEMP_PREFIX}${this.bootId}-${this.seq}${TEMP_SUFFIX}`);
  }

  static isTempName(name: string): boolean {
    return name.startsWith(TEMP_PREFIX) && name.endsWith(TEMP_SUFFIX);
  }

  /** mkdir -p, remembering what exists; with fsync, new directories are made durable in their parents. */
  async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    const created = await fsp.mkdir(dir, { recursive: true });
    if (created && this.options.fsync) {
      // `created` is the first directory made; it and every one below it need their parent synced.
      let d = dir;
      const parents: string[] = [];
      while (d.length >= created.length) {
        parents.push(dirname(d));
        if (d === created) break;
        d = dirname(d);
      }
      for (const p of parents.reverse()) await durable.syncDir(p);
    }
    this.knownDirs.add(dir);
  }

  /** Make `dir` again though it was known: it was removed meanwhile (an operator cleaning up). */
  async ensureDirAgain(dir: string): Promise<void> {
    this.knownDirs.delete(dir);
    this.dirs.forget(dir);
    await this.ensureDir(dir);
  }

  /** Free space check for `min_free_mb`, cached for a second so it costs nothing per instance. */
  async hasFreeSpace(path: string): Promise<{ ok: boolean; freeMb: number }> {
    const now = Date.now();
    if (this.freeCheck && now - this.freeCheck.at < 1000) return this.freeCheck;
    let probe = path;
    for (;;) {
      try {
        const s = await statfsAsync(probe);
        const freeMb = (Number(s.bavail) * Number(s.bsize)) / (1024 * 1024);
        this.freeCheck = { at: now, ok: freeMb >= this.options.minFreeMb, freeMb };
        return this.freeCheck;
      } catch (err) {
        // The root may not exist yet: measure the nearest existing parent.
        const parent = dirname(probe);
        if (parent === probe) throw err;
        probe = parent;
      }
    }
  }

  /** Last free-space reading, for the per-instance check that must not wait (refreshed by watchFreeSpace). */
  get freeSpaceOk(): boolean {
    return this.freeCheck?.ok ?? true;
  }

  /** Keep the free-space reading fresh every second while the server runs. */
  watchFreeSpace(path: string): () => void {
    const refresh = (): void => {
      this.freeCheck = null;
      this.hasFreeSpace(path).catch(() => undefined);
    };
    refresh();
    const timer = setInterval(refresh, 1000);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Forget the cached free-space reading (tests, and after a refusal so recovery is seen at once). */
  invalidateFreeSpace(): void {
    this.freeCheck = null;
  }

  /**
   * Move a complete, synced temp file to its final name per `on_duplicate`. Returns what happened;
   * "duplicate" means the caller must answer the peer with a failure (on_duplicate: reject) and the
   * temp file is still there for the caller to quarantine.
   */
  commit(tempPath: string, finalPath: string, existedBefore?: boolean): Commit {
    const outcome = this.decide(tempPath, finalPath, existedBefore);
    if (outcome === "kept-existing" || outcome === "duplicate") return { outcome, durable: DONE };
    durable.replace(tempPath, finalPath);
    return {
      outcome,
      durable: this.options.fsync ? this.dirs.sync(dirname(finalPath)) : DONE,
    };
  }

  /**
   * What on_duplicate makes of a temp file that is to take `finalPath`, without moving it (write-ahead
   * durability places it later, see place()). keep: the temp file is removed here.
   */
  decide(tempPath: string, finalPath: string, existedBefore?: boolean): CommitResult {
    // Metadata calls on a local disk take microseconds; made synchronously they save the thread-pool
    // round trips that would otherwise sit between every instance and its C-STORE-RSP. With overwrite
    // the answer does not depend on what is there: the look taken while the data arrived (see
    // lookBeforeCommit) only labels the outcome, and the path lookup leaves the response's way.
    const exists =
      this.options.onDuplicate === "overwrite" && existedBefore !== undefined
        ? existedBefore
        : existsSync(finalPath);
    if (exists && this.options.onDuplicate === "keep") {
      unlinkSync(tempPath);
      return "kept-existing";
    }
    if (exists && this.options.onDuplicate === "reject") return "duplicate";
    return exists ? "replaced" : "stored";
  }

  /**
   * Placing a file behind the answer (write-ahead durability, src/store/wal/placer.ts), in steps so
   * that files are placed in batches: the temp file's data made durable first...
   */
  syncTemp(tempPath: string): Promise<void> {
    return this.options.fsync ? durable.syncFile(tempPath) : DONE;
  }

  /** ...then the name... */
  rename(tempPath: string, finalPath: string): void {
    durable.replace(tempPath, finalPath);
  }

  /** ...then the directory's names. */
  syncName(dir: string): Promise<void> {
    return this.options.fsync ? this.dirs.sync(dir) : DONE;
  }

  /** For on_duplicate overwrite: whether `finalPath` exists now, to pass to commit(); else undefined. */
  lookBeforeCommit(finalPath: string): boolean | undefined {
    return this.options.onDuplicate === "overwrite" ? existsSync(finalPath) : undefined;
  }

  /** Today's quarantine directory of a tenant. */
  quarantineDirFor(tenantId: string): string {
    const day = new Date().toISOString().slice(0, 10).replaceAll("-", "");
    return join(this.options.quarantineDir, safeSegment(tenantId), day);
  }

  /** A spare temp file of `dir` that is ready now (see createTemp), or null. */
  readyTemp(dir: string): StreamingFile | null {
    return this.spares.takeReady(dir);
  }

  /**
   * A new temp file in `dir`, creating the directory; survives the directory being removed meanwhile.
   * Creating a file can cost more than writing half a megabyte to the page cache, so a spare is prepared in the background for the next instance of the same series.
   */
  async createTemp(dir: string): Promise<StreamingFile> {
    const spare = await this.spares.take(dir);
    if (spare) return spare;
    await this.ensureDir(dir);
    let file: StreamingFile;
    try {
      file = await this.newTemp(dir, false);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      // Someone removed the directory since we made it (an operator cleaning up): make it again.
      this.knownDirs.delete(dir);
      this.dirs.forget(dir);
      await this.ensureDir(dir);
      file = await this.newTemp(dir, false);
    }
    return file;
  }

  /**
   * A new temp file in `dir`: from the thread pool with `background`, else made here; a creation slower
   * than SLOW_CREATE_MS sends the next instances' spares to the thread pool for SLOW_FOR_MS.
   */
  private newTemp(dir: string, background: boolean): Promise<StreamingFile> {
    const path = this.tempPath(dir);
    const early = this.options.fsync && this.options.earlyWriteback !== false;
    if (background) return StreamingFile.createAsync(path, early);
    const started = performance.now();
    try {
      const file = StreamingFile.create(path, early);
      if (performance.now() - started > SLOW_CREATE_MS)
        this.slowCreatesUntil = performance.now() + SLOW_FOR_MS;
      return Promise.resolve(file);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Have a temp file ready for the next instance in the directory of `storedPath`, which was just
   * stored there. Called once the peer has its answer, so it overlaps the peer's next request, and not
   * while a rename into the same directory could wait for the directory's lock. Made right here
   * (0.01-0.05 ms; a thread-pool round trip cost the event loop ~0.03 ms more per instance), unless
   * creating files has become slow: ext4 without a journal takes 0.35-0.45 ms per file in the minutes
   * after many deletions (it skips recently freed inodes one by one), and then the thread pool makes
   * them for a while.
   */
  prepareNext(storedPath: string): void {
    const dir = dirname(storedPath);
    const background = performance.now() < this.slowCreatesUntil;
    this.spares.prepare(dir, () => this.newTemp(dir, background));
  }

  /** Remove the spare temp files (when no association runs, and at shutdown). */
  async dropSpares(): Promise<void> {
    await this.spares.clear();
  }

  async close(): Promise<void> {
    await this.dropSpares();
    this.dirs.close();
  }

  /** Give a quarantined temp file its final name and write its reason beside it. Returns the path. */
  async quarantine(tempPath: string, reason: QuarantineReason): Promise<string> {
    const stamp = new Date().toISOString().replace(/[-:.]/g, "").replace("T", "-");
    const sop = /^[0-9.]{1,64}$/.test(reason.command_sop_instance_uid)
      ? reason.command_sop_instance_uid
      : "unknown";
    // The temp file may sit in the instance's series directory (a duplicate found at commit): it moves.
    const dir = this.quarantineDirFor(reason.tenant_id);
    await this.ensureDir(dir);
    const finalPath = join(dir, `${stamp}-${sop}-${randomBytes(3).toString("hex")}.dcm`);
    const reasonTemp = this.tempPath(dir);
    await durable.writeFile(reasonTemp, `${JSON.stringify(reason, null, 2)}\n`, this.options.fsync, "wx");
    // The instance first: a crash between the renames leaves it without its reason, never lost.
    await durable.move(tempPath, finalPath);
    durable.replace(reasonTemp, `${finalPath}.reason.json`);
    if (this.options.fsync) await durable.syncDir(dir);
    return finalPath;
  }

  /**
   * Remove temp files left by an earlier process (crash, SIGKILL, power loss) below the given roots.
   * Ours of this boot are never touched. Returns how many were removed.
   */
  async cleanStaleTemps(roots: readonly string[]): Promise<number> {
    let removed = 0;
    for (const root of new Set(roots)) {
      await walkFiles(root, async (p, e) => {
        if (!Storage.isTempName(e.name) || e.name.startsWith(`${TEMP_PREFIX}${this.bootId}-`)) return;
        await fsp.unlink(p);
        removed += 1;
      });
    }
    return removed;
  }
}
