import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DEFAULTS, defaultConfig } from "../../src/config/defaults.ts";
import { ConfigError, loadConfig, type PartialOverrides } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";

const dir = mkdtempSync(join(tmpdir(), "storescp-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(text: string): string {
  const p = join(dir, `c${n++}.yaml`);
  writeFileSync(p, text);
  return p;
}

function loadErr(text: string, overrides?: PartialOverrides): ConfigError {
  const p = file(text);
  try {
    loadConfig(p, overrides);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

function expectAt(text: string, line: number, col: number, reason: RegExp): ConfigError {
  const e = loadErr(text);
  expect(e.reason).toMatch(reason);
  expect([e.line, e.col]).toEqual([line, col]);
  expect(e.message).toBe(`${e.file}:${line}:${col}: ${e.reason}`);
  expect(e.message).not.toContain("\n");
  return e;
}

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

describe("flags over file", () => {
  test("every override wins", () => {
    const p = file("scp:\n  port: 104\n  ae_title: FILEAE\n  mode: concurrent\nlogging: { level: error }\n");
    const c = loadConfig(p, {
      port: 4242,
      ae_title: "FLAGAE",
      max_pdu_length: 16384,
      strict: true,
      uncompressed_only: true,
      promiscuous: true,
      mode: "sequential",
      verbose: true,
    });
    expect(c.scp).toMatchObject({
      port: 4242,
      ae_title: "FLAGAE",
      max_pdu_length: 16384,
      strict: true,
      uncompressed_only: true,
      promiscuous: true,
      mode: "sequential",
    });
    expect(c.logging.level).toBe("debug");
  });

  test("--verbose does not lower trace", () => {
    expect(loadConfig(file("logging: { level: trace }\n"), { verbose: true }).logging.level).toBe("trace");
  });

  test("-o sets storage.root relative to the working directory, quarantine follows", () => {
    const c = loadConfig(file("storage: { root: fromfile }\n"), { storage_root: "cli-root" });
    expect(c.storage.root).toBe(resolve("cli-root"));
    expect(c.storage.quarantine).toBe(join(resolve("cli-root"), "_quarantine"));
  });

  test("bad flag values: ConfigError naming the flag, no position", () => {
    const cases: [PartialOverrides, RegExp][] = [
      [{ port: 70000 }, /^--port: must be an integer 0\.\.65535.*got 70000$/],
      [{ max_pdu_length: 100 }, /^--max-pdu-length: must be 0 \(unlimited\) or 4096\.\.131072/],
      [{ ae_title: "A\\B" }, /^--ae-title: must be an AE title/],
      [{ ae_title: "WAY_TOO_LONG_AE_TITLE" }, /^--ae-title: /],
    ];
    for (const [o, re] of cases) {
      try {
        loadConfig(undefined, o);
        throw new Error("expected a ConfigError");
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        const ce = e as ConfigError;
        expect(ce.message).toMatch(re);
        expect(ce.file).toBeUndefined();
        expect(ce.line).toBeUndefined();
      }
    }
  });

  test("flag errors are reported after file errors", () => {
    const e = loadErr("scp:\n  port: abc\n", { port: 70000 });
    expect([e.line, e.col]).toEqual([2, 9]);
  });
});

describe("errors carry FILE:LINE:COL", () => {
  test("unknown key points at the key, with a suggestion", () => {
    const e = expectAt("scp:\n  port: 104\n  max_pdu: 4096\n", 3, 3, /^scp\.max_pdu: unknown key/);
    expect(e.reason).toContain('did you mean "max_pdu_length"');
    expectAt("# header\nscpp:\n  port: 1\n", 2, 1, /^scpp: unknown key \(did you mean "scp"\?\)$/);
    expectAt(
      "tenants:\n  - id: a\n    ae_titles: [A]\n    colour: red\n",
      4,
      5,
      /^tenants\[0\]\.colour: unknown key$/,
    );
    expectAt(
      "scp:\n  tls: { cert: a, key: b, ca: c, verify: no }\n",
      2,
      34,
      /^scp\.tls\.verify: unknown key$/,
    );
  });

  test('port "abc"', () => {
    expectAt("scp:\n  port: abc\n", 2, 9, /^scp\.port: must be an integer 0\.\.65535.*, got "abc"$/);
    expectAt("scp:\n  port: 65536\n", 2, 9, /got 65536$/);
    expectAt("scp: { host: '::', port: 1.5 }\n", 1, 26, /^scp\.port: /);
  });

  test("max_pdu_length 100, and the standard's wider range is mentioned", () => {
    const e = expectAt(
      "scp:\n  max_pdu_length: 100\n",
      2,
      19,
      /^scp\.max_pdu_length: must be 0 \(unlimited\) or/,
    );
    expect(e.reason).toContain("standard allows");
    expect(loadConfig(file("scp: { max_pdu_length: 0 }\n")).scp.max_pdu_length).toBe(0);
    expect(loadConfig(file("scp: { max_pdu_length: 4096 }\n")).scp.max_pdu_length).toBe(4096);
  });

  test("bad CIDR", () => {
    expectAt(
      "tenants:\n  - id: a\n    ae_titles: [A]\n    allowed_networks: [10.0.0.0/8, 10.0.0.0/33]\n",
      4,
      36,
      /^tenants\[0\]\.allowed_networks\[1\]: must be an IPv4 or IPv6 CIDR.*got "10\.0\.0\.0\/33"$/,
    );
    expectAt(
      "tenants:\n  - id: a\n    ae_titles: [A]\n    allowed_networks:\n      - 'fd00::/129'\n",
      5,
      9,
      /CIDR/,
    );
  });

  test("bad enum values", () => {
    expectAt(
      "scp:\n  mode: parallel\n",
      2,
      9,
      /^scp\.mode: must be one of concurrent \| sequential, got "parallel"$/,
    );
    expectAt("storage:\n  on_duplicate: ignore\n", 2, 17, /overwrite \| keep \| reject/);
    expectAt("logging: { level: warn }\n", 1, 19, /^logging\.level: must be one of trace \| debug/);
    expectAt("logging:\n  format: xml\n", 2, 11, /text \| json/);
  });

  test("duplicate AE title across tenants points at the second occurrence", () => {
    const e = expectAt(
      [
        "tenants:",
        "  - id: hospital-a",
        "    ae_titles: [HOSPA_STORE]",
        "  - id: hospital-b",
        "    ae_titles: [HOSPB_STORE, HOSPA_STORE]",
      ].join("\n"),
      5,
      30,
      /^tenants\[1\]\.ae_titles\[1\]: AE title "HOSPA_STORE" is already used by tenant "hospital-a"$/,
    );
    expect(e.issues).toHaveLength(1);
  });

  test("duplicate tenant id", () => {
    expectAt(
      "tenants:\n  - { id: a, ae_titles: [A] }\n  - { id: a, ae_titles: [B] }\n",
      3,
      11,
      /duplicate tenant id "a"/,
    );
  });

  test("missing key points at the parent mapping", () => {
    expectAt("tenants:\n  - ae_titles: [A]\n", 2, 5, /^tenants\[0\]: missing required key "id"$/);
    expectAt(
      "kafka:\n  sasl:\n    mechanism: plain\n    password: x\n",
      3,
      5,
      /^kafka\.sasl: missing required key "username"$/,
    );
    expectAt(
      "scp:\n  tls: { cert: a.pem, key: k.pem }\n",
      2,
      8,
      /^scp\.tls\.ca: is required when require_client_cert/,
    );
  });

  test("other validations", () => {
    expectAt("scp:\n  ae_title: '    '\n", 2, 13, /AE title/);
    expectAt("scp:\n  ae_title: 1234\n", 2, 13, /\(quote it\)$/);
    expectAt("tenants:\n  - { id: 'a b', ae_titles: [A] }\n", 2, 11, /tenant id/);
    expectAt("tenant_tag: 1211,1217\n", 1, 13, /\(gggg,eeee\)/);
    expect(loadConfig(file('tenant_tag: "(1211,1217)"\n')).tenant_tag).toBe("(1211,1217)");
    expectAt("transcode:\n  target: 1.2.3\n", 2, 11, /must be one of transcode\.supported_transfer_syntaxes/);
    expectAt(
      "transcode:\n  supported_transfer_syntaxes: [1.2.840.10008.1.2.1, 1.02.3]\n",
      2,
      54,
      /must be a UID/,
    );
    expectAt("scp:\n  artim_timeout_s: 0\n", 2, 20, /seconds > 0/);
    expectAt("storage:\n  path: '{tenant}/{bogus}/{sop_uid}.dcm'\n", 2, 9, /unknown placeholder \{bogus\}/);
    expectAt("storage:\n  path: '{study_uid}.dcm'\n", 2, 9, /must contain \{sop_uid\}/);
    expectAt("storage:\n  path: '../{sop_uid}.dcm'\n", 2, 9, /segments/);
    expectAt("ops:\n  http_port: 11112\n", 2, 14, /must differ from scp\.port/);
    expectAt("kafka:\n  brokers: ['kafka:99999']\n", 2, 13, /HOST:PORT/);
    expectAt("kafka:\n  ssl: { cert: c.pem }\n", 2, 8, /cert and key go together/);
    expectAt(
      "kafka:\n  sasl: { mechanism: gssapi, username: u, password: p }\n",
      2,
      22,
      /plain \| scram-sha-256/,
    );
    expectAt(
      "scp:\n  tls: { cert: c, key: k, ca: a, min_version: TLSv1.1 }\n",
      2,
      47,
      /TLSv1\.2 \| TLSv1\.3/,
    );
    expectAt("scp: 5\n", 1, 6, /^scp: .*got 5$/);
    expectAt("- a\n- b\n", 1, 1, /top level must be a mapping/);
  });

  test("all issues are kept, sorted by position", () => {
    const e = loadErr("logging: { level: loud }\nscp:\n  port: abc\n  bogus: 1\n");
    expect(e.issues.map((i) => [i.line, i.col])).toEqual([
      [1, 19],
      [3, 9],
      [4, 3],
    ]);
    expect([e.line, e.col]).toEqual([1, 19]);
  });

  test("YAML syntax errors", () => {
    expectAt("scp:\n  port: [1, 2\n", 3, 1, /^YAML: /);
    expectAt("scp:\n  port: 1\n  port: 2\n", 3, 3, /^YAML: .*unique/i);
    // The yaml library reports a missing closing quote where it noticed: at the end of the input.
    expectAt('storage:\n  path: "unterminated\n', 3, 1, /^YAML: Missing closing "quote/);
  });

  test("missing file", () => {
    const p = join(dir, "nope.yaml");
    try {
      loadConfig(p);
      throw new Error("expected a ConfigError");
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).message).toBe(`${p}: no such file`);
    }
  });
});
