// Durable writes: the one place that knows how each platform makes file data, a name and a replacement
// survive power loss. Every module that syncs goes through here; none calls fsync or fdatasync itself.
//
//   Linux (and other POSIX systems)
//     - file data: fdatasync (the data and the size; timestamps may lag, no reader needs them);
//     - a new, renamed or removed name: fsync of its directory, opened read-only;
//     - replace: rename(2), atomic over an existing file;
//     - while data still arrives, whole pages are handed to the disk (Linux sync_file_range from a small
//       thread, writeback.ts), so the sync before the answer finds little left to write.
//   Windows
//     - file data: FlushFileBuffers, which refuses a handle without write access (EPERM): a file is
//       flushed through a writable descriptor, never through one opened read-only;
//     - names: a directory cannot be opened for flushing, and NTFS journals its metadata itself (the
//       rename is durable with the journal): nothing to do;
//     - replace: rename is MoveFileExW with MOVEFILE_REPLACE_EXISTING there, atomic on NTFS, but refused
//       while another process (a virus scanner, an indexer, a viewer) holds the target open without
//       FILE_SHARE_DELETE: retried for a short while before the error stands.
//
// The platform and the file-system calls are injectable (durableFor), so every rule is unit-tested on
// Linux; the Windows branch also runs for real in the Windows smoke test.

import {
  close as closeCb,
  closeSync,
  fdatasync as fdatasyncCb,
  fdatasyncSync,
  constants as fsConstants,
  fsync as fsyncCb,
  fsyncSync,
  open as openCb,
  openSync,
  renameSync,
  write as writeCb,
  writeSync,
} from "node:fs";
import { copyFile, unlink } from "node:fs/promises";
import { promisify } from "node:util";
import { type StartWriteback, writeback } from "./writeback.ts";

export type { StartWriteback } from "./writeback.ts";

/** The file-system calls this module makes (node:fs, or a fake in tests). */
export interface FsCalls {
  openSync(path: string, flags: string, mode?: number): number;
  closeSync(fd: number): void;
  writeSync(fd: number, data: Uint8Array, offset: number, length: number, position: number | null): number;
  fsyncSync(fd: number): void;
  fdatasyncSync(fd: number): void;
  renameSync(from: string, to: string): void;
  open(path: string, flags: string, mode?: number): Promise<number>;
  close(fd: number): Promise<void>;
  write(
    fd: number,
    data: Uint8Array,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<number>;
  fsync(fd: number): Promise<void>;
  fdatasync(fd: number): Promise<void>;
}

const writeAsync = promisify(writeCb);

export const NODE_FS: FsCalls = {
  openSync: (path, flags, mode) => openSync(path, flags, mode),
  closeSync,
  writeSync: (fd, data, offset, length, position) => writeSync(fd, data, offset, length, position),
  fsyncSync,
  fdatasyncSync,
  renameSync,
  open: promisify(openCb) as (path: string, flags: string, mode?: number) => Promise<number>,
  close: promisify(closeCb),
  write: async (fd, data, offset, length, position) =>
    (await writeAsync(fd, data, offset, length, position)).bytesWritten,
  fsync: promisify(fsyncCb),
  fdatasync: promisify(fdatasyncCb),
};

/** Windows errors of a rename whose target another process holds open for a moment. */
const TRANSIENT_REPLACE = new Set(["EPERM", "EACCES", "EBUSY"]);
/** Pauses between attempts of a refused replace on Windows: about 1.3 s in all. */
const REPLACE_BACKOFF_MS = [5, 10, 20, 40, 80, 160, 320, 640];

const DONE: Promise<void> = Promise.resolve();

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export interface DurableOptions {
  /** Pause of a replace retry (tests make it instant). */
  sleep?: (ms: number) => void;
}

export class Durable {
  private readonly sleep: (ms: number) => void;
  private startWriteback: StartWriteback | null | undefined;

  constructor(
    readonly platform: NodeJS.Platform,
    private readonly fs: FsCalls = NODE_FS,
    options: DurableOptions = {},
  ) {
    this.sleep = options.sleep ?? sleepSync;
  }

  private get windows(): boolean {
    return this.platform === "win32";
  }

  /** Whether a new or renamed name needs its directory synced (false on Windows: NTFS journals it). */
  get syncsDirectories(): boolean {
    return !this.windows;
  }

