// Behind the answer: an instance recorded as pending is placed (write-ahead durability: its file
// written from what is durable and renamed into the archive), transcoded when its transfer syntax is not
// served as is, and then its final record written, which is the one published. The modality waits for
// none of it. A failure to place or to write the final record is retried: the instance was answered
// 0000, so it is never dropped (until then its bytes stay in the log, and a restart settles it too).
//
// The number of instances settling is bounded: past `maxBacklog` new C-STOREs are refused with A700
// (transient) until the backlog shrinks, so a slow codec slows acceptance, never grows memory. While
// associations are receiving, transcodes wait for a quiet moment (bounded in time and by the backlog):
// on a 2-core edge PC the codec would otherwise take the CPU and the disk the modality is waiting for.

import { event, logger } from "../ops/log.ts";
import {
  asReceived,
  type PendingRecord,
  type Placed,
  type Received,
  type StoredInstance,
  type TranscodedInstance,
  type TranscodeStage,
} from "./stages.ts";

const log = logger("store");

/** The instance with the SHA-256 its placing computed (a file written from the log), if any. */
export function withHash(instance: TranscodedInstance, placed: Placed): TranscodedInstance {
  return placed.sha256 === undefined ? instance : { ...instance, sha256: placed.sha256 };
}

export interface SettlerOptions {
  /** At most this many instances settle at once; beyond, new instances are refused (A700). */
  maxBacklog?: number;
  /**
   * Whether associations are receiving now. Transcodes then wait (storage comes first on a 2-core
   * edge PC), until the backlog reaches half of maxBacklog or the oldest has waited TRANSCODE_WAIT_MS.
   */
  busy?: () => boolean;
  /** Waits between attempts of a step that failed (ms); the last one repeats. */
  retryMs?: readonly number[];
}

export const DEFAULT_MAX_BACKLOG = 4096;
/** A transcode waits for a quiet moment at most this long. */
const TRANSCODE_WAIT_MS = 60_000;
const QUIET_POLL_MS = 100;
const RETRY_MS = [100, 1000, 5000, 30_000] as const;

export class Settler {
  private readonly maxBacklog: number;
  private readonly retryMs: readonly number[];
  private readonly running = new Set<Promise<void>>();
  /** The instance settling at each path (the last one to start there). */
  private readonly atPath = new Map<string, Promise<void>>();
  /** Paths a new reception waits for (settledAt): their transcode does not wait for a quiet moment. */
  private readonly awaited = new Set<string>();
  private closing = false;
  private readonly busy: () => boolean;

  constructor(
    private readonly transcode: TranscodeStage | null,
    opts: SettlerOptions = {},
  ) {
    this.maxBacklog = opts.maxBacklog ?? DEFAULT_MAX_BACKLOG;
    this.retryMs = opts.retryMs ?? RETRY_MS;
    this.busy = opts.busy ?? (() => false);
  }

  /**
   * Until receiving pauses, the backlog is large, `since` is long ago, or a reception waits for `path`
   * (the association that sent it again is busy waiting): then a transcode may run.
   */
  private async quietMoment(since: number, path: string): Promise<void> {
    while (
      this.busy() &&
      !this.closing &&
      !this.awaited.has(path) &&
      this.running.size < this.maxBacklog / 2 &&
      performance.now() - since < TRANSCODE_WAIT_MS
    )
      await new Promise((resolve) => setTimeout(resolve, QUIET_POLL_MS));
  }

  /** Instances answered whose final record is not written yet. */
  get backlog(): number {
    return this.running.size;
  }

  /** Why no instance is accepted now (too many settle behind the answer), or null. */
  refusal(): string | null {
    return this.running.size >= this.maxBacklog
      ? `${this.running.size} instances wait to be placed or transcoded: try again shortly`
      : null;
  }

  /** Place, transcode and finish `stored` (recorded as `pending`), in the background. */
  settle(stored: StoredInstance, received: Received, pending: PendingRecord): void {
    const job = this.run(stored, received, pending);
    this.running.add(job);
    this.atPath.set(stored.path, job);
    void job.finally(() => {
      this.running.delete(job);
      if (this.atPath.get(stored.path) === job) this.atPath.delete(stored.path);
    });
  }

  /**
   * Resolves once no instance settles at `path` (at once, usually). The same instance received again
   * while the previous reception is still placed or transcoded waits for it before taking its path, so
   * that each reception's file is the one its final record describes, and records follow arrival.
   */
  async settledAt(path: string): Promise<void> {
    if (!this.atPath.has(path)) return;
    this.awaited.add(path);
    try {
      for (let job = this.atPath.get(path); job !== undefined; job = this.atPath.get(path)) await job;
    } finally {
      this.awaited.delete(path);
    }
  }

  /** Whether an instance is being settled at `path`. */
  busyAt(path: string): boolean {
    return this.atPath.has(path);
  }

  /** Resolves once every instance settling now is settled (or given up at close). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /** No more retries: what is not settled is settled at the next start. */
  close(): void {
    this.closing = true;
  }

  private async run(stored: StoredInstance, received: Received, pending: PendingRecord): Promise<void> {
    const sop = stored.attributes.sopInstanceUid;
    try {
      const place = stored.place;
      let placed: Placed = {};
      const placing = async (): Promise<void> => {
        placed = (await place?.()) ?? {};
      };
      if (place && !(await this.retried("place", sop, placing))) return;
      let final: TranscodedInstance;
      if (this.transcode?.needs(stored.transferSyntaxUid) === true) {
        // A transcode may take long: the record leaves the write-ahead log for the outbox first.
        if (stored.release) {
          if (!(await this.retried("pending-record", sop, () => pending.writePending()))) return;
          stored.release();
        }
        await this.quietMoment(performance.now(), stored.path);
        final = await this.transcode.transcode(stored, received);
      } else final = withHash(asReceived(stored), placed);
      if (!(await this.retried("final-record", sop, () => pending.settle(final)))) return;
      stored.release?.();
    } finally {
      stored.held?.release();
    }
  }

  /** Run `step` until it succeeds; false when the settler closed first (the next start finishes it). */
  private async retried(what: string, sop: string | undefined, step: () => Promise<void>): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await step();
        return true;
      } catch (err) {
        const wait = this.retryMs[Math.min(attempt, this.retryMs.length - 1)] ?? 1000;
        event(log, "error", "settle-failed", {
          step: what,
          sop,
          attempt: attempt + 1,
          error: (err as Error).message,
          action: this.closing ? "settled at the next start" : `retried in ${wait} ms`,
        });
        if (this.closing) return false;
        await new Promise((resolve) => setTimeout(resolve, wait));
        if (this.closing) return false;
      }
    }
  }
}
