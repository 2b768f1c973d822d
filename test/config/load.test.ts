// Loading the config (src/config/load.ts): the embedded defaults, a file over them, paths resolved.

import { describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { DEFAULTS, defaultConfig } from "../../src/config/defaults.ts";
import { loadConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { configFiles } from "../helpers/config-files.ts";

const { dir, file } = configFiles();

/** Defaults with relative paths resolved against `base`. */
function resolvedDefaults(base: string): Config {
  const c = defaultConfig();
  c.storage.root = resolve(base, "data");
  c.storage.quarantine = resolve(base, "data/_quarantine");
  c.outbox.dir = resolve(base, "outbox");
  c.license.certificate = resolve(base, "license.pem");
  return c;
}

describe("defaults", () => {
  test("embedded defaults are those config/site.yaml documents (tenants empty)", () => {
    expect(DEFAULTS).toEqual({
      scp: {
        ae_title: "STORESCP",
        host: "0.0.0.0",
        port: 11112,
        max_pdu_length: 131072,
        strict: false,
        uncompressed_only: false,
        promiscuous: false,
        mode: "concurrent",
        max_associations: 64,
        max_associations_per_address: 32, // hardening
        artim_timeout_s: 30,
        idle_timeout_s: 120,
        shutdown_grace_s: 10, // the stop bound
        tls: null,
      },
      storage: {
        root: "./data",
        path: "{tenant}/{study_date}/{study_uid}/{series_uid}/{sop_uid}.dcm",
        fsync: true,
        durability: process.platform === "win32" ? "file" : "wal", // the faster, where it can run
        wal_mb: 1024,
        on_duplicate: "overwrite",
        min_free_mb: 1024,
        quarantine: "./data/_quarantine",
        require: [],
      },
      tenants: [],
      tenant_tag: null,
      transcode: {
        supported_transfer_syntaxes: [
          "1.2.840.10008.1.2",
          "1.2.840.10008.1.2.1",
          "1.2.840.10008.1.2.2",
          "1.2.840.10008.1.2.1.99",
          "1.2.840.10008.1.2.5",
          "1.2.840.10008.1.2.4.50",
          "1.2.840.10008.1.2.4.51",
          "1.2.840.10008.1.2.4.57",
          "1.2.840.10008.1.2.4.70",
          "1.2.840.10008.1.2.4.80",
          "1.2.840.10008.1.2.4.81",
          "1.2.840.10008.1.2.4.90",
          "1.2.840.10008.1.2.4.91",
          "1.2.840.10008.1.2.4.92",
        ],
        target: "1.2.840.10008.1.2.1",
        workers: 0,
      },
      outbox: { dir: "./outbox", max_mb: 2048 },
      // addition: what one peer may cost
      limits: {
        max_sequence_depth: 64,
        max_inflated_mb: 2048,
        max_inflate_ratio: 200,
        association_buffer_mb: 4,
        min_rate_bytes_per_s: 1024,
        max_pending_connections: 128,
        max_associate_rq_kb: 256,
        password_checks: 2,
        password_queue: 32,
        auth_backoff_after_failures: 5,
        auth_backoff_max_s: 60,
      },
      kafka: {
        enabled: false,
        brokers: ["localhost:9092"],
        client_id: "storescp",
        compression: "gzip",
        topics: { storage: "storage_queue", log: "log_queue" },
        ssl: null,
        sasl: null,
      },
      license: { certificate: "./license.pem", client_id: "", license_key: "" },
      logging: { level: "info", format: "text", file: null },
      ops: { http_port: null },
    });
  });

  test("DEFAULTS is frozen, defaultConfig() is a fresh copy", () => {
    expect(Object.isFrozen(DEFAULTS.scp)).toBe(true);
    const a = defaultConfig();
    a.scp.port = 1;
    expect(defaultConfig().scp.port).toBe(11112);
  });

  test("no path: defaults, paths resolved against the working directory", () => {
    expect(loadConfig()).toEqual(resolvedDefaults(process.cwd()));
  });

  test("empty file and comment-only file: defaults, paths resolved against the file's directory", () => {
    expect(loadConfig(file(""))).toEqual(resolvedDefaults(dir));
    expect(loadConfig(file("# nothing\n\n"))).toEqual(resolvedDefaults(dir));
  });

  test("a section with no value keeps its defaults", () => {
    expect(loadConfig(file("scp:\nkafka:\n")).scp).toEqual(DEFAULTS.scp);
  });
});

describe("file over defaults", () => {
  test("values override, the rest stays default", () => {
    const c = loadConfig(
      file(
        "scp:\n  port: 104\n  ae_title: ARCHIVE\nlogging: { format: json }\nkafka:\n  topics: { log: audit }\n",
      ),
    );
    expect(c.scp.port).toBe(104);
    expect(c.scp.ae_title).toBe("ARCHIVE");
    expect(c.scp.host).toBe("0.0.0.0");
    expect(c.logging).toEqual({ level: "info", format: "json", file: null });
    expect(c.kafka.topics).toEqual({ storage: "storage_queue", log: "audit" });
  });

  test("lists replace the default", () => {
    const c = loadConfig(file("transcode:\n  supported_transfer_syntaxes: [1.2.840.10008.1.2.1]\n"));
    expect(c.transcode.supported_transfer_syntaxes).toEqual(["1.2.840.10008.1.2.1"]);
  });

  test("relative paths resolve against the config file's directory; absolute ones stay", () => {
    const c = loadConfig(
      file(
        [
          "storage: { root: store, quarantine: /q }",
          "outbox: { dir: ob }",
          "license: { certificate: lic/l.pem }",
          "scp:",
          "  tls: { cert: tls/c.pem, key: tls/k.pem, ca: tls/ca.pem }",
          "kafka:",
          "  ssl: { ca: k/ca.pem }",
          "tenants:",
          "  - { id: a, ae_titles: [A], storage: { root: ta } }",
        ].join("\n"),
      ),
    );
    expect(c.storage.root).toBe(join(dir, "store"));
    expect(c.storage.quarantine).toBe(resolve("/q"));
    expect(c.outbox.dir).toBe(join(dir, "ob"));
    expect(c.license.certificate).toBe(join(dir, "lic/l.pem"));
    expect(c.scp.tls).toEqual({
      cert: join(dir, "tls/c.pem"),
      key: join(dir, "tls/k.pem"),
      ca: join(dir, "tls/ca.pem"),
      require_client_cert: true,
      min_version: "TLSv1.2",
      port: null,
    });
    expect(c.kafka.ssl).toEqual({ ca: join(dir, "k/ca.pem"), cert: null, key: null });
    expect(c.tenants[0]?.storage?.root).toBe(join(dir, "ta"));
  });

  test("quarantine follows storage.root unless set", () => {
    expect(loadConfig(file("storage: { root: /srv/dicom }\n")).storage.quarantine).toBe(
      join(resolve("/srv/dicom"), "_quarantine"),
    );
    expect(loadConfig(file("storage: { root: /srv/dicom, quarantine: /srv/q }\n")).storage.quarantine).toBe(
      resolve("/srv/q"),
    );
  });

  test("tenants get their defaults; AE titles are trimmed", () => {
    const c = loadConfig(file("tenants:\n  - id: hospital-a\n    ae_titles: [' HOSPA ']\n"));
    expect(c.tenants).toEqual([
      {
        id: "hospital-a",
        ae_titles: ["HOSPA"],
        allowed_calling_aes: [],
        allowed_networks: [],
        users: [],
        tls_subjects: [],
        storage: null,
        topics: null,
      },
    ]);
  });

  test("IPv4 and IPv6 CIDRs and bare addresses are accepted", () => {
    const c = loadConfig(
      file(
        "tenants:\n  - id: a\n    ae_titles: [A]\n    allowed_networks: [10.0.0.0/8, 'fd00::/8', 192.168.1.7, '::1']\n",
      ),
    );
    expect(c.tenants[0]?.allowed_networks).toHaveLength(4);
  });
});
