// The DCMTK helpers, checked against DCMTK's own storescp on loopback.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type DcmtkStorescpHandle,
  dcmdump,
  dcmsend,
  dcmtkEnv,
  echoscu,
  freePort,
  isListening,
  makeWorkDir,
  parseStoreResponses,
  peakRss,
  startDcmtkStorescp,
  startServer,
  storescu,
  tagValue,
} from "./dcmtk.ts";

const SOP_UID = "2.25.4242";

function makeFile(dir: string, sopUid: string): string {
  const dump = join(dir, `${sopUid}.dump`);
  const file = join(dir, `${sopUid}.dcm`);
  writeFileSync(
    dump,
    [
      "(0008,0016) UI 1.2.840.10008.5.1.4.1.1.7",
      `(0008,0018) UI ${sopUid}`,
      "(0008,0020) DA 20240101",
      "(0010,0020) LO P1",
      "(0020,000d) UI 2.25.2",
      "(0020,000e) UI 2.25.3",
      "(0028,0002) US 1",
      "(0028,0004) CS MONOCHROME2",
      "(0028,0010) US 2",
      "(0028,0011) US 2",
      "(0028,0100) US 8",
      "(0028,0101) US 8",
      "(0028,0102) US 7",
      "(0028,0103) US 0",
      "(7fe0,0010) OB 01\\02\\03\\04",
      "",
    ].join("\n"),
  );
  const r = spawnSync("dump2dcm", ["+te", dump, file], { env: dcmtkEnv(), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`dump2dcm failed: ${r.stderr}`);
  return file;
}

describe("DCMTK helpers against DCMTK storescp", () => {
  let work: string;
  let scp: DcmtkStorescpHandle;
  let file: string;

  beforeAll(async () => {
    work = makeWorkDir("dcmtk-helpers");
    file = makeFile(work, SOP_UID);
    scp = await startDcmtkStorescp({ outDir: join(work, "recv") });
  });
  afterAll(async () => {
    await scp?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("storescp listens and reports its peak RSS", () => {
    expect(isListening(scp.port)).toBe(true);
    const rss = peakRss(scp.pid);
    expect(rss).toBeGreaterThan(1 << 20);
  });

  test("storescu: one file, status 0, stored", async () => {
    const r = await storescu({ port: scp.port, files: [file] });
    expect(r.code).toBe(0);
    expect(r.statuses).toEqual([0]);
    expect(r.responses[0]?.sopInstanceUid).toBe(SOP_UID);
    expect(existsSync(join(scp.outDir, `SC.${SOP_UID}`))).toBe(true);
  });

  test("storescu: a directory is scanned", async () => {
    const dir = join(work, "dir");
    mkdirSync(join(dir, "sub"), { recursive: true });
    makeFile(dir, "2.25.4243");
    makeFile(join(dir, "sub"), "2.25.4244");
    rmSync(join(dir, "2.25.4243.dump"));
    rmSync(join(dir, "sub", "2.25.4244.dump"));
    const r = await storescu({ port: scp.port, files: [dir], calledAe: "STORESCP", callingAe: "TESTSCU" });
    expect(r.statuses).toEqual([0, 0]);
    expect(r.responses.map((x) => x.sopInstanceUid).sort()).toEqual(["2.25.4243", "2.25.4244"]);
  });

  test("dcmsend and echoscu", async () => {
    const s = await dcmsend({ port: scp.port, files: [file, file] });
    expect(s.code).toBe(0);
    expect(s.statuses).toEqual([0, 0]);
    const e = await echoscu({ port: scp.port, repeat: 2 });
    expect(e.code).toBe(0);
    expect(e.statuses).toEqual([0, 0]);
  });

  test("dcmdump and tagValue", () => {
    expect(dcmdump(file)).toContain("SOPInstanceUID");
    expect(tagValue(file, "0008,0018")).toBe(SOP_UID);
    expect(tagValue(file, "0008,0016")).toBe("1.2.840.10008.5.1.4.1.1.7");
    expect(tagValue(file, "0010,0010")).toBeUndefined();
  });

  test("a failure status is parsed (storescp answers A700 when it cannot write)", async () => {
    const out = join(work, "vanishing");
    const other = await startDcmtkStorescp({ outDir: out });
    try {
      rmSync(out, { recursive: true, force: true });
      const r = await storescu({ port: other.port, files: [file, file], noHalt: true });
      expect(r.statuses).toEqual([0xa700, 0xa700]);
      expect(r.responses[0]?.statusText).toContain("Out of resources");
    } finally {
      await other.stop();
    }
  });

  test("nothing listening: no statuses, non-zero exit", async () => {
    const port = await freePort();
    const r = await storescu({ port, files: [file], timeoutMs: 20_000 });
    expect(r.code).not.toBe(0);
    expect(r.statuses).toEqual([]);
  });
});

describe("parseStoreResponses", () => {
  test("debug blocks with an error comment", () => {
    const log = [
      "I: Received Store Response",
      "D: ===================== INCOMING DIMSE MESSAGE ====================",
      "D: Message Type                  : C-STORE RSP",
      "D: Presentation Context ID       : 201",
      "D: Message ID Being Responded To : 7",
      "D: Affected SOP Class UID        : SecondaryCaptureImageStorage",
      "D: Affected SOP Instance UID     : 2.25.9",
      "D: Data Set                      : none",
      "D: DIMSE Status                  : 0xc123: Error: Cannot understand",
      "D: ======================= END DIMSE MESSAGE =======================",
      "D: Status Detail:",
      "D: ",
      "D: # Dicom-Data-Set",
      "D: # Used TransferSyntax: Little Endian Implicit",
      "D: (0000,0902) LO [Missing Study Date]                     #  18, 1 ErrorComment",
      "I: Releasing Association",
    ].join("\n");
    expect(parseStoreResponses(log)).toEqual([
      {
        messageId: 7,
        sopInstanceUid: "2.25.9",
        status: 0xc123,
        statusText: "Error: Cannot understand",
        errorComment: "Missing Study Date",
      },
    ]);
  });

  test("dcmsend's status detail", () => {
    const log = [
      "D: ===================== INCOMING DIMSE MESSAGE ====================",
      "D: Message Type                  : C-STORE RSP",
      "D: Message ID Being Responded To : 1",
      "D: Affected SOP Instance UID     : 2.25.9",
      "D: DIMSE Status                  : 0xa900: Error: Data Set does not match SOP Class",
      "D: ======================= END DIMSE MESSAGE =======================",
      "D: Response has status detail:",
      "D: # Dicom-Data-Set",
      "D: (0000,0902) LO [storage.require: Patient ID (0010,0020) absent] #  46, 1 ErrorComment",
      "D: sending SOP instance from file: /x/2.dcm",
    ].join("\n");
    expect(parseStoreResponses(log)[0]?.errorComment).toBe("storage.require: Patient ID (0010,0020) absent");
  });

  test("verbose lines map DCMTK's names back to codes", () => {
    const log = [
      "I: Received Store Response (Success)",
      "I: Received Store Response (Refused: OutOfResources)",
      "I: Received C-STORE Response (Warning: CoersionOfDataElements)",
      "I: Received Store Response (Unknown Status: 0x110)",
    ].join("\n");
    expect(parseStoreResponses(log).map((r) => r.status)).toEqual([0, 0xa700, 0xb000, 0x110]);
  });
});

describe("startServer (with a stand-in entry point until src/main.ts exists)", () => {
  test("passes --config and --port 0, takes the bound port from the 'ready' line, stops with SIGTERM", async () => {
    const work = makeWorkDir("fake-server");
    const entry = join(work, "fake-main.ts");
    writeFileSync(
      entry,
      [
        'import { createServer } from "node:net";',
        "const argv = process.argv.slice(2);",
        'const port = Number(argv[argv.indexOf("--port") + 1]);',
        'const config = argv[argv.indexOf("--config") + 1];',
        "const srv = createServer((s) => s.end());",
        'srv.listen(port, "0.0.0.0", () => {',
        "  const bound = srv.address().port;",
        '  const fields = ["ae=TESTSCP", "on=0.0.0.0:" + bound, "tls=off", "ops=off", "config=" + config];',
        '  console.log("INFO server: ready " + fields.join(" ") + " cwd=" + process.cwd());',
        "});",
        'process.on("SIGTERM", () => srv.close(() => process.exit(0)));',
        "",
      ].join("\n"),
    );
    const srv = await startServer({
      entry,
      workDir: work,
      config: { storage: { root: "./store", fsync: false }, scp: { ae_title: "TESTSCP" } },
    });
    try {
      expect(srv.port).toBeGreaterThan(0);
      expect(srv.output()).toContain(`ready ae=TESTSCP on=0.0.0.0:${srv.port} `);
      expect(srv.tlsPort).toBe(null);
      expect(srv.opsPort).toBe(null);
      expect(srv.output()).toContain(`config=${srv.configPath}`);
      expect(srv.output()).toContain(`cwd=${work}`);
      expect(srv.dataDir).toBe(join(work, "store"));
      expect(isListening(srv.port)).toBe(true);
      expect(peakRss(srv.pid)).toBeGreaterThan(1 << 20);
    } finally {
      expect(await srv.stop()).toBe(0);
      rmSync(work, { recursive: true, force: true });
    }
  });

  test("a server that exits early rejects with its output", async () => {
    const work = makeWorkDir("fake-server");
    const entry = join(work, "fail-main.ts");
    writeFileSync(entry, 'console.error("config.yaml:1:1: bad config"); process.exit(2);\n');
    await expect(startServer({ entry, workDir: work, configYaml: "scp: {}\n" })).rejects.toThrow(
      /bad config/,
    );
    rmSync(work, { recursive: true, force: true });
  });
});
