// The promise of 0000 under crashes, with write-ahead durability (storage.durability: wal) and DCMTK as
// the sender: rounds of distinct CT instances, each sent in one association while the server is
// SIGKILLed at a random moment (seeded: CRASH_SEED=n repeats a run), then restarted on the same
// directories; every fourth restart is killed too while it replays the log. After every restart each
// instance answered 0000 in any round is at its path, byte-exact, with exactly one record naming it; no
// temp file is left once the stale-temp cleanup ran; every .dcm file in the archive is whole and the one
// sent. A second run also loses what the log had not made durable (a power cut: discardUnsynced up to
// the last durable LSN the server noted) before each restart. CRASH_KEEP=1 keeps the work directories.

import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { discardUnsynced, unsyncedRecords } from "../../src/store/wal/log.ts";
import {
  type ArchiveState,
  answeredSuccess,
  archiveProblems,
  RoundMaker,
  type SentInstance,
  seededRandom,
  tempFiles,
} from "../helpers/crash.ts";
import {
  type ConfigTree,
  dcmsend,
  makeWorkDir,
  type OurServerHandle,
  type StoreResult,
  startServer,
  storescu,
} from "../helpers/dcmtk.ts";
import { corpus } from "../helpers/fixtures.ts";
import { rawOutboxRecords, settledRecords } from "../helpers/tools.ts";

const SEED = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`crash.test.ts: CRASH_SEED=${SEED}`);

