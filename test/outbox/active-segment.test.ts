// Appends at the end of the outbox log (src/outbox/active-segment.ts): group commit, and reservations:
// a record's space is had before its instance is committed.

import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeFrame } from "../../src/outbox/frame.ts";
import type { OutboxLog } from "../../src/outbox/log.ts";
import { dec, open, readAll, rec, segs } from "../helpers/outbox-log.ts";
import { tmpDirs } from "../helpers/tmp.ts";

const tmp = tmpDirs("outbox");

describe("appends", () => {
  test("group commit: concurrent appends share fdatasyncs", async () => {
    const dir = tmp();
    const log = await open(dir);
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 2000 }, (_, i) => log.append(rec(i))));
    const ms = performance.now() - t0;
    expect(log.records).toBe(2000);
    expect(ms).toBeLessThan(2000);
    await log.close();
  });
});

describe("reservations: a record's space is had before its instance is committed", () => {
  test("reserve allocates zeros; appends write into them; close and a crash leave no zero tail", async () => {
    const dir = tmp();
    const log = await open(dir);
    const r1 = log.reserve(5000);
    const r2 = log.reserve(5000);
    const seg = join(dir, segs(dir)[0] ?? "");
    expect(statSync(seg).size).toBeGreaterThanOrEqual(10_000);
    await log.append(rec(1), r1);
    r2.release();
    r2.release(); // harmless
    expect(await readAll(log)).toEqual([dec.decode(rec(1))]);
    await log.close();
    expect(statSync(seg).size).toBe(encodeFrame(rec(1)).length);

    // A crash with space reserved: the zeros are no record, and nothing is set aside as corrupt.
    const again = await open(dir);
    again.reserve(3000);
    await again.append(rec(2));
    const copy = readFileSync(seg);
    await again.close();
    writeFileSync(seg, copy);
    const reopened = await open(dir);
    expect(await readAll(reopened)).toEqual([rec(1), rec(2)].map((r) => dec.decode(r)));
    expect(existsSync(join(dir, "corrupt"))).toBe(false);
    expect(statSync(seg).size).toBe(encodeFrame(rec(1)).length + encodeFrame(rec(2)).length);
    await reopened.append(rec(3));
    expect((await readAll(reopened)).length).toBe(3);
    await reopened.close();
  });

  test("segments roll at a reservation, never under one", async () => {
    const dir = tmp();
    const log = await open(dir, { segmentBytes: 4096 });
    const held = log.reserve(3000);
    const second = log.reserve(3000); // past segmentBytes, but the first is still held: same segment
    expect(segs(dir)).toHaveLength(1);
    await log.append(rec(1), held);
    await log.append(rec(2), second);
    const third = log.reserve(4050); // nothing held, and it would cross segmentBytes: a new segment first
    expect(segs(dir)).toHaveLength(2);
    await log.append(rec(3), third);
    expect((await readAll(log)).length).toBe(3);
    await log.close();
    // The sealed segment carries no zero tail.
    const first = join(dir, segs(dir)[0] ?? "");
    expect(statSync(first).size).toBe(encodeFrame(rec(1)).length + encodeFrame(rec(2)).length);
  });

  // A file system that is really full: a small tmpfs (root only).
  const asRoot = process.getuid?.() === 0 && process.platform === "linux";
  test.skipIf(!asRoot)(
    "on a full disk a reserved record is still written; a new reservation fails",
    async () => {
      const mnt = tmp();
      const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt]);
      if (mount.exitCode !== 0) throw new Error(`mount: ${mount.stderr.toString()}`);
      let log: OutboxLog | undefined;
      try {
        log = await open(join(mnt, "outbox"));
        const held = log.reserve(8192);
        // Fill the file system.
        const fs = await import("node:fs");
        const fd = fs.openSync(join(mnt, "filler"), "w");
        let full = false;
        try {
          const block = new Uint8Array(4096);
          for (let i = 0; i < 1000 && !full; i++) {
            try {
              fs.writeSync(fd, block);
            } catch (err) {
              full = (err as NodeJS.ErrnoException).code === "ENOSPC";
            }
          }
        } finally {
          fs.closeSync(fd);
        }
        expect(full).toBe(true);
        const outbox = log;
        expect(() => outbox.reserve(1 << 20)).toThrow(/ENOSPC|no space/i);
        await log.append(rec(7), held);
        expect(await readAll(log)).toEqual([dec.decode(rec(7))]);
      } finally {
        await log?.close();
        Bun.spawnSync(["umount", mnt]);
      }
    },
  );
});
