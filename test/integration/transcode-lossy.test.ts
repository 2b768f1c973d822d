// Transcode on arrival to JPEG Baseline (lossy), end to end: DCMTK storescu sends an 8-bit image to our
// server with transcode.target 1.2.840.10008.1.2.4.50; what is stored is a new instance (new SOP Instance
// UID in the file, its path and its outbox record, which names the UID sent in source_sop_uid) that
// dcmdjpeg decodes to pixels near the source and dciodvfy finds nothing new in. A 12-bit image cannot go
// to baseline: stored as received, Failed, with the reason in the log.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { isValidUid } from "../../src/dicom/uid.ts";
import { makeWorkDir, type OurServerHandle, startServer, storescu, tagValue } from "../helpers/dcmtk.ts";
import { corpus, filesBelow, readPart10, storedPathOf } from "../helpers/fixtures.ts";
import { diff, nativePixels } from "../helpers/pixels.ts";
import { dciodvfyErrors, settledRecords, tool } from "../helpers/tools.ts";

describe("transcode on arrival to JPEG Baseline", () => {
  let server: OurServerHandle;
  let work: string;
  beforeAll(async () => {
    corpus();
    work = makeWorkDir("transcode-lossy");
    server = await startServer({
      workDir: work,
      config: {
        storage: { fsync: false, min_free_mb: 1 },
        transcode: {
          supported_transfer_syntaxes: [TS.JPEGBaseline8Bit],
          target: TS.JPEGBaseline8Bit,
          workers: 1,
        },
      },
    });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  test("an 8-bit image becomes a new, derived instance: file, path and record carry the new UID", async () => {
    const src = corpus().find((f) => f.includes("03_sc_mono8_explicitLE")) ?? "";
    const p = await readPart10(src);
    const r = await storescu({ port: server.port, files: [src] });
    expect(r.statuses).toEqual([0]);

    const rec = (await settledRecords(join(work, "outbox"))).find(
      (x) => x.source_sop_uid === p.sopInstanceUid,
    );
    const uid = rec?.sop_uid ?? "";
    expect(uid).not.toBe(p.sopInstanceUid);
    expect(isValidUid(uid, { strict: true })).toBe(true);
    const stored = storedPathOf(server.dataDir, { ...p.attributes, sopInstanceUid: uid });
    expect(rec?.file_path).toBe(stored);
    expect([rec?.transfer_syntax_uid, rec?.target_ts, rec?.transfer_status]).toEqual([
      TS.ExplicitVRLittleEndian,
      TS.JPEGBaseline8Bit,
      "Success",
    ]);
    expect(rec?.file_size).toBe(readFileSync(stored).length);
    expect([rec?.study_uid, rec?.series_uid, rec?.sop_class_uid]).toEqual([
      p.attributes.studyInstanceUid,
      p.attributes.seriesInstanceUid,
      p.sopClassUid,
    ]);
    // the one received is gone: the archive holds one image, the derived one
    expect(existsSync(storedPathOf(server.dataDir, p.attributes))).toBe(false);

    const f = await readPart10(stored);
    expect([f.transferSyntaxUid, f.sopInstanceUid, f.attributes.sopInstanceUid]).toEqual([
      TS.JPEGBaseline8Bit,
      uid,
      uid,
    ]);
    expect(tagValue(stored, "0028,2110")).toBe("01");
    expect(Number(tagValue(stored, "0028,2112"))).toBeGreaterThan(2);
    expect(tagValue(stored, "0028,2114")).toBe("ISO_10918_1");
    expect(tagValue(stored, "0008,0008")).toMatch(/^DERIVED\\/);
    expect(tool("dcmdump", ["+L", "+P", "0008,2111", stored]).out).toMatch(/JPEG baseline, quality 90/);
    // (0008,1155) only occurs in the Source Image Sequence
    expect(tagValue(stored, "0008,1155")).toBe(p.sopInstanceUid);
    expect(tool("dcmdump", ["+P", "0008,9215", stored]).out).toMatch(
      /\[113040\][\s\S]*\[DCM\][\s\S]*\[Lossy Compression\]/,
    );

    const decoded = join(work, "decoded.dcm");
    expect(tool("dcmdjpeg", [stored, decoded]).code).toBe(0);
    // Measured: max 7, mean 0.31 (quality 90, flat quantisation table)
    const d = diff(nativePixels(decoded), nativePixels(src));
    expect(d.max).toBeLessThanOrEqual(12);
    expect(d.mean).toBeLessThan(0.5);
    const before = new Set(dciodvfyErrors(src));
    expect(dciodvfyErrors(stored).filter((e) => !before.has(e))).toEqual([]);
    await server.waitForOutput(new RegExp(`transcoded .*derived_sop=${uid.replaceAll(".", "\\.")}`));
  }, 120_000);

  test("the same image sent again: the same derived instance, not a second one", async () => {
    const src = corpus().find((f) => f.includes("03_sc_mono8_explicitLE")) ?? "";
    const p = await readPart10(src);
    const r = await storescu({ port: server.port, files: [src] });
    expect(r.statuses).toEqual([0]);
    const recs = (await settledRecords(join(work, "outbox"))).filter(
      (x) => x.source_sop_uid === p.sopInstanceUid,
    );
    expect(recs.length).toBe(2);
    expect(recs[1]?.sop_uid).toBe(recs[0]?.sop_uid);
    const series = storedPathOf(server.dataDir, p.attributes).replace(/[^/]+$/, "");
    expect(readdirSync(series).filter((n) => n.endsWith(".dcm"))).toEqual([`${recs[0]?.sop_uid}.dcm`]);
  }, 120_000);

  test("a 12-bit image: stored as received, Failed, and the log says why", async () => {
    const src = corpus().find((f) => f.includes("02_mr_u12_explicitLE")) ?? "";
    const p = await readPart10(src);
    const r = await storescu({ port: server.port, files: [src] });
    expect(r.statuses).toEqual([0]);
    const rec = (await settledRecords(join(work, "outbox"))).find((x) => x.sop_uid === p.sopInstanceUid);
    const stored = await readPart10(storedPathOf(server.dataDir, p.attributes));
    expect(stored.transferSyntaxUid).toBe(TS.ExplicitVRLittleEndian);
    expect(Buffer.from(stored.dataSet).equals(Buffer.from(p.dataSet))).toBe(true);
    expect([rec?.transfer_status, rec?.target_ts, rec?.source_sop_uid]).toEqual([
      "Failed",
      TS.ExplicitVRLittleEndian,
      undefined,
    ]);
    await server.waitForOutput(/transcode-failed.*Bits Stored is 12/);
  }, 120_000);
});

describe("on_duplicate with a lossy target: applied to the derived instance", () => {
  for (const mode of ["keep", "reject"] as const) {
    test(`${mode}: the image sent again finds its derived instance stored`, async () => {
      const work = makeWorkDir(`transcode-lossy-${mode}`);
      const s = await startServer({
        workDir: work,
        config: {
          storage: { fsync: false, min_free_mb: 1, on_duplicate: mode },
          transcode: {
            supported_transfer_syntaxes: [TS.JPEGBaseline8Bit],
            target: TS.JPEGBaseline8Bit,
            workers: 1,
          },
        },
      });
      try {
        const src = corpus().find((f) => f.includes("03_sc_mono8_explicitLE")) ?? "";
        const p = await readPart10(src);
        expect((await storescu({ port: s.port, files: [src] })).statuses).toEqual([0]);
        const first = await settledRecords(join(work, "outbox"));
        expect(first.length).toBe(1);
        const derived = storedPathOf(s.dataDir, { ...p.attributes, sopInstanceUid: first[0]?.sop_uid ?? "" });
        const ino = statSync(derived).ino;

        const again = await storescu({ port: s.port, files: [src], noHalt: true });
        if (mode === "keep") expect(again.statuses).toEqual([0]);
        else {
          expect(again.statuses).toEqual([0x0111]);
          expect(again.responses[0]?.errorComment).toMatch(/already stored, as its derived/);
          const reasons = filesBelow(join(s.dataDir, "_quarantine")).filter((f) =>
            f.endsWith(".reason.json"),
          );
          expect(reasons).toHaveLength(1);
          expect(JSON.parse(readFileSync(reasons[0] ?? "", "utf8")).status).toBe("0111");
        }
        // the derived instance untouched, the received one not left beside it, no second record
        expect(statSync(derived).ino).toBe(ino);
        expect(existsSync(storedPathOf(s.dataDir, p.attributes))).toBe(false);
        expect((await settledRecords(join(work, "outbox"))).length).toBe(1);
      } finally {
        await s.stop();
      }
    }, 120_000);
  }
});
