// Careless and hostile peers over raw sockets: data sets cut short (in Pixel Data, a sequence, an item),
// nested too deep, deflate bombs, a peer that stalls mid-store or trickles, 300 logins against
// max_associations 64, 1500 connections that never finish their A-ASSOCIATE-RQ, a wrong-password flood
// beside one real login, a full outbox disk, a value too long for a path, 64 of these at once. Each test
// asserts the documented answer, that DCMTK echoscu is still served, and that every instance answered
// 0000 is in the archive whole (dcmdump reads it, its data set is what was sent).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hashPassword } from "../../src/tenancy/password-hash.ts";
import {
  type AttackResult,
  echoFrom,
  hostileMix,
  login,
  pendingFlood,
  stallMidStore,
  storeOne,
  tally,
  trickle,
} from "../helpers/attacks.ts";
import { dcmtkEnv, echoscu, type OurServerHandle, peakRss, startServer } from "../helpers/dcmtk.ts";
import { filesBelow, readPart10 } from "../helpers/fixtures.ts";
import {
  deepNesting,
  deflateNestingBomb,
  deflateZeroBomb,
  type Hostile,
  longModality,
  truncatedInItem,
  truncatedInPixelData,
  truncatedInSequence,
  wholeInstance,
} from "../helpers/hostile.ts";

let uid = 0;
const nextUid = () => `1.2.826.0.1.3680043.8.498.15.${process.pid}.${++uid}`;
const MB = 1024 * 1024;

