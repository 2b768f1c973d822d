// The durable-write rules per platform. A fake file system that refuses what each platform refuses
// (Windows: flushing a handle without write access, opening a directory) checks the rules of both on
// Linux; the real file system checks the Linux ones end to end. The Windows branch also runs for real in
// the Windows smoke test (test/smoke).

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { durableFor, type FsCalls, NODE_FS } from "../../src/util/durable.ts";

const work = mkdtempSync(join(tmpdir(), "durable-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: fake`), { code });
}

/**
 * A file system of names only, as strict as `platform`: on Windows a flush through a handle opened
 * without write access fails with EPERM (FlushFileBuffers) and a directory cannot be opened.
 */
function fakeFs(platform: "win32" | "linux", renameFailures: string[] = []) {
  const dirs = new Set(["/d", "/q"]);
  const files = new Map<string, string>();
  const open = new Map<number, { path: string; flags: string }>();
  const calls: string[] = [];
  let nextFd = 10;
  const handle = (fd: number) => {
    const h = open.get(fd);
    if (!h) throw errno("EBADF");
    return h;
  };
  const flush = (kind: string, fd: number): void => {
    const h = handle(fd);
    if (platform === "win32" && !/[wa+]/.test(h.flags)) throw errno("EPERM");
    calls.push(`${kind} ${h.path}`);
  };
  const fs: FsCalls = {
    openSync(path, flags) {
      if (dirs.has(path) && platform === "win32") throw errno("EPERM");
      if (!dirs.has(path) && !files.has(path) && !/[wa]/.test(flags)) throw errno("ENOENT");
      if (flags.includes("x") && files.has(path)) throw errno("EEXIST");
      if (/w/.test(flags)) files.set(path, "");
      else if (!files.has(path) && !dirs.has(path)) files.set(path, "");
      calls.push(`open ${path} ${flags}`);
      open.set(nextFd, { path, flags });
      return nextFd++;
    },
    closeSync(fd) {
      handle(fd);
      open.delete(fd);
      calls.push(`close ${fd}`);
    },
    writeSync(fd, data, offset, length) {
      const h = handle(fd);
      files.set(h.path, (files.get(h.path) ?? "") + Buffer.from(data.subarray(offset, offset + length)));
      return length;
    },
    fsyncSync: (fd) => flush("fsync", fd),
    fdatasyncSync: (fd) => flush("fdatasync", fd),
    renameSync(from, to) {
      const failure = renameFailures.shift();
      if (failure) throw errno(failure);
      const body = files.get(from);
      if (body === undefined) throw errno("ENOENT");
      files.delete(from);
      files.set(to, body);
      calls.push(`rename ${from} ${to}`);
    },
    open: async (path, flags, mode) => fs.openSync(path, flags, mode),
    close: async (fd) => fs.closeSync(fd),
    write: async (fd, data, offset, length, position) => fs.writeSync(fd, data, offset, length, position),
    fsync: async (fd) => flush("fsync", fd),
    fdatasync: async (fd) => flush("fdatasync", fd),
  };
  return { fs, files, calls, pauses: [] as number[] };
}

function rules(platform: "win32" | "linux", renameFailures: string[] = []) {
  const f = fakeFs(platform, renameFailures);
  const d = durableFor(platform, f.fs, { sleep: (ms) => f.pauses.push(ms) });
  return { ...f, d };
}

describe("Windows rules", () => {
  test("a file is flushed through a writable handle, never a read-only one", async () => {
    const { d, files, calls } = rules("win32");
    files.set("/d/a", "x");
    await d.syncFile("/d/a");
    d.syncFileSync("/d/a");
    expect(calls.filter((c) => c.startsWith("open"))).toEqual(["open /d/a r+", "open /d/a r+"]);
    expect(calls.filter((c) => c.startsWith("fdatasync"))).toEqual(["fdatasync /d/a", "fdatasync /d/a"]);
  });

  test("the same rules that write and sync through one writable descriptor pass", async () => {
    const { d, files, calls } = rules("win32");
    d.writeFileSync("/d/m", "manifest", true);
    await d.writeFile("/q/r.json", "reason", true, "wx");
    d.appendSync("/d/ids", "a\n", true);
    d.appendSync("/d/ids", "b\n", true);
    d.replaceFileSync("/d/manifest.json", "{}", true, "/d");
    expect(files.get("/d/m")).toBe("manifest");
    expect(files.get("/q/r.json")).toBe("reason");
    expect(files.get("/d/ids")).toBe("a\nb\n");
    expect(files.get("/d/manifest.json")).toBe("{}");
    expect(files.has("/d/manifest.json.tmp")).toBe(false);
    expect(calls.filter((c) => c.startsWith("fdatasync"))).toHaveLength(5);
  });

  test("directories are never opened or synced: NTFS journals names itself", async () => {
    const { d, calls } = rules("win32");
    expect(d.syncsDirectories).toBe(false);
    await d.syncDir("/d");
    d.syncDirSync("/d");
    const dirs = d.directories();
    await Promise.all([dirs.sync("/d"), dirs.sync("/d"), dirs.sync("/q")]);
    dirs.close();
    expect(calls).toEqual([]);
  });

  test("a replace refused while another process holds the target is retried, then the error stands", () => {
    const retried = rules("win32", ["EPERM", "EACCES", "EBUSY"]);
    retried.files.set("/d/t", "new");
    retried.files.set("/d/f", "old");
    retried.d.replace("/d/t", "/d/f");
    expect(retried.files.get("/d/f")).toBe("new");
    expect(retried.pauses).toEqual([5, 10, 20]);

    const held = rules("win32", Array(20).fill("EPERM"));
    held.files.set("/d/t", "new");
    expect(() => held.d.replace("/d/t", "/d/f")).toThrow(/EPERM/);
    expect(held.pauses.reduce((a, b) => a + b, 0)).toBeGreaterThan(1000);

    const missing = rules("win32", ["ENOENT"]);
    expect(() => missing.d.replace("/d/none", "/d/f")).toThrow(/ENOENT/);
    expect(missing.pauses).toEqual([]);
  });

  test("no sync_file_range writeback", () => {
    expect(durableFor("win32").writeback()).toBeNull();
  });
});

describe("Linux rules", () => {
  test("file data with fdatasync through a read-only handle is allowed; directories with fsync", async () => {
    const { d, files, calls } = rules("linux");
    files.set("/d/a", "x");
    await d.syncFile("/d/a");
    await d.syncDir("/d");
    d.syncDirSync("/q");
    expect(d.syncsDirectories).toBe(true);
    expect(calls.filter((c) => !c.startsWith("close"))).toEqual([
      "open /d/a r",
      "fdatasync /d/a",
      "open /d r",
      "fsync /d",
      "open /q r",
      "fsync /q",
    ]);
  });

  test("a refused replace fails at once (rename(2) is atomic or fails for good)", () => {
    const { d, files, pauses } = rules("linux", ["EPERM"]);
    files.set("/d/t", "new");
    expect(() => d.replace("/d/t", "/d/f")).toThrow(/EPERM/);
    expect(pauses).toEqual([]);
  });

  test("directory syncs: one cached descriptor, and concurrent renames share a round", async () => {
    const { d, calls } = rules("linux");
    const dirs = d.directories(2);
    await Promise.all(Array.from({ length: 10 }, () => dirs.sync("/d")));
    await dirs.sync("/d");
    const opens = calls.filter((c) => c === "open /d r");
    const syncs = calls.filter((c) => c === "fsync /d");
    expect(opens).toHaveLength(1);
    // The first call starts a round; the nine made while it runs share the next one.
    expect(syncs).toHaveLength(3);
    dirs.forget("/d");
    expect(calls.at(-1)).toMatch(/^close /);
    dirs.close();
  });

  test("least recently used directory descriptors are closed beyond the cache size", async () => {
    const { d, calls } = rules("linux");
    const dirs = d.directories(1);
    await dirs.sync("/d");
    await dirs.sync("/q");
    expect(calls.filter((c) => c.startsWith("close"))).toHaveLength(1);
    dirs.close();
    expect(calls.filter((c) => c.startsWith("close"))).toHaveLength(2);
  });

  test("on the real file system", async () => {
    const d = durableFor("linux");
    const dir = join(work, "real");
    mkdirSync(dir);
    d.replaceFileSync(join(dir, "m.json"), "one", true, dir);
    d.replaceFileSync(join(dir, "m.json"), "two", true, dir);
    expect(readFileSync(join(dir, "m.json"), "utf8")).toBe("two");
    expect(existsSync(join(dir, "m.json.tmp"))).toBe(false);
    d.appendSync(join(dir, "ids"), "a\n", true);
    d.appendSync(join(dir, "ids"), "b\n", true);
    expect(readFileSync(join(dir, "ids"), "utf8")).toBe("a\nb\n");
    await d.writeFile(join(dir, "r"), "reason", true, "wx");
    await expect(d.writeFile(join(dir, "r"), "again", true, "wx")).rejects.toThrow(/EEXIST/);
    writeFileSync(join(dir, "ro"), "x", { mode: 0o444 });
    await d.syncFile(join(dir, "ro"));
    const dirs = d.directories();
    await Promise.all([dirs.sync(dir), dirs.sync(dir)]);
    dirs.close();
    expect(d.writeback() === null || typeof d.writeback() === "function").toBe(true);
    // Injected calls never start the writeback thread.
    expect(durableFor("linux", { ...NODE_FS }).writeback()).toBeNull();
  });
});
