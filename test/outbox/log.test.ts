// The outbox log: framing, durability bookkeeping, torn tails, corrupt records, acks and segments.

import { afterEach, describe, expect, test } from "bun:test";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { encodeFrame, HEADER, parseFrames } from "../../src/outbox/frame.ts";
import { OutboxLockedError, OutboxLog } from "../../src/outbox/log.ts";

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "outbox-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const enc = new TextEncoder();
const dec = new TextDecoder();
const rec = (i: number) => enc.encode(JSON.stringify({ trace_id: `t${i}`, i, pad: "x".repeat(i % 50) }));

function open(dir: string, extra: Partial<Parameters<typeof OutboxLog.open>[0]> = {}) {
  return OutboxLog.open({ dir, maxBytes: 1 << 30, fsync: true, ...extra });
}

async function readAll(log: OutboxLog): Promise<string[]> {
  const out: string[] = [];
  let pos = log.head;
  for (;;) {
    const r = await log.read(1000, pos);
    pos = r.next;
    if (r.entries.length === 0) break;
    for (const e of r.entries) out.push(dec.decode(e.payload));
  }
  return out;
}

const segs = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n.endsWith(".seg"))
    .sort();

describe("frames", () => {
  test("any sequence of payloads round-trips; any cut leaves only whole frames and one bad tail", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
        fc.nat(),
        (payloads, cutSeed) => {
          const frames = payloads.map(encodeFrame);
          const all = Buffer.concat(frames);
          const parsed = parseFrames(all);
          expect(parsed.bad).toEqual([]);
          expect(parsed.frames.map((f) => Buffer.from(f.payload))).toEqual(
            payloads.map((p) => Buffer.from(p)),
          );
          const cut = all.length === 0 ? 0 : cutSeed % all.length;
          const p2 = parseFrames(all.subarray(0, cut));
          let whole = 0;
          let end = 0;
          for (const f of frames) {
            if (end + f.length > cut) break;
            end += f.length;
            whole += 1;
          }
          expect(p2.frames.length).toBe(whole);
          expect(p2.bad.length).toBe(cut > end ? 1 : 0);
        },
      ),
    );
  });

  test("a flipped bit costs exactly the frame it is in", () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 12 }), fc.nat(), fc.nat(7), (n, at, bit) => {
        const frames = Array.from({ length: n }, (_, i) => encodeFrame(rec(i)));
        const all = Buffer.concat(frames);
        const pos = at % all.length;
        all[pos] = (all[pos] ?? 0) ^ (1 << bit);
        const parsed = parseFrames(all);
        expect(parsed.frames.length).toBe(n - 1);
        expect(parsed.bad.length).toBe(1);
      }),
    );
  });
});

