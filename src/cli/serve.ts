// `storescp` (the default command): wire config, storage, tenants and services into a listening SCP,
// and stop gracefully on SIGINT/SIGTERM.

import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Config } from "../config/schema.ts";
import { DEFAULT_DATA_SET_LIMITS } from "../dicom/attribute-scanner.ts";
import { startLicense } from "../license/runtime.ts";
import { VENDOR_CA_PEM } from "../license/vendor-ca.ts";
import { OpsServer } from "../ops/http.ts";
import { event, logger } from "../ops/log.ts";
import { checkArchive } from "../outbox/archive-check.ts";
import { OutboxLockedError } from "../outbox/log.ts";
import type { OutboxRecord } from "../outbox/record.ts";
import { OutboxService } from "../outbox/service.ts";
import { StorePipeline } from "../pipeline/pipeline.ts";
import { settleInterrupted, settleLogged } from "../pipeline/recovery.ts";
import { StoreScpServer } from "../scp/server.ts";
import { DimseServices } from "../scp/services.ts";
import type { InstanceSinkOptions } from "../store/instance-sink.ts";
import { InstanceStore } from "../store/instance-store.ts";
import { Storage } from "../store/storage.ts";
import { WriteAheadLog } from "../store/wal/log.ts";
import { WalStore } from "../store/wal/store.ts";
import { tenantTagResolver } from "../tenancy/tenant-tag.ts";
import { TenantDirectory } from "../tenancy/tenants.ts";
import { Transcoder } from "../transcode/service.ts";
import { versionText } from "./args.ts";
import { checkDirectories, checkFiles, listenProblem, readyFields, StartupError } from "./startup.ts";

const log = logger("server");

/** Archive files without a record are logged one per line up to this many (then only counted). */
const UNRECORDED_LINES = 100;

/**
 * Runs the SCP until SIGINT/SIGTERM. `configSource` says where the config came from, for the start-up
 * line. Everything that can be wrong with the site is found before listening: a StartupError (or
 * LicenseError, ConfigError) is one line and exit 2 (src/main.ts).
 */
