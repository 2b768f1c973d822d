// The embedded defaults, as config/site.yaml documents them; `tenants` is empty, so every association
// belongs to tenant "default", whose AE title is scp.ae_title. `limits` says what one peer may cost.
//
// Paths here are relative, as an operator would write them; loadConfig() resolves them, against the
// config file's directory, or against the working directory when there is no file.

import { type Config, DEFAULT_DURABILITY } from "./schema.ts";

/** Name of the quarantine directory under storage.root when storage.quarantine is not set. */
export const QUARANTINE_DIRNAME = "_quarantine";

export const DEFAULT_SUPPORTED_TRANSFER_SYNTAXES: readonly string[] = [
  "1.2.840.10008.1.2", // Implicit VR Little Endian
  "1.2.840.10008.1.2.1", // Explicit VR Little Endian
  "1.2.840.10008.1.2.2", // Explicit VR Big Endian (retired)
  "1.2.840.10008.1.2.1.99", // Deflated Explicit VR Little Endian
  "1.2.840.10008.1.2.5", // RLE Lossless
  "1.2.840.10008.1.2.4.50", // JPEG Baseline (Process 1)
  "1.2.840.10008.1.2.4.51", // JPEG Extended (Process 2 & 4)
  "1.2.840.10008.1.2.4.57", // JPEG Lossless, Non-Hierarchical (Process 14)
  "1.2.840.10008.1.2.4.70", // JPEG Lossless, SV1
  "1.2.840.10008.1.2.4.80", // JPEG-LS Lossless
  "1.2.840.10008.1.2.4.81", // JPEG-LS Near-Lossless
  "1.2.840.10008.1.2.4.90", // JPEG 2000 Lossless Only
  "1.2.840.10008.1.2.4.91", // JPEG 2000
  "1.2.840.10008.1.2.4.92", // JPEG 2000 Part 2 Multi-component Lossless Only
];

/** A fresh copy of the embedded defaults (callers may mutate it). */
export function defaultConfig(): Config {
  return {
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
      max_associations_per_address: 32,
      artim_timeout_s: 30,
      idle_timeout_s: 120,
      shutdown_grace_s: 10,
      tls: null,
    },
    storage: {
      root: "./data",
      path: "{tenant}/{study_date}/{study_uid}/{series_uid}/{sop_uid}.dcm",
      fsync: true,
      durability: DEFAULT_DURABILITY,
      wal_mb: 1024,
      on_duplicate: "overwrite",
      min_free_mb: 1024,
      quarantine: "./data/_quarantine",
      require: [],
    },
    tenants: [],
    tenant_tag: null,
    transcode: {
      supported_transfer_syntaxes: [...DEFAULT_SUPPORTED_TRANSFER_SYNTAXES],
      target: "1.2.840.10008.1.2.1",
      workers: 0,
    },
    outbox: { dir: "./outbox", max_mb: 2048 },
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
  };
}

/** The embedded defaults, frozen. Use defaultConfig() for a mutable copy. */
export const DEFAULTS: Readonly<Config> = deepFreeze(defaultConfig());

function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
