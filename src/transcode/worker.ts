// The transcoding worker (node:worker_threads): loads the WASM codecs once, then transcodes files on
// request: reads IN, writes the result to OUT (a temp name the pool renames), optionally synced. Started
// from this file when running from source, and from the executable's own entry (src/main.ts imports this
// module) when compiled: `workerData.storescp` says which role the thread has.

import { createHash } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { loadCodecs } from "./codecs.ts";
import { transcodePart10 } from "./transcode.ts";

export const WORKER_ROLE = "transcode-worker";

export interface TranscodeJob {
  id: number;
  input: string;
  output: string;
  target: string;
  fsync: boolean;
}

export type TranscodeReply =
  | {
      id: number;
      ok: true;
      size: number;
      frames: number;
      pixels: number;
      ms: number;
      /** Of the file written: new when the target is lossy (a new instance). */
      sopInstanceUid: string;
      /** SHA-256 (hex) of the file written, from the bytes at hand: its outbox record's sha256. */
      sha256: string;
    }
  | { id: number; ok: false; error: string };

export function runJob(job: TranscodeJob): Omit<Extract<TranscodeReply, { ok: true }>, "id" | "ok"> {
  const started = performance.now();
  const r = transcodePart10(new Uint8Array(readFileSync(job.input)), job.target);
  const fd = openSync(job.output, "w", 0o644);
  try {
    let off = 0;
    while (off < r.bytes.length) off += writeSync(fd, r.bytes, off, r.bytes.length - off);
    if (job.fsync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return {
    size: r.bytes.length,
    frames: r.frames,
    pixels: r.pixels,
    ms: performance.now() - started,
    sopInstanceUid: r.sopInstanceUid,
    sha256: createHash("sha256").update(r.bytes).digest("hex"),
  };
}

function startWorker(): void {
  const port = parentPort;
  if (!port) return;
  const ready = loadCodecs();
  port.on("message", async (job: TranscodeJob) => {
    let reply: TranscodeReply;
    try {
      await ready;
      reply = { id: job.id, ok: true, ...runJob(job) };
    } catch (err) {
      reply = { id: job.id, ok: false, error: (err as Error)?.message ?? String(err) };
    }
    port.postMessage(reply);
  });
}

const data = workerData as { storescp?: string } | null | undefined;
if (!isMainThread && data?.storescp === WORKER_ROLE) startWorker();
