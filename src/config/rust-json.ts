// The Rust original's configuration file (WADO-StoreSCP's application.<env>.json) read as ours, so its
// sites start with the file they have. Only its dicom_store_scp object and the keys below mean
// something to a Storage SCP; the rest (databases, redis, web server, OAuth2, ...) belongs to the
// original's other services and is reported once as unused, never an error.
//
//   dicom_store_scp.port / .ae_title                  -> scp.port / scp.ae_title
//   dicom_store_scp.tenant_group + .tenant_element    -> tenant_tag "(gggg,eeee)"
//   dicom_store_scp.unsupported_ts_change_to          -> transcode.target
//   dicom_store_scp.cornerstonejs_supported_transfer_syntax -> transcode.supported_transfer_syntaxes
//   local_storage.dicm_store_path                     -> storage.root
//   kafka.brokers ("host:port,host:port")             -> kafka.brokers, and kafka.enabled: true
//   kafka.compression_codec                           -> kafka.compression (gzip, or none)
//   message_queue.topic_main                          -> kafka.topics.storage
//   message_queue.topic_dicom_receive (or .topic_log) -> kafka.topics.log
//   dicom_license_server.client_id / .license_key     -> license.client_id / license.license_key

type Tree = Record<string, unknown>;
type Path = readonly (string | number)[];

export interface Converted {
  /** Our config tree (only the keys the file sets), to merge over the defaults. */
  tree: Tree;
  /** Our dotted key -> the original's path, to point errors at the original's line. */
  origin: Map<string, Path>;
  /** The original's keys this product does not use. */
  unused: string[];
  /** How a value was adapted (e.g. a compression codec not built in), one line each. */
  notes: string[];
}

const isObject = (v: unknown): v is Tree => typeof v === "object" && v !== null && !Array.isArray(v);

/** A JSON document is the original's when it has a dicom_store_scp object. */
export function isRustConfig(data: unknown): boolean {
  return isObject(data) && isObject(data.dicom_store_scp);
}

/** "0x1211", "1211" -> "1211"; anything else unchanged (the schema then says what is wrong). */
function hex4(v: unknown): string {
  const s = String(v).trim();
  const m = /^(?:0x)?([0-9A-Fa-f]{4})$/.exec(s);
  return m ? (m[1] ?? s).toUpperCase() : s;
}

/** Keys the conversion reads, per section (everything else in those sections is unused). */
const USED: Record<string, readonly string[]> = {
  dicom_store_scp: [
    "port",
    "ae_title",
    "tenant_group",
    "tenant_element",
    "unsupported_ts_change_to",
    "cornerstonejs_supported_transfer_syntax",
  ],
  local_storage: ["dicm_store_path"],
  kafka: ["brokers", "compression_codec"],
  message_queue: ["topic_main", "topic_dicom_receive", "topic_log"],
  dicom_license_server: ["client_id", "license_key"],
};

export function fromRustConfig(data: Tree): Converted {
  const tree: Tree = {};
  const origin = new Map<string, Path>();
  const notes: string[] = [];
  const set = (ours: string, from: Path, value: unknown): void => {
    const keys = ours.split(".");
    let cur = tree;
    for (const k of keys.slice(0, -1)) {
      if (!isObject(cur[k])) cur[k] = {};
      cur = cur[k] as Tree;
    }
    cur[keys[keys.length - 1] ?? ""] = value;
    origin.set(ours, from);
  };
  const section = (name: string): Tree => (isObject(data[name]) ? data[name] : {});

  const scp = section("dicom_store_scp");
  if (scp.port !== undefined) set("scp.port", ["dicom_store_scp", "port"], scp.port);
  if (scp.ae_title !== undefined) set("scp.ae_title", ["dicom_store_scp", "ae_title"], scp.ae_title);
  if (scp.tenant_group !== undefined || scp.tenant_element !== undefined) {
    // One without the other gives a tag the schema refuses, pointing at the one that is there.
    const at = scp.tenant_group !== undefined ? "tenant_group" : "tenant_element";
    set("tenant_tag", ["dicom_store_scp", at], `(${hex4(scp.tenant_group)},${hex4(scp.tenant_element)})`);
  }
  if (scp.unsupported_ts_change_to !== undefined)
    set("transcode.target", ["dicom_store_scp", "unsupported_ts_change_to"], scp.unsupported_ts_change_to);
  if (scp.cornerstonejs_supported_transfer_syntax !== undefined) {
    set(
      "transcode.supported_transfer_syntaxes",
      ["dicom_store_scp", "cornerstonejs_supported_transfer_syntax"],
      scp.cornerstonejs_supported_transfer_syntax,
    );
  }

  const storage = section("local_storage");
  if (storage.dicm_store_path !== undefined)
    set("storage.root", ["local_storage", "dicm_store_path"], storage.dicm_store_path);

  const kafka = section("kafka");
  if (typeof kafka.brokers === "string") {
    const brokers = kafka.brokers
      .split(",")
      .map((b) => b.trim())
      .filter((b) => b !== "");
    set("kafka.brokers", ["kafka", "brokers"], brokers);
    // The original always published its records: so does its configuration here.
    set("kafka.enabled", ["kafka", "brokers"], true);
  } else if (kafka.brokers !== undefined) {
    set("kafka.brokers", ["kafka", "brokers"], kafka.brokers);
  }
  if (kafka.compression_codec !== undefined) {
    const codec = String(kafka.compression_codec).toLowerCase();
    const ours = codec === "none" ? "none" : "gzip";
    if (codec !== ours)
      notes.push(`kafka.compression_codec "${codec}": published as gzip (consumers read either)`);
    set("kafka.compression", ["kafka", "compression_codec"], ours);
  }

  const mq = section("message_queue");
  if (mq.topic_main !== undefined)
    set("kafka.topics.storage", ["message_queue", "topic_main"], mq.topic_main);
  const logTopic = mq.topic_dicom_receive !== undefined ? "topic_dicom_receive" : "topic_log";
  if (mq[logTopic] !== undefined) set("kafka.topics.log", ["message_queue", logTopic], mq[logTopic]);

  const license = section("dicom_license_server");
  if (license.client_id !== undefined)
    set("license.client_id", ["dicom_license_server", "client_id"], license.client_id);
  if (license.license_key !== undefined)
    set("license.license_key", ["dicom_license_server", "license_key"], license.license_key);

  const unused: string[] = [];
  for (const [name, value] of Object.entries(data)) {
    const used = USED[name];
    if (used === undefined) unused.push(name);
    else if (isObject(value))
      for (const k of Object.keys(value)) if (!used.includes(k)) unused.push(`${name}.${k}`);
  }
  if (mq.topic_dicom_receive !== undefined && mq.topic_log !== undefined)
    unused.push("message_queue.topic_log");
  return { tree, origin, unused, notes };
}
