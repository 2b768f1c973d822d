// The copier writes a file from ranges of the write-ahead log in its own thread (O_DIRECT where the file
// system takes it, else through the page cache, else on the event loop) and hashes what it wrote.

import { afterEach, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { LogCopier } from "../../../src/store/wal/copier.ts";
import { bytesFor } from "./helpers.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fake log of `size` bytes and a reader over it (the copier's event-loop fallback). */
function logFile(size: number): {
  dir: string;
  path: string;
  bytes: Uint8Array;
  read: (at: number, into: Uint8Array, n: number) => number;
} {
  const dir = mkdtempSync(join(tmpdir(), "copier-"));
  dirs.push(dir);
  const path = join(dir, "log");
  const bytes = bytesFor(7, size);
  writeFileSync(path, bytes);
  const fd = openSync(path, "r");
  return { dir, path, bytes, read: (at, into, n) => readSync(fd, into, 0, n, at) };
}

test("ranges of the log become the file, byte for byte, with their SHA-256: direct, buffered, inline", async () => {
  const log = logFile(3 << 20);
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ at: fc.nat((3 << 20) - 1), len: fc.integer({ min: 1, max: 700_000 }) }), {
        minLength: 1,
        maxLength: 6,
      }),
      fc.constantFrom("direct", "buffered", "inline"),
      async (parts, how) => {
        const ranges = parts.flatMap((p) => [p.at, Math.min(p.len, (3 << 20) - p.at)]);
        const expected = Buffer.concat(
          parts.map((_, i) =>
            Buffer.from(log.bytes.subarray(ranges[2 * i]!, ranges[2 * i]! + ranges[2 * i + 1]!)),
          ),
        );
        const copier = new LogCopier(log.path, log.read, how === "direct");
        if (how === "inline") (copier as unknown as { noThread: boolean }).noThread = true;
        const out = join(log.dir, `out-${how}`);
        writeFileSync(out, "");
        const copied = await copier.copy({ ranges, size: expected.length, path: out });
        const got = readFileSync(out);
        expect(got.length).toBe(expected.length);
        expect(Buffer.compare(got, expected)).toBe(0);
        expect(copied.sha256).toBe(createHash("sha256").update(expected).digest("hex"));
        await copier.close();
      },
    ),
    { numRuns: 12 },
  );
});

test("a temp file that is gone: ENOENT, which the store answers by writing the file again from the log", async () => {
  const log = logFile(1 << 20);
  const copier = new LogCopier(log.path, log.read);
  const err = await copier
    .copy({ ranges: [0, 1000], size: 1000, path: join(log.dir, "gone", "x.tmp") })
    .catch((e: Error) => e);
  expect((err as NodeJS.ErrnoException).code).toBe("ENOENT");
  // Another job after a failed one still works (the thread lives on).
  const out = join(log.dir, "after");
  closeSync(openSync(out, "w"));
  await copier.copy({ ranges: [0, 1000], size: 1000, path: out });
  expect(Buffer.compare(readFileSync(out), Buffer.from(log.bytes.subarray(0, 1000)))).toBe(0);
  await copier.close();
  await expect(copier.copy({ ranges: [0, 1], size: 1, path: out })).rejects.toThrow(/closed/);
});
