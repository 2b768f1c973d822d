// Outbox bench: the cost of appending a record (as on the C-STORE path: build, encode, append, fsync),
// one at a time (one association) and 16 at a time (group commit), and the drain rate from the outbox
// to the librdkafka mock cluster through kafkajs (records/s; each record is two messages).
//
// usage: bun bench/outbox.ts [--records N]     (also run by bench/run.ts unless --no-outbox)

import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { KafkaPublisher } from "../src/outbox/kafka-publisher.ts";
import { OutboxLog } from "../src/outbox/log.ts";
import { Drainer } from "../src/outbox/publisher.ts";
import { makeRecord } from "../src/outbox/record.ts";
import { repoRoot } from "../test/helpers/dcmtk.ts";
import { startMockBroker } from "../test/helpers/kafka.ts";

const WORK = join(repoRoot, "bench", ".work", "outbox");
const enc = new TextEncoder();

function record(i: number): Uint8Array {
  const study = `1.2.826.0.1.3680043.8.498.${1000 + (i % 50)}`;
  const r = makeRecord({
    tenantId: "default",
    attributes: {
      patientId: `PAT${i % 50}`,
      studyInstanceUid: study,
      seriesInstanceUid: `${study}.1`,
      sopInstanceUid: `${study}.1.${i}`,
      sopClassUid: "1.2.840.10008.5.1.4.1.1.2",
      studyDate: "20240101",
      accessionNumber: `ACC${i % 50}`,
      numberOfFrames: 1,
      modality: "CT",
    },
    path: `/data/default/20240101/${study}/${study}.1/${study}.1.${i}.dcm`,
    fileSize: 525_220,
    sha256: "0".repeat(64),
    transferSyntaxUid: "1.2.840.10008.1.2.1",
    sourceIp: "10.0.0.7",
    sourceAe: "CT01",
    calledAe: "STORESCP",
  });
  return enc.encode(JSON.stringify(r));
}

export interface OutboxBenchResult {
  appendSerialUs: number;
  appendConcurrentUs: number;
  recordBytes: number;
  drainRecordsPerS: number;
  drained: number;
}

export async function outboxBench(records = 50_000): Promise<OutboxBenchResult> {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });

  // Append, one at a time, durable (what one association pays per instance).
  const serialDir = join(WORK, "serial");
  let log = await OutboxLog.open({ dir: serialDir, maxBytes: 1 << 30, fsync: true });
  const n1 = 2000;
  let t0 = performance.now();
  for (let i = 0; i < n1; i++) await log.append(record(i));
  const appendSerialUs = ((performance.now() - t0) * 1000) / n1;
  await log.close();

  // 16 appenders at once (16 associations): they share fdatasyncs.
  const concDir = join(WORK, "concurrent");
  log = await OutboxLog.open({ dir: concDir, maxBytes: 1 << 30, fsync: true });
  const n2 = 8000;
  t0 = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async (_, w) => {
      for (let i = w; i < n2; i += 16) await log.append(record(i));
    }),
  );
  const appendConcurrentUs = ((performance.now() - t0) * 1000) / n2;
  await log.close();

  // Drain a backlog to the mock cluster.
  const drainDir = join(WORK, "drain");
  log = await OutboxLog.open({ dir: drainDir, maxBytes: 1 << 40, fsync: false });
  for (let i = 0; i < records; i++) await log.append(record(i));
  log.syncNow();
  const mock = await startMockBroker(["storage_queue:3", "log_queue:3"]);
  const publisher = new KafkaPublisher({
    enabled: true,
    brokers: mock.bootstrap.split(","),
    client_id: "bench",
    compression: "gzip",
    topics: { storage: "storage_queue", log: "log_queue" },
    ssl: null,
    sasl: null,
  });
  const drainer = new Drainer(log, publisher, () => ({ storage: "storage_queue", log: "log_queue" }));
  // Connect first: the rate is that of publishing, not of the first metadata round trip.
  await drainer.publishOnce();
  const before = log.records;
  t0 = performance.now();
  while (log.records > 0) await drainer.publishOnce();
  const s = (performance.now() - t0) / 1000;
  await publisher.close();
  await log.close();
  await mock.stop();
  rmSync(WORK, { recursive: true, force: true });
  return {
    appendSerialUs,
    appendConcurrentUs,
    recordBytes: record(1).length,
    drainRecordsPerS: before / s,
    drained: before,
  };
}

export function printOutboxBench(r: OutboxBenchResult): void {
  console.log(`outbox: record ${r.recordBytes} bytes (JSON), fsync on`);
  console.log(`  append, 1 at a time (1 association):   ${r.appendSerialUs.toFixed(0)} us/record`);
  console.log(`  append, 16 at a time (group commit):   ${r.appendConcurrentUs.toFixed(0)} us/record`);
  console.log(
    `  drain to the mock cluster (kafkajs, gzip, acks -1): ${r.drainRecordsPerS.toFixed(0)} records/s ` +
      `(${(2 * r.drainRecordsPerS).toFixed(0)} messages/s, ${r.drained} records) ` +
      `${r.drainRecordsPerS >= 5000 ? "PASS" : "FAIL"} (target >= 5000/s)`,
  );
}

if (import.meta.main) {
  const i = process.argv.indexOf("--records");
  const n = i >= 0 ? Number.parseInt(process.argv[i + 1] ?? "", 10) : 50_000;
  printOutboxBench(await outboxBench(n));
}