  /** Flags to open an existing file with, so that it can be flushed. */
  private get flushFlags(): string {
    return this.windows ? "r+" : "r";
  }

  /** Make a file's data durable through `fd`, which must be writable (files we write always are). */
  syncData(fd: number): Promise<void> {
    return this.fs.fdatasync(fd);
  }

  /** As syncData, blocking (CLI commands, worker threads, the outbox's rare paths). */
  syncDataSync(fd: number): void {
    this.fs.fdatasyncSync(fd);
  }

  /** Make an existing file's data durable by name (opened writable where the platform needs it). */
  async syncFile(path: string): Promise<void> {
    const fd = await this.fs.open(path, this.flushFlags);
    try {
      await this.fs.fdatasync(fd);
    } finally {
      await this.fs.close(fd);
    }
  }

  /** As syncFile, blocking. */
  syncFileSync(path: string): void {
    const fd = this.fs.openSync(path, this.flushFlags);
    try {
      this.fs.fdatasyncSync(fd);
    } finally {
      this.fs.closeSync(fd);
    }
  }

  /** Make the names in `dir` durable (new, renamed or removed entries); nothing to do on Windows. */
  async syncDir(dir: string): Promise<void> {
    if (!this.syncsDirectories) return;
    const fd = await this.fs.open(dir, "r");
    try {
      await this.fs.fsync(fd);
    } finally {
      await this.fs.close(fd);
    }
  }

  /** As syncDir, blocking. */
  syncDirSync(dir: string): void {
    if (!this.syncsDirectories) return;
    const fd = this.fs.openSync(dir, "r");
    try {
      this.fs.fsyncSync(fd);
    } finally {
      this.fs.closeSync(fd);
    }
  }

  /** Grouped, cached directory syncs for the store's hot path (see DirectorySyncs). */
  directories(cached = 64): DirectorySyncs {
    return new DirectorySyncs(this, this.fs, cached);
  }

  /**
   * Give `from` the name `to`, replacing a file there, atomically. On Windows a refusal caused by another
   * process holding `to` open is retried for about a second. Make the name durable with syncDir.
   */
  replace(from: string, to: string): void {
    for (let attempt = 0; ; attempt++) {
      try {
        this.fs.renameSync(from, to);
        return;
      } catch (err) {
        const pause = REPLACE_BACKOFF_MS[attempt];
        const code = (err as NodeJS.ErrnoException).code ?? "";
        if (!this.windows || pause === undefined || !TRANSIENT_REPLACE.has(code)) throw err;
        this.sleep(pause);
      }
    }
  }

  /**
   * Move a file to `to` (which must not exist): a rename, or, across file systems (a quarantine on
   * another disk), a copy made durable and the original removed. Make the name durable with syncDir.
   */
  async move(from: string, to: string): Promise<void> {
    try {
      this.replace(from, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
      await copyFile(from, to, fsConstants.COPYFILE_EXCL);
      await this.syncFile(to);
      await unlink(from);
    }
  }

  /**
   * Write a new file (`flags` "wx": it must not exist; "w": truncate) and, with `sync`, make its data
   * durable through the same writable descriptor before closing it. The name is not synced: rename it
   * into place, or call syncDir.
   */
  writeFileSync(path: string, data: Uint8Array | string, sync: boolean, flags = "w"): void {
    this.writeThrough(path, flags, data, sync);
  }

  /** Append to a file (created if missing) and, with `sync`, make the appended data durable. */
  appendSync(path: string, data: Uint8Array | string, sync: boolean): void {
    this.writeThrough(path, "a", data, sync);
  }

  private writeThrough(path: string, flags: string, data: Uint8Array | string, sync: boolean): void {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    const fd = this.fs.openSync(path, flags, 0o644);
    try {
      let done = 0;
      const position = flags === "a" ? null : 0;
      while (done < bytes.length)
        done += this.fs.writeSync(
          fd,
          bytes,
          done,
          bytes.length - done,
          position === null ? null : position + done,
        );
      if (sync) this.fs.fdatasyncSync(fd);
    } finally {
      this.fs.closeSync(fd);
    }
  }

  /** As writeFileSync, off the event loop. */
  async writeFile(path: string, data: Uint8Array | string, sync: boolean, flags = "w"): Promise<void> {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    const fd = await this.fs.open(path, flags, 0o644);
    try {
      let done = 0;
      while (done < bytes.length) done += await this.fs.write(fd, bytes, done, bytes.length - done, done);
      if (sync) await this.fs.fdatasync(fd);
    } finally {
      await this.fs.close(fd);
    }
  }

  /**
   * Replace `path` with `data` atomically: written to `path`.tmp, synced, renamed over `path`, the
   * directory synced (each sync only with `sync`). A crash leaves the old file or the new one, and
   * possibly the .tmp beside it.
   */
  replaceFileSync(path: string, data: Uint8Array | string, sync: boolean, dir: string): void {
    const tmp = `${path}.tmp`;
    this.writeFileSync(tmp, data, sync);
    this.replace(tmp, path);
    if (sync) this.syncDirSync(dir);
  }

  /**
   * Start writing [offset, offset + length) of a writable `fd` to the disk, without waiting: Linux only
   * (sync_file_range in a small thread, started on first use); null elsewhere, where StreamingFile
   * runs background fdatasync rounds instead.
   */
  writeback(): StartWriteback | null {
    if (this.startWriteback === undefined)
      this.startWriteback = this.platform === "linux" && this.fs === NODE_FS ? writeback() : null;
    return this.startWriteback;
  }
}

/** One directory's sync round: whether a sync runs, and who waits for the next one. */
interface DirRound {
  running: boolean;
  next: Array<{ resolve: () => void; reject: (err: Error) => void }>;
}

/**
 * Directory syncs for directories that receive many renames in a row (a series being filled):
 *  - descriptors stay open (up to `cached`, least recently used closed first), so a sync is one
 *    thread-pool call instead of three (open, fsync, close);
 *  - renames that arrive while a sync of their directory runs share the next one (group commit):
 *    parallel associations into one series pay one sync per round, not one each.
 * Nothing to do on Windows (see the header).
 */
export class DirectorySyncs {
  private readonly fds = new Map<string, number>();
  private readonly rounds = new Map<string, DirRound>();

