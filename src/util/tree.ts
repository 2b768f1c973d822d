// Walking a storage tree (start-up tasks: stale temp files, quota accounting). A missing root is empty.

import { type Dirent, promises as fsp } from "node:fs";
import { join } from "node:path";

/** Visit every non-directory entry below `root`, depth first, one directory at a time. */
export async function walkFiles(
  root: string,
  visit: (path: string, entry: Dirent) => Promise<void> | void,
): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await fsp.readdir(root, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  for (const e of entries) {
    const p = join(root, e.name);
    if (e.isDirectory()) await walkFiles(p, visit);
    else await visit(p, e);
  }
}
