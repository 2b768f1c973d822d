// Temp files created ahead of need, one per recently used directory: file creation is slow enough to
// matter per instance, and the next instance of a series almost always goes to the same directory.

import { existsSync } from "node:fs";
import type { StreamingFile } from "./streaming-file.ts";

/** Directories with a spare at most; the oldest spare is removed beyond this. */
const MAX_DIRS = 16;

interface Spare {
  file: StreamingFile | null;
  pending: Promise<void>;
}

export class SpareFiles {
  private readonly byDir = new Map<string, Spare>();

  /** A ready spare for `dir`, or null (none, not ready yet, or its directory entry vanished). */
  take(dir: string): StreamingFile | null {
    const spare = this.byDir.get(dir);
    if (!spare?.file) return null;
    this.byDir.delete(dir);
    // An operator may have removed the directory: a spare without its entry would lose the instance.
    if (!existsSync(spare.file.path)) {
      spare.file.discard();
      return null;
    }
    return spare.file;
  }

  /** Make sure a spare for `dir` is on its way. Failures only mean there is no spare. */
  prepare(dir: string, create: () => Promise<StreamingFile>): void {
    if (this.byDir.has(dir)) return;
    const spare: Spare = { file: null, pending: Promise.resolve() };
    spare.pending = create().then(
      (file) => {
        if (this.byDir.get(dir) === spare) spare.file = file;
        else file.discard();
      },
      () => {
        if (this.byDir.get(dir) === spare) this.byDir.delete(dir);
      },
    );
    this.byDir.set(dir, spare);
    if (this.byDir.size > MAX_DIRS) {
      const [oldestDir, oldest] = this.byDir.entries().next().value as [string, Spare];
      this.byDir.delete(oldestDir);
      oldest.pending.then(() => oldest.file?.discard());
    }
  }

  /** Remove every spare (shutdown). */
  async clear(): Promise<void> {
    const all = [...this.byDir.values()];
    this.byDir.clear();
    await Promise.all(all.map((s) => s.pending.then(() => s.file?.discard())));
  }
}
