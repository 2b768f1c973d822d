// The Rust original's application.json, shaped like its sample (databases, redis, OAuth2 beside the
// dicom_store_scp object, Kafka brokers as one comma-separated string), works as a config file: the
// keys a Storage SCP uses are read as ours, the others are named once, errors point at the original's
// keys, and `config convert` prints a site.yaml that loads back to the same effective config.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convertCommand } from "../../src/cli/init.ts";
import { ConfigError } from "../../src/config/error.ts";
import { loadConfig, readConfig } from "../../src/config/load.ts";
import { rustSample, RUST_SAMPLE_SYNTAXES as SYNTAXES } from "../helpers/rust-config.ts";

const dir = mkdtempSync(join(tmpdir(), "rust-json-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, data: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, `${JSON.stringify(data, null, 2)}\n`);
  return p;
}

describe("the Rust original's application.json", () => {
  test("maps port, AE, tenant tag, transcoding, storage, Kafka (comma-separated brokers), topics, license", () => {
    const c = loadConfig(write("application.dev.json", rustSample()));
    expect(c.scp.port).toBe(11111);
    expect(c.scp.ae_title).toBe("STORE-SCP");
    expect(c.tenant_tag).toBe("(1211,1217)");
    expect(c.transcode.target).toBe("1.2.840.10008.1.2.1");
    expect(c.transcode.supported_transfer_syntaxes).toEqual(SYNTAXES);
    expect(c.storage.root).toBe(join(dir, "xdcm"));
    expect(c.storage.quarantine).toBe(join(dir, "xdcm", "_quarantine"));
    expect(c.kafka.enabled).toBe(true);
    expect(c.kafka.brokers).toEqual(["127.0.0.1:19092", "127.0.0.2:19092"]);
    expect(c.kafka.topics).toEqual({ storage: "storage_queue", log: "log_queue" });
    expect(c.kafka.compression).toBe("gzip");
    expect(c.license.client_id).toBe("HZXS1000");
    expect(c.license.license_key).toBe("c417aa48");
    // Not in the file: our defaults.
    expect(c.outbox.dir).toBe(join(dir, "outbox"));
    expect(c.storage.require).toEqual([]);
  });

  test("keys it does not use are named once, never an error; an adapted codec is said", () => {
    const { notes } = readConfig(write("notes.json", rustSample()));
    const unused = notes.find((n) => n.event === "config-keys-unused")?.fields.keys?.split(",") ?? [];
    for (const k of [
      "redis",
      "main_database",
      "secondary_database",
      "server",
      "webworker",
      "wado_oauth2",
      "local_storage.type",
      "local_storage.json_store_path",
      "kafka.linger_ms",
      "message_queue.consumer_group_id",
      "message_queue.topic_dicom_state",
    ])
      expect(unused).toContain(k);
    expect(unused).not.toContain("dicom_store_scp.port");
    expect(notes.map((n) => n.event)).toEqual([
      "config-rust-original",
      "config-keys-unused",
      "config-adapted",
    ]);
    expect(notes[2]?.fields.detail).toMatch(/snappy.*gzip/);
    // The older files name the log topic topic_log.
    const older = rustSample();
    const mq = older.message_queue as Record<string, unknown>;
    mq.topic_log = mq.topic_dicom_receive;
    delete mq.topic_dicom_receive;
    expect(loadConfig(write("older.json", older)).kafka.topics.log).toBe("log_queue");
  });

  test("a bad value is reported at the original's key, FILE:LINE:COL", () => {
    const bad = rustSample();
    (bad.dicom_store_scp as Record<string, unknown>).ae_title = "AN AE TITLE THAT IS FAR TOO LONG";
    const file = write("bad.json", bad);
    let err: unknown;
    try {
      loadConfig(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = JSON.stringify(bad, null, 2).split("\n");
    const line = text.findIndex((l) => l.includes('"ae_title"')) + 1;
    expect((err as ConfigError).message).toStartWith(`${file}:${line}:`);
    expect((err as ConfigError).message).toContain(
      "dicom_store_scp.ae_title (scp.ae_title): must be an AE title",
    );
  });

  test("config convert prints a commented site.yaml that loads back to the same effective config", () => {
    const json = write("convert.json", rustSample());
    let yaml = "";
    expect(convertCommand(json, (t) => (yaml += t))).toBe(0);
    expect(yaml).toContain("# Converted from");
    expect(yaml).toContain("Not used by a Storage SCP: redis, main_database");
    expect(yaml).toMatch(/^ {2}ae_title: STORE-SCP # default: STORESCP$/m);
    expect(yaml).toMatch(/^tenant_tag: "?\(1211,1217\)"? # default: null$/m);
    const site = join(dir, "converted.yaml");
    writeFileSync(site, yaml);
    expect(loadConfig(site)).toEqual(loadConfig(json));
    // Not the original's file: said so.
    expect(() => convertCommand(write("ours.json", { scp: { port: 1 } }), () => {})).toThrow(
      /not the Rust original's application.json/,
    );
  });
});
