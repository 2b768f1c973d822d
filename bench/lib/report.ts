// The report: per network a section of rows (one per workload and receiver, with the ratios to plain and to
// durable DCMTK and the target the row is held to), then the target lines.

import { spawnSync } from "node:child_process";
import { dcmtkEnv } from "../../test/helpers/dcmtk.ts";
import {
  COMMIT_ORDERS,
  type CommitCost,
  type CommitCosts,
  describeCommit,
  probeOf,
  withCommitRatio,
} from "../durability.ts";
import type { RunOutcome } from "./measure.ts";
import {
  DEFAULT_DURABILITY,
  LABEL,
  type NetId,
  type ReceiverId,
  WORKLOADS,
  type WorkloadId,
} from "./options.ts";
import { MiB } from "./paths.ts";
import type { Workload } from "./workloads.ts";

export interface Row {
  net: NetId;
  workload: Workload;
  receiver: ReceiverId;
  outcome: RunOutcome;
}

export function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

const RECEIVER_WIDTH = 25;

function rateOf(row: Row | undefined): number | undefined {
  return row?.outcome.ok ? row.workload.bytes / row.outcome.m.wallS : undefined;
}

function wallOf(row: Row | undefined): number | undefined {
  return row?.outcome.ok ? row.outcome.m.wallS : undefined;
}

function find(rows: Row[], net: NetId, w: WorkloadId, r: ReceiverId): Row | undefined {
  return rows.find((x) => x.net === net && x.workload.id === w && x.receiver === r);
}

/** Receivers held to a section's target: ours by default, and the durability modes set explicitly. */
const HELD: readonly ReceiverId[] = ["ours-fsync", "ours-file", "ours-wal", "ours-base"];

/**
 * The target a row is held to, if any, and where it stands. Link: ours at most 1.05x plain DCMTK's wall
 * time (the wire, not the receiver, should set the pace). Loopback: ours at most durable DCMTK's wall time
 * (the baseline keeping the same promise). W1T: transcoding at 400 instances/s or more.
 */
export function targetOf(row: Row, rows: Row[]): { text: string; met: boolean } | undefined {
  const w = row.workload.id;
  if (w === "W1T") {
    if (row.receiver !== "ours-transcode" && row.receiver !== "ours-transcode-wal") return undefined;
    if (!row.outcome.ok) return { text: ">= 400 inst/s: n/a (failed)", met: false };
    const ips = row.workload.instances / row.outcome.m.wallS;
    return { text: `>= 400 inst/s: ${ips.toFixed(0)}`, met: ips >= 400 };
  }
  if ((w !== "W1" && w !== "W2") || !HELD.includes(row.receiver)) return undefined;
  const [baseline, limit, name] =
    row.net === "link"
      ? (["dcmtk", 1.05, "DCMTK"] as const)
      : (["dcmtk-durable", 1.0, "durable DCMTK"] as const);
  const head = `wall <= ${limit.toFixed(2)}x ${name}'s`;
  const mine = wallOf(row);
  const theirs = wallOf(find(rows, row.net, w, baseline));
  if (mine === undefined || theirs === undefined)
    return { text: `${head}: n/a (${mine === undefined ? "failed" : `no ${name} row`})`, met: false };
  const ratio = mine / theirs;
  return { text: `${head}: ${ratio.toFixed(2)}x`, met: ratio <= limit };
}

export function printHeader(): void {
  console.log(
    pad("", 5) +
      pad("receiver", RECEIVER_WIDTH) +
      pad("wall s", 8, true) +
      pad("inst/s", 9, true) +
      pad("MiB/s", 8, true) +
      pad("RSS MiB", 9, true) +
      pad("CPU s", 7, true) +
      pad("vs DCMTK", 9, true) +
      pad("vs durable", 11, true) +
      "  target (not an assertion)",
  );
}

