// The SHA-256 of a file that is still being written: in a worker reading the page cache, and inline.

import { afterAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHasher, sha256OfFile } from "../../src/outbox/hasher.ts";

const dir = mkdtempSync(join(tmpdir(), "hasher-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("hasher", () => {
  for (const inline of [false, true]) {
    test(`${inline ? "inline" : "worker"}: digest of a file written in pieces equals sha256 of its bytes`, async () => {
      const h = createHasher(inline);
      const files = Array.from({ length: 5 }, (_, i) => join(dir, `f${inline}${i}`));
      const expected: string[] = [];
      const running = files.map((f) => {
        writeFileSync(f, "");
        return h.start(f);
      });
      const hashes = files.map(() => createHash("sha256"));
      const sizes = files.map(() => 0);
      for (let round = 0; round < 20; round++) {
        for (const [i, f] of files.entries()) {
          const chunk = randomBytes(1000 + ((round * 7919 + i * 104729) % 200_000));
          appendFileSync(f, chunk);
          hashes[i]?.update(chunk);
          sizes[i] = (sizes[i] ?? 0) + chunk.length;
          running[i]?.progress(sizes[i] ?? 0);
        }
      }
      for (const x of hashes) expected.push(x.digest("hex"));
      const got = await Promise.all(running.map((r, i) => r.digest(sizes[i] ?? 0)));
      expect(got).toEqual(expected);
      expect(await sha256OfFile(files[0] ?? "")).toBe(expected[0] ?? "");
      await h.close();
    });
  }

  test("a file gone before hashing started: the digest rejects, nothing hangs", async () => {
    const h = createHasher();
    const f = join(dir, "gone");
    writeFileSync(f, "x");
    unlinkSync(f);
    const r = h.start(f);
    await expect(r.digest(1)).rejects.toThrow();
    const ok = join(dir, "ok");
    writeFileSync(ok, "abc");
    expect(await h.start(ok).digest(3)).toBe(createHash("sha256").update("abc").digest("hex"));
    await h.close();
  });
});
