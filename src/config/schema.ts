// The config file's schema (every key: config/site.yaml). Keys stay snake_case, as in the YAML, so that an error
// message, the file and the code all use the same name for the same thing.
//
// Every object is strict: an unknown key is an error (a typo must not silently fall back to a default).
// Messages are written to be read after "FILE:LINE:COL: <dotted.path>: "; load.ts appends ", got X".

import { isIP } from "node:net";
import { z } from "zod";
import { templateProblem } from "./path-template.ts";
import { REQUIRABLE } from "./requirable.ts";

// ---------------------------------------------------------------------------------------------------
// Field validators, exported so that the CLI and other modules validate the same way.

/** PS3.5 6.2 default character repertoire (ASCII 0x20..0x7E) minus backslash; 1..16 chars, not all spaces. */
export function isValidAeTitle(s: string): boolean {
  return s.length >= 1 && s.length <= 16 && /^[\x20-\x5B\x5D-\x7E]+$/.test(s) && s.trim().length > 0;
}

/** PS3.5 9.1: digits and dots, at most 64 chars, no empty component, no leading zero in a component. */
export function isValidUid(s: string): boolean {
  return s.length <= 64 && /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/.test(s);
}

/** An IPv4 or IPv6 CIDR (`10.0.0.0/8`, `fd00::/8`); a bare address means that one host. */
export function isValidCidr(s: string): boolean {
  const slash = s.indexOf("/");
  const addr = slash < 0 ? s : s.slice(0, slash);
  const family = isIP(addr);
  if (family === 0) return false;
  if (slash < 0) return true;
  const prefix = s.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

/** An IP address or an RFC 1123 host name. */
export function isValidHost(s: string): boolean {
  if (isIP(s) !== 0) return true;
  return (
    s.length <= 253 &&
    /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(s)
  );
}

// ---------------------------------------------------------------------------------------------------
// Building blocks

const intRange = (min: number, max: number, what = `an integer ${min}..${max}`) => {
  const error = `must be ${what}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
};

const port = intRange(0, 65535, "an integer 0..65535 (0 = any free port)");

const positiveSeconds = z
  .number({ error: "must be a number of seconds > 0" })
  .positive({ error: "must be a number of seconds > 0" })
  .refine(Number.isFinite, { error: "must be a number of seconds > 0" });

const nonEmpty = (what = "a non-empty string") =>
  z.string({ error: `must be ${what}` }).min(1, { error: `must be ${what}` });

/** A file system path; relative ones are resolved by load.ts (against the config file's directory). */
const filePath = nonEmpty("a non-empty path");

const aeTitle = z
  .string({ error: "must be an AE title (a string)" })
  .refine(isValidAeTitle, {
    error: "must be an AE title: 1..16 printable ASCII characters, no backslash, not all spaces",
  })
  // Leading and trailing spaces are not significant in an AE title (PS3.5 6.2).
  .transform((s) => s.trim());

const uid = z
  .string({ error: "must be a UID (a string)" })
  .refine(isValidUid, { error: "must be a UID: digits and dots, at most 64 characters, no empty component" });

const cidr = z
  .string({ error: "must be a CIDR (a string)" })
  .refine(isValidCidr, { error: "must be an IPv4 or IPv6 CIDR such as 10.0.0.0/8 or fd00::/8" });

const storagePath = z.string({ error: "must be a path template (a string)" }).superRefine((s, ctx) => {
  const problem = templateProblem(s);
  if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
});

const kafkaTopic = z
  .string({ error: "must be a Kafka topic name (a string)" })
  .regex(/^[A-Za-z0-9._-]{1,249}$/, { error: "must be a Kafka topic name: 1..249 of [A-Za-z0-9._-]" });

const broker = z.string({ error: "must be a broker address HOST:PORT (a string)" }).refine(
  (s) => {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):([0-9]{1,5})$/.exec(s);
    if (m === null) return false;
    const p = Number(m[3]);
    const host = m[1] ?? m[2] ?? "";
    return p >= 1 && p <= 65535 && (m[1] !== undefined ? isIP(host) === 6 : isValidHost(host));
  },
  { error: "must be a broker address HOST:PORT (IPv6 as [addr]:port)" },
);

const enumOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${values.join(" | ")}` });