/** Every .dcm below `dir` (quarantine excluded) read by dcmdump; each acknowledged one there, as sent. */
async function archiveWhole(dataDir: string, acknowledged: Hostile[]): Promise<void> {
  const files = filesBelow(dataDir).filter((f) => f.endsWith(".dcm") && !f.includes("_quarantine"));
  if (files.length > 0) {
    const r = spawnSync("dcmdump", ["-q", ...files], {
      env: dcmtkEnv(),
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  }
  const bySop = new Map<string, Uint8Array>();
  for (const f of files) {
    const p = await readPart10(f);
    bySop.set(p.sopInstanceUid, p.dataSet);
  }
  for (const h of acknowledged) {
    const kept = bySop.get(h.sopInstanceUid);
    expect(kept).toBeDefined();
    expect(Buffer.compare(Buffer.from(kept ?? []), Buffer.from(h.bytes))).toBe(0);
  }
}

async function echoOk(port: number, extraArgs: string[] = []): Promise<void> {
  expect((await echoscu({ port, extraArgs })).statuses).toEqual([0]);
}

/** DCMTK echoscu has no user identity: the login tests' server has an open tenant beside. */
const LOGIN = ["-aec", "OPEN"];

const table: Array<[string, AttackResult]> = [];
afterAll(() => {
  // The attack table (bench/attacks.ts prints it with each attack's peak RSS, one server per attack).
  for (const [name, r] of table)
    console.log(`  ${name.padEnd(40)} ${r.answer.slice(0, 70).padEnd(72)} ${r.ms.toFixed(0)} ms`);
});

describe("data sets that are not whole: failure status, quarantine, nothing partial acknowledged", () => {
  let server: OurServerHandle;
  const acked: Hostile[] = [];
  beforeAll(async () => {
    server = await startServer({
      config: {
        scp: { idle_timeout_s: 1, artim_timeout_s: 2 },
        storage: {
          min_free_mb: 1,
          fsync: false,
          path: "{tenant}/{modality}/{study_uid}/{series_uid}/{sop_uid}.dcm",
        },
      },
    });
  });
  afterAll(async () => {
    await archiveWhole(server.dataDir, acked);
    expect(await server.stop()).toBe(0);
    rmSync(server.workDir, { recursive: true, force: true });
  });

  const quarantined = (sop: string): { status: string; reason: string } | undefined => {
    const f = filesBelow(join(server.dataDir, "_quarantine")).find(
      (p) => p.endsWith(".reason.json") && p.includes(sop),
    );
    return f ? (JSON.parse(readFileSync(f, "utf8")) as { status: string; reason: string }) : undefined;
  };

  const cases: Array<[string, () => Hostile | Promise<Hostile>, number, RegExp]> = [
    [
      "truncated in Pixel Data",
      () => truncatedInPixelData(nextUid()),
      0xc000,
      /^truncated in \(7FE0,0010\): 999900 of 1000000/,
    ],
    [
      "truncated in a sequence",
      () => truncatedInSequence(nextUid()),
      0xc000,
      /^truncated in \(0040,A160\).*\(0040,A730\)$/,
    ],
    [
      "truncated in an item",
      () => truncatedInItem(nextUid()),
      0xc000,
      /^truncated in \(0040,A160\).*\(0040,A730\)$/,
    ],
    [
      "nested 100 000 sequences deep",
      () => deepNesting(nextUid()),
      0xc000,
      /^nesting deeper than limits\.max_sequence_depth/,
    ],
    [
      "deflate bomb: 4 M nested sequences",
      () => deflateNestingBomb(nextUid()),
      0xc000,
      /^nesting deeper than/,
    ],
    [
      "deflate bomb: 256 MiB of zeros",
      () => deflateZeroBomb(nextUid(), 256),
      0xc000,
      /^inflates over 200x its size/,
    ],
    [
      "6000-character Modality in the path",
      () => longModality(nextUid()),
      0xa900,
      /^Modality \(0008,0060\) of 6000 characters/,
    ],
  ];
  for (const [name, make, status, reason] of cases) {
    test(`${name}: ${status.toString(16).toUpperCase()} with an Error Comment, quarantined`, async () => {
      const h = await make();
      const r = await storeOne({ port: server.port }, h);
      table.push([name, r]);
      expect(r.status).toBe(status);
      const q = quarantined(h.sopInstanceUid);
      expect(q?.status).toBe(status.toString(16).toUpperCase());
      expect(q?.reason ?? "").toMatch(reason);
      expect(r.answer.slice(5)).toBe((q?.reason ?? "").slice(0, 64));
      // The same association type still stores a whole instance, and echoscu is served.
      const control = wholeInstance(nextUid());
      expect((await storeOne({ port: server.port }, control)).status).toBe(0);
      acked.push(control);
      await echoOk(server.port);
    }, 30_000);
  }

  test("stalled mid-store: aborted after the idle timeout although an operation is in progress", async () => {
    const r = await stallMidStore({ port: server.port });
    table.push(["stalled mid-store (idle_timeout_s 1)", r]);
    expect(r.answer).toBe("A-ABORT");
    await server.waitForOutput(/idle-timeout .*why="nothing received for scp.idle_timeout_s"/);
    expect(filesBelow(server.dataDir).filter((f) => f.includes(".storescp-") && !f.endsWith(".tmp"))).toEqual(
      [],
    );
    await echoOk(server.port);
  }, 30_000);

  test("P-DATA trickle (a byte every 200 ms): aborted as if silent", async () => {
    const r = await trickle({ port: server.port }, 200);
    table.push(["P-DATA trickle, 1 byte / 200 ms", r]);
    expect(r.answer).toMatch(/^A-ABORT after \d+ bytes$/);
    await server.waitForOutput(/idle-timeout .*why="data arriving slower than limits.min_rate_bytes_per_s"/);
    await echoOk(server.port);
  }, 30_000);

  test("1500 connections that never finish an A-ASSOCIATE-RQ of 1 MiB - 1: refused at its header", async () => {
    const before = peakRss(server.pid) ?? 0;
    const r = await pendingFlood(server.port, 1500, MB - 1, 64 * 1024 - 6, ["127.0.0.2", "127.0.0.3"]);
    table.push(["1500 pending RQs claiming 1 MiB - 1", r]);
    // A-ABORT at the header of each RQ read; the rest, beyond the pending places and those queued for
    // them, closed at once. None is left open, none buffered 1 MiB.
    expect((r.endings["A-ABORT"] ?? 0) + (r.endings.closed ?? 0)).toBe(1500);
    expect(r.endings["A-ABORT"] ?? 0).toBeGreaterThanOrEqual(128);
    expect((peakRss(server.pid) ?? 0) - before).toBeLessThan(100 * MB);
    await echoOk(server.port);
  }, 60_000);

  test("1500 connections each holding a 200 KiB RQ half sent: the oldest make room, a real peer gets in", async () => {
    const flood = pendingFlood(server.port, 1500, 200 * 1024, 100 * 1024, ["127.0.0.4", "127.0.0.5"], 30_000);
    // While the flood holds every pending place, a real peer connects and is served (a pending
    // connection older than a second makes room for it).
    await new Promise((r) => setTimeout(r, 1500));
    const during = await echoFrom({ port: server.port });
    const r = await flood;
    table.push(["1500 pending RQs of 200 KiB, half sent", r]);
    expect(during).toBe("0000");
    // Closed to make room, or (the last 128) by ARTIM; none left open.
    expect(Object.keys(r.endings).sort()).toEqual(
      ["A-ABORT", "closed"].filter((k) => (r.endings[k] ?? 0) > 0),
    );
    expect((r.endings.closed ?? 0) + (r.endings["A-ABORT"] ?? 0)).toBe(1500);
    expect(peakRss(server.pid) ?? 0).toBeLessThan(250 * MB);
    await server.waitForOutput(
      /connections-dropped .*why="pending connections at limits.max_pending_connections"/,
    );
    await echoOk(server.port);
  }, 60_000);
});

describe("logins: counted from the A-ASSOCIATE-RQ, checked a few at a time, floods slowed per address", () => {
  let server: OurServerHandle;
  beforeAll(async () => {
    server = await startServer({
      config: {
        scp: { max_associations: 64, max_associations_per_address: 0, idle_timeout_s: 5 },
        storage: { min_free_mb: 1 },
        tenants: [
          {
            id: "t1",
            ae_titles: ["STORESCP"],
            users: [{ username: "ct", password_hash: hashPassword("right") }],
          },
          { id: "open", ae_titles: ["OPEN"] },
        ],
      },
    });
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
    rmSync(server.workDir, { recursive: true, force: true });
  });

  test("300 valid logins at once against max_associations 64: at most 64 accepted, the rest transient", async () => {
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: 300 }, () => login({ port: server.port }, { user: "ct", pass: "right" }, true)),
    );
    const answers = tally(results.map((r) => r.answer));
    table.push([
      "300 logins, max_associations 64",
      { answer: JSON.stringify(answers), ms: performance.now() - t0 },
    ]);
    expect(answers.AC ?? 0).toBeGreaterThan(0);
    expect(answers.AC ?? 0).toBeLessThanOrEqual(64);
    // Beyond the slots: local limit exceeded; beyond the password queue: temporary congestion.
    // and connections beyond the pending places and their queue are closed unread.
    for (const k of Object.keys(answers)) expect(["AC", "RJ 2/3/2", "RJ 2/3/1", "closed"]).toContain(k);
    for (const r of results) r.assoc?.close();
    // The server sees the closes and frees the slots: a real login gets in again.
    let again = "";
    for (let i = 0; i < 50 && again !== "AC"; i++) {
      again = (await login({ port: server.port }, { user: "ct", pass: "right" })).answer;
      if (again !== "AC") await new Promise((r) => setTimeout(r, 100));
    }
    expect(again).toBe("AC");
    await echoOk(server.port, LOGIN);
  }, 60_000);

  test("400 wrong passwords from 4 addresses beside one real login: the login is accepted", async () => {
    const t0 = performance.now();
    const flood = Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        login({ port: server.port, from: `127.0.0.${10 + (i % 4)}` }, { user: "ct", pass: `wrong${i}` }),
      ),
    );
    await new Promise((r) => setTimeout(r, 50));
    const real = await login({ port: server.port }, { user: "ct", pass: "right" });
    const answers = tally((await flood).map((r) => r.answer));
    table.push([
      "400 wrong passwords + 1 real login",
      {
        answer: `real: ${real.answer} in ${real.ms.toFixed(0)} ms; flood: ${JSON.stringify(answers)}`,
        ms: performance.now() - t0,
      },
    ]);
    expect(real.answer).toBe("AC");
    expect(answers.AC).toBeUndefined();
    for (const k of Object.keys(answers))
      expect(["RJ 1/1/1", "RJ 2/1/1", "RJ 2/3/1", "RJ 2/3/2", "closed"]).toContain(k);
    // The flooding addresses were backed off (refused without a check).
    expect(answers["RJ 2/1/1"] ?? 0).toBeGreaterThan(0);
    await server.waitForOutput(/failed logins in a row from 127\.0\.0\.1[0-3]/);
    await echoOk(server.port, LOGIN);
  }, 60_000);
});

