import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import {
  type CliCommand,
  helpText,
  parseArgs,
  UsageError,
  VERSION,
  versionText,
} from "../../src/cli/args.ts";

function usageError(argv: string[]): UsageError {
  try {
    parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
  throw new Error(`expected a UsageError for ${JSON.stringify(argv)}`);
}

const serve = (overrides: object, configPath?: string): CliCommand =>
  configPath === undefined ? { kind: "serve", overrides } : { kind: "serve", configPath, overrides };

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

  test("DCMTK storescp habits, with DCMTK's meaning", () => {
    expect(parseArgs(["-aet", "X", "-od", "/srv/in", "104"])).toEqual(
      serve({ ae_title: "X", storage_root: "/srv/in", port: 104 }),
    );
    // -od is never -o d, -pm never -p m.
    expect(parseArgs(["-od", "d"])).toEqual(serve({ storage_root: "d" }));
    expect(parseArgs(["-pm", "+xa", "-pdu", "16384", "--fork"])).toEqual(
      serve({ promiscuous: true, uncompressed_only: false, max_pdu_length: 16384, mode: "concurrent" }),
    );
    expect(parseArgs(["--aetitle", "Y", "--max-pdu", "4096", "--accept-all"])).toEqual(
      serve({ ae_title: "Y", max_pdu_length: 4096, uncompressed_only: false }),
    );
    expect(parseArgs(["--single-process", "-d", "+B", "+F", "11112"])).toEqual(
      serve({ mode: "sequential", verbose: true, port: 11112 }),
    );
    expect(parseArgs(["--host", "127.0.0.1"])).toEqual(serve({ host: "127.0.0.1" }));
  });

  test("other DCMTK options are refused by name, with a hint; unknown single-dash words are never split", () => {
    expect(usageError(["-xcr", "echo"]).message).toBe(
      "DCMTK's -xcr has no equivalent here; see --help (the hook is each instance's outbox record: Kafka or outbox export)",
    );
    expect(usageError(["+xs"]).message).toMatch(/^DCMTK's \+xs has no equivalent here; see --help/);
    expect(usageError(["--sort-on-study-uid", "st"]).message).toMatch(/storage\.path/);
    expect(usageError(["-ta", "10"]).message).toMatch(/scp\.artim_timeout_s/);
    expect(usageError(["+tls", "k", "c"]).message).toMatch(/scp\.tls/);
    expect(usageError(["--ignore"]).message).toBe("DCMTK's --ignore has no equivalent here; see --help");
    expect(usageError(["-odx"]).message).toBe("unknown option -odx (see storescp --help)");
    expect(usageError(["-ox"]).message).toBe("unknown option -ox (see storescp --help)");
    expect(usageError(["+xz"]).message).toBe("unknown option +xz (see storescp --help)");
    expect(usageError(["--uncompressed-only", "+xa"]).message).toMatch(/contradict/);
    expect(usageError(["--sequential", "--fork"]).message).toMatch(/contradict/);
    expect(usageError(["--host", "bad host"]).message).toMatch(/^--host: /);
    // The value of an option is a value, even when it looks like an option.
    expect(parseArgs(["-o", "-weird-dir"])).toEqual(serve({ storage_root: "-weird-dir" }));
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

describe("help and version", () => {
  test("--version comes from package.json", () => {
    expect(parseArgs(["--version"])).toEqual({ kind: "version" });
    expect(parseArgs(["-V"])).toEqual({ kind: "version" });
    expect(VERSION).toBe(pkg.version);
    expect(versionText()).toBe(`storescp ${pkg.version}`);
  });

  test("--help wins over everything else", () => {
    for (const argv of [["--help"], ["-h"], ["-p", "abc", "--help"], ["help"]]) {
      const c = parseArgs(argv);
      expect(c.kind).toBe("help");
    }
  });

  test("help lists every serve flag, grouped, defaults in brackets", () => {
    const c = parseArgs(["--help"]);
    if (c.kind !== "help") throw new Error("expected help");
    for (const flag of [
      "--config",
      "--port",
      "--ae-title",
      "--calling-ae-title",
      "--max-pdu-length",
      "--strict",
      "--uncompressed-only",
      "--promiscuous",
      "--sequential",
      "--non-blocking",
      "--verbose",
      "--output-directory",
      "--host",
      "-aet AET",
      "-od DIR",
      "+xa",
      "init [DIR]",
      "config convert FILE",
      "--help",
      "--version",
      "echo HOST PORT",
      "outbox status|drain|export DIR|import DIR",
      "license show|verify",
      "transcode IN OUT",
      "hash-password",
    ]) {
      expect(c.text).toContain(flag);
    }
    for (const group of [
      "general options:",
      "network options:",
      "negotiation options:",
      "storage options:",
    ]) {
      expect(c.text).toContain(group);
    }
    expect(c.text).toMatch(/--port N .*\[11112\]$/m);
    expect(c.text).toMatch(/--max-pdu-length N .*\[131072\]$/m);
    expect(c.text).toMatch(/--ae-title AET .*\[STORESCP\]$/m);
    for (const line of c.text.split("\n")) expect(line.length).toBeLessThanOrEqual(100);
  });

  test("per-command help", () => {
    expect(parseArgs(["echo", "--help"])).toEqual({ kind: "help", text: helpText("echo") });
    expect(parseArgs(["help", "outbox"])).toEqual({ kind: "help", text: helpText("outbox") });
    expect(helpText("echo")).toContain("--calling AET");
    usageError(["help", "nope"]);
  });
});