// ---------------------------------------------------------------------------------------------------
// Sections

export const MAX_PDU_MIN = 4096;
export const MAX_PDU_MAX = 131072;

const maxPduLength = z
  .int({ error: `must be 0 (unlimited) or an integer ${MAX_PDU_MIN}..${MAX_PDU_MAX}` })
  .refine((n) => n === 0 || (n >= MAX_PDU_MIN && n <= MAX_PDU_MAX), {
    error:
      `must be 0 (unlimited) or ${MAX_PDU_MIN}..${MAX_PDU_MAX}` +
      " (this product's range; the standard allows up to 4294967295)",
  });

export const TlsSchema = z
  .strictObject({
    cert: filePath,
    key: filePath,
    ca: filePath.nullable().default(null),
    require_client_cert: z.boolean({ error: "must be true or false" }).default(true),
    min_version: enumOf(["TLSv1.2", "TLSv1.3"]).default("TLSv1.2"),
    /** null: scp.port itself speaks TLS; a port: TLS there, plain TCP stays on scp.port (side by side). */
    port: port.nullable().default(null),
  })
  .superRefine((t, ctx) => {
    if (t.require_client_cert && t.ca === null) {
      ctx.addIssue({
        code: "custom",
        path: ["ca"],
        message: "is required when require_client_cert is true (the CA that signs client certificates)",
      });
    }
  });

export const ScpSchema = z.strictObject({
  ae_title: aeTitle,
  host: z.string({ error: "must be an IP address or host name" }).refine(isValidHost, {
    error: "must be an IP address or host name",
  }),
  port,
  max_pdu_length: maxPduLength,
  strict: z.boolean({ error: "must be true or false" }),
  uncompressed_only: z.boolean({ error: "must be true or false" }),
  promiscuous: z.boolean({ error: "must be true or false" }),
  mode: enumOf(["concurrent", "sequential"]),
  max_associations: intRange(1, 100000, "an integer >= 1"),
  max_associations_per_address: intRange(0, 100000, "an integer >= 0 (0 = only max_associations)"),
  artim_timeout_s: positiveSeconds,
  idle_timeout_s: positiveSeconds,
  shutdown_grace_s: positiveSeconds.default(10),
  tls: TlsSchema.nullable(),
});

/**
 * The faster way, measured (docs/storage.md): the write-ahead log, except on Windows, where Bun cannot
 * open it write-through (each file is synced before its answer there).
 */
export const DEFAULT_DURABILITY: "file" | "wal" = process.platform === "win32" ? "file" : "wal";

export const StorageSchema = z.strictObject({
  root: filePath,
  path: storagePath,
  fsync: z.boolean({ error: "must be true or false" }),
  /** How an instance is made durable before its answer (docs/storage.md). */
  durability: enumOf(["file", "wal"]).default(DEFAULT_DURABILITY),
  /** Size of the write-ahead log (durability: wal), preallocated at <root>/.wal/log. */
  wal_mb: intRange(16, 65536, "an integer from 16 to 65536").default(1024),
  on_duplicate: enumOf(["overwrite", "keep", "reject"]),
  min_free_mb: intRange(0, Number.MAX_SAFE_INTEGER, "an integer >= 0"),
  quarantine: filePath,
  /** Type 2 attributes an instance must carry, else A900 and quarantine; by default only warnings. */
  require: z
    .array(enumOf(REQUIRABLE), { error: `must be a list of ${REQUIRABLE.join(", ")}` })
    .refine((l) => new Set(l).size === l.length, { error: "lists an attribute twice" })
    .default([]),
});

export const UserSchema = z.strictObject({
  username: nonEmpty(),
  /** null: the user name alone identifies (identity types 1 and 2, the passcode is not checked). */
  password_hash: nonEmpty("a hash from `storescp hash-password`, or null")
    .refine((s) => /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/.test(s), {
      error: "must be a hash from `storescp hash-password` (scrypt$N$r$p$salt$hash), or null",
    })
    .nullable(),
});