describe("sequential mode: a stalled peer is dropped by the same rules", () => {
  test("a peer stalled mid-store does not block the next one for longer than the idle timeout", async () => {
    const server = await startServer({
      config: { scp: { mode: "sequential", idle_timeout_s: 1 }, storage: { min_free_mb: 1, fsync: false } },
    });
    try {
      const stalled = stallMidStore({ port: server.port });
      await new Promise((r) => setTimeout(r, 200));
      const echo = echoscu({ port: server.port, timeoutMs: 20_000 });
      expect((await stalled).answer).toBe("A-ABORT");
      expect((await echo).statuses).toEqual([0]);
    } finally {
      expect(await server.stop()).toBe(0);
      rmSync(server.workDir, { recursive: true, force: true });
    }
  }, 30_000);
});

// A full disk is a real, small file system (tmpfs): root only.
const asRoot = process.getuid?.() === 0 && process.platform === "linux";
describe.skipIf(!asRoot)("outbox on a full disk", () => {
  test("instances are refused A700 and never enter the archive; once there is room, stored with a record", async () => {
    const server0 = { workDir: join(import.meta.dir, "..", ".work", `outbox-full-${process.pid}`) };
    const mnt = join(server0.workDir, "outbox-fs");
    mkdirSync(mnt, { recursive: true });
    expect(spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]).status).toBe(0);
    let server: OurServerHandle | undefined;
    try {
      server = await startServer({
        workDir: server0.workDir,
        config: { storage: { min_free_mb: 1, fsync: true }, outbox: { dir: join(mnt, "outbox") } },
      });
      const first = wholeInstance(nextUid());
      expect((await storeOne({ port: server.port }, first)).status).toBe(0);
      // Fill the outbox's file system.
      const filler = join(mnt, "filler");
      const fill = spawnSync("dd", ["if=/dev/zero", `of=${filler}`, "bs=4k"], { encoding: "utf8" });
      expect(fill.stderr).toMatch(/No space left/);
      const refused: AttackResult[] = [];
      const tried: Hostile[] = [];
      for (let i = 0; i < 5; i++) {
        const h = wholeInstance(nextUid());
        tried.push(h);
        const r = await storeOne({ port: server.port }, h);
        refused.push(r);
      }
      table.push([
        "outbox disk full",
        refused.find((r) => r.answer.startsWith("A700")) ?? { answer: "?", ms: 0 },
      ]);
      // Whatever the outbox could still take was stored with a record; the rest refused, not archived.
      const statuses = refused.map((r) => r.answer.slice(0, 4));
      expect(statuses).toContain("A700");
      expect(refused.find((r) => r.answer.startsWith("A700"))?.answer).toMatch(
        /outbox cannot take the record: ENOSPC/,
      );
      const archivedNow = async (): Promise<Set<string>> =>
        new Set(
          (
            await Promise.all(
              filesBelow(server?.dataDir ?? "")
                .filter((f) => f.endsWith(".dcm") && !f.includes("_quarantine"))
                .map((f) => readPart10(f)),
            )
          ).map((p) => p.sopInstanceUid),
        );
      // With storage.durability wal a file is placed behind its answer: wait for those answered 0000.
      const answered = [
        first.sopInstanceUid,
        ...tried.filter((_, i) => statuses[i] === "0000").map((h) => h.sopInstanceUid),
      ];
      let archived = await archivedNow();
      for (let waited = 0; answered.some((u) => !archived.has(u)) && waited < 10_000; waited += 50) {
        await new Promise((r) => setTimeout(r, 50));
        archived = await archivedNow();
      }
      tried.forEach((h, i) => {
        expect(archived.has(h.sopInstanceUid)).toBe(statuses[i] === "0000");
      });
      rmSync(filler);
      const after = wholeInstance(nextUid());
      expect((await storeOne({ port: server.port }, after)).status).toBe(0);
      await echoOk(server.port);
      expect(await server.stop()).toBe(0);
      // Every archived instance has exactly its record.
      const records = readFileSync(
        join(
          mnt,
          "outbox",
          filesBelow(join(mnt, "outbox"))
            .find((f) => f.endsWith(".seg"))
            ?.split("/")
            .pop() ?? "",
        ),
        "latin1",
      );
      const recorded = [...records.matchAll(/"sop_uid":"([0-9.]+)"/g)].map((m) => m[1]);
      expect(new Set(recorded)).toEqual(new Set([...archived, after.sopInstanceUid]));
      writeFileSync(join(server0.workDir, "done"), "");
    } finally {
      await server?.stop();
      spawnSync("umount", [mnt]);
      rmSync(server0.workDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("64 hostile associations at once", () => {
  test("peak RSS stays under 250 MB, every one gets its answer, the server keeps serving", async () => {
    const server = await startServer({
      config: {
        scp: { idle_timeout_s: 2 },
        storage: { min_free_mb: 1, fsync: false, path: "{tenant}/{modality}/{sop_uid}.dcm" },
      },
    });
    try {
      const t0 = performance.now();
      const answers = await hostileMix(server.port, 64, nextUid);
      const peak = peakRss(server.pid) ?? 0;
      table.push([
        "64 hostile associations at once",
        { answer: `peak RSS ${(peak / MB).toFixed(0)} MiB`, ms: performance.now() - t0 },
      ]);
      expect(peak).toBeLessThan(250 * 1000 * 1000);
      for (const a of answers) expect(a).toMatch(/^(C000|A900|A-ABORT)/);
      await echoOk(server.port);
    } finally {
      expect(await server.stop()).toBe(0);
      rmSync(server.workDir, { recursive: true, force: true });
    }
  }, 90_000);
});
