// Temp files created ahead of need, one per recently used directory: file creation is slow enough to
// matter per instance, and the next instance of a series almost always goes to the same directory.

import type { StreamingFile } from "./streaming-file.ts";

/** Directories with a spare at most; the oldest spare is removed beyond this. */
const MAX_DIRS = 16;

interface Spare {
  file: StreamingFile | null;
  pending: Promise<void>;
}

export class SpareFiles {
  private readonly byDir = new Map<string, Spare>();

  /**
   * The spare for `dir`, once ready (it may still be being created: waiting for it beats creating
   * another, which would queue behind it on the directory's lock), or null (none, its creation failed,
   * or its directory entry vanished).
   */
  async take(dir: string): Promise<StreamingFile | null> {
    const spare = this.byDir.get(dir);
    if (!spare) return null;
    this.byDir.delete(dir);
    if (!spare.file) await spare.pending;
    return spare.file ? usable(spare.file) : null;
  }

  /**
   * The spare for `dir` if it is ready now, else null (a spare still being created stays for take()).
   * Lets the usual case open an instance's file without waiting on anything.
   */
  takeReady(dir: string): StreamingFile | null {
    const spare = this.byDir.get(dir);
    if (!spare?.file) return null;
    this.byDir.delete(dir);
    return usable(spare.file);
  }

  /** Make sure a spare for `dir` is on its way. Failures only mean there is no spare. */
  prepare(dir: string, create: () => Promise<StreamingFile>): void {
    if (this.byDir.has(dir)) return;
    const spare: Spare = { file: null, pending: Promise.resolve() };
    spare.pending = create().then(
      (file) => {
        // Taken, dropped or still in the map: whoever holds it now uses or discards it.
        spare.file = file;
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

/** The spare, unless an operator removed its directory: a spare without its entry would lose the instance. */
function usable(file: StreamingFile): StreamingFile | null {
  if (file.linked()) return file;
  file.discard();
  return null;
}