export const TenantSchema = z
  .strictObject({
    id: z
      .string({ error: "must be a tenant id: 1..64 of [A-Za-z0-9_-]" })
      .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: "must be a tenant id: 1..64 of [A-Za-z0-9_-]" }),
    ae_titles: z.array(aeTitle, { error: "must be a list of AE titles" }).min(1, {
      error: "must list at least one AE title",
    }),
    allowed_calling_aes: z.array(aeTitle, { error: "must be a list of AE titles" }).default([]),
    allowed_networks: z.array(cidr, { error: "must be a list of CIDRs" }).default([]),
    users: z.array(UserSchema, { error: "must be a list of { username, password_hash }" }).default([]),
    /** Client certificate subjects (CN) of which one is required, over TLS, to reach this tenant. */
    tls_subjects: z
      .array(nonEmpty("a certificate subject CN"), { error: "must be a list of subject CNs" })
      .default([]),
    storage: z
      .strictObject({
        root: filePath.optional(),
        path: storagePath.optional(),
        max_gb: z
          .number({ error: "must be a number > 0" })
          .positive({ error: "must be a number > 0" })
          .optional(),
      })
      .nullable()
      .default(null),
    topics: z
      .strictObject({ storage: kafkaTopic.optional(), log: kafkaTopic.optional() })
      .nullable()
      .default(null),
  })
  .superRefine((t, ctx) => {
    const seen = new Set<string>();
    t.users.forEach((u, i) => {
      if (seen.has(u.username)) {
        ctx.addIssue({
          code: "custom",
          path: ["users", i, "username"],
          message: `duplicate user "${u.username}"`,
        });
      }
      seen.add(u.username);
    });
  });

export const TranscodeSchema = z
  .strictObject({
    supported_transfer_syntaxes: z.array(uid, { error: "must be a list of transfer syntax UIDs" }).min(1, {
      error: "must list at least one transfer syntax",
    }),
    target: uid,
    workers: intRange(0, 4096, "an integer >= 0 (0 = number of cores)"),
  })
  .superRefine((t, ctx) => {
    if (!t.supported_transfer_syntaxes.includes(t.target)) {
      ctx.addIssue({
        code: "custom",
        path: ["target"],
        message: "must be one of transcode.supported_transfer_syntaxes",
      });
    }
  });

export const OutboxSchema = z.strictObject({
  dir: filePath,
  max_mb: intRange(1, Number.MAX_SAFE_INTEGER, "an integer >= 1"),
});

/**
 * What one peer may cost: bounds on a data set's work, an association's memory and pace, and the
 * connections and password checks before associations are established.
 */
export const LimitsSchema = z.strictObject({
  max_sequence_depth: intRange(1, 10_000, "an integer 1..10000"),
  max_inflated_mb: intRange(1, 1_000_000, "an integer >= 1 (MB)"),
  max_inflate_ratio: intRange(2, 1_000_000, "an integer >= 2"),
  association_buffer_mb: intRange(1, 4096, "an integer 1..4096 (MB)"),
  min_rate_bytes_per_s: intRange(0, 1_000_000_000, "an integer >= 0 (0 = any byte is progress)"),
  max_pending_connections: intRange(1, 1_000_000, "an integer >= 1"),
  max_associate_rq_kb: intRange(16, 1024, "an integer 16..1024 (KiB)"),
  password_checks: intRange(1, 1024, "an integer >= 1"),
  password_queue: intRange(0, 1_000_000, "an integer >= 0"),
  auth_backoff_after_failures: intRange(1, 1_000_000, "an integer >= 1"),
  auth_backoff_max_s: positiveSeconds,
});

export const KafkaSchema = z.strictObject({
  enabled: z.boolean({ error: "must be true or false" }),
  brokers: z.array(broker, { error: "must be a list of HOST:PORT" }).min(1, {
    error: "must list at least one broker",
  }),
  client_id: nonEmpty(),
  /** Of the record batches; consumers read either. Built in: gzip (the other codecs need plugins). */
  compression: enumOf(["gzip", "none"]).default("gzip"),
  topics: z.strictObject({ storage: kafkaTopic, log: kafkaTopic }),
  ssl: z
    .strictObject({
      ca: filePath.nullable().default(null),
      cert: filePath.nullable().default(null),
      key: filePath.nullable().default(null),
    })
    .superRefine((s, ctx) => {
      if ((s.cert === null) !== (s.key === null)) {
        ctx.addIssue({
          code: "custom",
          path: [s.cert === null ? "cert" : "key"],
          message: "cert and key go together (client certificate authentication)",
        });
      }
    })
    .nullable(),
  sasl: z
    .strictObject({
      mechanism: enumOf(["plain", "scram-sha-256", "scram-sha-512"]),
      username: nonEmpty(),
      password: z.string({ error: "must be a string" }),
    })
    .nullable(),
});

