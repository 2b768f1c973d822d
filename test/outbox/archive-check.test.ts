import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkArchive } from "../../src/outbox/archive-check.ts";
import { OutboxLog } from "../../src/outbox/log.ts";

const dir = mkdtempSync(join(tmpdir(), "archive-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T = Date.parse("2026-03-01T10:00:00.000Z");

function file(path: string, mtime: number): string {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, "x");
  utimesSync(path, mtime / 1000, mtime / 1000);
  return path;
}

test("reports archive files newer than the newest record, written before this process", async () => {
  const root = join(dir, "data");
  const quarantine = join(root, "_quarantine");
  const outbox = await OutboxLog.open({ dir: join(dir, "outbox"), maxBytes: 1 << 30, fsync: false });
  expect(
    (await checkArchive(outbox, { roots: [root], skip: [quarantine], startedAt: T + 60_000 })).since,
  ).toBe(null);
  const recorded = file(join(root, "t/s1/old.dcm"), T - 5000);
  const last = file(join(root, "t/s1/last.dcm"), T - 1);
  await outbox.append(
    new TextEncoder().encode(JSON.stringify({ created_time: new Date(T).toISOString(), file_path: last })),
  );
  const lost = file(join(root, "t/s2/lost.dcm"), T + 10_000);
  file(join(root, "t/s2/.storescp-abc-1.tmp"), T + 10_000);
  file(join(quarantine, "t/x.dcm"), T + 10_000);
  file(join(root, "t/s3/mine.dcm"), T + 70_000);
  // Directories' times follow their entries (a rename into one changes it).
  for (const d of ["t/s1", "t/s2", "t/s3"])
    utimesSync(join(root, d), (T + 70_000) / 1000, (T + 70_000) / 1000);
  utimesSync(join(root, "t/s1"), (T - 1) / 1000, (T - 1) / 1000);

  const r = await checkArchive(outbox, { roots: [root], skip: [quarantine], startedAt: T + 60_000 });
  expect(r.since).toBe(new Date(T).toISOString());
  expect(r.unrecorded).toEqual([lost]);
  expect(r.complete).toBe(true);
  expect(recorded).not.toBe(lost);

  const bounded = await checkArchive(outbox, {
    roots: [root],
    skip: [quarantine],
    startedAt: T + 60_000,
    maxEntries: 2,
  });
  expect(bounded.complete).toBe(false);
  await outbox.close();
});