/** One row; `rows` holds the workload's other rows on the same network (for the ratios and the target). */
export function printRow(row: Row, rows: Row[]): void {
  const head = `${pad(row.workload.id, 5)}${pad(LABEL[row.receiver], RECEIVER_WIDTH)}`;
  const target = targetOf(row, rows);
  const targetText = target ? `  ${target.text}${target.met ? " ok" : " MISSED"}` : "";
  if (!row.outcome.ok) {
    console.log(`${head}failed: ${row.outcome.reason}${targetText}`);
    return;
  }
  const m = row.outcome.m;
  const ips = row.workload.instances / m.wallS;
  const mbs = row.workload.bytes / MiB / m.wallS;
  const mine = rateOf(row);
  const ratio = (to: ReceiverId): string => {
    const base = rateOf(find(rows, row.net, row.workload.id, to));
    const dcmtkItself = row.receiver === "dcmtk" || row.receiver === "dcmtk-fork" || row.receiver === to;
    return base === undefined || mine === undefined || dcmtkItself ? "" : `${(mine / base).toFixed(2)}x`;
  };
  let note = "";
  if (m.children > 0) {
    note =
      `  parent only; ${m.children} children, each <= ${(m.childMaxHwm / MiB).toFixed(1)} MiB, ` +
      `tree <= ${(m.treePeak / MiB).toFixed(1)} MiB sampled`;
  }
  console.log(
    head +
      pad(m.wallS.toFixed(2), 8, true) +
      pad(ips.toFixed(1), 9, true) +
      pad(mbs.toFixed(1), 8, true) +
      pad((m.rssParent / MiB).toFixed(1), 9, true) +
      pad(m.cpuS.toFixed(2), 7, true) +
      pad(ratio("dcmtk"), 9, true) +
      pad(row.receiver === "dcmtk-durable" ? "" : ratio("dcmtk-durable"), 11, true) +
      targetText +
      note,
  );
}

export function versionOf(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: dcmtkEnv() });
  const text = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  return (text.split("\n").find((l) => l.trim().length > 0) ?? "?").trim();
}

/**
 * The target lines: each section's targets of ours by default, then those of the receivers asked for.
 * `linkFloor`: the least commit after the last byte, timed right after the link's W1 (wal-floor --tail):
 * DCMTK's W1 plus that per instance is the fastest any receiver answering only once durable can be.
 */