const CONFIG: ConfigTree = {
  storage: { durability: "wal", fsync: true, min_free_mb: 1, wal_mb: 64 },
  kafka: { enabled: false },
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const workDirs: string[] = [];

afterAll(() => {
  // CRASH_KEEP=1 keeps them to look into a failure.
  if (!process.env.CRASH_KEEP) for (const d of workDirs) rmSync(d, { recursive: true, force: true });
});

function ctSource(): string {
  const f = corpus().find((p) => p.endsWith("01_ct_s16_explicitLE.dcm"));
  if (!f) throw new Error("corpus has no 01_ct_s16_explicitLE.dcm");
  return f;
}

/** What the server said when it replayed its log: how many entries it settles anew (0 when silent). */
function replayedSettled(output: string): number {
  const m = /wal-replayed[^\n]*?settled[=":]+(\d+)/.exec(output);
  return m ? Number(m[1]) : 0;
}

const finals = (outboxDir: string): number =>
  rawOutboxRecords(outboxDir).filter((r) => (r as unknown as Record<string, unknown>)._pending !== true)
    .length;

interface RunOptions {
  name: string;
  rounds: number;
  /** A simulated power cut: the log loses what it had not made durable before each restart. */
  powerLoss: boolean;
}

/** One run: `rounds` transfers, each cut by SIGKILL, each followed by a restart and the checks. */
async function crashRun(o: RunOptions): Promise<void> {
  const random = seededRandom(SEED + (o.powerLoss ? 1 : 0));
  const runId = String(SEED);
  const work = makeWorkDir(`crash-${o.name}`);
  workDirs.push(work);
  const marks = join(work, "wal-marks");
  const maker = new RoundMaker(ctSource());
  const state: ArchiveState = {
    dataDir: join(work, "data"),
    outboxDir: join(work, "outbox"),
    quarantineDir: join(work, "data", "_quarantine"),
    sent: new Map(),
    answered: new Set(),
    verified: new Map(),
  };
  const start = (): Promise<OurServerHandle> => {
    rmSync(marks, { force: true });
    return startServer({
      workDir: work,
      config: CONFIG,
      readyTimeoutMs: 60_000,
      ...(o.powerLoss ? { env: { STORESCP_TEST_WAL_MARKS: marks } } : {}),
    });
  };
  /** Milliseconds per instance, learned from the rounds so far, to spread the kills over the transfer. */
  let msPerInstance = 15;
  let server = await start();
  let duringTransfer = 0;
  let spoilt = 0;
  /** A power cut after the kill: the log loses the records beyond the last durable LSN the server noted. */
  const powerCut = (): number => {
    if (!o.powerLoss) return 0;
    const lsn = Number(readFileSync(marks, "utf8").trim().split("\n").at(-1));
    expect(Number.isInteger(lsn)).toBe(true);
    const wal = join(state.dataDir, ".wal");
    const lost = unsyncedRecords(wal, lsn).length;
    discardUnsynced(wal, lsn);
    return lost;
  };
  try {
    for (let round = 0; round < o.rounds; round++) {
      const count = 30 + Math.floor(random() * 21);
      const files = maker.make(join(work, "send", String(round)), round, count, random, runId);
      for (const f of files) state.sent.set(f.sopUid, f);
      const useDcmsend = round % 2 === 1;
      const delay = Math.floor(random() * count * msPerInstance * 1.1);

      const t0 = Date.now();
      let sent = false;
      const sending = send(useDcmsend, server.port, files).finally(() => {
        sent = true;
      });
      let killedAt = -1;
      const victim = server;
      const timer = setTimeout(async () => {
        // A power cut is worth most while the log holds what it has not synced: wait a little for that.
        const until = Date.now() + 200;
        while (o.powerLoss && !sent && Date.now() < until && !unsyncedTail(marks, state.dataDir))
          await sleep(1);
        if (sent) return;
        killedAt = Date.now() - t0;
        victim.kill("SIGKILL");
      }, delay);
      const r = await sending;
      clearTimeout(timer);
      const finished = killedAt < 0;
      if (finished) {
        killedAt = Date.now() - t0;
        server.kill("SIGKILL");
      }
      expect(await server.exited).toBe(128 + 9);
      const ok = answeredSuccess(r.responses);
      for (const sop of ok) {
        expect(state.sent.has(sop)).toBe(true);
        state.answered.add(sop);
      }
      // Every response DCMTK logged is one of ours: a failure status would be a bug here.
      expect(r.responses.filter((x) => x.status !== 0)).toEqual([]);
      // Only a whole transfer says how long one takes (a cut one also counts the association's start).
      if (finished) msPerInstance = (msPerInstance + killedAt / count) / 2;
      if (!finished) duringTransfer += 1;

      let lost = powerCut();
      if (lost > 0) spoilt += 1;
      rmSync(join(work, "send", String(round)), { recursive: true, force: true });
      let before = finals(state.outboxDir);
      server = await start();
      // Every fourth restart is cut too, while it replays the log and places what it holds.
      let again = "";
      if (round % 4 === 3) {
        const wait = Math.floor(random() * 60);
        await sleep(wait);
        server.kill("SIGKILL");
        expect(await server.exited).toBe(128 + 9);
        const replayed = replayedSettled(server.output());
        lost += powerCut();
        before = finals(state.outboxDir);
        server = await start();
        again = `; the restart killed too ${wait} ms after it was ready (replaying ${replayed})`;
      }
      await settle(server, state, before);
      await noTempFiles(state.dataDir);
      const problems = archiveProblems(state);
      const line =
        `round ${round}: ${useDcmsend ? "dcmsend" : "storescu"} ${count} instances, killed at ${killedAt} ms ` +
        `${finished ? "after the transfer ended" : "during the transfer"}, ${ok.length} answered 0000${o.powerLoss ? `, ${lost} unsynced log records spoilt` : ""}, ` +
        `replayed ${replayedSettled(server.output())}${again}`;
      console.log(line);
      if (problems.length > 0) console.log(server.output());
      expect([round, problems]).toEqual([round, []]);
    }
    expect(await server.stop()).toBe(0);
    expect(archiveProblems(state)).toEqual([]);
  } finally {
    server.kill("SIGKILL");
    await server.exited;
  }
  console.log(
    `${o.name}: ${state.answered.size} of ${state.sent.size} instances answered 0000; ` +
      `${duringTransfer} of ${o.rounds} kills during the transfer` +
      (o.powerLoss ? `, ${spoilt} with an unsynced log tail lost` : ""),
  );
}

/** Whether the running server's log holds records beyond the last durable LSN it noted. */
function unsyncedTail(marks: string, dataDir: string): boolean {
  try {
    const lsn = Number(readFileSync(marks, "utf8").trim().split("\n").at(-1));
    return unsyncedRecords(join(dataDir, ".wal"), lsn).length > 0;
  } catch {
    return false;
  }
}

/** One association: storescu (-xe: Explicit VR LE first, the files' own) or dcmsend (the files' own). */
async function send(useDcmsend: boolean, port: number, files: readonly SentInstance[]): Promise<StoreResult> {
  const paths = files.map((f) => f.file);
  return useDcmsend
    ? dcmsend({ port, files: paths, timeoutMs: 60_000 })
    : storescu({ port, files: paths, extraArgs: ["-xe"], timeoutMs: 60_000 });
}

/**
 * After a restart: every instance answered so far has its final record, no record is pending, and the
 * entries the log handed back have their records too (finals grew by as many as it settles anew).
 */
async function settle(server: OurServerHandle, state: ArchiveState, before: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const records = await settledRecords(state.outboxDir, 60_000);
    const have = new Set(records.map((r) => r.sop_uid));
    const missing = [...state.answered].filter((s) => !have.has(s));
    const want = before + replayedSettled(server.output());
    if (missing.length === 0 && finals(state.outboxDir) >= want) return;
    if (Date.now() > deadline) return; // the checks say what is missing
    await sleep(50);
  }
}

/** The stale-temp cleanup runs in the background after the start: give it a few seconds. */
async function noTempFiles(dataDir: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (tempFiles(dataDir).length > 0 && Date.now() < deadline) await sleep(50);
  expect(tempFiles(dataDir)).toEqual([]);
}

describe("crashes with storage.durability wal", () => {
  test("SIGKILL at 20 random moments of DCMTK transfers: nothing answered 0000 is lost", async () => {
    await crashRun({ name: "sigkill", rounds: 20, powerLoss: false });
  }, 240_000);

  test("a power cut at 6 random moments (the log's unsynced tail lost): nothing answered 0000 is lost", async () => {
    await crashRun({ name: "power", rounds: 6, powerLoss: true });
  }, 120_000);
});
