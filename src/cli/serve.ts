// `storescp` (the default command): wire config, storage, tenants and services into a listening SCP,
// and stop gracefully on SIGINT/SIGTERM.

import type { Config } from "../config/schema.ts";
import { DimseServices } from "../dimse/services.ts";
import { StoreScpServer } from "../net/server.ts";
import { event, logger } from "../ops/log.ts";
import { Storage } from "../store/storage.ts";
import { TenantDirectory } from "../tenancy/tenants.ts";

const log = logger("server");

/** How long running associations may take to finish after a stop signal before they are aborted. */
const SHUTDOWN_GRACE_MS = 10_000;

export async function serve(config: Config): Promise<number> {
  // A promise nobody awaited failing is a bug of ours, not a reason to drop every association.
  process.on("unhandledRejection", (reason) => log.error("unhandled rejection: {reason}", { reason }));
  const tenants = new TenantDirectory(config);
  const storage = new Storage({
    fsync: config.storage.fsync,
    onDuplicate: config.storage.on_duplicate,
    minFreeMb: config.storage.min_free_mb,
    quarantineDir: config.storage.quarantine,
  });
  const roots = [...new Set(tenants.tenants.map((t) => t.storageRoot))];
  const stopWatching = storage.watchFreeSpace(roots[0] ?? config.storage.root);
  await storage.hasFreeSpace(roots[0] ?? config.storage.root);

  const services = new DimseServices(storage);
  const server = new StoreScpServer({ config, tenants, storage, services });
  await server.listen();

  // What a crash left behind is removed in the background: a large archive must not delay the start.
  storage
    .cleanStaleTemps([...roots, config.storage.quarantine])
    .then((removed) => {
      if (removed > 0) event(log, "warning", "stale-temp-files-removed", { count: removed });
    })
    .catch((err: Error) => event(log, "error", "stale-temp-cleanup-failed", { error: err.message }));

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      event(log, "info", "stopping", { signal, associations: server.activeCount });
      server.close(SHUTDOWN_GRACE_MS).then(async () => {
        stopWatching();
        await storage.close();
        event(log, "info", "stopped", {});
        resolve(0);
      });
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
}
