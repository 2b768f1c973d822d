// Transcode behind the answer: the store pipeline's transcode stage (src/pipeline). The received instance
// is stored as received (durable: bit-preserving), recorded pending and answered 0000; then, since its
// transfer syntax is not in transcode.supported_transfer_syntaxes, a pool worker decodes and re-encodes
// it to transcode.target into a temp file beside it, which replaces it atomically (synced with
// storage.fsync), and the final record (transfer_syntax_uid as received, target_ts as stored,
// transfer_status, file_size, file_path) is written: that is the one published. Any failure (corrupt
// codestream, unsupported parameters, worker crash, time limit) leaves the original in place, records
// Failed and logs a warning: the instance is safely stored.
//
// A lossy target (JPEG Baseline) makes a new instance (PS3.3 C.7.6.1.1.5): the file is written under the
// path its new SOP Instance UID renders to and the one received is removed, so the archive holds one
// image, not two. The outbox record then describes what is stored: sop_uid and file_path of the new
// instance, transfer_syntax_uid as received, target_ts as stored, and `source_sop_uid` (a field only
// such records have) naming the instance the modality sent, which no longer exists under its own UID;
// a consumer that is asked for that UID can follow it. The tenant's quota (tenants[].storage.max_gb) is
// moved by the difference in size whenever a transcoded file replaces the one received.

import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { basename, dirname, join } from "node:path";
import type { TranscodeConfig } from "../config/schema.ts";
import type { InstanceAttributes } from "../dicom/attribute-scanner.ts";
import { TS } from "../dicom/transfer-syntax.ts";
import { Status } from "../dimse/status.ts";
import { event, logger } from "../ops/log.ts";
import { opsSink } from "../ops/metrics.ts";
import {
  asReceived,
  type DerivedDuplicate,
  type Origin,
  type Received,
  type StoredInstance,
  type TranscodedInstance,
  type TranscodeStage,
  type Validated,
} from "../pipeline/stages.ts";
import { pathVariables, renderPath } from "../store/layout.ts";
import type { OnDuplicate } from "../store/storage.ts";
import { durable } from "../util/durable.ts";
import { canRead, TARGETS } from "./capabilities.ts";
import { TranscodePool } from "./pool.ts";

const log = logger("transcode");

export interface TranscoderOptions {
  fsync: boolean;
  /** Time limit of one job: base plus per MiB of the stored file. */
  timeLimitMs?: (bytes: number) => number;
  /**
   * storage.on_duplicate, applied to the derived instance of a lossy target (its UID and path are
   * known before transcoding: name-based): the received path was free, the derived one may not be.
   */
  onDuplicate?: OnDuplicate;
}

const defaultLimit = (bytes: number) => 60_000 + Math.ceil(bytes / 1048576) * 1_000;

/** What of the association a transcode needs: its id for the log, the tenant's tree and quota. */
export type TranscodeContext = Pick<Origin, "id" | "tenant" | "callingAe">;

export class Transcoder implements TranscodeStage {
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

  /** The transcode stage, behind the answer: transcoded when its transfer syntax needs it, else as received. */
  async transcode(instance: StoredInstance, received: Received): Promise<TranscodedInstance> {
    if (!this.needs(instance.transferSyntaxUid)) return asReceived(instance);
    return this.transcodeStored(instance, received.origin);
  }

  /**
   * Before the answer, with a lossy target and on_duplicate keep or reject: is the derived instance of
   * this one stored already (a resend)? keep: the received data set is dropped, the stored one stays,
   * no new record. reject: the received data set goes to quarantine and 0111 is answered. Otherwise
   * (nothing there, overwrite, a lossless target) null: stored, then transcoded as usual.
   */
  async derivedDuplicate(validated: Validated): Promise<DerivedDuplicate | null> {
    const onDuplicate = this.opts.onDuplicate ?? "overwrite";
    if (onDuplicate === "overwrite" || this.config.target !== TS.JPEGBaseline8Bit) return null;
    const sop = validated.attributes.sopInstanceUid ?? "";
    // Loaded here, not with the server: they bring the data dictionary and the codecs.
    const { derivedUid } = await import("./derived.ts");
    const { JPEG_BASELINE_PROFILE } = await import("./jpeg-baseline.ts");
    const uid = derivedUid(sop, { target: this.config.target, profile: JPEG_BASELINE_PROFILE });
    const ctx = validated.received.origin;
    const path = this.pathOf(validated.attributes, ctx, uid);
    if (!existsSync(path)) return null;
    if (onDuplicate === "keep") {
      event(log, "info", "transcode-duplicate-kept", { assoc: ctx.id, sop, derived_sop: uid, path });
      return { kind: "keep", path, sopInstanceUid: uid };
    }
    const reason = `SOP Instance already stored, as its derived (lossy) instance ${uid} (on_duplicate: reject)`;
    return { kind: "reject", problem: { status: Status.DuplicateSopInstance, reason } };
  }

