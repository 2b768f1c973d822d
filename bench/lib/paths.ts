// Where the bench keeps its inputs and its receivers' files: under bench/.work/ (gitignored).

import { join } from "node:path";
import { repoRoot } from "../../test/helpers/dcmtk.ts";

export const MiB = 1024 * 1024;
export const WORK = join(repoRoot, "bench", ".work");
export const FIXTURES = join(repoRoot, "test", "fixtures");
/** Received files, emptied, until the bench ends (stored.ts). */
export const TRASH = join(WORK, "trash");
