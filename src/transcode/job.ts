// A transcoding job and its reply, as the pool (src/transcode/pool.ts) and a worker thread
// (src/transcode/worker.ts) exchange them; its own module, so that the pool loads no codec.

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