describe("OutboxLog", () => {
  test("appends survive reopening; ack removes; counts and bytes follow", async () => {
    const dir = tmp();
    let log = await open(dir);
    await Promise.all(Array.from({ length: 100 }, (_, i) => log.append(rec(i))));
    expect(log.records).toBe(100);
    const bytes = log.bytes;
    expect(bytes).toBe(statSync(join(dir, segs(dir)[0] ?? "")).size);
    await log.close();
    log = await open(dir);
    expect(log.records).toBe(100);
    const r = await log.read(40);
    expect(r.entries).toHaveLength(40);
    log.ack(r.next, 40);
    expect(log.records).toBe(60);
    await log.close();
    log = await open(dir);
    expect(log.records).toBe(60);
    const rest = await readAll(log);
    expect(rest.map((s) => (JSON.parse(s) as { i: number }).i)).toEqual(
      Array.from({ length: 60 }, (_, i) => i + 40),
    );
    await log.close();
  });

  test("segments roll and are deleted once acknowledged; the backlog reads across them in order", async () => {
    const dir = tmp();
    const log = await open(dir, { segmentBytes: 2000 });
    for (let i = 0; i < 200; i++) await log.append(rec(i));
    expect(segs(dir).length).toBeGreaterThan(5);
    const all = await readAll(log);
    expect(all).toHaveLength(200);
    let pos = log.head;
    let acked = 0;
    while (acked < 150) {
      const r = await log.read(30, pos);
      pos = r.next;
      acked += r.entries.length;
      log.ack(r.next, r.entries.length);
    }
    expect(log.records).toBe(50);
    const left = segs(dir).length;
    expect(left).toBeLessThan(6);
    const r = await log.read(1000);
    expect(r.entries).toHaveLength(50);
    log.ack(r.next, 50);
    expect(log.records).toBe(0);
    expect(log.bytes).toBe(0);
    expect(segs(dir).length).toBe(1);
    await log.close();
  });

  test("a torn tail is set aside and truncated; appends continue after the last good record", async () => {
    const dir = tmp();
    let log = await open(dir);
    for (let i = 0; i < 10; i++) await log.append(rec(i));
    await log.close();
    const seg = join(dir, segs(dir)[0] ?? "");
    const size = statSync(seg).size;
    truncateSync(seg, size - 5);
    log = await open(dir);
    expect(log.records).toBe(9);
    expect(readdirSync(join(dir, "corrupt"))).toHaveLength(1);
    await log.append(rec(99));
    const all = await readAll(log);
    expect(all.map((s) => (JSON.parse(s) as { i: number }).i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 99]);
    await log.close();
  });

  test("a bit-flipped record in a sealed segment is set aside, the rest delivered", async () => {
    const dir = tmp();
    let log = await open(dir, { segmentBytes: 1500 });
    for (let i = 0; i < 30; i++) await log.append(rec(i));
    await log.close();
    const first = join(dir, segs(dir)[0] ?? "");
    const bytes = readFileSync(first);
    bytes[HEADER + 20] = (bytes[HEADER + 20] ?? 0) ^ 0x10;
    writeFileSync(first, bytes);
    log = await open(dir, { segmentBytes: 1500 });
    expect(log.records).toBe(29);
    const all = await readAll(log);
    expect(all).toHaveLength(29);
    expect(all.some((s) => (JSON.parse(s) as { i: number }).i === 0)).toBe(false);
    const corrupt = readdirSync(join(dir, "corrupt"));
    expect(corrupt).toHaveLength(1);
    await log.close();
  });

  test("garbage instead of a segment costs only that segment", async () => {
    const dir = tmp();
    let log = await open(dir, { segmentBytes: 1500 });
    for (let i = 0; i < 30; i++) await log.append(rec(i));
    await log.close();
    const names = segs(dir);
    const second = join(dir, names[1] ?? "");
    const n = statSync(second).size;
    writeFileSync(second, Buffer.alloc(n, 0x5a));
    log = await open(dir, { segmentBytes: 1500 });
    const all = await readAll(log);
    expect(all.length).toBeGreaterThan(20);
    expect(all.length).toBeLessThan(30);
    expect(log.records).toBe(all.length);
    await log.close();
  });

  test("one owner at a time; a stale lock (dead pid) is taken over", async () => {
    const dir = tmp();
    const log = await open(dir);
    await expect(
      (async () => {
        writeFileSync(join(dir, "LOCK"), "1\n"); // pid 1 is alive
        await open(dir);
      })(),
    ).rejects.toBeInstanceOf(OutboxLockedError);
    await log.close();
    writeFileSync(join(dir, "LOCK"), "999999999\n");
    const again = await open(dir);
    await again.close();
    expect(existsSync(join(dir, "LOCK"))).toBe(false);
  });

  test("read-only opening (status) sees the backlog without touching anything", async () => {
    const dir = tmp();
    const log = await open(dir);
    for (let i = 0; i < 5; i++) await log.append(rec(i));
    const ro = await OutboxLog.open({ dir, maxBytes: 1, fsync: false, readOnly: true });
    expect(ro.records).toBe(5);
    expect(ro.full).toBe(true);
    expect(await ro.oldest()).toBe(null); // these test records have no created_time
    await ro.close();
    await log.close();
  });

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

  test("lastRecord: the newest record, published or not", async () => {
    const dir = tmp();
    const log = await open(dir);
    expect(await log.lastRecord()).toBeNull();
    for (let i = 0; i < 5; i++) await log.append(rec(i));
    const r = await log.read(10);
    log.ack(r.next, r.entries.length);
    expect(dec.decode((await log.lastRecord()) ?? new Uint8Array())).toBe(dec.decode(rec(4)));
    await log.close();
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
