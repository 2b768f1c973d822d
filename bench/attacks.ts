// The attack table: each attack of test/integration/hostile-peers.test.ts against a server of its own
// (this checkout, fsync on), with what the server answered, its peak RSS (VmHWM) and the time from the
// attacker's last byte to the answer or the close. Timeouts are shortened (scp.idle_timeout_s 2,
// artim_timeout_s 3) so the table takes a minute or two; the answers are those of any setting.
//
// usage: bun bench/attacks.ts [--only NAME,...]

import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { hashPassword } from "../src/tenancy/password-hash.ts";
import {
  type AttackResult,
  echoFrom,
  hostileMix,
  login,
  pendingFlood,
  stallMidStore,
  storeOne,
  summary,
  tally,
  trickle,
} from "../test/helpers/attacks.ts";
import { type ConfigTree, makeWorkDir, peakRss, startServer } from "../test/helpers/dcmtk.ts";
import {
  deepNesting,
  deflateNestingBomb,
  deflateZeroBomb,
  longModality,
  truncatedInItem,
  truncatedInPixelData,
  truncatedInSequence,
  wholeInstance,
} from "../test/helpers/hostile.ts";

const MiB = 1024 * 1024;
let uid = 0;
const sop = () => `1.2.826.0.1.3680043.8.498.1515.${process.pid}.${++uid}`;

const BASE: ConfigTree = {
  scp: { idle_timeout_s: 2, artim_timeout_s: 3 },
  storage: {
    min_free_mb: 1,
    fsync: true,
    path: "{tenant}/{modality}/{study_uid}/{series_uid}/{sop_uid}.dcm",
  },
};
const IDENTITY: ConfigTree = {
  scp: { idle_timeout_s: 2, artim_timeout_s: 3, max_associations: 64, max_associations_per_address: 0 },
  storage: { min_free_mb: 1 },
  tenants: [
    { id: "t1", ae_titles: ["STORESCP"], users: [{ username: "ct", password_hash: hashPassword("right") }] },
  ],
};

interface Attack {
  name: string;
  config: ConfigTree;
  run(port: number, workDir: string): Promise<AttackResult>;
  /** Needs root (a tmpfs of its own). */
  root?: boolean;
}

const one =
  (make: () => ReturnType<typeof wholeInstance> | Promise<ReturnType<typeof wholeInstance>>) =>
  async (port: number): Promise<AttackResult> =>
    storeOne({ port }, await make());

