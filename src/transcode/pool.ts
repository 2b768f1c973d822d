// A pool of transcoding workers (node:worker_threads): jobs queue until a worker is free; each job has a
// time limit; a worker that crashes or overruns is terminated and replaced, and its job fails (the caller
// keeps the instance as received). The event loop only posts file names.

import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { type TranscodeJob, type TranscodeReply, WORKER_ROLE } from "./job.ts";

export type JobResult = Extract<TranscodeReply, { ok: true }>;
export type JobRequest = Omit<TranscodeJob, "id">;

export class TranscodeError extends Error {}

interface Pending {
  job: TranscodeJob;
  timeoutMs: number;
  resolve: (r: JobResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  /** Started on the first job: a worker holds its own heap and codecs (~40 MB), idle sites need none. */
  worker: Worker | null;
  current: Pending | null;
  timer: ReturnType<typeof setTimeout> | null;
}

/** Where the worker code is: this directory from source; the executable's own entry when compiled. */
function workerEntry(): URL | string {
  const own = new URL("./worker.ts", import.meta.url);
  if (own.protocol === "file:" && existsSync(fileURLToPath(own))) return own;
  return Bun.main;
}

export class TranscodePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private seq = 0;
  private closed = false;
  /** Workers replaced after a crash or a time limit (for tests and metrics). */
  restarts = 0;

  constructor(readonly size: number = availableParallelism()) {
    for (let i = 0; i < Math.max(1, size); i++) this.slots.push({ worker: null, current: null, timer: null });
  }

  private startWorker(slot: Slot): Worker {
    const worker = new Worker(workerEntry(), { workerData: { storescp: WORKER_ROLE } });
    worker.unref();
    slot.worker = worker;
    worker.on("message", (reply: TranscodeReply) => {
      const p = slot.current;
      if (!p || p.job.id !== reply.id) return;
      this.settle(slot);
      if (reply.ok) p.resolve(reply);
      else p.reject(new TranscodeError(reply.error));
      this.pump();
    });
    const died = (why: string) => {
      if (slot.worker === worker) this.replace(slot, why);
    };
    worker.on("error", (err: Error) => died(`worker crashed: ${err.message}`));
    worker.on("exit", (code) => died(`worker exited (${code})`));
    return worker;
  }

  private settle(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.current = null;
    slot.worker?.unref();
  }

  /** The worker is gone or must go: fail its job, start a new one in its place. */
  private replace(slot: Slot, why: string): void {
    const p = slot.current;
    const old = slot.worker;
    this.settle(slot);
    slot.worker = null;
    if (old) {
      old.removeAllListeners();
      // A dying worker may still report errors: they are about the job already failed below.
      old.on("error", () => {});
      void old.terminate();
      if (!this.closed) this.restarts += 1;
    }
    p?.reject(new TranscodeError(why));
    this.pump();
  }

  /** Transcode a file in a worker, within `timeoutMs`. */
  run(req: JobRequest, timeoutMs: number): Promise<JobResult> {
    if (this.closed) return Promise.reject(new TranscodeError("transcoder stopped"));
    return new Promise<JobResult>((resolve, reject) => {
      this.queue.push({ job: { ...req, id: ++this.seq }, timeoutMs, resolve, reject });
      this.pump();
    });
  }

  /** Jobs waiting for a worker. */
  get queued(): number {
    return this.queue.length;
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.current) continue;
      const p = this.queue.shift();
      if (!p) return;
      slot.current = p;
      const worker = slot.worker ?? this.startWorker(slot);
      worker.ref();
      slot.timer = setTimeout(
        () => this.replace(slot, `time limit of ${Math.round(p.timeoutMs / 1000)} s exceeded`),
        p.timeoutMs,
      );
      worker.postMessage(p.job);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new TranscodeError("transcoder stopped"));
    await Promise.all(
      this.slots.map(async (s) => {
        const p = s.current;
        this.settle(s);
        const w = s.worker;
        s.worker = null;
        w?.removeAllListeners();
        await w?.terminate();
        p?.reject(new TranscodeError("transcoder stopped"));
      }),
    );
  }
}
