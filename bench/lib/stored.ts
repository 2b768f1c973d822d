// The files a receiver stored: where they are, how many, and how they are cleared away between runs
// without freeing inodes (see retire()).

import { closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { TRASH, WORK } from "./paths.ts";

/** Where a receiver's stored instances are: files `accept`ed below `dir`, not in directories `skip`ped. */
export interface StoredFiles {
  dir: string;
  accept: (name: string) => boolean;
  skip: (name: string) => boolean;
}

/** Call `f` on every stored instance's path. */
export function eachStored(files: StoredFiles, f: (path: string) => void, dir = files.dir): void {
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.isDirectory()) {
      if (!files.skip(e.name)) eachStored(files, f, join(dir, e.name));
    } else if (e.isFile() && files.accept(e.name)) f(join(dir, e.name));
  }
}

/** Number of instances a receiver stored (counted on disk). */
export function countStored(files: StoredFiles): number {
  let n = 0;
  eachStored(files, () => {
    n++;
  });
  return n;
}

/**
 * Received files are emptied, not deleted, until the bench ends. On ext4 without a journal every file
 * creation skips the inodes freed in the last minutes, reading each one's deletion time: right after a
 * run's files are removed, creating a file is many times slower. That penalty would fall on whichever
 * receiver ran next, and hardest on one that creates each file while the sender waits (DCMTK).
 * Truncating frees the space and keeps the inodes; the tree is removed at the end.
 */
let retired = 0;

/** A new directory name under TRASH, unique across the bench and its re-execution in the link namespace. */
function trashDir(): string {
  retired += 1;
  return join(TRASH, `${process.pid}-${retired}`);
}

export function retire(dir: string): void {
  if (!existsSync(dir)) return;
  mkdirSync(TRASH, { recursive: true });
  const to = trashDir();
  renameSync(dir, to);
  const empty = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) empty(p);
      else if (e.isFile()) truncateSync(p, 0);
    }
  };
  empty(to);
}

/**
 * Move what a receiver stored so far out of its tree, emptied, while it keeps running (the warm-up's
 * instances): the measured run then counts only its own, and no inode is freed (see retire()).
 */
export function setAside(files: StoredFiles): void {
  mkdirSync(TRASH, { recursive: true });
  const to = trashDir();
  mkdirSync(to);
  let k = 0;
  eachStored(files, (p) => {
    const q = join(to, String(k++));
    renameSync(p, q);
    truncateSync(q, 0);
  });
}

/**
 * What creating one empty file costs on this file system now: mean ms over `n` in a new directory,
 * retired after. Usually tens of microseconds; on ext4 without a journal, for some minutes after many
 * files were deleted, far more (each creation skips the inodes freed lately, reading each one's deletion
 * time), and every receiver that creates a file per instance pays it in every row.
 */
export function fileCreationMs(n = 300): number {
  const dir = join(WORK, "recv", `creation-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const started = performance.now();
  for (let i = 0; i < n; i++) closeSync(openSync(join(dir, `f${i}`), "wx"));
  const ms = (performance.now() - started) / n;
  retire(dir);
  return ms;
}
