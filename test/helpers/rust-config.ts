// The Rust original's application.json as its sites have it (the shape of its sample: databases, redis
// and OAuth2 beside the dicom_store_scp object, Kafka brokers as one comma-separated string), with
// values of our own.

import { DEFAULT_SUPPORTED_TRANSFER_SYNTAXES } from "../../src/config/defaults.ts";

/** The original sample's cornerstonejs list: ours without JPEG 2000. */
export const RUST_SAMPLE_SYNTAXES: string[] = DEFAULT_SUPPORTED_TRANSFER_SYNTAXES.filter(
  (ts) => !ts.startsWith("1.2.840.10008.1.2.4.9"),
);

/** The original's sample, as its users have it (values of our own). */
export function rustSample(
  over: { brokers?: string; store?: string; port?: number } = {},
): Record<string, unknown> {
  return {
    redis: { url: "redis://127.0.0.1:6379/" },
    main_database: {
      dbtype: "postgresql",
      host: "127.0.0.1",
      port: 5432,
      username: "u",
      password: "p",
      database: "d",
    },
    secondary_database: {
      dbtype: "DORIS",
      host: "127.0.0.1",
      port: 9030,
      username: "u",
      password: "p",
      database: "d",
    },
    server: { port: 9999, host: "0.0.0.0", allow_origin: ["*"] },
    local_storage: { type: "DISK", dicm_store_path: over.store ?? "./xdcm", json_store_path: "./json" },
    dicom_store_scp: {
      port: over.port ?? 11111,
      ae_title: "STORE-SCP",
      tenant_group: "0x1211",
      tenant_element: "0x1217",
      unsupported_ts_change_to: "1.2.840.10008.1.2.1",
      cornerstonejs_supported_transfer_syntax: RUST_SAMPLE_SYNTAXES,
    },
    message_queue: {
      consumer_group_id: "dicom-consumer-group",
      topic_main: "storage_queue",
      topic_dicom_receive: "log_queue",
      topic_dicom_state: "dicom_state_queue",
      topic_dicom_image: "dicom_image_queue",
      topic_webapi_access: "webapi_access_queue",
    },
    kafka: {
      brokers: over.brokers ?? "127.0.0.1:19092, 127.0.0.2:19092",
      queue_buffering_max_messages: 1000,
      queue_buffering_max_kbytes: 102400,
      batch_num_messages: 100,
      queue_buffering_max_ms: 100,
      linger_ms: 100,
      compression_codec: "snappy",
    },
    webworker: { interval_minute: 5, cpu_usage: 40, memory_usage: 70 },
    dicom_license_server: { client_id: "HZXS1000", license_key: "c417aa48" },
    wado_oauth2: { issuer_url: "http://localhost:8080/realms/x", audience: "X", jwks_url: "http://x" },
  };
}