export function targets(
  rows: Row[],
  commits: CommitCosts = {},
  linkFloor?: CommitCost | { skipped: string },
): string[] {
  const out: string[] = [];
  for (const row of rows) {
    if (row.receiver !== "ours-fsync" && row.receiver !== "ours-transcode") continue;
    const t = targetOf(row, rows);
    if (t)
      out.push(`${row.net} ${row.workload.id} ${LABEL[row.receiver]} ${t.text} ${t.met ? "PASS" : "FAIL"}`);
  }
  for (const net of ["loopback", "link"] as const) {
    for (const w of ["W1", "W2"] as const) out.push(...fsyncTargets(rows, net, w));
    const base = find(rows, net, "W1", "dcmtk");
    if (net === "link" && base?.outcome.ok && linkFloor) {
      out.push(
        "skipped" in linkFloor
          ? `link W1 floor (${probeOf("wal-tail")}): n/a (${linkFloor.skipped})`
          : `link W1 floor (${probeOf("wal-tail")}): ${describeCommit(linkFloor)}; ` +
              `DCMTK's W1 plus that per instance: ${(1 / withCommitRatio(base.outcome.m.wallS, base.workload.instances, linkFloor)).toFixed(2)}x its wall, ` +
              "the least any receiver that answers only once durable can take here (target 1.05x)",
      );
    }
    if (net !== "loopback" || !base?.outcome.ok) continue;
    for (const order of COMMIT_ORDERS) {
      const commit = commits[order];
      if (!commit) continue;
      const what = probeOf(order);
      out.push(
        "skipped" in commit
          ? `loopback W1 commit alone (${what}): n/a (${commit.skipped})`
          : `loopback W1 commit alone (${what}): ${describeCommit(commit)}; ` +
              `DCMTK's W1 plus that per instance: ${withCommitRatio(base.outcome.m.wallS, base.workload.instances, commit).toFixed(2)}x`,
      );
    }
  }
  out.push(...kafkaAndBaseTargets(rows));
  const plain = rows.find((r) => r.workload.id === "W1T" && r.receiver === "ours-fsync");
  const transcoding = rows.find((r) => r.workload.id === "W1T" && r.receiver === "ours-transcode");
  if (plain?.outcome.ok && transcoding?.outcome.ok) {
    const ips = (row: Row) => (row.outcome.ok ? row.workload.instances / row.outcome.m.wallS : 0);
    out.push(
      `W1T JPEG-LS transcoded to Explicit VR LE (worker pool): ${ips(transcoding).toFixed(0)} inst/s, ` +
        `stored as received: ${ips(plain).toFixed(0)} inst/s (${(ips(transcoding) / ips(plain)).toFixed(2)}x)`,
    );
  }
  for (const r of ["ours-fsync", "ours-nofsync"] as const) {
    const row = rows.find((x) => x.workload.id === "W3" && x.receiver === r);
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
  out.push(`(storage.durability by default: ${DEFAULT_DURABILITY})`);
  return out;
}

/** fsync off at least as fast as DCMTK; ours by default (fsync on) within 1.3x of it. */
function fsyncTargets(rows: Row[], net: NetId, w: "W1" | "W2"): string[] {
  const out: string[] = [];
  const baseRate = rateOf(find(rows, net, w, "dcmtk"));
  for (const [r, min, text] of [
    ["ours-nofsync", 1.0, "fsync off >= 1.00x DCMTK"],
    ["ours-fsync", 1 / 1.3, "fsync on  >= 0.77x DCMTK (within 1.3x)"],
  ] as const) {
    const row = find(rows, net, w, r);
    if (!row) continue;
    const rate = rateOf(row);
    if (rate === undefined || baseRate === undefined) {
      out.push(`${net} ${w} ${text}: n/a (${rate === undefined ? "ours failed" : "no DCMTK baseline"})`);
      continue;
    }
    const ratio = rate / baseRate;
    const durableRate = r === "ours-fsync" ? rateOf(find(rows, net, w, "dcmtk-durable")) : undefined;
    const context =
      durableRate === undefined
        ? ""
        : ` (DCMTK itself, syncing file and directory: ${(durableRate / baseRate).toFixed(2)}x)`;
    out.push(`${net} ${w} ${text}: ${ratio.toFixed(2)}x ${ratio >= min ? "PASS" : "FAIL"}${context}`);
  }
  return out;
}

/** Kafka enabled against disabled, and this code against --base REV, wherever both ran. */
function kafkaAndBaseTargets(rows: Row[]): string[] {
  const out: string[] = [];
  for (const net of ["loopback", "link"] as const) {
    for (const w of WORKLOADS) {
      // Ours by default; ours-wal is the same configuration, named.
      const a = rateOf(find(rows, net, w, "ours-fsync") ?? find(rows, net, w, "ours-wal"));
      const kafka = find(rows, net, w, "ours-kafka");
      const b = rateOf(kafka);
      if (a !== undefined && b !== undefined) {
        const slower = (a / b - 1) * 100;
        out.push(
          `${net} ${w} Kafka enabled vs disabled < 5% slower: ${slower.toFixed(1)}% ${slower < 5 ? "PASS" : "FAIL"}`,
        );
      }
      const before = find(rows, net, w, "ours-base");
      if (!before) continue;
      const c = rateOf(before);
      if (a === undefined || c === undefined) {
        out.push(`${net} ${w} this code vs --base <= 3% slower: n/a (a run failed)`);
        continue;
      }
      const slower = (c / a - 1) * 100;
      const how = slower >= 0 ? `${slower.toFixed(1)}% slower` : `${(-slower).toFixed(1)}% faster`;
      out.push(`${net} ${w} this code vs --base <= 3% slower: ${how} ${slower <= 3 ? "PASS" : "FAIL"}`);
    }
  }
  return out;
}
