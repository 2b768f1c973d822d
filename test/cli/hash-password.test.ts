// hash-password's stdin: plain blocking reads (a Windows pipe fails with process.stdin's stream), the
// line break dropped. The pipe and the console are also driven for real by the smoke test (test/smoke).

import { afterAll, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStdin } from "../../src/cli/hash-password.ts";
import { hashPassword, verifyPassword } from "../../src/tenancy/password-hash.ts";

const dir = mkdtempSync(join(tmpdir(), "hash-password-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function readFrom(text: string | Buffer): string {
  const p = join(dir, "in");
  writeFileSync(p, text);
  const fd = openSync(p, "r");
  try {
    return readStdin(fd);
  } finally {
    closeSync(fd);
  }
}

test("a file or pipe is read to its end, without the last line break (LF or CRLF)", () => {
  expect(readFrom("s3cret\n")).toBe("s3cret");
  expect(readFrom("s3cret\r\n")).toBe("s3cret");
  expect(readFrom("")).toBe("");
  const long = "p".repeat(200_000);
  expect(readFrom(`${long}\n`)).toBe(long);
  expect(verifyPassword("s3cret", hashPassword(readFrom("s3cret\r\n")))).toBe(true);
});
