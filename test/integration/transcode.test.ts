// Transcode on arrival, end to end: DCMTK storescu sends the corpus in its own syntaxes to our
// server with the supported list narrowed to Explicit VR LE; what is stored must be Explicit VR LE whose
// pixels equal the native tools' decodes; corrupt codestreams are stored as received (Failed, 0000); a
// 200-frame JPEG 2000 instance is answered before it is transcoded, and a C-ECHO on another association
// is answered while it is.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Element, find, parsePart10, setElement, stringElement } from "../../src/dicom/dataset-tree.ts";
import { writeDataSet } from "../../src/dicom/dataset-writer.ts";
import { buildFileMeta } from "../../src/dicom/part10.ts";
import { PIXEL_DATA } from "../../src/dicom/tags.ts";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { echoscu, makeWorkDir, type OurServerHandle, startServer, storescu } from "../helpers/dcmtk.ts";
import { corpus, filesBelow, readPart10, storedPathOf, storescuProfile } from "../helpers/fixtures.ts";
import { diff, nativePixels, referenceDecode } from "../helpers/pixels.ts";
import { dciodvfyErrors, settledRecords, tool, unsettledRecords } from "../helpers/tools.ts";

const LOSSY = new Set<string>([
  TS.JPEGBaseline8Bit,
  TS.JPEGExtended12Bit,
  TS.JPEG2000,
  TS.JPEGLSNearLossless,
]);

/** A Part-10 file from a parsed one with elements changed (new SOP Instance UID, own pixel fragments). */
function rewrite(src: string, out: string, sopUid: string, edit: (els: Element[]) => void): string {
  const { meta, elements } = parsePart10(new Uint8Array(readFileSync(src)));
  setElement(elements, stringElement(0x00080018, "UI", sopUid));
  edit(elements);
  const head = buildFileMeta({
    sopClassUid: meta.mediaStorageSopClassUid ?? "",
    sopInstanceUid: sopUid,
    transferSyntaxUid: meta.transferSyntaxUid,
  });
  const body = writeDataSet(elements, true);
  writeFileSync(out, Buffer.concat([head, body]));
  return out;
}

