import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { InstanceSink } from "../../src/store/instance-sink.ts";
import { Storage } from "../../src/store/storage.ts";
import type { Tenant } from "../../src/tenancy/tenants.ts";
import { releaseChunk } from "../../src/util/transient-bytes.ts";
import { encode } from "../dicom/encode.ts";
import { richDataSet, SOP_CLASS, SOP_INSTANCE } from "../dicom/fixture.ts";

const dir = mkdtempSync(join(tmpdir(), "instance-sink-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tenant: Tenant = {
  id: "default",
  aeTitles: [],
  allowedCallingAes: new Set(),
  allowedNetworks: null,
  storageRoot: join(dir, "data"),
  pathTemplate: "{tenant}/{study_uid}/{series_uid}/{sop_uid}.dcm",
  users: new Map(),
  tlsSubjects: new Set(),
  topics: null,
  quota: null,
};
const dataSet = encode(richDataSet(200_000), "explicitLE");

/**
 * The data set in socket reads of the given sizes, each read a buffer of its own that is freed when
 * its turn ends unless kept (releaseChunk, as the transport does), handed over in PDV-sized pieces.
 */
async function receive(storage: Storage, reads: number[]): Promise<string> {
  const sink = new InstanceSink(storage, {
    origin: { id: "T1", tenant, callingAe: "SCU", calledAe: "STORESCP", remoteAddress: "127.0.0.1" },
    sopClassUid: SOP_CLASS,
    sopInstanceUid: SOP_INSTANCE,
    transferSyntaxUid: TS.ExplicitVRLittleEndian,
  });
  let at = 0;
  for (const size of reads) {
    if (at >= dataSet.length) break;
    const read = Buffer.from(dataSet.subarray(at, Math.min(dataSet.length, at + size)));
    at += read.length;
    for (let p = 0; p < read.length; p += 3000) sink.write(read.subarray(p, p + 3000));
    queueMicrotask(() => releaseChunk(read));
    // A turn ends; the next read may come before a file could be made.
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (at < dataSet.length) {
    const rest = Buffer.from(dataSet.subarray(at));
    sink.write(rest);
  }
  await sink.settle();
  const stored = await sink.commit();
  expect(stored.outcome === "stored" || stored.outcome === "replaced").toBe(true);
  return stored.path;
}

test("reads freed at the end of their turn reach the file intact, with and without a spare file ready", async () => {
  const storage = new Storage({
    fsync: false,
    onDuplicate: "overwrite",
    minFreeMb: 0,
    quarantineDir: join(dir, "quarantine"),
  });
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: 90_000 }), { minLength: 1, maxLength: 8 }),
      async (reads) => {
        const path = await receive(storage, reads);
        const file = readFileSync(path);
        expect(Buffer.compare(file.subarray(file.length - dataSet.length), Buffer.from(dataSet))).toBe(0);
        // The next instance of the series finds a spare ready (the other path to the file).
        storage.prepareNext(path);
      },
    ),
    { numRuns: 25 },
  );
  await storage.close();
});
