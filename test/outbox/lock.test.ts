// One owner of the outbox log at a time (src/outbox/lock.ts).

import { describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OutboxLockedError } from "../../src/outbox/log.ts";
import { open } from "../helpers/outbox-log.ts";
import { tmpDirs } from "../helpers/tmp.ts";

const tmp = tmpDirs("outbox");

describe("the lock", () => {
  test("one owner at a time; a stale lock (dead pid) is taken over", async () => {
    const dir = tmp();
    const log = await open(dir);
    await expect(
      (async () => {
        writeFileSync(join(dir, "LOCK"), "1\n"); // pid 1 is alive
        await open(dir);
      })(),
    ).rejects.toBeInstanceOf(OutboxLockedError);
    await log.close();
    writeFileSync(join(dir, "LOCK"), "999999999\n");
    const again = await open(dir);
    await again.close();
    expect(existsSync(join(dir, "LOCK"))).toBe(false);
  });
});