const ATTACKS: Attack[] = [
  {
    name: "truncated in Pixel Data (1 MB, 100 B sent)",
    config: BASE,
    run: one(() => truncatedInPixelData(sop())),
  },
  { name: "truncated in a sequence", config: BASE, run: one(() => truncatedInSequence(sop())) },
  { name: "truncated in an item", config: BASE, run: one(() => truncatedInItem(sop())) },
  { name: "100 000 nested sequences", config: BASE, run: one(() => deepNesting(sop())) },
  {
    name: "deflate bomb: 16 M nested sequences",
    config: BASE,
    run: one(() => deflateNestingBomb(sop(), 16_000_000)),
  },
  { name: "deflate bomb: 1 GiB of zeros", config: BASE, run: one(() => deflateZeroBomb(sop(), 1024)) },
  { name: "6000-character Modality, {modality} in path", config: BASE, run: one(() => longModality(sop())) },
  { name: "stalled mid-store", config: BASE, run: (port) => stallMidStore({ port }) },
  { name: "P-DATA trickle, 1 byte / 1 s", config: BASE, run: (port) => trickle({ port }, 1000) },
  {
    name: "300 logins at once, max_associations 64",
    config: IDENTITY,
    run: async (port) => {
      const t0 = performance.now();
      const r = await Promise.all(
        Array.from({ length: 300 }, () => login({ port }, { user: "ct", pass: "right" }, true)),
      );
      for (const x of r) x.assoc?.close();
      return { answer: summary(tally(r.map((x) => x.answer))), ms: performance.now() - t0 };
    },
  },
  {
    name: "1500 pending RQs claiming 1 MiB - 1",
    config: BASE,
    run: (port) => pendingFlood(port, 1500, MiB - 1, 64 * 1024 - 6, ["127.0.0.2", "127.0.0.3"]),
  },
  {
    name: "1500 pending RQs of 200 KiB, half sent",
    config: BASE,
    run: async (port) => {
      const flood = pendingFlood(port, 1500, 200 * 1024, 100 * 1024, ["127.0.0.2", "127.0.0.3"]);
      await new Promise((r) => setTimeout(r, 1500));
      const echo = await echoFrom({ port });
      const r = await flood;
      return { answer: `${r.answer}; C-ECHO during it: ${echo}`, ms: r.ms };
    },
  },
  {
    name: "400 wrong passwords + 1 real login",
    config: IDENTITY,
    run: async (port) => {
      const t0 = performance.now();
      const flood = Promise.all(
        Array.from({ length: 400 }, (_, i) =>
          login({ port, from: `127.0.0.${10 + (i % 4)}` }, { user: "ct", pass: `x${i}` }),
        ),
      );
      await new Promise((r) => setTimeout(r, 50));
      const real = await login({ port }, { user: "ct", pass: "right" });
      const f = tally((await flood).map((x) => x.answer));
      return {
        answer: `real ${real.answer} in ${real.ms.toFixed(0)} ms; flood ${summary(f)}`,
        ms: performance.now() - t0,
      };
    },
  },
  {
    name: "outbox disk full",
    root: true,
    config: BASE,
    run: async (port, workDir) => {
      spawnSync("dd", ["if=/dev/zero", `of=${join(workDir, "outbox-fs", "filler")}`, "bs=4k"]);
      let last: AttackResult = { answer: "?", ms: 0 };
      for (let i = 0; i < 5 && !last.answer.startsWith("A700"); i++)
        last = await storeOne({ port }, wholeInstance(sop()));
      return last;
    },
  },
  {
    name: "64 hostile associations at once",
    config: BASE,
    run: async (port) => {
      const t0 = performance.now();
      const answers = await hostileMix(port, 64, sop);
      return { answer: summary(tally(answers.map((a) => a.split(" ")[0] ?? a))), ms: performance.now() - t0 };
    },
  },
];

async function runAttack(a: Attack): Promise<string> {
  const workDir = makeWorkDir("attack");
  let config = a.config;
  if (a.root) {
    const mnt = join(workDir, "outbox-fs");
    mkdirSync(mnt, { recursive: true });
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]).status !== 0)
      return "n/a (needs root)";
    config = { ...config, outbox: { dir: join(mnt, "outbox") } };
  }
  const server = await startServer({ workDir, config, readyTimeoutMs: 15_000 });
  try {
    const r = await a.run(server.port, workDir);
    const rss = (peakRss(server.pid) ?? 0) / MiB;
    return `${r.answer.slice(0, 90).padEnd(92)}${rss.toFixed(0).padStart(6)} MiB${r.ms.toFixed(0).padStart(9)} ms`;
  } finally {
    await server.stop();
    if (a.root) spawnSync("umount", [join(workDir, "outbox-fs")]);
    rmSync(workDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf("--only");
  const only = i >= 0 ? (process.argv[i + 1] ?? "").split(",").map((s) => s.trim().toLowerCase()) : null;
  console.log(
    "attack table: one server per attack (fsync on, scp.idle_timeout_s 2, scp.artim_timeout_s 3, other limits at their defaults)",
  );
  console.log(`${"attack".padEnd(46)}${"answer".padEnd(92)}${"peak RSS".padStart(10)}${"time".padStart(12)}`);
  for (const a of ATTACKS) {
    if (only && !only.some((o) => a.name.toLowerCase().includes(o))) continue;
    let row: string;
    try {
      row = await runAttack(a);
    } catch (err) {
      row = `failed: ${(err as Error).message.split("\n")[0]}`;
    }
    console.log(`${a.name.padEnd(46)}${row}`);
  }
}

await main();
