// A record's SHA-256 is that of its reception's bytes or null with a warning (src/outbox/hashes.ts):
// from the descriptor held since the write, from the notes beside the segment, or from the path while
// the file's identity is unchanged; never from a file that replaced it.

import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { fstatSync, openSync, renameSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { createHasher } from "../../src/outbox/hasher.ts";
import { RecordHashes, WARN_NO_IDENTITY, WARN_REPLACED } from "../../src/outbox/hashes.ts";
import { fileIdentity, HeldFile } from "../../src/store/held-file.ts";
import { tmpDirs } from "../helpers/tmp.ts";

const tmp = tmpDirs("hashes");

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

/** Write `text` to `path` as storage does (temp, rename) and hold it. */
function store(dir: string, path: string, text: string): HeldFile {
  const tmpPath = join(dir, `.t-${Math.random()}`);
  const fd = openSync(tmpPath, "wx+");
  writeSync(fd, text);
  const held = new HeldFile(fd, fileIdentity(fstatSync(fd, { bigint: true })), Buffer.byteLength(text));
  renameSync(tmpPath, path);
  return held;
}

const record = (id: string, path: string, identity?: string): Record<string, unknown> => ({
  trace_id: id,
  file_path: path,
  sha256: null,
  ...(identity ? { _file_identity: identity } : {}),
});

describe("record hashes", () => {
  for (const inline of [false, true]) {
    test(`${inline ? "inline" : "worker"}: three receptions of one path, each replaced at once: each record gets its own bytes' hash`, async () => {
      const dir = tmp();
      const path = join(dir, "x.dcm");
      const hashes = new RecordHashes(dir, createHasher(inline));
      const texts = ["first reception", "second, longer reception", "third"];
      const recs = texts.map((t, i) => {
        const held = store(dir, path, t);
        const r = record(`t${i}`, path, held.identity);
        hashes.hashHeld(`t${i}`, 1, held, path);
        return r;
      });
      for (const r of recs) await hashes.resolve(r, 1);
      expect(recs.map((r) => r.sha256)).toEqual(texts.map(sha));
      expect(recs.every((r) => !("_file_identity" in r) && !("warnings" in r))).toBe(true);
      // Noted beside the segment: another process (an export) finds them.
      await hashes.settle();
      const other = new RecordHashes(dir, createHasher(inline));
      const again = record("t0", path, "whatever");
      await other.resolve(again, 1);
      expect(again.sha256).toBe(sha(texts[0] ?? ""));
      await other.close();
      await hashes.close();
    });
  }

  test("without a note: the file's hash while it is the one written, else null with a warning", async () => {
    const dir = tmp();
    const path = join(dir, "y.dcm");
    const hashes = new RecordHashes(dir, createHasher());
    const held = store(dir, path, "one");
    held.release();
    const first = record("a", path, held.identity);
    const copy = { ...first };
    await hashes.resolve(first, 1);
    expect(first.sha256).toBe(sha("one"));
    // Received again, same size: another inode.
    store(dir, path, "two").release();
    await hashes.resolve(copy, 1);
    expect(copy.sha256).toBe(null);
    expect(copy.warnings).toEqual([WARN_REPLACED]);
    const legacy = record("b", path);
    await hashes.resolve(legacy, 1);
    expect(legacy.sha256).toBe(null);
    expect(legacy.warnings).toEqual([WARN_NO_IDENTITY]);
    const gone = record("c", join(dir, "missing.dcm"), "1:2:3:4");
    await hashes.resolve(gone, 1);
    expect(gone.sha256).toBe(null);
    expect(String((gone.warnings as string[])[0])).toMatch(/could not be read \(ENOENT\)/);
    // A hash the record had from the start (a transcode) is kept.
    const known: Record<string, unknown> = {
      trace_id: "d",
      file_path: path,
      sha256: "ab",
      _file_identity: "x",
    };
    await hashes.resolve(known, 1);
    expect(known).toEqual({ trace_id: "d", file_path: path, sha256: "ab" });
    await hashes.close();
  });

  test("the identity is that of the inode as written: same size and name, another file, another identity", () => {
    const dir = tmp();
    const p = join(dir, "z");
    writeFileSync(p, "aaaa");
    const a = fileIdentity(statSync(p, { bigint: true }));
    writeFileSync(join(dir, "z2"), "bbbb");
    renameSync(join(dir, "z2"), p);
    expect(fileIdentity(statSync(p, { bigint: true }))).not.toBe(a);
  });
});
