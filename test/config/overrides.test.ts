// Flags over the file (src/config/overrides.ts): each wins, and a bad value is reported by its flag.

import { describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { ConfigError } from "../../src/config/error.ts";
import { loadConfig } from "../../src/config/load.ts";
import type { PartialOverrides } from "../../src/config/overrides.ts";
import { configFiles } from "../helpers/config-files.ts";

const { file, loadErr } = configFiles();

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
