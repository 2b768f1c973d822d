// Errors of a config file (src/config/issues.ts, src/config/yaml-positions.ts): each at its
// FILE:LINE:COL, all of them kept in order.

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ConfigError } from "../../src/config/error.ts";
import { loadConfig } from "../../src/config/load.ts";
import { configFiles } from "../helpers/config-files.ts";

const { dir, file, loadErr, expectAt } = configFiles();

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
