// The transcode service on stored files, without the network: where a lossy (new) instance goes and what
// it hands on to the outbox, what happens to the one received, and the tenant's quota following the
// size of what is actually stored (new size - old size) after every transcode.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import type { StoredInstance } from "../../src/pipeline/stages.ts";
import { renderPath } from "../../src/store/layout.ts";
import { Quota } from "../../src/tenancy/quota.ts";
import type { Tenant } from "../../src/tenancy/tenants.ts";
import { Transcoder } from "../../src/transcode/service.ts";
import { repoRoot } from "../helpers/dcmtk.ts";
import { corpus, readPart10 } from "../helpers/fixtures.ts";

const TEMPLATE = "{tenant}/{study_date}/{study_uid}/{series_uid}/{sop_uid}.dcm";
const GB = 1024 ** 3;

function tenant(root: string): Tenant {
  return {
    id: "t1",
    aeTitles: ["T1"],
    allowedCallingAes: new Set(),
    allowedNetworks: null,
    storageRoot: root,
    pathTemplate: TEMPLATE,
    users: new Map(),
    tlsSubjects: new Set(),
    topics: null,
    quota: new Quota(GB, join(root, "t1")),
  };
}

/** A corpus file "received": placed where storage.path puts it, counted in the quota as the store pipeline does. */
async function received(name: string, t: Tenant): Promise<StoredInstance> {
  const src = corpus().find((f) => f.includes(name)) ?? "";
  const p = await readPart10(src);
  const path = renderPath(t.storageRoot, t.pathTemplate, {
    tenant: t.id,
    study_date: p.attributes.studyDate ?? "",
    study_uid: p.attributes.studyInstanceUid ?? "",
    series_uid: p.attributes.seriesInstanceUid ?? "",
    sop_uid: p.attributes.sopInstanceUid ?? "",
    sop_class_uid: p.attributes.sopClassUid ?? "",
    modality: p.attributes.modality ?? "",
    calling_ae: "MODALITY",
  });
  mkdirSync(dirname(path), { recursive: true });
  copyFileSync(src, path);
  const fileSize = statSync(path).size;
  t.quota?.add(fileSize);
  return {
    path,
    fileSize,
    attributes: p.attributes,
    outcome: "stored",
    transferSyntaxUid: p.transferSyntaxUid,
  };
}

function transcoder(target: string): Transcoder {
  return new Transcoder(
    { supported_transfer_syntaxes: [target], target, workers: 1 },
    { fsync: false, timeLimitMs: () => 60_000 },
  );
}

let root: string;
const lossy = transcoder(TS.JPEGBaseline8Bit);
const lossless = transcoder(TS.JPEGLSLossless);

beforeAll(() => {
  corpus();
  root = mkdtempSync(join(repoRoot, "test", ".work", "tcsvc-"));
}, 120_000);
afterAll(async () => {
  await lossy.close();
  await lossless.close();
});

describe("lossy target", () => {
  test("the new instance replaces the one received under its own path; the quota follows the size", async () => {
    const t = tenant(join(root, "a"));
    const inst = await received("03_sc_mono8_explicitLE", t);
    const before = t.quota?.used ?? 0;
    const out = await lossy.transcodeStored(inst, { id: "A1", tenant: t, callingAe: "MODALITY" });

    expect(out.transferStatus).toBe("Success");
    expect(out.targetTs).toBe(TS.JPEGBaseline8Bit);
    const newUid = out.attributes.sopInstanceUid ?? "";
    expect(newUid).not.toBe(inst.attributes.sopInstanceUid);
    expect(out.sourceSopInstanceUid).toBe(inst.attributes.sopInstanceUid);
    expect(out.path).toBe(join(dirname(inst.path), `${newUid}.dcm`));
    expect(existsSync(inst.path)).toBe(false);
    const stored = await readPart10(out.path);
    expect([stored.transferSyntaxUid, stored.sopInstanceUid, stored.attributes.sopInstanceUid]).toEqual([
      TS.JPEGBaseline8Bit,
      newUid,
      newUid,
    ]);
    expect(out.fileSize).toBe(statSync(out.path).size);
    expect(out.fileSize).toBeLessThan(inst.fileSize);
    // the quota now counts what is on disk: the smaller file instead of the one received
    expect((t.quota?.used ?? 0) - before).toBe(out.fileSize - inst.fileSize);
    expect(await t.quota?.measure()).toBe(out.fileSize);
  }, 60_000);

  test("12 bits: kept as received, Failed, quota untouched", async () => {
    const t = tenant(join(root, "b"));
    const inst = await received("02_mr_u12_explicitLE", t);
    const before = t.quota?.used;
    const out = await lossy.transcodeStored(inst, { id: "A2", tenant: t, callingAe: "MODALITY" });
    expect([out.transferStatus, out.targetTs, out.path, out.fileSize]).toEqual([
      "Failed",
      TS.ExplicitVRLittleEndian,
      inst.path,
      inst.fileSize,
    ]);
    expect(out.sourceSopInstanceUid).toBeUndefined();
    expect(out.attributes.sopInstanceUid).toBe(inst.attributes.sopInstanceUid);
    expect(statSync(inst.path).size).toBe(inst.fileSize);
    expect(t.quota?.used).toBe(before);
  }, 60_000);
});

test("lossless target: same instance, same path, the quota moves by the difference", async () => {
  const t = tenant(join(root, "c"));
  const inst = await received("01_ct_s16_explicitLE", t);
  const before = t.quota?.used ?? 0;
  const out = await lossless.transcodeStored(inst, { id: "A3", tenant: t, callingAe: "MODALITY" });
  expect([out.transferStatus, out.path, out.sourceSopInstanceUid]).toEqual(["Success", inst.path, undefined]);
  expect(out.attributes.sopInstanceUid).toBe(inst.attributes.sopInstanceUid);
  expect(out.fileSize).toBe(statSync(inst.path).size);
  expect(out.fileSize).not.toBe(inst.fileSize);
  expect((t.quota?.used ?? 0) - before).toBe(out.fileSize - inst.fileSize);
  expect(await t.quota?.measure()).toBe(out.fileSize);
}, 60_000);
