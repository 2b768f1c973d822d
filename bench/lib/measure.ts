// One measured run and its repeats: the receiver started, the page cache reset, the senders timed, the
// receiver's CPU time and the memory of its process tree sampled, the stored instances counted.

import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { currentRss, peakRss, run } from "../../test/helpers/dcmtk.ts";
import type { Options, ReceiverId } from "./options.ts";
import { WORK } from "./paths.ts";
import { type Receiver, startReceiver } from "./receivers.ts";
import { countStored, retire, setAside } from "./stored.ts";
import { readBack, type Workload } from "./workloads.ts";

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/)) {
        if (c) out.push(Number.parseInt(c, 10));
      }
    } catch {
      // task gone
    }
  }
  return out;
}

class TreeSampler {
  private timer: ReturnType<typeof setInterval> | undefined;
  private childHwm = new Map<number, number>();
  /** Largest sum of RSS over the whole tree seen in one sample. */
  treePeak = 0;

  constructor(private readonly root: number) {}

  private sample(): void {
    const stack = childrenOf(this.root);
    let sum = currentRss(this.root) ?? 0;
    while (stack.length > 0) {
      const pid = stack.pop() ?? 0;
      const rss = currentRss(pid);
      const hwm = peakRss(pid);
      if (rss !== undefined) sum += rss;
      if (hwm !== undefined) this.childHwm.set(pid, Math.max(hwm, this.childHwm.get(pid) ?? 0));
      stack.push(...childrenOf(pid));
    }
    this.treePeak = Math.max(this.treePeak, sum);
  }

  start(intervalMs = 100): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  stop(): { children: number; childMaxHwm: number; treePeak: number } {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    return {
      children: this.childHwm.size,
      childMaxHwm: Math.max(0, ...this.childHwm.values()),
      treePeak: this.treePeak,
    };
  }
}

export interface Measurement {
  wallS: number;
  /** CPU time of the receiver process during the run (all threads; reaped children included). */
  cpuS: number;
  rssParent: number;
  childMaxHwm: number;
  children: number;
  treePeak: number;
}

/** utime + stime + cutime + cstime of a process, in seconds (Linux; 0 elsewhere). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i] ?? 0), 0);
    return ticks / 100;
  } catch {
    return 0;
  }
}

export type RunOutcome = { ok: true; m: Measurement } | { ok: false; reason: string };

function firstLine(s: string): string {
  const lines = s
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const interesting = lines.find((l) => /error|fail|refus|abort|reject|^E:|^F:/i.test(l));
  return (interesting ?? lines[0] ?? "").slice(0, 160);
}

/**
 * The same memory for every run: written data is flushed, the page cache emptied (where allowed) and
 * the inputs read back in. With the cache full, every page a receiver writes must first be reclaimed
 * from it, in the receiver's own time, by an amount that depends on what ran before: the same code
 * varied widely between runs.
 */
function resetMemory(w: Workload): void {
  dropCaches();
  readBack(w.senders.flat());
}

/** Written data flushed and the page cache emptied (see resetMemory). */
export function dropCaches(): void {
  spawnSync("sync");
  try {
    writeFileSync("/proc/sys/vm/drop_caches", "1\n");
  } catch {
    // Not root, or not Linux: runs keep whatever the cache holds.
  }
}

