// The write-ahead store stage: a file whose temp copy is gone before it is placed (an operator removed
// its directory just after the answer) is written again from the log, byte for byte; an instance the log
// carries alone reaches its file when placed, and every other way out of the log (too large, no room,
// quarantine) still leaves every byte in a file.

import { afterEach, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFileMeta } from "../../../src/dicom/part10.ts";
import { TS } from "../../../src/dicom/transfer-syntax.ts";
import { DEFAULT_SINK_OPTIONS } from "../../../src/store/instance-sink.ts";
import { Storage } from "../../../src/store/storage.ts";
import { WriteAheadLog } from "../../../src/store/wal/log.ts";
import { WalStore } from "../../../src/store/wal/store.ts";
import type { Tenant } from "../../../src/tenancy/tenants.ts";
import { encode, str, tagOf } from "../../dicom/encode.ts";
import { richDataSet, SOP_CLASS, SOP_INSTANCE } from "../../dicom/fixture.ts";
import { filesBelow } from "../../helpers/fixtures.ts";

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
  await store.place(join(root, "series", ".storescp-gone.tmp"), final, entry);
  expect(Buffer.compare(readFileSync(final), Buffer.from(bytes))).toBe(0);
  entry.release();
  await store.close();
  await storage.close();
});

// --- Carried by the log alone (src/store/wal/copier.ts): the temp file is written when placed ---------

const tenant = (root: string): Tenant => ({
  id: "default",
  aeTitles: [],
  allowedCallingAes: new Set(),
  allowedNetworks: null,
  storageRoot: join(root, "data"),
  pathTemplate: "{tenant}/{study_uid}/{series_uid}/{sop_uid}.dcm",
  users: new Map(),
  tlsSubjects: new Set(),
  topics: null,
  quota: null,
});

interface Rig {
  root: string;
  store: WalStore;
  storage: Storage;
  close(): Promise<void>;
}

function rig(logBytes: number): Rig {
  const root = mkdtempSync(join(tmpdir(), "walcarry-"));
  dirs.push(root);
  const wal = WriteAheadLog.open({ dir: join(root, "data", ".wal"), capacityBytes: logBytes });
  const storage = new Storage({
    fsync: true,
    onDuplicate: "reject",
    minFreeMb: 0,
    quarantineDir: join(root, "q"),
  });
  const store = new WalStore(storage, DEFAULT_SINK_OPTIONS, wal);
  return {
    root,
    store,
    storage,
    close: async () => {
      await store.close();
      await storage.close();
    },
  };
}

/** One C-STORE data set into the store, in socket-sized reads; the sink once the data set ended. */
async function receive(r: Rig, dataSet: Uint8Array, sop: string) {
  const sink = r.store.receive({
    origin: {
      id: "T1",
      tenant: tenant(r.root),
      callingAe: "SCU",
      calledAe: "STORESCP",
      remoteAddress: "127.0.0.1",
    },
    sopClassUid: SOP_CLASS,
    sopInstanceUid: sop,
    transferSyntaxUid: TS.ExplicitVRLittleEndian,
  });
  for (let at = 0; at < dataSet.length; at += 65_536) {
    sink.write(Buffer.from(dataSet.subarray(at, at + 65_536)));
    await new Promise((resolve) => setImmediate(resolve));
  }
  return sink;
}

/** The data set of a Part 10 file (what follows its meta). */
function dataSetOf(path: string): Uint8Array {
  const bytes = new Uint8Array(readFileSync(path));
  return bytes.subarray(readFileMeta(bytes).dataSetOffset);
}

const withSop = (pixels: number, sop: string): Uint8Array =>
  encode(
    richDataSet(pixels).map((n) =>
      n.tag === tagOf(0x0008, 0x0018) ? str(tagOf(0x0008, 0x0018), "UI", sop) : n,
    ),
    "explicitLE",
  );

test("carried alone: nothing in the temp file until placed; then byte-exact, with its SHA-256", async () => {
  const r = rig(16 << 20);
  const data = withSop(300_000, SOP_INSTANCE);
  const sink = await receive(r, data, SOP_INSTANCE);
  const settled = await sink.settle();
  const stored = await sink.commit();
  expect(stored.held).toBeUndefined();
  await stored.makeDurable?.(new TextEncoder().encode("{}"));
  const temps = filesBelow(join(r.root, "data")).filter((f) => f.endsWith(".tmp"));
  expect(temps.map((f) => statSync(f).size)).toEqual([0]);
  const placed = await stored.place?.();
  stored.release?.();
  const file = new Uint8Array(readFileSync(stored.path));
  expect(file.length).toBe(settled.fileSize);
  expect(Buffer.compare(dataSetOf(stored.path), data)).toBe(0);
  expect(placed?.sha256).toBe(createHash("sha256").update(file).digest("hex"));
  await r.close();
});

test("larger than the log carries alone, or than the log holds: the file takes every byte at once", async () => {
  // 6 MiB: past CARRY_MAX, into a log with room (copied to the file, then written to both).
  // 3 MiB into a 2 MiB log: it runs out of room half-way (copied, then the file alone, synced the old way).
  for (const [pixels, logBytes] of [
    [6 << 20, 64 << 20],
    [3 << 20, 2 << 20],
  ] as const) {
    const r = rig(logBytes);
    const data = withSop(pixels, SOP_INSTANCE);
    const sink = await receive(r, data, SOP_INSTANCE);
    await sink.settle();
    const stored = await sink.commit();
    if (stored.makeDurable) await stored.makeDurable(new TextEncoder().encode("{}"));
    const placed = await stored.place?.();
    stored.release?.();
    expect(placed?.sha256).toBeUndefined();
    expect(Buffer.compare(dataSetOf(stored.path), data)).toBe(0);
    await r.close();
  }
});

test("carried alone, then refused (not whole; a duplicate rejected): the quarantined file holds the bytes", async () => {
  const r = rig(16 << 20);
  // Cut inside the pixel data: not whole, found only at its end.
  const data = withSop(300_000, SOP_INSTANCE);
  const cut = data.subarray(0, data.length - 1000);
  const sink = await receive(r, cut, SOP_INSTANCE);
  await expect(sink.settle()).rejects.toThrow();
  // The same instance twice with on_duplicate reject: the second is quarantined after its commit.
  const sop2 = `${SOP_INSTANCE}.2`;
  const second = withSop(300_000, sop2);
  for (let i = 0; i < 2; i++) {
    const s = await receive(r, second, sop2);
    await s.settle();
    if (i === 0) {
      const stored = await s.commit();
      await stored.makeDurable?.(new TextEncoder().encode("{}"));
      await stored.place?.();
      stored.release?.();
    } else await expect(s.commit()).rejects.toThrow(/already stored/);
  }
  const quarantined = filesBelow(join(r.root, "q")).filter((f) => !f.endsWith(".json"));
  expect(quarantined).toHaveLength(2);
  const contents = quarantined.map((f) => Buffer.from(dataSetOf(f)));
  expect(contents.some((c) => Buffer.compare(c, Buffer.from(cut)) === 0)).toBe(true);
  expect(contents.some((c) => Buffer.compare(c, Buffer.from(second)) === 0)).toBe(true);
  await r.close();
});
