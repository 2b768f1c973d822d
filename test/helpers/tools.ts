// Running the DICOM tools the tests compare against (dcmdump, gdcminfo, dciodvfy...) and reading an
// outbox directory's records straight from its segment files, without our OutboxLog.

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { OutboxRecord } from "../../src/outbox/record.ts";
import { dcmtkEnv } from "./dcmtk.ts";

/** Run a tool to completion: its exit code and everything it printed. */
export function tool(cmd: string, args: string[]): { code: number; out: string } {
  const r = spawnSync(cmd, args, { env: dcmtkEnv(), encoding: "utf8", maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, out: `${r.stdout}\n${r.stderr}` };
}

/** dciodvfy's errors about a file, without their "Error - " prefix, sorted. */
export function dciodvfyErrors(file: string): string[] {
  return tool("dciodvfy", [file])
    .out.split("\n")
    .filter((l) => l.startsWith("Error"))
    .map((l) => l.replace(/^Error - /, "").trim())
    .sort();
}

/**
 * The records of an outbox directory as they leave it: a pending record (an instance placed or
 * transcoded behind its answer) is replaced by its final record once that is written.
 */
export function outboxRecords(outboxDir: string): OutboxRecord[] {
  const all = rawOutboxRecords(outboxDir);
  const finals = new Set(all.filter((r) => !isPending(r)).map((r) => r.trace_id));
  return all.filter((r) => !isPending(r) || !finals.has(r.trace_id));
}

const isPending = (r: OutboxRecord): boolean => (r as unknown as Record<string, unknown>)._pending === true;

/** Pending records still waiting for their final record. */
export function unsettledRecords(outboxDir: string): OutboxRecord[] {
  return outboxRecords(outboxDir).filter(isPending);
}

/** outboxRecords once every instance answered so far is settled (its final record written). */
export async function settledRecords(outboxDir: string, timeoutMs = 120_000): Promise<OutboxRecord[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const records = outboxRecords(outboxDir);
    if (!records.some(isPending)) return records;
    if (Date.now() > until) throw new Error(`${records.filter(isPending).length} records still pending`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** outboxRecords once at least `n` of them are final (with wal, written just behind their answer). */
export async function finalRecords(outboxDir: string, n: number, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const records = outboxRecords(outboxDir);
    if (records.filter((r) => !isPending(r)).length >= n) return records;
    if (Date.now() > until) throw new Error(`fewer than ${n} final records`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * outboxRecords once every SOP Instance UID of `sops` has its final record: with storage.durability wal
 * a record is written just behind its instance's answer.
 */
export async function recordsFor(outboxDir: string, sops: readonly string[], timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const records = outboxRecords(outboxDir);
    const have = new Set(records.filter((r) => !isPending(r)).map((r) => r.sop_uid));
    if (sops.every((s) => have.has(s))) return records;
    if (Date.now() > until) throw new Error(`no final record yet for ${sops.filter((s) => !have.has(s))}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Every record of an outbox directory's segments, in order (frames: 12-byte header, JSON payload). A
 * running server's active segment may end in zeros (space reserved for records): no frame starts there.
 * Its last frame may also be read while the server writes it (a write is not atomic for a reader that
 * does not wait for it, as the server's own readers do): a frame cut short with only zeros after it is
 * left for the next read; anything else that does not parse is corruption and throws.
 */
export function rawOutboxRecords(outboxDir: string): OutboxRecord[] {
  const out: OutboxRecord[] = [];
  if (!existsSync(outboxDir)) return out;
  for (const f of readdirSync(outboxDir)
    .filter((n) => n.endsWith(".seg"))
    .sort()) {
    const b = readFileSync(join(outboxDir, f));
    for (let o = 0; o + 12 <= b.length && b[o] === 0xff; ) {
      const end = o + 12 + b.readUInt32LE(o + 4);
      let record: OutboxRecord;
      try {
        record = JSON.parse(b.subarray(o + 12, end).toString("utf8")) as OutboxRecord;
      } catch (err) {
        if (b.subarray(end).every((x) => x === 0)) break;
        throw err;
      }
      out.push(record);
      o = end;
    }
  }
  return out;
}

/** Run a tool that must succeed (a fixture maker): throws with its output when it does not. */
export function mustRun(cmd: string, args: string[]): void {
  const r = tool(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.code}\n${r.out}`);
}
