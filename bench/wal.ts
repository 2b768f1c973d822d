// What the write-ahead log (src/store/wal/) saves on the answer's path, against today's file order.
//
// Each instance is written as 64 KiB chunks, one per turn of the event loop (as a socket delivers them),
// then made durable; the clock runs from the last byte to durability. Scenarios:
//   file             today: StreamingFile (writes with writeback) -> fdatasync -> rename -> directory sync
//   wal:dsync        the log alone, O_DSYNC writes issued as data arrives
//   wal:fdatasync    the log alone, buffered writes with writeback, one group fdatasync per commit round
//   wal:X+file       the log, and the file written beside it (not synced), synced and renamed behind the
//                    answer, then released: the disk does both jobs, as it will in the server
// each with one serial sender, and with two interleaved senders (x2).
//
// usage: npx bun bench/wal.ts [--instances N] [--size BYTES] [--only NAME,...]

import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { StreamingFile } from "../src/store/streaming-file.ts";
import { type FlushMode, WriteAheadLog } from "../src/store/wal/log.ts";
import { durable } from "../src/util/durable.ts";
import { WORK } from "./lib/paths.ts";

const CHUNK = 64 * 1024;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const INSTANCES = Number(arg("instances", "1000"));
const SIZE = Number(arg("size", String(512 * 1024)));
const ONLY = arg("only", "").split(",").filter(Boolean);
const ROOT = join(WORK, "wal-bench");

const payload = new Uint8Array(SIZE);
crypto.getRandomValues(payload.subarray(0, 65536));
for (let i = 65536; i < SIZE; i++) payload[i] = payload[i % 65536]! ^ (i >>> 16);

const turn = () => new Promise<void>((r) => setImmediate(r));

interface Result {
  name: string;
  latencies: number[];
  totalMs: number;
}

/** What one sender does per instance: write its chunks (one per turn), then wait for durability. */
interface Sink {
  write(chunk: Uint8Array): void;
  /** Resolves when the instance is durable (the answer could go). */
  durable(): Promise<void>;
}

type SinkFactory = (n: number) => Sink;

async function sender(make: SinkFactory, first: number, count: number, stride: number, out: number[]) {
  for (let k = 0; k < count; k++) {
    const sink = make(first + k * stride);
    for (let at = 0; at < SIZE; at += CHUNK) {
      sink.write(payload.subarray(at, Math.min(SIZE, at + CHUNK)));
      await turn();
    }
    const t0 = performance.now();
    await sink.durable();
    out.push(performance.now() - t0);
  }
}

async function measure(name: string, senders: number, make: SinkFactory, after?: () => Promise<void>) {
  const latencies: number[] = [];
  const started = performance.now();
  const per = Math.floor(INSTANCES / senders);
  await Promise.all(Array.from({ length: senders }, (_, s) => sender(make, s, per, senders, latencies)));
  await after?.();
  return { name, latencies, totalMs: performance.now() - started };
}

function fileSinks(dir: string): SinkFactory {
  const dirs = durable.directories();
  return (n) => {
    const tmp = join(dir, `.tmp-${n}`);
    const file = StreamingFile.create(tmp, true);
    return {
      write: (c) => file.write(c),
      durable: async () => {
        await file.complete(true);
        durable.replace(tmp, join(dir, `${n}.dcm`));
        await dirs.sync(dir);
      },
    };
  };
}

function walSinks(log: WriteAheadLog, dir: string | null, behind: Promise<void>[]): SinkFactory {
  const dirs = durable.directories();
  const header = new TextEncoder().encode(JSON.stringify({ path: "x/y/z.dcm", pad: "p".repeat(300) }));
  return (n) => {
    const entry = log.begin();
    const tmp = dir ? join(dir, `.tmp-${n}`) : "";
    const file = dir ? StreamingFile.create(tmp, false) : null;
    return {
      write: (c) => {
        entry.write(c);
        file?.write(c);
      },
      durable: async () => {
        if (!entry.logged) throw new Error("entry abandoned: the log is too small or the disk too slow");
        await entry.commit(header);
        if (!file || !dir) {
          entry.release();
          return;
        }
        // Behind the answer: the file made durable the old way, then its log space let go.
        behind.push(
          (async () => {
            await file.complete(true);
            durable.replace(tmp, join(dir, `${n}.dcm`));
            await dirs.sync(dir);
            entry.release();
          })(),
        );
      },
    };
  };
}

async function runWal(name: string, flush: FlushMode, withFile: boolean, senders: number): Promise<Result> {
  const dir = join(ROOT, name.replace(/[^a-z0-9]+/gi, "-"));
  mkdirSync(dir, { recursive: true });
  const opened = performance.now();
  const log = WriteAheadLog.open({ dir: join(dir, ".wal"), capacityBytes: 256 * 1024 * 1024, flush });
  const openMs = performance.now() - opened;
  const behind: Promise<void>[] = [];
  const r = await measure(name, senders, walSinks(log, withFile ? dir : null, behind), async () => {
    await Promise.all(behind);
  });
  await log.close();
  if (openMs > 50) console.error(`  (${name}: the 256 MiB log was made in ${openMs.toFixed(0)} ms)`);
  rmSync(dir, { recursive: true, force: true });
  return r;
}

async function runFile(name: string, senders: number): Promise<Result> {
  const dir = join(ROOT, name.replace(/[^a-z0-9]+/gi, "-"));
  mkdirSync(dir, { recursive: true });
  const r = await measure(name, senders, fileSinks(dir));
  rmSync(dir, { recursive: true, force: true });
  return r;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

function row(r: Result): string {
  const s = [...r.latencies].sort((a, b) => a - b);
  const mb = (r.latencies.length * SIZE) / (1024 * 1024);
  return [
    r.name.padEnd(22),
    pct(s, 0.5).toFixed(3).padStart(9),
    pct(s, 0.9).toFixed(3).padStart(9),
    pct(s, 0.99).toFixed(3).padStart(9),
    r.totalMs.toFixed(0).padStart(9),
    (mb / (r.totalMs / 1000)).toFixed(0).padStart(7),
  ].join(" ");
}

const scenarios: Array<[string, () => Promise<Result>]> = [];
for (const senders of [1, 2]) {
  const x = senders === 1 ? "" : " x2";
  scenarios.push([`file${x}`, () => runFile(`file${x}`, senders)]);
  for (const flush of ["dsync", "fdatasync"] as const) {
    scenarios.push([`wal:${flush}${x}`, () => runWal(`wal:${flush}${x}`, flush, false, senders)]);
    scenarios.push([`wal:${flush}+file${x}`, () => runWal(`wal:${flush}+file${x}`, flush, true, senders)]);
  }
}

console.log(`${INSTANCES} instances of ${SIZE} bytes, ${CHUNK / 1024} KiB chunks one per turn, in ${ROOT}`);
console.log(
  `${"scenario".padEnd(22)} ${"p50 ms".padStart(9)} ${"p90 ms".padStart(9)} ${"p99 ms".padStart(9)} ${"total ms".padStart(9)} ${"MB/s".padStart(7)}`,
);
for (const [name, run] of scenarios) {
  if (ONLY.length > 0 && !ONLY.some((o) => name.startsWith(o))) continue;
  console.log(row(await run()));
}
rmSync(ROOT, { recursive: true, force: true });
