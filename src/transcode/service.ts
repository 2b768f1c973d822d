// Transcode on arrival (issue 3). The received instance is first stored as received (durable, renamed:
// bit-preserving), then, when its transfer syntax is not in transcode.supported_transfer_syntaxes, a pool
// worker decodes and re-encodes it to transcode.target into a temp file beside it, which replaces it
// atomically (synced with storage.fsync). Only then is the outbox record appended, carrying
// transfer_syntax_uid as received, target_ts as stored and transfer_status, and then the C-STORE-RSP
// sent: the record is durable and right before 0000, as for every other instance. Any failure (corrupt
// codestream, unsupported parameters, worker crash, time limit) leaves the original in place, records
// Failed, logs a warning and still answers 0000: the instance is safely stored.

import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { basename, dirname, join } from "node:path";
import type { TranscodeConfig } from "../config/schema.ts";
import type { StoredHook } from "../dimse/services.ts";
import { event, logger } from "../ops/log.ts";
import type { StoredInstance } from "../store/instance-sink.ts";
import { TranscodePool } from "./pool.ts";
import { canRead, TARGETS } from "./transcode.ts";

const log = logger("transcode");

export interface TranscoderOptions {
  fsync: boolean;
  /** Time limit of one job: base plus per MiB of the stored file. */
  timeLimitMs?: (bytes: number) => number;
}

const defaultLimit = (bytes: number) => 60_000 + Math.ceil(bytes / 1048576) * 1_000;

export class Transcoder {
  readonly pool: TranscodePool;
  private readonly supported: ReadonlySet<string>;
  private readonly limit: (bytes: number) => number;

  constructor(
    readonly config: TranscodeConfig,
    private readonly opts: TranscoderOptions,
  ) {
    if (!TARGETS.has(config.target))
      event(log, "warning", "transcode-target-unsupported", {
        target: config.target,
        detail: "instances outside the supported list are stored as received with transfer_status Failed",
      });
    this.supported = new Set(config.supported_transfer_syntaxes);
    this.limit = opts.timeLimitMs ?? defaultLimit;
    this.pool = new TranscodePool(config.workers > 0 ? config.workers : availableParallelism());
  }

  /** Must an instance received in `ts` be transcoded? */
  needs(ts: string): boolean {
    return !this.supported.has(ts) && ts !== this.config.target;
  }

  /** The StoredHook: transcode when needed, then hand the (updated) instance to `next` (the outbox). */
  wrap(next: StoredHook | null): StoredHook {
    return async (instance, ctx, cmd) => {
      const result =
        instance.outcome !== "kept-existing" && this.needs(instance.transferSyntaxUid)
          ? await this.transcodeStored(instance, ctx.id)
          : instance;
      await next?.(result, ctx, cmd);
    };
  }

  /** Replace the stored file by its transcoded form; on any failure keep it as received. */
  async transcodeStored(instance: StoredInstance, assoc?: string | number): Promise<StoredInstance> {
    const target = this.config.target;
    const sop = instance.attributes.sopInstanceUid;
    const from = instance.transferSyntaxUid;
    const failed = (error: string): StoredInstance => {
      event(log, "warning", "transcode-failed", {
        assoc,
        sop,
        ts: from,
        target,
        error,
        action: "stored as received (transfer_status Failed)",
      });
      return { ...instance, targetTs: from, transferStatus: "Failed" };
    };
    if (!TARGETS.has(target)) return failed(`target ${target} cannot be encoded`);
    if (!canRead(from)) return failed(`no decoder for ${from}`);
    const tmp = join(
      dirname(instance.path),
      `.storescp-${basename(instance.path)}-${randomBytes(4).toString("hex")}.tmp`,
    );
    const started = performance.now();
    try {
      const r = await this.pool.run(
        { input: instance.path, output: tmp, target, fsync: this.opts.fsync },
        this.limit(instance.fileSize),
      );
      await rename(tmp, instance.path);
      if (this.opts.fsync) syncDir(dirname(instance.path));
      event(log, "info", "transcoded", {
        assoc,
        sop,
        ts: from,
        target,
        frames: r.frames,
        size: r.size,
        ms: Math.round(performance.now() - started),
      });
      return { ...instance, fileSize: r.size, targetTs: target, transferStatus: "Success" };
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      return failed((err as Error).message);
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
