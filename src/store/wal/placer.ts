// Placing files behind the answer in batches. Each file's data must be durable before its name points
// at it (no reader ever sees a partial file), and each name before its log entry is released; but
// nobody waits for one file in particular, so the files answered meanwhile are placed together: their
// data synced at once (the journal commits them together), then renamed, then each directory synced
// once. A few syncs per batch instead of two per instance, and none on an answer's path.

import { dirname } from "node:path";
import type { Storage } from "../storage.ts";

/** A batch starts at most this long after its first file, or at once with this many. */
const GATHER_MS = 10;
const BATCH_MAX = 64;

interface Waiting {
  temp: string;
  final: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class Placer {
  private queue: Waiting[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running = false;

  constructor(private readonly storage: Storage) {}

  /** Resolves once `temp` is durable at `final` (synced, renamed, its directory synced). */
  place(temp: string, final: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ temp, final, resolve, reject });
      if (this.queue.length >= BATCH_MAX) this.start();
      else this.timer ??= setTimeout(() => this.start(), GATHER_MS);
    });
  }

  private start(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running || this.queue.length === 0) return;
    const batch = this.queue.splice(0, BATCH_MAX);
    this.running = true;
    void this.run(batch).finally(() => {
      this.running = false;
      if (this.queue.length > 0) this.start();
    });
  }

  private async run(batch: Waiting[]): Promise<void> {
    const synced = await Promise.allSettled(batch.map((w) => this.storage.syncTemp(w.temp)));
    const placed: Waiting[] = [];
    for (const [i, w] of batch.entries()) {
      const r = synced[i];
      if (r?.status === "rejected") {
        w.reject(r.reason as Error);
        continue;
      }
      try {
        this.storage.rename(w.temp, w.final);
        placed.push(w);
      } catch (err) {
        w.reject(err as Error);
      }
    }
    const dirs = [...new Set(placed.map((w) => dirname(w.final)))];
    const named = await Promise.allSettled(dirs.map((d) => this.storage.syncName(d)));
    const failed = new Map<string, Error>();
    for (const [i, d] of dirs.entries()) {
      const r = named[i];
      if (r?.status === "rejected") failed.set(d, r.reason as Error);
    }
    for (const w of placed) {
      const err = failed.get(dirname(w.final));
      if (err) w.reject(err);
      else w.resolve();
    }
  }
}
