// A transcode behind the answer interrupted by a hard kill: the instance was answered 0000 with a
// pending record; at the next start the server transcodes it again and writes its final record, and the
// outbox then has exactly one record for it, with its final fields.

import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { find, parsePart10, setElement, stringElement } from "../../src/dicom/dataset-tree.ts";
import { writeDataSet } from "../../src/dicom/dataset-writer.ts";
import { buildFileMeta } from "../../src/dicom/part10.ts";
import { PIXEL_DATA } from "../../src/dicom/tags.ts";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { makeWorkDir, type OurServerHandle, startServer, storescu } from "../helpers/dcmtk.ts";
import { corpus, readPart10, storedPathOf, storescuProfile } from "../helpers/fixtures.ts";
import { outboxRecords, rawOutboxRecords, settledRecords, tool, unsettledRecords } from "../helpers/tools.ts";

const work = makeWorkDir("settle-restart");
const started: OurServerHandle[] = [];
afterAll(async () => {
  for (const s of started) await s.stop().catch(() => -1);
  rmSync(work, { recursive: true, force: true });
});

/** 200 frames of 512x512 8-bit as JPEG 2000 lossless (GDCM): seconds to transcode. */
function bigJpeg2000(): string {
  const mf = corpus().find((f) => f.includes("05_mf8_30fr_explicitLE")) ?? "";
  const { meta, elements } = parsePart10(new Uint8Array(readFileSync(mf)));
  const sop = "2.25.4242";
  setElement(elements, stringElement(0x00080018, "UI", sop));
  const px = find(elements, PIXEL_DATA);
  if (!px) throw new Error("no pixel data");
  const frame = px.value.length / 30;
  const v = new Uint8Array(frame * 200);
  for (let i = 0; i < 200; i++) v.set(px.value.subarray((i % 30) * frame, ((i % 30) + 1) * frame), i * frame);
  px.value = v;
  setElement(elements, stringElement(0x00280008, "IS", "200"));
  const native = join(work, "mf200.dcm");
  const head = buildFileMeta({
    sopClassUid: meta.mediaStorageSopClassUid ?? "",
    sopInstanceUid: sop,
    transferSyntaxUid: meta.transferSyntaxUid,
  });
  writeFileSync(native, Buffer.concat([head, writeDataSet(elements, true)]));
  const j2k = join(work, "mf200-j2k.dcm");
  expect(tool("gdcmconv", ["--j2k", native, j2k]).code).toBe(0);
  return j2k;
}

const config = {
  // The pending record is in the outbox the moment the answer comes (file); with wal it follows the
  // file's placing, and a kill before that is the crash tests' case (test/integration/crash.test.ts).
  storage: { fsync: true, min_free_mb: 1, durability: "file" },
  transcode: { supported_transfer_syntaxes: [TS.ExplicitVRLittleEndian], workers: 1 },
};

describe("a transcode interrupted by a hard kill", () => {
  test("is done again at the next start: one record, with its final fields, and the file transcoded", async () => {
    const j2k = bigJpeg2000();
    const p = await readPart10(j2k);
    const outbox = join(work, "outbox");
    const first = await startServer({ workDir: work, config });
    started.push(first);
    const r = await storescu({
      port: first.port,
      files: [j2k],
      extraArgs: ["-xf", await storescuProfile([j2k], `${j2k}.cfg`), "Corpus"],
      timeoutMs: 60_000,
    });
    expect(r.statuses).toEqual([0]);
    // Answered, its record pending: the transcode runs. A hard kill now.
    expect(unsettledRecords(outbox).map((x) => x.sop_uid)).toEqual([p.sopInstanceUid]);
    first.kill("SIGKILL");
    await first.exited;
    expect(unsettledRecords(outbox)).toHaveLength(1);

    const second = await startServer({ workDir: work, config, readyTimeoutMs: 30_000 });
    started.push(second);
    const recs = await settledRecords(outbox, 120_000);
    expect(recs.filter((x) => x.sop_uid === p.sopInstanceUid)).toHaveLength(1);
    const rec = recs.find((x) => x.sop_uid === p.sopInstanceUid);
    const path = storedPathOf(second.dataDir, p.attributes);
    expect([rec?.transfer_status, rec?.target_ts, rec?.file_path]).toEqual([
      "Success",
      TS.ExplicitVRLittleEndian,
      path,
    ]);
    const stored = readFileSync(path);
    expect(rec?.file_size).toBe(stored.length);
    expect((await readPart10(path)).transferSyntaxUid).toBe(TS.ExplicitVRLittleEndian);
    // In the log: the pending record and one final record, nothing more.
    expect(rawOutboxRecords(outbox).filter((x) => x.trace_id === rec?.trace_id)).toHaveLength(2);
    expect(outboxRecords(outbox)).toHaveLength(1);
    await second.waitForOutput(/settle-interrupted instances=1/);
    expect(await second.stop()).toBe(0);
  }, 240_000);
});
