// The transcoding worker (node:worker_threads): loads the WASM codecs once, then transcodes files on
// request: reads IN, writes the result to OUT (a temp name the pool renames), optionally synced. Started
// from this file when running from source, and from the executable's own entry (src/main.ts loads this
// module in a worker thread) when compiled: `workerData.storescp` says which role the thread has.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { durable } from "../util/durable.ts";
import { yieldCpuToOthers } from "../util/thread-priority.ts";
import { loadCodecs } from "./codecs.ts";
import { type TranscodeJob, type TranscodeReply, WORKER_ROLE } from "./job.ts";
import { transcodePart10 } from "./transcode.ts";

export { type TranscodeJob, type TranscodeReply, WORKER_ROLE } from "./job.ts";

export function runJob(job: TranscodeJob): Omit<Extract<TranscodeReply, { ok: true }>, "id" | "ok"> {
  const started = performance.now();
  const r = transcodePart10(new Uint8Array(readFileSync(job.input)), job.target);
  durable.writeFileSync(job.output, r.bytes, job.fsync);
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
  // Transcoding runs behind the answers: receiving comes first.
  const ready = yieldCpuToOthers().then(() => loadCodecs());
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
