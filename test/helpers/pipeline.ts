// The store pipeline for tests that drive DimseServices in process, without an outbox or a transcoder.

import { StorePipeline } from "../../src/pipeline/pipeline.ts";
import type { RecordStage } from "../../src/pipeline/stages.ts";
import type { InstanceSinkOptions } from "../../src/store/instance-sink.ts";
import { InstanceStore } from "../../src/store/instance-store.ts";
import type { Storage } from "../../src/store/storage.ts";

/** A record stage that refuses nothing and records nothing (no outbox in the test). */
export const NO_OUTBOX: RecordStage = {
  refusal: () => null,
  reserve: () => ({ release: () => {} }),
  record: async () => {},
};

/** Stored into `storage`, never transcoded, recorded by `record` (default: nowhere). */
export function storePipeline(
  storage: Storage,
  opts: { sink?: InstanceSinkOptions; record?: RecordStage } = {},
): StorePipeline {
  return new StorePipeline({
    store: new InstanceStore(storage, opts.sink),
    transcode: null,
    record: opts.record ?? NO_OUTBOX,
  });
}
