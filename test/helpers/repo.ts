// Where the tests find the repository, and the scratch directories they make inside it.

import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file is test/helpers/repo.ts). */
export const repoRoot: string = fileURLToPath(new URL("../..", import.meta.url));

/** A new directory under test/.work/ (gitignored). */
export function makeWorkDir(prefix = "srv"): string {
  const dir = join(
    repoRoot,
    "test",
    ".work",
    `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`,
  );
  mkdirSync(dir, { recursive: true });
  return dir;
}