  constructor(
    private readonly durable: Durable,
    private readonly fs: FsCalls,
    private readonly cached: number,
  ) {}

  /** Resolves once every rename into `dir` made before this call is durable. */
  sync(dir: string): Promise<void> {
    if (!this.durable.syncsDirectories) return DONE;
    let round = this.rounds.get(dir);
    if (!round) {
      round = { running: false, next: [] };
      this.rounds.set(dir, round);
    }
    const r = round;
    return new Promise<void>((resolve, reject) => {
      r.next.push({ resolve, reject });
      if (!r.running) this.startRound(dir, r);
    });
  }

  private startRound(dir: string, round: DirRound): void {
    round.running = true;
    const waiters = round.next;
    round.next = [];
    let synced: Promise<void>;
    try {
      synced = this.fs.fsync(this.descriptor(dir));
    } catch (err) {
      synced = Promise.reject(err as Error);
    }
    synced
      .then(
        () => {
          for (const w of waiters) w.resolve();
        },
        (err: Error) => {
          for (const w of waiters) w.reject(err);
        },
      )
      .finally(() => {
        round.running = false;
        if (round.next.length > 0) this.startRound(dir, round);
        else this.rounds.delete(dir);
      });
  }

  private descriptor(dir: string): number {
    let fd = this.fds.get(dir);
    if (fd === undefined) {
      fd = this.fs.openSync(dir, "r");
      this.fds.set(dir, fd);
      if (this.fds.size > this.cached) {
        const [oldest, oldFd] = this.fds.entries().next().value as [string, number];
        this.fds.delete(oldest);
        this.fs.closeSync(oldFd);
      }
    } else {
      // Keep recently used directories at the end of the insertion order (LRU).
      this.fds.delete(dir);
      this.fds.set(dir, fd);
    }
    return fd;
  }

  /** Close the cached descriptor of `dir` (it was removed, or is being made again). */
  forget(dir: string): void {
    const fd = this.fds.get(dir);
    if (fd === undefined) return;
    this.fds.delete(dir);
    this.fs.closeSync(fd);
  }

  /** Close every cached descriptor (at shutdown, when no sync runs). */
  close(): void {
    for (const fd of this.fds.values()) this.fs.closeSync(fd);
    this.fds.clear();
  }
}

/** The rules of the platform this process runs on. */
export function durableFor(
  platform: NodeJS.Platform,
  fs: FsCalls = NODE_FS,
  options?: DurableOptions,
): Durable {
  return new Durable(platform, fs, options);
}

export const durable: Durable = durableFor(process.platform);
