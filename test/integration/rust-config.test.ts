// A site of the Rust original starts with the file it has: its application.dev.json (shaped like the
// original's sample) in the working directory, no --config, runs the SCP with its AE title, tenant tag,
// transcoding and Kafka topics (brokers as one comma-separated string): an instance in a syntax outside
// its cornerstonejs list is stored transcoded, and its record reaches both topics of the mock cluster.

import { afterAll, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import type { OutboxRecord } from "../../src/outbox/record.ts";
import { dcmsend, type OurServerHandle, startServer } from "../helpers/dcmtk.ts";
import { corpus, readPart10 } from "../helpers/fixtures.ts";
import { consumeTopics, type MockBroker, startMockBroker } from "../helpers/kafka.ts";
import { rustSample } from "../helpers/rust-config.ts";

let mock: MockBroker | null = null;
let server: OurServerHandle | null = null;
afterAll(async () => {
  if (server) {
    expect(await server.stop()).toBe(0);
    rmSync(server.workDir, { recursive: true, force: true });
  }
  await mock?.stop();
});

test("application.dev.json in the working directory: same AE, tenant tag, transcoding, topics", async () => {
  mock = await startMockBroker(["storage_queue:1", "log_queue:1"], 2);
  expect(mock.bootstrap).toContain(",");
  const json = rustSample({ brokers: mock.bootstrap.split(",").join(", "), store: "./xdcm" });
  server = await startServer({
    implicitConfig: { name: "application.dev.json", text: JSON.stringify(json, null, 2) },
    // Its port would be the file's (11111): any free one here, so that tests never race for ports.
    args: ["--port", "0"],
  });
  const out = server.output();
  expect(out).toMatch(/config-implicit file=application\.dev\.json /);
  expect(out).toMatch(/config-keys-unused .*keys=redis,main_database,/);
  expect(out).toMatch(/ ready ae=STORE-SCP /);
  expect(out).toMatch(/ ready .*kafka="on 127\.0\.0\.1:\d+,127\.0\.0\.1:\d+" /);
  expect(out).toMatch(/ ready .*transcode_to=1\.2\.840\.10008\.1\.2\.1 /);
  expect(out).toMatch(/ ready .*tenant_tag=\(1211,1217\)/);

  // JPEG 2000 is not in the file's cornerstonejs list: transcoded to unsupported_ts_change_to.
  const j2k = corpus().find((f) => f.includes("20_ct_s16_j2k_lossless")) ?? "";
  const src = await readPart10(j2k);
  const r = await dcmsend({ port: server.port, calledAe: "STORE-SCP", files: [j2k] });
  expect(r.statuses).toEqual([0]);
  const got = await consumeTopics(mock.bootstrap, ["storage_queue", "log_queue"], 1, 30_000);
  for (const topic of ["storage_queue", "log_queue"]) {
    const m = got.find((x) => x.topic === topic);
    const rec = JSON.parse(m?.value ?? "{}") as OutboxRecord;
    expect(rec.sop_uid).toBe(src.sopInstanceUid);
    expect(rec.transfer_syntax_uid).toBe("1.2.840.10008.1.2.4.90");
    expect(rec.target_ts).toBe("1.2.840.10008.1.2.1");
    expect(rec.transfer_status).toBe("Success");
    expect(rec.called_ae).toBe("STORE-SCP");
    expect(rec.file_path.startsWith(`${server.workDir}/xdcm/`)).toBe(true);
    expect((await readPart10(rec.file_path)).transferSyntaxUid).toBe("1.2.840.10008.1.2.1");
  }
  expect(readFileSync(server.configPath, "utf8")).toContain("dicom_store_scp");
}, 90_000);
