// The --help and --version texts (src/cli/help.ts, src/cli/version.ts).

import { describe, expect, test } from "bun:test";
import pkg from "../../package.json" with { type: "json" };
import { parseArgs } from "../../src/cli/args.ts";
import { helpText } from "../../src/cli/help.ts";
import { VERSION, versionText } from "../../src/cli/version.ts";
import { usageError } from "../helpers/cli-args.ts";

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
