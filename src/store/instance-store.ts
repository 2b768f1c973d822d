// The store pipeline's store stage: each C-STORE's data set received by an InstanceSink into the
// archive that Storage keeps (temp files, the atomic commit, quarantine, free space).

import type { Problem, Received, StoreStage } from "../pipeline/stages.ts";
import { DEFAULT_SINK_OPTIONS, InstanceSink, type InstanceSinkOptions } from "./instance-sink.ts";
import type { Storage } from "./storage.ts";

export class InstanceStore implements StoreStage {
  /** Each file is in place (renamed, its name's sync started) before the answer. */
  readonly placesLater: boolean = false;

  constructor(
    readonly storage: Storage,
    /** Limits on each data set and storage.require (see InstanceSink). */
    protected readonly sinkOptions: InstanceSinkOptions = DEFAULT_SINK_OPTIONS,
  ) {}

  /** The last free-space reading: refusing must not wait for the disk. */
  refusal(): string | null {
    return this.storage.freeSpaceOk ? null : "disk space below storage.min_free_mb";
  }

  receive(received: Received, refused?: Problem): InstanceSink {
    return new InstanceSink(this.storage, received, refused, this.sinkOptions);
  }

  prepareNext(path: string): void {
    this.storage.prepareNext(path);
  }
}
