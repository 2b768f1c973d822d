// Shared by the write-ahead log tests: deterministic instance bytes, writing entries, reading replays.

import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { FlushMode, ReplayEntry, WalEntry, WriteAheadLog } from "../../../src/store/wal/log.ts";

export const MODES: FlushMode[] = ["dsync", "fdatasync"];

/** `size` bytes that depend on `seed` (so a mix-up between entries shows). */
export function bytesFor(seed: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export function headerFor(seed: number): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ instance: seed, path: `a/b/${seed}.dcm` }));
}

/** Write `data` to `entry` in chunks of `chunk` bytes, each from a buffer the test then spoils. */
export function writeChunks(entry: WalEntry, data: Uint8Array, chunk: number): void {
  for (let at = 0; at < data.length; at += chunk) {
    const part = data.slice(at, Math.min(data.length, at + chunk));
    entry.write(part);
    part.fill(0xee);
  }
}

/** A replayed entry's data, through copyTo. */
export function replayedData(dir: string, e: ReplayEntry, n: number): Uint8Array {
  const path = join(dir, `replayed-${n}`);
  const fd = openSync(path, "w+");
  try {
    e.copyTo(fd);
  } finally {
    closeSync(fd);
  }
  return new Uint8Array(readFileSync(path));
}

/** Seed of a replayed entry, from its header. */
export function seedOf(e: ReplayEntry): number {
  return (JSON.parse(new TextDecoder().decode(e.header)) as { instance: number }).instance;
}

/** Check every replayed entry against the bytes and header its seed makes; returns the seeds in order. */
export function checkReplay(
  log: WriteAheadLog,
  scratch: string,
  sizes: ReadonlyMap<number, number>,
  expectBytes: (a: Uint8Array, b: Uint8Array) => void,
): number[] {
  const seeds: number[] = [];
  log.replay.forEach((e, i) => {
    const seed = seedOf(e);
    const size = sizes.get(seed);
    if (size === undefined) throw new Error(`replayed entry ${seed} was never committed`);
    expectBytes(replayedData(scratch, e, i), bytesFor(seed, size));
    seeds.push(seed);
  });
  return seeds;
}

export function lastMark(marksFile: string): number {
  const lines = readFileSync(marksFile, "utf8").trim().split("\n");
  return Number(lines[lines.length - 1] ?? 0);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
