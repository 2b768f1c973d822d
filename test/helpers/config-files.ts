// Config files for tests: each written to a directory of its own that goes after the test file, and
// the ConfigError that loading one throws, with its position checked.

import { afterAll, expect } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/config/error.ts";
import { loadConfig } from "../../src/config/load.ts";
import type { PartialOverrides } from "../../src/config/overrides.ts";

/** Call at the top of a test file. */
export function configFiles() {
  const dir = mkdtempSync(join(tmpdir(), "storescp-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  let n = 0;
  /** A config file holding `text`; its path. */
  function file(text: string): string {
    const p = join(dir, `c${n++}.yaml`);
    writeFileSync(p, text);
    return p;
  }

  /** The ConfigError that loading `text` (with `overrides`) throws. */
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

  /** The ConfigError of `text`, checked to be one line at LINE:COL with a reason matching `reason`. */
  function expectAt(text: string, line: number, col: number, reason: RegExp): ConfigError {
    const e = loadErr(text);
    expect(e.reason).toMatch(reason);
    expect([e.line, e.col]).toEqual([line, col]);
    expect(e.message).toBe(`${e.file}:${line}:${col}: ${e.reason}`);
    expect(e.message).not.toContain("\n");
    return e;
  }

  return { dir, file, loadErr, expectAt };
}
