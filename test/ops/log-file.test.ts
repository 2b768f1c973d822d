// logging.file: the same lines as stdout, rotated by size, keeping `keep` old files.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RotatingFile } from "../../src/ops/log.ts";

const dir = mkdtempSync(join(tmpdir(), "storescp-logfile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const line = (i: number) => `${String(i).padStart(6, "0")} ${"x".repeat(1016)}\n`; // 1 KiB

describe("RotatingFile", () => {
  test("rotates before max_mb is passed and keeps `keep` files, newest first", () => {
    const path = join(dir, "sub", "storescp.log");
    const f = new RotatingFile({ path, max_mb: 1, keep: 2 });
    for (let i = 0; i < 3000; i++) f.write(line(i)); // ~2.9 MiB: three files' worth
    f.close();
    for (const p of [path, `${path}.1`, `${path}.2`])
      expect(statSync(p).size).toBeLessThanOrEqual(1024 * 1024);
    expect(existsSync(`${path}.3`)).toBe(false);
    const last = readFileSync(path, "utf8").trimEnd().split("\n").at(-1) ?? "";
    expect(last.startsWith("002999 ")).toBe(true);
    const prev = readFileSync(`${path}.1`, "utf8").trimEnd().split("\n");
    const cur = readFileSync(path, "utf8").split("\n");
    // No line lost between .1 and the current file.
    expect(Number((cur[0] ?? "").slice(0, 6))).toBe(Number((prev.at(-1) ?? "").slice(0, 6)) + 1);
  });

  test("appends to an existing file across restarts; keep 0 truncates", () => {
    const path = join(dir, "k0.log");
    const a = new RotatingFile({ path, max_mb: 1, keep: 0 });
    a.write(line(1));
    a.close();
    const b = new RotatingFile({ path, max_mb: 1, keep: 0 });
    b.write(line(2));
    expect(statSync(path).size).toBe(2048);
    for (let i = 0; i < 1100; i++) b.write(line(i));
    b.close();
    expect(existsSync(`${path}.1`)).toBe(false);
    expect(statSync(path).size).toBeLessThanOrEqual(1024 * 1024);
  });

  test("a path that cannot be written is reported, not thrown", () => {
    const f = new RotatingFile({ path: join(dir, "ok.log"), max_mb: 1, keep: 1 });
    rmSync(dir, { recursive: true, force: true });
    expect(() => f.write(line(1))).not.toThrow();
    f.close();
  });
});