export async function serve(config: Config, configSource = "embedded defaults"): Promise<number> {
  // Files written from now on are this process's: the archive check looks only before.
  const startedAt = Date.now();
  // A promise nobody awaited failing is a bug of ours, not a reason to drop every association.
  process.on("unhandledRejection", (reason) => log.error("unhandled rejection: {reason}", { reason }));
  // The license first: a failure ends the start with exit 2 (LicenseError, see main.ts).
  const license = await startLicense(config.license, VENDOR_CA_PEM);
  const tenants = new TenantDirectory(config);
  await checkDirectories(
    config,
    tenants.tenants.map((t) => t.storageRoot),
  );
  await checkFiles(config);
  for (const t of tenants.tenants) {
    t.quota
      ?.measure()
      .then((used) => event(log, "info", "quota", { tenant: t.id, used_gb: (used / 1024 ** 3).toFixed(2) }))
      .catch((err: Error) =>
        event(log, "error", "quota-measure-failed", { tenant: t.id, error: err.message }),
      );
  }
  const writeAhead = openWriteAhead(config);
  const storage = new Storage({
    fsync: config.storage.fsync,
    earlyWriteback: writeAhead === null,
    onDuplicate: config.storage.on_duplicate,
    minFreeMb: config.storage.min_free_mb,
    quarantineDir: config.storage.quarantine,
  });
  const roots = [...new Set(tenants.tenants.map((t) => t.storageRoot))];
  const stopWatching = storage.watchFreeSpace(roots[0] ?? config.storage.root);
  await storage.hasFreeSpace(roots[0] ?? config.storage.root);

  // The outbox before the listener: every instance answered 0000 has its record (src/outbox).
  let receiving = (): boolean => false;
  let settledForExport = (): Promise<void> => Promise.resolve();
  let outbox: OutboxService;
  try {
    outbox = await OutboxService.start(config, {
      busy: () => receiving(),
      settled: () => settledForExport(),
      ...(writeAhead ? { holdEntry: (id: number) => !writeAhead.releasedDurably(id) } : {}),
    });
  } catch (err) {
    if (err instanceof OutboxLockedError) throw new StartupError(`outbox.dir: ${err.message}`);
    throw err;
  }
  const limits = config.limits;
  const transcoder = new Transcoder(config.transcode, {
    fsync: config.storage.fsync,
    onDuplicate: config.storage.on_duplicate,
  });
  // Each C-STORE: stored, recorded in the outbox, answered; then placed and transcoded behind the
  // answer where needed (src/pipeline/pipeline.ts).
  const sinkOptions: InstanceSinkOptions = {
    dataSet: {
      maxSequenceDepth: limits.max_sequence_depth,
      maxInflatedBytes: limits.max_inflated_mb * 1024 * 1024,
      maxInflateRatio: limits.max_inflate_ratio,
      inflateRatioFloorBytes: DEFAULT_DATA_SET_LIMITS.inflateRatioFloorBytes,
    },
    headLimit: limits.association_buffer_mb * 1024 * 1024,
    required: config.storage.require,
  };
  const walStore = writeAhead
    ? new WalStore(storage, sinkOptions, writeAhead, () => outbox.log.fullOnceWritten)
    : null;
  const pipeline = new StorePipeline(
    {
      store: walStore ?? new InstanceStore(storage, sinkOptions),
      transcode: transcoder,
      record: outbox,
    },
    { busy: () => receiving() },
  );
  // What a stop interrupted between an answer and its final record, before anything new arrives.
  const tenantOf = (id: string) => tenants.tenants.find((t) => t.id === id);
  await settleInterrupted(outbox.unsettled(), { transcode: transcoder, settler: pipeline.settler, tenantOf });
  if (walStore)
    settleLogged(walStore.takeReplay(), {
      transcode: transcoder,
      settler: pipeline.settler,
      tenantOf,
      recorded: (id) => outbox.recordedEntry(id),
      place: (id, path) => walStore.placeRecorded(id, path),
      pendingOf: (record) => outbox.fromDraft(record as unknown as OutboxRecord),
    });
  settledForExport = async () => {
    walStore?.placeHeld();
    await pipeline.settler.idle();
    // The records an export takes must not come back from the log at a restart.
    await writeAhead?.syncReleases();
  };
  const services = new DimseServices(
    pipeline,
    config.tenant_tag !== null ? tenantTagResolver(config.tenant_tag, tenants) : null,
  );
  const server = new StoreScpServer({
    config,
    tenants,
    storage,
    services,
    congested: () => outbox.refusal(),
    licenseProblem: () => license.problem(),
  });
  const { host, port, tls } = config.scp;
  let first: number;
  try {
    first = await server.listen();
  } catch (err) {
    // The TLS listener starts first: if it is up, the plain one failed.
    const plainFailed = tls === null || server.tlsPort !== null;
    throw plainFailed
      ? listenProblem("scp.port", host, port, err)
      : listenProblem("scp.tls.port", host, tls.port ?? port, err);
  }
  receiving = () => server.activeCount > 0;
  // The ops endpoints (prom-client is loaded only here, see src/ops/http.ts).
  let ops: OpsServer | null = null;
  let opsPort: number | null = null;
  if (config.ops.http_port !== null) {
    const opsServer = new OpsServer({
      host: config.scp.host,
      port: config.ops.http_port,
      version: versionText(),
      ae: config.scp.ae_title,
      dicomPort: first,
      listening: () => server.listening,
      roots: roots.length > 0 ? roots : [config.storage.root],
      minFreeMb: config.storage.min_free_mb,
      outbox,
      license,
    });
    try {
      opsPort = await opsServer.listen();
    } catch (err) {
      throw listenProblem("ops.http_port", config.scp.host, config.ops.http_port, err);
    }
    ops = opsServer;
  }
  const bound = {
    port: tls !== null && tls.port === null ? null : first,
    tlsPort: server.tlsPort,
    opsPort,
  };
  event(
    log,
    "info",
    "ready",
    readyFields(
      config,
      tenants.tenants.map((t) => t.id),
      bound,
      configSource,
    ),
  );
  if (!config.kafka.enabled) {
    event(log, "info", "kafka-off", {
      detail: "records accumulate in the outbox; hand them over with `storescp outbox export DIR`",
      outbox: config.outbox.dir,
      max_mb: config.outbox.max_mb,
      records: outbox.log.records,
    });
  }

  // What a crash left behind is removed in the background: a large archive must not delay the start.
  storage
    .cleanStaleTemps([...roots, config.storage.quarantine])
    .then((removed) => {
      if (removed > 0) event(log, "warning", "stale-temp-files-removed", { count: removed });
    })
    .catch((err: Error) => event(log, "error", "stale-temp-cleanup-failed", { error: err.message }));

  // Files a crash left in the archive without their record (see archive-check.ts), also in the background.
  checkArchive(outbox.log, { roots, skip: [config.storage.quarantine], startedAt })
    .then((r) => {
      for (const path of r.unrecorded.slice(0, UNRECORDED_LINES))
        event(log, "warning", "archive-without-record", { path, newest_record: r.since });
      event(log, r.unrecorded.length > 0 ? "warning" : "info", "archive-check", {
        newest_record: r.since ?? "none (nothing to compare with)",
        unrecorded: r.unrecorded.length,
        entries: r.entries,
        complete: r.complete,
        action: r.unrecorded.length > 0 ? "send these instances again (or import their records)" : undefined,
      });
    })
    .catch((err: Error) => event(log, "error", "archive-check-failed", { error: err.message }));

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      event(log, "info", "stopping", { signal, associations: server.activeCount });
      walStore?.placeHeld();
      server.close(config.scp.shutdown_grace_s * 1000).then(async () => {
        // No burst to wait for: what was held back is placed within the grace period.
        walStore?.placeHeld();
        stopWatching();
        await ops?.close();
        license.stop();
        // Instances answered but not settled yet: given the grace period, then left to the next start.
        await Promise.race([pipeline.settler.idle(), sleep(config.scp.shutdown_grace_s * 1000)]);
        pipeline.settler.close();
        await walStore?.close();
        await transcoder.close();
        await storage.close();
        await outbox.close();
        event(log, "info", "stopped", {});
        resolve(0);
      });
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
    // Windows: Ctrl+C arrives as SIGINT (also what nssm/WinSW send to stop a service), Ctrl+Break as
    // SIGBREAK, closing the console window as SIGHUP (Windows then ends the process after ~10 s).
    if (process.platform === "win32") {
      process.once("SIGBREAK", () => stop("SIGBREAK"));
      process.once("SIGHUP", () => stop("SIGHUP"));
    }
  });
}

/**
 * The write-ahead log of storage.durability wal (at <storage.root>/.wal), or null for file. Windows
 * keeps file: there the log could only be synced like the files themselves (no O_DSYNC, no
 * sync_file_range), which gains nothing.
 */
function openWriteAhead(config: Config): WriteAheadLog | null {
  if (config.storage.durability !== "wal" || !config.storage.fsync) return null;
  if (process.platform === "win32") {
    event(log, "warning", "wal-unavailable", {
      detail:
        "storage.durability wal is not available on Windows: each file is synced before its answer (file)",
    });
    return null;
  }
  return WriteAheadLog.open({
    dir: join(config.storage.root, ".wal"),
    capacityBytes: config.storage.wal_mb * 1024 * 1024,
    // Listening at once; a new log is filled behind the start.
    fill: "background",
    // Test hook (simulated power loss): the log notes every durable position in this file.
    ...(process.env.STORESCP_TEST_WAL_MARKS ? { marksFile: process.env.STORESCP_TEST_WAL_MARKS } : {}),
  });
}
