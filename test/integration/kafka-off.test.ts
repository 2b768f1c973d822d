// Kafka off (the default) is a stated mode, not a trap: the start says that records accumulate and how
// to hand them over; past 80 % of outbox.max_mb a warning is logged and shown by /healthz (still 200);
// `outbox status` gives the fill rate and the time until full; and when full, instances are refused
// with a text that says what is true (export needed), never "waiting for Kafka".

import { afterAll, expect, test } from "bun:test";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { OutboxLog } from "../../src/outbox/log.ts";
import { makeWorkDir, type OurServerHandle, repoRoot, run, startServer, storescu } from "../helpers/dcmtk.ts";
import { perfsetFiles } from "../helpers/fixtures.ts";

let server: OurServerHandle | null = null;
const work = makeWorkDir("kafka-off");
afterAll(async () => {
  if (server) expect(await server.stop()).toBe(0);
  rmSync(work, { recursive: true, force: true });
});

test("start line, warning at 80 %, fill forecast, and an honest refusal when full", async () => {
  // An outbox of 1 MiB holding ~0.97 MiB of records written over the last two hours.
  const dir = join(work, "outbox");
  mkdirSync(dir, { recursive: true });
  const log = await OutboxLog.open({ dir, maxBytes: 1 << 20, fsync: false });
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000).toISOString();
  const filler = "x".repeat(900);
  for (let i = 0; i < 1010; i++) {
    const record = {
      trace_id: `t${i}`,
      tenant_id: "default",
      study_uid: "1.2",
      created_time: twoHoursAgo,
      filler,
    };
    await log.append(new TextEncoder().encode(JSON.stringify(record)));
  }
  log.syncNow();
  await log.close();

  server = await startServer({
    workDir: work,
    config: { storage: { min_free_mb: 1, fsync: false }, outbox: { max_mb: 1 }, ops: { http_port: 0 } },
  });
  expect(server.output()).toMatch(/ kafka=off /);
  expect(server.output()).toMatch(
    /kafka-off detail="records accumulate in the outbox; hand them over with `storescp outbox export DIR`"/,
  );
  await server.waitForOutput(/WARN .*outbox-nearly-full percent=9\d .*action="Kafka is off: export needed/);

  const health = await fetch(`http://127.0.0.1:${server.opsPort}/healthz`);
  expect(health.status).toBe(200);
  const h = (await health.json()) as { ok: boolean; warnings: string[] };
  expect(h.ok).toBe(true);
  expect(h.warnings).toHaveLength(1);
  expect(h.warnings[0]).toMatch(/^outbox 9\d % of outbox\.max_mb 1: Kafka is off: export needed/);

  const status = await run(
    process.execPath,
    [join(repoRoot, "src", "main.ts"), "outbox", "status", "-c", server.configPath],
    {
      cwd: work,
    },
  );
  expect(status.code).toBe(0);
  expect(status.stdout).toMatch(
    /^fill rate: +[\d.]+ KiB\/h, \d+ records\/h \(average since the oldest record waiting\)$/m,
  );
  expect(status.stdout).toMatch(/^max_mb: +in ~\d+ min at that rate$/m);
  expect(status.stdout).toMatch(/^kafka: +Kafka is off: export needed/m);
  expect(status.stdout).not.toContain("waiting for Kafka");

  // Fill it: the refusal says what is true.
  const r = await storescu({
    port: server.port,
    files: perfsetFiles(1000).slice(0, 120),
    noHalt: true,
    timeoutMs: 60_000,
  });
  const refused = r.responses.filter((x) => x.status === 0xa700);
  expect(refused.length).toBeGreaterThan(0);
  expect(refused[0]?.errorComment).toBe("outbox full (outbox.max_mb 1): Kafka off, export needed");
  await server.waitForOutput(
    /ERROR .*outbox-full .*action="refusing new instances \(A700\) and associations; Kafka is off: export needed/,
  );
  const full = await fetch(`http://127.0.0.1:${server.opsPort}/healthz`);
  expect(full.status).toBe(503);
  expect(JSON.stringify(await full.json())).not.toContain("waiting for Kafka");
}, 120_000);
