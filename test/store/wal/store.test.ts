// The write-ahead store stage: a file whose temp copy is gone before it is placed (an operator removed
// its directory just after the answer) is written again from the log, byte for byte.

import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_SINK_OPTIONS } from "../../../src/store/instance-sink.ts";
import { Storage } from "../../../src/store/storage.ts";
import { WriteAheadLog } from "../../../src/store/wal/log.ts";
import { WalStore } from "../../../src/store/wal/store.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

test("a temp file lost before placing: the file is written again from the log", async () => {
  const root = mkdtempSync(join(tmpdir(), "walstore-"));
  dirs.push(root);
  const wal = WriteAheadLog.open({ dir: join(root, ".wal"), capacityBytes: 1 << 20 });
  const storage = new Storage({
    fsync: true,
    onDuplicate: "overwrite",
    minFreeMb: 0,
    quarantineDir: join(root, "q"),
  });
  const store = new WalStore(storage, DEFAULT_SINK_OPTIONS, wal);
  const bytes = new Uint8Array(300_000).map((_, i) => (i * 31) & 0xff);
  const entry = store.begin();
  for (let o = 0; o < bytes.length; o += 65_536) entry.write(bytes.subarray(o, o + 65_536));
  await entry.commit(new TextEncoder().encode("{}"));
  const final = join(root, "series", "1.2.3.dcm");
  await store.place(join(root, "series", ".storescp-gone.tmp"), final, entry.id);
  expect(Buffer.compare(readFileSync(final), Buffer.from(bytes))).toBe(0);
  entry.release();
  await store.close();
  await storage.close();
});
