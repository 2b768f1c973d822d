// `outbox drain`: the whole backlog published with the server stopped. Failures are retried with a
// growing, jittered backoff; the drain gives up only when no record got through for `timeoutMs`, so a
// broker that comes back in time lets it finish. Each failure is noted beside the cursor, for `outbox
// status`.

import type { OutboxLog } from "./log.ts";
import type { Drainer } from "./publisher.ts";

/** No record got through for the drain's timeout; the message says how far it got and why. */
export class DrainStalledError extends Error {
  override readonly name = "DrainStalledError";
}

/** Publish until the log is empty; the number of records delivered. */
export async function drainToEmpty(log: OutboxLog, drainer: Drainer, timeoutMs: number): Promise<number> {
  let delivered = 0;
  let lastProgress = Date.now();
  let lastError = "";
  let backoff = 200;
  while (log.records > 0) {
    try {
      const n = await drainer.publishOnce();
      delivered += n;
      if (n > 0) {
        lastProgress = Date.now();
        backoff = 200;
      } else if (log.records > 0) {
        throw new Error("records left that could not be read");
      }
    } catch (err) {
      lastError = (err as Error).message;
      log.setNote({ last_error: lastError, last_error_at: new Date().toISOString() });
      if (Date.now() - lastProgress > timeoutMs) {
        throw new DrainStalledError(
          `drain failed after ${delivered} record(s), ${log.records} left: ${lastError}`,
        );
      }
      await new Promise((r) => setTimeout(r, backoff * (0.5 + Math.random())));
      backoff = Math.min(backoff * 2, 5000);
    }
  }
  return delivered;
}