export const LicenseSchema = z.strictObject({
  certificate: filePath,
  client_id: z.string({ error: "must be a string (quote it)" }),
  license_key: z.string({ error: "must be a string (quote it)" }),
});

export const LOG_LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LogFileSchema = z.strictObject({
  path: filePath,
  max_mb: intRange(1, 1_000_000, "an integer >= 1 (MB)").default(10),
  keep: intRange(0, 1000, "an integer 0..1000 (rotated files kept)").default(5),
});

export const LoggingSchema = z.strictObject({
  level: enumOf(LOG_LEVELS),
  format: enumOf(["text", "json"]),
  file: LogFileSchema.nullable().default(null),
});

export const OpsSchema = z.strictObject({
  http_port: port.nullable(),
});

export const ConfigSchema = z
  .strictObject({
    scp: ScpSchema,
    storage: StorageSchema,
    tenants: z.array(TenantSchema, { error: "must be a list of tenants" }),
    tenant_tag: z
      .string({ error: 'must be a tag "(gggg,eeee)" or null' })
      .regex(/^\([0-9A-Fa-f]{4},[0-9A-Fa-f]{4}\)$/, { error: 'must be a tag "(gggg,eeee)" (hex) or null' })
      .nullable(),
    transcode: TranscodeSchema,
    outbox: OutboxSchema,
    limits: LimitsSchema,
    kafka: KafkaSchema,
    license: LicenseSchema,
    logging: LoggingSchema,
    ops: OpsSchema,
  })
  .superRefine((c, ctx) => {
    // Tenant ids and AE titles must be unique: the called AE title picks the tenant.
    const ids = new Map<string, number>();
    const aes = new Map<string, string>();
    c.tenants.forEach((t, i) => {
      const first = ids.get(t.id);
      if (first !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["tenants", i, "id"],
          message: `duplicate tenant id "${t.id}" (also tenants[${first}])`,
        });
      } else {
        ids.set(t.id, i);
      }
      t.ae_titles.forEach((ae, j) => {
        const owner = aes.get(ae);
        if (owner !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: ["tenants", i, "ae_titles", j],
            message:
              owner === t.id
                ? `AE title "${ae}" is listed twice`
                : `AE title "${ae}" is already used by tenant "${owner}"`,
          });
        } else {
          aes.set(ae, t.id);
        }
      });
    });
    const tlsPort = c.scp.tls?.port ?? null;
    if (tlsPort !== null && tlsPort !== 0 && tlsPort === c.scp.port) {
      ctx.addIssue({
        code: "custom",
        path: ["scp", "tls", "port"],
        message: "must differ from scp.port (or be null: scp.port itself speaks TLS)",
      });
    }
    if (c.ops.http_port !== null && c.ops.http_port !== 0 && c.ops.http_port === c.scp.port) {
      ctx.addIssue({ code: "custom", path: ["ops", "http_port"], message: "must differ from scp.port" });
    }
  });

export type Config = z.infer<typeof ConfigSchema>;
export type ScpConfig = Config["scp"];
export type TlsConfig = NonNullable<ScpConfig["tls"]>;
export type StorageConfig = Config["storage"];
export type TenantConfig = Config["tenants"][number];
export type TranscodeConfig = Config["transcode"];
export type OutboxConfig = Config["outbox"];
export type LimitsConfig = Config["limits"];
export type KafkaConfig = Config["kafka"];
export type LicenseConfig = Config["license"];
export type LoggingConfig = Config["logging"];
export type LogFileConfig = NonNullable<LoggingConfig["file"]>;
export type OpsConfig = Config["ops"];
