// Parsing the command line (src/cli/args.ts): serve's flags, the subcommands, their errors.

import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { parseArgs } from "../../src/cli/args.ts";
import { serve, usageError } from "../helpers/cli-args.ts";

describe("serve", () => {
  test("no arguments: serve with embedded defaults", () => {
    expect(parseArgs([])).toEqual(serve({}));
  });

  test("the documented flags", () => {
    expect(
      parseArgs([
        "--config",
        "site.yaml",
        "--port",
        "104",
        "--ae-title",
        "ARCHIVE",
        "--max-pdu-length",
        "16384",
        "--strict",
        "--uncompressed-only",
        "--promiscuous",
        "--sequential",
        "--verbose",
      ]),
    ).toEqual(
      serve(
        {
          port: 104,
          ae_title: "ARCHIVE",
          max_pdu_length: 16384,
          strict: true,
          uncompressed_only: true,
          promiscuous: true,
          mode: "sequential",
          verbose: true,
        },
        resolve("site.yaml"),
      ),
    );
  });

  test("Rust original's aliases", () => {
    expect(parseArgs(["-p", "11111", "-m", "16378", "-s", "-v", "--calling-ae-title", "STORE-SCP"])).toEqual(
      serve({ port: 11111, max_pdu_length: 16378, strict: true, verbose: true, ae_title: "STORE-SCP" }),
    );
    expect(parseArgs(["-sv", "-p11111"])).toEqual(serve({ port: 11111, strict: true, verbose: true }));
    expect(parseArgs(["--port=104", "--max-pdu-length=4096"])).toEqual(
      serve({ port: 104, max_pdu_length: 4096 }),
    );
    expect(parseArgs(["-o", "/srv/dicom"])).toEqual(serve({ storage_root: "/srv/dicom" }));
  });

  test("-n / --non-blocking [true|false]", () => {
    expect(parseArgs(["-n"])).toEqual(serve({ mode: "concurrent" }));
    expect(parseArgs(["--non-blocking"])).toEqual(serve({ mode: "concurrent" }));
    expect(parseArgs(["-n", "true"])).toEqual(serve({ mode: "concurrent" }));
    expect(parseArgs(["-n", "false"])).toEqual(serve({ mode: "sequential" }));
    expect(parseArgs(["--non-blocking=false"])).toEqual(serve({ mode: "sequential" }));
    expect(parseArgs(["-n", "-p", "5"])).toEqual(serve({ mode: "concurrent", port: 5 }));
    expect(parseArgs(["-c", "x.yaml", "-n", "FALSE"])).toEqual(
      serve({ mode: "sequential" }, resolve("x.yaml")),
    );
  });

  test("a bare port, as with DCMTK storescp", () => {
    expect(parseArgs(["11112"])).toEqual(serve({ port: 11112 }));
    expect(parseArgs(["-v", "104"])).toEqual(serve({ port: 104, verbose: true }));
  });

  test("range checks are left to loadConfig (same rule as the file)", () => {
    expect(parseArgs(["-p", "70000"])).toEqual(serve({ port: 70000 }));
    expect(parseArgs(["-m", "100"])).toEqual(serve({ max_pdu_length: 100 }));
  });

  test("bad usage", () => {
    const bad: string[][] = [
      ["--bogus"],
      ["-p"],
      ["-p", "abc"],
      ["--port", "-1"],
      ["-m", "16k"],
      ["foo"],
      ["11112", "-p", "104"],
      ["--ae-title", "A\\B"],
      ["--ae-title", "THIS_IS_TOO_LONG_"],
      ["--ae-title", "A", "--calling-ae-title", "B"],
      ["-n", "maybe"],
      ["--sequential", "-n", "true"],
      ["--strict=yes"],
      ["--config"],
      ["1", "2"],
    ];
    for (const argv of bad) {
      const e = usageError(argv);
      expect(e.message.length).toBeGreaterThan(0);
      expect(e.message).not.toContain("\n");
    }
    expect(usageError(["--bogus"]).message).toContain("--bogus");
    expect(usageError(["-p", "abc"]).message).toBe('--port: not a non-negative integer: "abc"');
    expect(usageError(["foo"]).message).toContain('unknown command "foo"');
  });
});