  /** Replace the stored file by its transcoded form; on any failure keep it as received. */
  async transcodeStored(instance: StoredInstance, ctx: TranscodeContext): Promise<TranscodedInstance> {
    const target = this.config.target;
    const assoc = ctx.id;
    const sop = instance.attributes.sopInstanceUid ?? "";
    const from = instance.transferSyntaxUid;
    const started = performance.now();
    const failed = (error: string): TranscodedInstance => {
      opsSink?.transcoded({ from, to: target, ms: performance.now() - started, ok: false, sop });
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
    try {
      const r = await this.pool.run(
        { input: instance.path, output: tmp, target, fsync: this.opts.fsync },
        this.limit(instance.fileSize),
      );
      const derived = r.sopInstanceUid !== "" && r.sopInstanceUid !== sop;
      const path = derived ? this.pathOf(instance.attributes, ctx, r.sopInstanceUid) : instance.path;
      if (path !== instance.path) await mkdir(dirname(path), { recursive: true });
      // The received file is replaced: nothing of it to hash, and Windows renames over no open file.
      instance.held?.release();
      durable.replace(tmp, path);
      if (this.opts.fsync) await durable.syncDir(dirname(path));
      // The new instance is durable under its own name before the one it replaces goes.
      const replaced = path === instance.path || (await this.removeReceived(instance, assoc));
      ctx.tenant.quota?.add(r.size - (replaced ? instance.fileSize : 0));
      opsSink?.transcoded({ from, to: target, ms: performance.now() - started, ok: true, sop });
      event(log, "info", "transcoded", {
        assoc,
        sop,
        derived_sop: derived ? r.sopInstanceUid : undefined,
        ts: from,
        target,
        frames: r.frames,
        size_received: instance.fileSize,
        size: r.size,
        path: derived ? path : undefined,
        ms: Math.round(performance.now() - started),
      });
      // The file held is the one received, replaced now: the record describes what was written here.
      const { held: _received, ...rest } = instance;
      const done: TranscodedInstance = {
        ...rest,
        fileSize: r.size,
        sha256: r.sha256,
        targetTs: target,
        transferStatus: "Success",
      };
      if (!derived) return done;
      return {
        ...done,
        path,
        attributes: { ...instance.attributes, sopInstanceUid: r.sopInstanceUid },
        sourceSopInstanceUid: sop,
      };
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      return failed((err as Error).message);
    }
  }

  /** Where the tenant's storage.path puts the derived instance (its SOP Instance UID is new). */
  private pathOf(attributes: InstanceAttributes, ctx: TranscodeContext, sopUid: string): string {
    return renderPath(
      ctx.tenant.storageRoot,
      ctx.tenant.pathTemplate,
      pathVariables(ctx.tenant.id, attributes, ctx.callingAe, sopUid),
    );
  }

  /** Remove the file received once its derived instance is stored; false (and a warning) if it stays. */
  private async removeReceived(instance: StoredInstance, assoc: string): Promise<boolean> {
    try {
      await rm(instance.path);
      if (this.opts.fsync) await durable.syncDir(dirname(instance.path));
      return true;
    } catch (err) {
      event(log, "warning", "transcode-original-kept", {
        assoc,
        sop: instance.attributes.sopInstanceUid,
        path: instance.path,
        error: (err as Error).message,
        action: "both the received and the derived instance stay on disk",
      });
      return false;
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