describe("transcode on arrival", () => {
  let server: OurServerHandle;
  let work: string;
  beforeAll(async () => {
    corpus();
    work = makeWorkDir("transcode");
    server = await startServer({
      workDir: work,
      config: {
        storage: { fsync: false, min_free_mb: 1 },
        transcode: {
          supported_transfer_syntaxes: [TS.ExplicitVRLittleEndian],
          target: TS.ExplicitVRLittleEndian,
          workers: 2,
        },
      },
    });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  test("every compressed corpus file is stored as Explicit VR LE with the native tools' pixels", async () => {
    const files = [];
    for (const f of corpus()) {
      const p = await readPart10(f);
      // DCMTK 3.6.7 cannot read HTJ2K files (test/transcode/transcode.test.ts covers their decoding)
      if (
        p.transferSyntaxUid !== TS.ExplicitVRLittleEndian &&
        !p.transferSyntaxUid.startsWith("1.2.840.10008.1.2.4.20")
      )
        files.push({ f, p });
    }
    const profile = await storescuProfile(
      files.map((x) => x.f),
      join(work, "profile.cfg"),
    );
    const r = await storescu({
      port: server.port,
      files: files.map((x) => x.f),
      extraArgs: ["-xf", profile, "Corpus"],
      noHalt: true,
      timeoutMs: 120_000,
    });
    expect(r.statuses).toEqual(files.map(() => 0));
    const recs = await settledRecords(join(work, "outbox"));
    for (const { f, p } of files) {
      const stored = storedPathOf(server.dataDir, p.attributes);
      const rec = recs.find((x) => x.sop_uid === p.sopInstanceUid);
      expect(rec?.transfer_syntax_uid).toBe(p.transferSyntaxUid);
      const dir = join(work, `ref-${p.sopInstanceUid}`);
      mkdirSync(dir, { recursive: true });
      expect([f, rec?.transfer_status, rec?.target_ts]).toEqual([f, "Success", TS.ExplicitVRLittleEndian]);
      expect(rec?.file_size).toBe(readFileSync(stored).length);
      const ours = nativePixels(stored);
      expect(ours.ts).toBe(TS.ExplicitVRLittleEndian);
      const ref = referenceDecode(f, p.transferSyntaxUid, dir).pixels;
      expect(ours.photometric).toBe(ref.photometric);
      const d = diff(ours, ref);
      if (LOSSY.has(p.transferSyntaxUid)) {
        expect(d.max).toBeLessThanOrEqual(2);
        expect(d.mean).toBeLessThan(0.5);
      } else expect([f, d.max]).toEqual([f, 0]);
      // readable by DCMTK and GDCM; dciodvfy finds nothing the source did not have
      expect(tool("dcmdump", ["-q", stored]).code).toBe(0);
      expect(tool("gdcminfo", [stored]).code).toBe(0);
      // dciodvfy cannot read every source syntax (deflated): the native tool's decode counts as the source too
      const refFile = join(dir, "ref.dcm");
      const before = new Set([...dciodvfyErrors(f), ...(existsSync(refFile) ? dciodvfyErrors(refFile) : [])]);
      expect([f, dciodvfyErrors(stored).filter((e) => !before.has(e))]).toEqual([f, []]);
    }
  }, 300_000);

  test("a truncated JPEG-LS and a garbage JPEG 2000 codestream: stored as received, Failed, 0000", async () => {
    const ls = corpus().find((f) => f.includes("15_ct_s16_jpegLS_lossless")) ?? "";
    const j2k = corpus().find((f) => f.includes("20_ct_s16_j2k_lossless")) ?? "";
    const cut = (els: Element[]) => {
      const px = find(els, PIXEL_DATA);
      const frag = px?.fragments?.[1];
      if (!px?.fragments || !frag) throw new Error("no fragment");
      px.fragments[1] = frag.subarray(0, frag.length >>> 1);
    };
    const garbage = (els: Element[]) => {
      const px = find(els, PIXEL_DATA);
      if (!px?.fragments) throw new Error("no fragments");
      const g = new Uint8Array(4000);
      for (let i = 0; i < g.length; i++) g[i] = (i * 7919 + 13) & 0xff;
      g.set([0xff, 0x4f, 0xff, 0x51]);
      px.fragments = [new Uint8Array(0), g];
    };
    const a = rewrite(ls, join(work, "truncated-ls.dcm"), "2.25.1001", cut);
    const b = rewrite(j2k, join(work, "garbage-j2k.dcm"), "2.25.1002", garbage);
    for (const f of [a, b]) {
      const p = await readPart10(f);
      const r = await storescu({
        port: server.port,
        files: [f],
        extraArgs: ["-xf", await storescuProfile([f], `${f}.cfg`), "Corpus"],
      });
      expect(r.statuses).toEqual([0]);
      const rec = (await settledRecords(join(work, "outbox"))).find((x) => x.sop_uid === p.sopInstanceUid);
      const stored = await readPart10(storedPathOf(server.dataDir, p.attributes));
      expect(stored.transferSyntaxUid).toBe(p.transferSyntaxUid);
      expect(Buffer.from(stored.dataSet).equals(Buffer.from(p.dataSet))).toBe(true);
      expect([rec?.transfer_status, rec?.target_ts]).toEqual(["Failed", p.transferSyntaxUid]);
    }
    expect(filesBelow(server.dataDir).filter((f) => f.includes(".storescp-"))).toEqual([]);
  }, 120_000);

  test("the answer does not wait for a 200-frame JPEG 2000 transcode, and a C-ECHO is answered while it runs", async () => {
    // 200 frames of 512x512 8-bit, JPEG 2000 lossless by GDCM
    const mf = corpus().find((f) => f.includes("05_mf8_30fr_explicitLE")) ?? "";
    const native = rewrite(mf, join(work, "mf200.dcm"), "2.25.1003", (els) => {
      const px = find(els, PIXEL_DATA);
      if (!px) throw new Error("no pixel data");
      const frame = px.value.length / 30;
      const v = new Uint8Array(frame * 200);
      for (let i = 0; i < 200; i++)
        v.set(px.value.subarray((i % 30) * frame, ((i % 30) + 1) * frame), i * frame);
      px.value = v;
      setElement(els, stringElement(0x00280008, "IS", "200"));
    });
    const j2k = join(work, "mf200-j2k.dcm");
    expect(tool("gdcmconv", ["--j2k", native, j2k]).code).toBe(0);
    const p = await readPart10(j2k);
    const outbox = join(work, "outbox");
    const r = await storescu({
      port: server.port,
      files: [j2k],
      extraArgs: ["-xf", await storescuProfile([j2k], `${j2k}.cfg`), "Corpus"],
      timeoutMs: 120_000,
    });
    expect(r.statuses).toEqual([0]);
    // Answered while its record is still pending: the transcode runs behind the answer.
    expect(unsettledRecords(outbox).map((x) => x.sop_uid)).toEqual([p.sopInstanceUid]);
    const echo = await echoscu({ port: server.port });
    expect(echo.statuses).toEqual([0]);
    expect(unsettledRecords(outbox).map((x) => x.sop_uid)).toEqual([p.sopInstanceUid]);
    const rec = (await settledRecords(outbox)).find((x) => x.sop_uid === p.sopInstanceUid);
    expect([rec?.transfer_status, rec?.target_ts, rec?.number_of_frames]).toEqual([
      "Success",
      TS.ExplicitVRLittleEndian,
      200,
    ]);
  }, 180_000);
});