describe("subcommands", () => {
  test("init and config convert", () => {
    expect(parseArgs(["init"])).toEqual({ kind: "init", dir: "." });
    expect(parseArgs(["init", "site"])).toEqual({ kind: "init", dir: "site" });
    expect(parseArgs(["config", "convert", "application.dev.json"])).toEqual({
      kind: "config-convert",
      file: "application.dev.json",
    });
    expect(usageError(["config", "print", "x"]).message).toMatch(/unknown action "print"/);
    usageError(["config", "convert"]);
    usageError(["init", "a", "b"]);
  });

  test("echo", () => {
    expect(parseArgs(["echo", "pacs.local", "104"])).toEqual({
      kind: "echo",
      host: "pacs.local",
      port: 104,
      called: "STORESCP",
      calling: "ECHOSCU",
    });
    expect(parseArgs(["echo", "127.0.0.1", "11112", "--called", "PACS", "--calling", "ME"])).toEqual({
      kind: "echo",
      host: "127.0.0.1",
      port: 11112,
      called: "PACS",
      calling: "ME",
    });
    expect(parseArgs(["echo", "--calling", "ME", "::1", "11112"])).toMatchObject({
      host: "::1",
      calling: "ME",
    });
    for (const argv of [
      ["echo"],
      ["echo", "host"],
      ["echo", "host", "0"],
      ["echo", "host", "65536"],
      ["echo", "host", "x"],
      ["echo", "host", "104", "extra"],
      ["echo", "host", "104", "--called", "A\\B"],
      ["echo", "bad host", "104"],
    ]) {
      usageError(argv);
    }
  });

  test("outbox", () => {
    expect(parseArgs(["outbox", "status"])).toEqual({ kind: "outbox", action: "status" });
    expect(parseArgs(["outbox", "drain", "--config", "c.yaml"])).toEqual({
      kind: "outbox",
      action: "drain",
      configPath: resolve("c.yaml"),
    });
    expect(parseArgs(["outbox", "export", "/tmp/x", "-c", "c.yaml"])).toEqual({
      kind: "outbox",
      action: "export",
      dir: "/tmp/x",
      configPath: resolve("c.yaml"),
    });
    expect(parseArgs(["outbox", "import", "d"])).toEqual({
      kind: "outbox",
      action: "import",
      dir: resolve("d"),
    });
    for (const argv of [["outbox"], ["outbox", "purge"], ["outbox", "export"], ["outbox", "status", "d"]]) {
      usageError(argv);
    }
  });

  test("license", () => {
    expect(parseArgs(["license", "show"])).toEqual({ kind: "license", action: "show" });
    expect(parseArgs(["license", "verify", "--config", "c.yaml"])).toEqual({
      kind: "license",
      action: "verify",
      configPath: resolve("c.yaml"),
    });
    for (const argv of [["license"], ["license", "renew"], ["license", "show", "x"]]) usageError(argv);
  });

  test("transcode", () => {
    expect(parseArgs(["transcode", "in.dcm", "out.dcm"])).toEqual({
      kind: "transcode",
      input: resolve("in.dcm"),
      output: resolve("out.dcm"),
    });
    expect(parseArgs(["transcode", "a", "b", "--ts", "1.2.840.10008.1.2.4.50"])).toEqual({
      kind: "transcode",
      input: resolve("a"),
      output: resolve("b"),
      ts: "1.2.840.10008.1.2.4.50",
    });
    for (const argv of [
      ["transcode", "a"],
      ["transcode", "a", "b", "--ts", "1.2.x"],
      ["transcode", "a", "b", "c"],
    ]) {
      usageError(argv);
    }
  });

  test("hash-password", () => {
    expect(parseArgs(["hash-password"])).toEqual({ kind: "hash-password" });
    usageError(["hash-password", "secret"]);
  });
});
