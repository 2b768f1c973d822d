// Checks that a directory the server will write to is usable: it exists or can be made, a file can be
// created, written and removed in it (a probe, named like our temp files so that crash cleanup also
// removes a left-over one; not synced, which would only time the disk's flush), and its file system has
// the free space asked for. Run before the
// server listens (one clear line instead of every C-STORE failing later) and by /healthz while it runs.

import { randomBytes } from "node:crypto";
import { promises as fsp, statfs } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { describeSystemError } from "../util/errors.ts";

const statfsAsync = promisify(statfs);

/** A directory that cannot be used: `message` names the config key, the path and the cause. */
export class DirectoryProblem extends Error {
  override readonly name = "DirectoryProblem";
  constructor(
    readonly key: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${key} ${path}: ${reason}`);
  }
}

/** Free bytes (for unprivileged users) on the file system of `path`, or of its nearest existing parent. */
export async function freeBytes(path: string): Promise<number> {
  let probe = path;
  for (;;) {
    try {
      const s = await statfsAsync(probe);
      return Number(s.bavail) * Number(s.bsize);
    } catch (err) {
      const parent = dirname(probe);
      if (parent === probe) throw err;
      probe = parent;
    }
  }
}

/** Make the directory if needed, then create, write and remove a probe file in it. */
export async function probeWritable(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  const probe = join(dir, `.storescp-probe-${randomBytes(4).toString("hex")}.tmp`);
  const fh = await fsp.open(probe, "wx");
  try {
    await fh.write("storescp write probe\n");
  } finally {
    await fh.close();
    await fsp.unlink(probe);
  }
}

/**
 * Throws a DirectoryProblem when `dir` (the value of config key `key`) cannot be made, is not a
 * directory, cannot be written, or has less than `minFreeMb` MB free.
 */
export async function checkDirectory(key: string, dir: string, minFreeMb = 0): Promise<void> {
  try {
    const st = await fsp.stat(dir);
    if (!st.isDirectory()) throw new DirectoryProblem(key, dir, "is a file, not a directory");
  } catch (err) {
    if (err instanceof DirectoryProblem) throw err;
    if ((err as NodeJS.ErrnoException).code !== "ENOENT")
      throw new DirectoryProblem(key, dir, describeSystemError(err));
  }
  try {
    await probeWritable(dir);
  } catch (err) {
    throw new DirectoryProblem(key, dir, `not writable: ${describeSystemError(err)}`);
  }
  if (minFreeMb > 0) {
    const mb = (await freeBytes(dir)) / (1024 * 1024);
    if (mb < minFreeMb) {
      throw new DirectoryProblem(
        key,
        dir,
        `only ${Math.floor(mb)} MB free, below storage.min_free_mb ${minFreeMb} (free space, or lower it)`,
      );
    }
  }
}
