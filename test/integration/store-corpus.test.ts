// DCMTK echoscu and storescu against our server: every transfer syntax of the corpus in one
// association, stored bit-preserving at the templated path with a correct Part-10 meta.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_SUPPORTED_TRANSFER_SYNTAXES } from "../../src/config/defaults.ts";
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from "../../src/dicom/implementation.ts";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { CommandField, Tag } from "../../src/dimse/command.ts";
import { ClientAssociation } from "../../src/scu/client.ts";
import { dcmdump, echoscu, type OurServerHandle, startServer, storescu } from "../helpers/dcmtk.ts";
import {
  corpus,
  eventually,
  filesBelow,
  placed,
  readPart10,
  storedPathOf,
  storescuProfile,
} from "../helpers/fixtures.ts";

let server: OurServerHandle;

beforeAll(async () => {
  corpus();
  // HTJ2K is outside the default supported list (it would be transcoded): here every syntax is kept as received.
  const supported = [
    ...DEFAULT_SUPPORTED_TRANSFER_SYNTAXES,
    TS.HTJ2KLossless,
    TS.HTJ2KLosslessRPCL,
    TS.HTJ2K,
  ];
  server = await startServer({
    config: {
      storage: { fsync: true, min_free_mb: 1 },
      transcode: { supported_transfer_syntaxes: supported },
    },
  });
}, 120_000);

afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

describe("DCMTK peers", () => {
  test("echoscu: C-ECHO succeeds, several times in one association", async () => {
    const r = await echoscu({ port: server.port, repeat: 3 });
    expect(r.statuses).toEqual([0, 0, 0]);
    expect(r.code).toBe(0);
  });

  test("storescu sends every transfer syntax of the corpus in one association: all 0000, bit-preserving", async () => {
    // DCMTK 3.6.7 cannot read HTJ2K files; that one is sent by our own SCU below.
    const files = corpus().filter((f) => !f.includes("HTJ2K"));
    expect(files.length).toBeGreaterThanOrEqual(25);
    const profile = await storescuProfile(files, join(server.workDir, "corpus.cfg"));
    const r = await storescu({
      port: server.port,
      files,
      extraArgs: ["-xf", profile, "Corpus", "-aet", "MODALITY1"],
    });
    expect(r.statuses).toEqual(files.map(() => 0));
    expect(r.code).toBe(0);

    for (const f of files) {
      const src = await readPart10(f);
      const a = src.attributes;
      const stored = await placed(storedPathOf(server.dataDir, a));
      const got = await readPart10(stored);
      // The data set exactly as sent (no transcoding configured for this test's syntaxes).
      expect(Buffer.compare(Buffer.from(got.dataSet), Buffer.from(src.dataSet))).toBe(0);
      expect(got.transferSyntaxUid).toBe(src.transferSyntaxUid);
      expect(got.sopClassUid).toBe(src.sopClassUid);
      expect(got.sopInstanceUid).toBe(src.sopInstanceUid);
      expect(got.meta.implementationClassUid).toBe(IMPLEMENTATION_CLASS_UID);
      expect(got.meta.implementationVersionName).toBe(IMPLEMENTATION_VERSION_NAME);
      expect(got.meta.sourceAeTitle).toBe("MODALITY1");
      // And DCMTK reads what we wrote.
      expect(dcmdump(stored, ["-q", "-Un", "+P", "0002,0010"])).toContain(src.transferSyntaxUid);
    }
    // Nothing but the stored files (no temp files, nothing in quarantine), beside the write-ahead log.
    const all = await eventually(
      () => filesBelow(server.dataDir).filter((p) => !p.includes("/.wal/")),
      (files) => !files.some((p) => p.includes(".storescp-")),
    );
    expect(all.filter((p) => p.includes(".storescp-") || p.includes("_quarantine"))).toEqual([]);
    expect(all.length).toBe(files.length);
    // One log line per instance and one for the association, greppable by SOP Instance UID.
    const lastSop = (await readPart10(files.at(-1) ?? "")).sopInstanceUid;
    await server.waitForOutput(new RegExp(`instance .*sop=${lastSop.replaceAll(".", "\\.")} .*status=0000`));
    await server.waitForOutput(/association-ended .*calling=MODALITY1 .*instances=\d+ .*ending=released/);
  }, 120_000);

  test("the HTJ2K file (which DCMTK 3.6.7 cannot read) stored through our own SCU, bit-preserving", async () => {
    const f = corpus().find((x) => x.includes("HTJ2K"));
    if (!f) throw new Error("corpus lacks the HTJ2K file");
    const src = await readPart10(f);
    const assoc = await ClientAssociation.connect("127.0.0.1", server.port);
    const ac = await assoc.associate("STORESCP", "OURSCU", [
      { id: 1, abstractSyntax: src.sopClassUid, transferSyntaxes: [src.transferSyntaxUid] },
    ]);
    expect(ac.presentationContexts[0]).toEqual({ id: 1, result: 0, transferSyntax: src.transferSyntaxUid });
    const rsp = await assoc.store(1, src.sopClassUid, src.sopInstanceUid, src.dataSet, 7);
    await assoc.release();
    expect(rsp.status).toBe(0);
    expect(rsp.number(Tag.MessageIdBeingRespondedTo)).toBe(7);
    expect(rsp.affectedSopInstanceUid).toBe(src.sopInstanceUid);
    expect(rsp.commandField).toBe(CommandField.CStoreRsp);
    const a = src.attributes;
    const stored = await placed(storedPathOf(server.dataDir, a));
    const got = readFileSync(stored);
    expect(Buffer.compare(got.subarray(got.length - src.dataSet.length), Buffer.from(src.dataSet))).toBe(0);
  });
});