async function runOnce(w: Workload, id: ReceiverId, opts: Options): Promise<RunOutcome> {
  resetMemory(w);
  let receiver: Receiver | undefined;
  let startError = "";
  // One retry: a start that fails once (e.g. a stray signal from a parallel test run) should not void a row.
  for (let attempt = 1; attempt <= 2 && receiver === undefined; attempt++) {
    try {
      receiver = await startReceiver(id, opts, w);
    } catch (e) {
      startError = firstLine(e instanceof Error ? e.message : String(e));
      if (attempt === 1) console.error(`bench: ${id} did not start (${startError}); retrying once`);
    }
  }
  if (receiver === undefined) return { ok: false, reason: startError };
  const { handle } = receiver;
  try {
    if (opts.warmDir !== undefined && (w.id === "W1" || w.id === "W2")) {
      const args = [
        w.propose,
        "-aec",
        receiver.calledAe,
        "127.0.0.1",
        String(handle.port),
        "+sd",
        opts.warmDir,
      ];
      const r = await run("storescu", args, { timeoutMs: 900_000 });
      if (r.code !== 0)
        return { ok: false, reason: `warm-up: storescu exit ${r.code}: ${firstLine(r.stderr + r.stdout)}` };
      const warmed = countStored(receiver.files);
      if (warmed !== opts.warm)
        return { ok: false, reason: `warm-up: ${warmed} of ${opts.warm} instances on disk` };
      setAside(receiver.files);
      resetMemory(w);
    }
    spawnSync("sync");
    const sampler = new TreeSampler(handle.pid);
    sampler.start();
    const cpu0 = cpuSeconds(handle.pid);
    const t0 = performance.now();
    const senders = w.senders.map((files, i) => {
      const dir = w.dirs?.[i];
      const inputs = dir !== undefined ? ["+sd", dir] : files;
      const args = [w.propose, "-aec", receiver.calledAe, "127.0.0.1", String(handle.port), ...inputs];
      return run("storescu", args, { timeoutMs: 900_000 });
    });
    const results = await Promise.all(senders);
    const wallS = (performance.now() - t0) / 1000;
    const cpuS = cpuSeconds(handle.pid) - cpu0;
    const tree = sampler.stop();
    const rssParent = peakRss(handle.pid) ?? 0;
    const bad = results.find((r) => r.code !== 0);
    if (bad) {
      return {
        ok: false,
        reason: `storescu exit ${bad.code}${bad.timedOut ? " (timeout)" : ""}: ${firstLine(bad.stderr + bad.stdout)}`,
      };
    }
    // With storage.durability wal the last files are placed just behind their answers (their bytes are
    // durable in the log): counted once they are there, outside the timed part.
    let stored = countStored(receiver.files);
    for (let waited = 0; stored < w.instances && waited < 30_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      stored = countStored(receiver.files);
    }
    if (stored !== w.instances) return { ok: false, reason: `${stored} of ${w.instances} instances on disk` };
    return {
      ok: true,
      m: {
        wallS,
        cpuS,
        rssParent,
        childMaxHwm: tree.childMaxHwm,
        children: tree.children,
        treePeak: tree.treePeak,
      },
    };
  } catch (e) {
    return { ok: false, reason: firstLine(e instanceof Error ? e.message : String(e)) };
  } finally {
    const code = await handle.stop();
    await receiver.cleanup?.();
    if (code !== 0 && id.startsWith("ours")) {
      console.error(`bench: ${id} exited ${code} on SIGTERM; last output:\n${handle.output().slice(-2000)}`);
    }
    if (!opts.keep) retire(join(WORK, "recv", id));
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** Median wall time and the largest memory figures of several runs of one receiver. */
function summarize(runs: Measurement[]): RunOutcome {
  const walls = runs.map((r) => r.wallS);
  const max = (f: (m: Measurement) => number) => Math.max(...runs.map(f));
  return {
    ok: true,
    m: {
      wallS: median(walls),
      cpuS: median(runs.map((r) => r.cpuS)),
      rssParent: max((m) => m.rssParent),
      childMaxHwm: max((m) => m.childMaxHwm),
      children: max((m) => m.children),
      treePeak: max((m) => m.treePeak),
    },
  };
}

/**
 * Every receiver once per round, --repeat rounds: the machine's state drifts over minutes (page cache,
 * writeback, neighbours), so interleaving keeps the ratios fair where back-to-back runs would not.
 */
export async function measureInterleaved(
  w: Workload,
  ids: ReceiverId[],
  opts: Options,
): Promise<Map<ReceiverId, RunOutcome>> {
  const runs = new Map<ReceiverId, Measurement[]>(ids.map((id) => [id, []]));
  const failed = new Map<ReceiverId, RunOutcome>();
  for (let i = 0; i < opts.repeat; i++) {
    for (const id of ids) {
      if (failed.has(id)) continue;
      const o = await runOnce(w, id, opts);
      if (!o.ok) failed.set(id, o);
      else runs.get(id)?.push(o.m);
    }
  }
  return new Map(ids.map((id) => [id, failed.get(id) ?? summarize(runs.get(id) ?? [])]));
}
