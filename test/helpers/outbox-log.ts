// An outbox log for tests: records with a trace_id and a varying size, the log opened with fsync, and
// everything it holds read back in order.

import { readdirSync } from "node:fs";
import { OutboxLog } from "../../src/outbox/log.ts";

const enc = new TextEncoder();
export const dec = new TextDecoder();

/** Record number `i`: a JSON object with trace_id `t<i>`, `i` and some padding. */
export const rec = (i: number): Uint8Array =>
  enc.encode(JSON.stringify({ trace_id: `t${i}`, i, pad: "x".repeat(i % 50) }));

export function open(dir: string, extra: Partial<Parameters<typeof OutboxLog.open>[0]> = {}) {
  return OutboxLog.open({ dir, maxBytes: 1 << 30, fsync: true, ...extra });
}

/** Every record from the head on, decoded. */
export async function readAll(log: OutboxLog): Promise<string[]> {
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

/** The segment files of the log in `dir`, in order. */
export const segs = (dir: string): string[] =>
  readdirSync(dir)
    .filter((n) => n.endsWith(".seg"))
    .sort();
