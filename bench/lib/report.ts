// The report: one row per workload and receiver, then the target lines (each PASS or FAIL).

import { spawnSync } from "node:child_process";
import { dcmtkEnv } from "../../test/helpers/dcmtk.ts";
import { type CommitCost, describeCommit, withCommitRatio } from "../durability.ts";
import type { RunOutcome } from "./measure.ts";
import { LABEL, type ReceiverId, WORKLOADS, type WorkloadId } from "./options.ts";
import { MiB } from "./paths.ts";
import type { Workload } from "./workloads.ts";

export interface Row {
  workload: Workload;
  receiver: ReceiverId;
  outcome: RunOutcome;
}

export function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function rateOf(row: Row): number | undefined {
  return row.outcome.ok ? row.workload.bytes / row.outcome.m.wallS : undefined;
}

export function printRow(row: Row, baseline: Row | undefined): void {
  const head = `${pad(row.workload.id, 5)}${pad(LABEL[row.receiver], 25)}`;
  if (!row.outcome.ok) {
    console.log(`${head}failed: ${row.outcome.reason}`);
    return;
  }
  const m = row.outcome.m;
  const ips = row.workload.instances / m.wallS;
  const mbs = row.workload.bytes / MiB / m.wallS;
  let ratio = "";
  const base = baseline ? rateOf(baseline) : undefined;
  const mine = rateOf(row);
  if (row.receiver !== "dcmtk" && row.receiver !== "dcmtk-fork" && base !== undefined && mine !== undefined)
    ratio = `${(mine / base).toFixed(2)}x`;
  let note = "";
  if (m.children > 0) {
    note =
      `parent only; ${m.children} children, each <= ${(m.childMaxHwm / MiB).toFixed(1)} MiB, ` +
      `tree <= ${(m.treePeak / MiB).toFixed(1)} MiB sampled`;
  }
  console.log(
    head +
      pad(m.wallS.toFixed(2), 8, true) +
      pad(ips.toFixed(1), 10, true) +
      pad(mbs.toFixed(1), 9, true) +
      pad((m.rssParent / MiB).toFixed(1), 10, true) +
      pad(m.cpuS.toFixed(2), 8, true) +
      pad(ratio, 10, true) +
      (note ? `  ${note}` : ""),
  );
}

export function versionOf(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: dcmtkEnv() });
  const text = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  return (text.split("\n").find((l) => l.trim().length > 0) ?? "?").trim();
}

export function targets(rows: Row[], commit?: CommitCost | { skipped: string }): string[] {
  const out: string[] = [];
  const find = (w: WorkloadId, r: ReceiverId) => rows.find((x) => x.workload.id === w && x.receiver === r);
  for (const w of ["W1", "W2"] as const) {
    const base = find(w, "dcmtk");
    const baseRate = base ? rateOf(base) : undefined;
    for (const [r, min, text] of [
      ["ours-nofsync", 1.0, "fsync off >= 1.00x DCMTK"],
      ["ours-fsync", 1 / 1.3, "fsync on  >= 0.77x DCMTK (within 1.3x)"],
    ] as const) {
      const row = find(w, r);
      if (!row) continue;
      const rate = rateOf(row);
      if (rate === undefined || baseRate === undefined) {
        out.push(`${w} ${text}: n/a (${rate === undefined ? "ours failed" : "no DCMTK baseline"})`);
        continue;
      }
      const ratio = rate / baseRate;
      const durable = find(w, "dcmtk-durable");
      const durableRate = r === "ours-fsync" && durable ? rateOf(durable) : undefined;
      const context =
        durableRate === undefined
          ? ""
          : ` (DCMTK itself, syncing file and directory: ${(durableRate / baseRate).toFixed(2)}x)`;
      out.push(`${w} ${text}: ${ratio.toFixed(2)}x ${ratio >= min ? "PASS" : "FAIL"}${context}`);
    }
    if (w === "W1" && commit && base?.outcome.ok) {
      out.push(
        "skipped" in commit
          ? `W1 commit alone: n/a (${commit.skipped})`
          : `W1 commit alone (bench/durability-floor.c): ${describeCommit(commit)}; ` +
              `DCMTK's W1 plus that per instance: ${withCommitRatio(base.outcome.m.wallS, base.workload.instances, commit).toFixed(2)}x`,
      );
    }
  }
  for (const w of WORKLOADS) {
    const off = find(w, "ours-fsync");
    const on = find(w, "ours-kafka");
    const a = off ? rateOf(off) : undefined;
    const b = on ? rateOf(on) : undefined;
    if (a === undefined || b === undefined) continue;
    const slower = (a / b - 1) * 100;
    out.push(
      `${w} Kafka enabled vs disabled (fsync on) < 5% slower: ${slower.toFixed(1)}% ${slower < 5 ? "PASS" : "FAIL"}`,
    );
  }
  for (const w of ["W1", "W2", "W3"] as const) {
    const now = find(w, "ours-fsync");
    const before = find(w, "ours-base");
    const a = now ? rateOf(now) : undefined;
    const b = before ? rateOf(before) : undefined;
    if (!before) continue;
    if (a === undefined || b === undefined) {
      out.push(`${w} this code vs --base (fsync on) <= 3% slower: n/a (a run failed)`);
      continue;
    }
    const slower = (b / a - 1) * 100;
    out.push(
      `${w} this code vs --base (fsync on) <= 3% slower: ${slower >= 0 ? `${slower.toFixed(1)}% slower` : `${(-slower).toFixed(1)}% faster`} ${slower <= 3 ? "PASS" : "FAIL"}`,
    );
  }
  const plain = find("W1T", "ours-fsync");
  const transcoding = find("W1T", "ours-transcode");
  if (plain?.outcome.ok && transcoding?.outcome.ok) {
    const ips = (row: Row) => (row.outcome.ok ? row.workload.instances / row.outcome.m.wallS : 0);
    out.push(
      `W1T JPEG-LS transcoded to Explicit VR LE (worker pool): ${ips(transcoding).toFixed(0)} inst/s, ` +
        `stored as received: ${ips(plain).toFixed(0)} inst/s (${(ips(transcoding) / ips(plain)).toFixed(2)}x)`,
    );
  }
  for (const r of ["ours-fsync", "ours-nofsync"] as const) {
    const row = find("W3", r);
    if (!row) continue;
    if (!row.outcome.ok) {
      out.push(`W3 ${LABEL[r]} >= 300 MB/s, peak RSS <= 150 MB: n/a (failed)`);
      continue;
    }
    const mbs = row.workload.bytes / MiB / row.outcome.m.wallS;
    const rss = row.outcome.m.rssParent / MiB;
    const pass = mbs >= 300 && rss * 1.048576 <= 150;
    out.push(
      `W3 ${LABEL[r]} >= 300 MB/s, peak RSS <= 150 MB: ${mbs.toFixed(0)} MiB/s, ${rss.toFixed(0)} MiB (${(rss * 1.048576).toFixed(0)} MB) ${pass ? "PASS" : "FAIL"}`,
    );
  }
  return out;
}
