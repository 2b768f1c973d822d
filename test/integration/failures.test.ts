// What goes wrong must end cleanly: peers that vanish or abort mid-instance, a server killed mid-instance,
// and instances that may not enter the archive (quarantined with their reason, answered with a failure).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Tag } from "../../src/dimse/command.ts";
import { ClientAssociation } from "../../src/scu/client.ts";
import {
  dcmtkEnv,
  echoscu,
  makeWorkDir,
  type OurServerHandle,
  startServer,
  storescu,
} from "../helpers/dcmtk.ts";
import { bigInstance, corpus, filesBelow, placed, readPart10, storedPathOf } from "../helpers/fixtures.ts";

const CT_SOURCE = () => corpus().find((f) => f.includes("01_ct_s16_explicitLE")) ?? "";

function tempFiles(dir: string): string[] {
  return filesBelow(dir).filter((f) => f.includes(".storescp-"));
}

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A copy of the corpus CT with dcmodify edits applied. */
function modified(workDir: string, name: string, args: string[]): string {
  const out = join(workDir, name);
  copyFileSync(CT_SOURCE(), out);
  const r = spawnSync("dcmodify", ["-nb", ...args, out], { env: dcmtkEnv(), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`dcmodify failed: ${r.stderr}`);
  return out;
}

describe("interrupted transfers", () => {
  let server: OurServerHandle;
  beforeAll(async () => {
    bigInstance(256);
    server = await startServer({ config: { storage: { fsync: true, min_free_mb: 1 } } });
  }, 120_000);
  afterAll(async () => {
    await server.stop();
    rmSync(server.workDir, { recursive: true, force: true });
  });

  test("storescu killed mid-instance: no file and no temp file left; the next association works", async () => {
    const big = bigInstance(256);
    const child = spawn("storescu", ["127.0.0.1", String(server.port), big], {
      env: dcmtkEnv(),
      stdio: "ignore",
    });
    // Kill it once the temp file exists and is growing: the instance is mid-transfer.
    await waitFor(() => tempFiles(server.dataDir).length > 0, 20_000);
    child.kill("SIGKILL");
    await waitFor(() => tempFiles(server.dataDir).length === 0);
    await server.waitForOutput(/association-ended .*ending=(aborted|disconnected)/);
    expect(filesBelow(server.dataDir).filter((f) => f.endsWith(".dcm"))).toEqual([]);
    expect((await echoscu({ port: server.port })).statuses).toEqual([0]);
  }, 60_000);

  test("storescu --abort: the stored instances are complete, no temp file, next association works", async () => {
    const f = CT_SOURCE();
    const r = await storescu({ port: server.port, files: [f], extraArgs: ["--abort"] });
    expect(r.statuses).toEqual([0]);
    const out = await server.waitForOutput(/association-ended .*ending=aborted-by-peer/);
    // Logged once, although the peer's A-ABORT and the closing socket both end it.
    const id = /association-ended assoc=(\S+) .*ending=aborted-by-peer/.exec(out)?.[1];
    await new Promise((r) => setTimeout(r, 200));
    expect(server.output().split(`association-ended assoc=${id} `).length - 1).toBe(1);
    expect(tempFiles(server.dataDir)).toEqual([]);
    const a = (await readPart10(f)).attributes;
    expect(existsSync(await placed(storedPathOf(server.dataDir, a)))).toBe(true);
    expect((await echoscu({ port: server.port })).statuses).toEqual([0]);
  }, 60_000);

  test("server killed with SIGKILL mid-instance and restarted: no partial file visible, temp removed at start", async () => {
    const workDir = makeWorkDir("kill");
    const config = { storage: { fsync: true, min_free_mb: 1 } };
    const first = await startServer({ workDir, config });
    const big = bigInstance(256);
    const child = spawn("storescu", ["127.0.0.1", String(first.port), big], {
      env: dcmtkEnv(),
      stdio: "ignore",
    });
    await waitFor(() => tempFiles(first.dataDir).length > 0, 20_000);
    first.kill("SIGKILL");
    await first.exited;
    child.kill("SIGKILL");
    // The crash left a temp file, but no file under its final name.
    expect(filesBelow(first.dataDir).filter((f) => f.endsWith(".dcm"))).toEqual([]);
    const second = await startServer({ workDir, config });
    await second.waitForOutput(/stale-temp-files-removed count=[1-9]/);
    expect(tempFiles(second.dataDir)).toEqual([]);
    expect((await echoscu({ port: second.port })).statuses).toEqual([0]);
    expect(await second.stop()).toBe(0);
    rmSync(workDir, { recursive: true, force: true });
  }, 90_000);
});

describe("quarantine: failure status with Error Comment, the instance kept with its reason", () => {
  let server: OurServerHandle;
  beforeAll(async () => {
    corpus();
    server = await startServer({ config: { storage: { fsync: true, min_free_mb: 1 } } });
  }, 120_000);
  afterAll(async () => {
    await server.stop();
  });

  const quarantined = (): Array<{ dcm: string; reason: Record<string, unknown> }> =>
    filesBelow(join(server.dataDir, "_quarantine"))
      .filter((f) => f.endsWith(".dcm"))
      .map((dcm) => ({
        dcm,
        reason: JSON.parse(readFileSync(`${dcm}.reason.json`, "utf8")) as Record<string, unknown>,
      }));

  const cases: Array<[string, string[], RegExp]> = [
    ["missing Series Instance UID", ["-e", "(0020,000e)"], /Series Instance UID \(0020,000E\) missing/],
    [
      "Study Instance UID with ../",
      ["-m", "(0020,000d)=1.2.3/../../etc"],
      /Study Instance UID \(0020,000D\) invalid/,
    ],
    [
      "SOP Instance UID with ../ (command too)",
      ["-m", "(0008,0018)=1.2.../../x"],
      /SOP Instance UID invalid/,
    ],
  ];

  for (const [name, edit, reason] of cases) {
    test(`${name}: A900 with comment, quarantined, nothing else written`, async () => {
      const before = quarantined().length;
      const storedBefore = filesBelow(join(server.dataDir, "default")).length;
      const file = modified(server.workDir, `${name.replace(/\W+/g, "_")}.dcm`, edit);
      const r = await storescu({ port: server.port, files: [file], noHalt: true });
      expect(r.responses).toHaveLength(1);
      expect(r.responses[0]?.status).toBe(0xa900);
      expect(r.responses[0]?.errorComment ?? "").toMatch(reason);
      const q = quarantined();
      expect(q).toHaveLength(before + 1);
      const last = q.find((x) => reason.test(String(x.reason.reason)));
      expect(last?.reason.status).toBe("A900");
      expect(last?.reason.calling_ae).toBe("STORESCU");
      // The quarantined file is the instance as sent.
      const src = await readPart10(file);
      const kept = await readPart10(last?.dcm ?? "");
      expect(Buffer.compare(Buffer.from(kept.dataSet), Buffer.from(src.dataSet))).toBe(0);
      expect(filesBelow(join(server.dataDir, "default")).length).toBe(storedBefore);
      expect(tempFiles(server.dataDir)).toEqual([]);
    });
  }

  test("SOP Instance UID in the data set differs from the command: A900, quarantined", async () => {
    const src = await readPart10(CT_SOURCE());
    const assoc = await ClientAssociation.connect("127.0.0.1", server.port);
    await assoc.associate("STORESCP", "MISMATCH", [
      { id: 1, abstractSyntax: src.sopClassUid, transferSyntaxes: [src.transferSyntaxUid] },
    ]);
    const rsp = await assoc.store(1, src.sopClassUid, "1.2.3.4.5.6.7", src.dataSet, 1);
    await assoc.release();
    expect(rsp.status).toBe(0xa900);
    expect(rsp.string(Tag.ErrorComment)).toMatch(/^SOP Instance UID [0-9.]+ differs from/);
    expect(
      quarantined().some(
        (q) => q.reason.calling_ae === "MISMATCH" && q.reason.command_sop_instance_uid === "1.2.3.4.5.6.7",
      ),
    ).toBe(true);
  });
});
