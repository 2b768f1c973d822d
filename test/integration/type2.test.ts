// What real devices send: instances whose Type 2 Patient ID or Study Date is absent, empty or odd (made
// with DCMTK's dcmodify, and the Secondary Capture as DCMTK's img2dcm makes it) are stored byte-exact and
// answered 0000, under an "undated" directory when the date is not one, with their gaps in the outbox
// record and in a warning line. With storage.require listing them they are answered A900 and kept in
// quarantine with the reason.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { OutboxLog } from "../../src/outbox/log.ts";
import type { OutboxRecord } from "../../src/outbox/record.ts";
import { dcmsend, makeWorkDir, type OurServerHandle, run, startServer } from "../helpers/dcmtk.ts";
import { corpus, filesBelow, readPart10, storedPathOf } from "../helpers/fixtures.ts";
import { recordsFor } from "../helpers/tools.ts";

const CT = () => corpus().find((f) => f.includes("01_ct_s16_explicitLE")) ?? "";

let work: string;
const made = new Map<string, string>();

/** A copy of the corpus CT with dcmodify edits, with a SOP Instance UID of its own. */
async function modified(name: string, edits: string[], uid: string): Promise<string> {
  const out = join(work, `${name}.dcm`);
  copyFileSync(CT(), out);
  const r = await run("dcmodify", ["-nb", "-m", `(0008,0018)=${uid}`, ...edits, out], { env: {} });
  if (r.code !== 0) throw new Error(`dcmodify: ${r.stderr}`);
  return out;
}

interface Case {
  name: string;
  file: () => string;
  warnings: RegExp[];
  dated: boolean;
}

const CASES: Case[] = [
  {
    name: "patient-id-absent",
    file: () => made.get("pa") ?? "",
    warnings: [/^Patient ID \(0010,0020\) absent$/],
    dated: true,
  },
  {
    name: "patient-id-empty",
    file: () => made.get("pe") ?? "",
    warnings: [/^Patient ID \(0010,0020\) empty$/],
    dated: true,
  },
  {
    name: "study-date-absent",
    file: () => made.get("da") ?? "",
    warnings: [/^Study Date \(0008,0020\) absent$/],
    dated: false,
  },
  {
    name: "study-date-empty",
    file: () => made.get("de") ?? "",
    warnings: [/^Study Date \(0008,0020\) empty$/],
    dated: false,
  },
  {
    name: "study-date-not-a-date",
    file: () => made.get("dx") ?? "",
    warnings: [/^Study Date \(0008,0020\) "2024-01-01" is not YYYYMMDD$/],
    dated: false,
  },
  {
    name: "img2dcm-secondary-capture",
    file: () => made.get("sc") ?? "",
    warnings: [/^Patient ID \(0010,0020\) (absent|empty)$/, /^Study Date \(0008,0020\) (absent|empty)$/],
    dated: false,
  },
];

beforeAll(async () => {
  const dir = corpus()[0]?.replace(/[^/]+$/, "") ?? "";
  work = makeWorkDir("type2");
  made.set("pa", await modified("pa", ["-e", "(0010,0020)"], "2.25.1401"));
  made.set("pe", await modified("pe", ["-m", "(0010,0020)="], "2.25.1402"));
  made.set("da", await modified("da", ["-e", "(0008,0020)"], "2.25.1403"));
  made.set("de", await modified("de", ["-m", "(0008,0020)="], "2.25.1404"));
  made.set("dx", await modified("dx", ["-m", "(0008,0020)=2024-01-01"], "2.25.1405"));
  // The corpus's Secondary Capture as img2dcm makes it: no Patient ID, no Study Date.
  const sc = join(work, "sc.dcm");
  const r = await run("img2dcm", ["-i", "JPEG", join(dir, "_src", "mr.jpg"), sc], { env: {} });
  if (r.code !== 0) throw new Error(`img2dcm: ${r.stderr}`);
  made.set("sc", sc);
}, 120_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

async function records(server: OurServerHandle): Promise<OutboxRecord[]> {
  const log = await OutboxLog.open({
    dir: join(server.workDir, "outbox"),
    maxBytes: 1,
    fsync: false,
    readOnly: true,
  });
  try {
    const r = await log.read(10_000);
    return r.entries.map((e) => JSON.parse(new TextDecoder().decode(e.payload)) as OutboxRecord);
  } finally {
    await log.close();
  }
}

describe("Type 2 gaps, by default", () => {
  let server: OurServerHandle;
  beforeAll(async () => {
    server = await startServer({ config: { storage: { fsync: true, min_free_mb: 1 } } });
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
    rmSync(server.workDir, { recursive: true, force: true });
  });

  test("each is stored byte-exact and answered 0000, with warnings in its record and the log", async () => {
    const files = CASES.map((c) => c.file());
    const r = await dcmsend({ port: server.port, files });
    expect(r.statuses).toEqual(files.map(() => 0));
    const sent = await Promise.all(files.map(async (f) => (await readPart10(f)).sopInstanceUid));
    await recordsFor(join(server.workDir, "outbox"), sent);
    const recs = await records(server);
    for (const c of CASES) {
      const src = await readPart10(c.file());
      const a = src.attributes;
      const path = storedPathOf(server.dataDir, a);
      expect(path.includes("/undated/")).toBe(!c.dated);
      const stored = await readPart10(path);
      expect([c.name, Buffer.compare(Buffer.from(stored.dataSet), Buffer.from(src.dataSet))]).toEqual([
        c.name,
        0,
      ]);
      const rec = recs.find((x) => x.sop_uid === src.sopInstanceUid);
      expect(rec?.file_path).toBe(path);
      expect(rec?.patient_id).toBe(a.patientId ?? "");
      expect(rec?.study_date === null).toBe(!c.dated);
      expect(rec?.warnings?.length).toBe(c.warnings.length);
      for (const [i, w] of c.warnings.entries()) expect(rec?.warnings?.[i] ?? "").toMatch(w);
      await server.waitForOutput(
        new RegExp(`WARN .*instance-warnings .*sop=${src.sopInstanceUid.replaceAll(".", "\\.")} `),
      );
    }
    expect(filesBelow(join(server.dataDir, "_quarantine"))).toEqual([]);
    // A complete instance's record has no warnings at all.
    const ct = await readPart10(CT());
    expect((await dcmsend({ port: server.port, files: [CT()] })).statuses).toEqual([0]);
    await recordsFor(join(server.workDir, "outbox"), [ct.sopInstanceUid]);
    const complete = (await records(server)).find((x) => x.sop_uid === ct.sopInstanceUid);
    expect(complete?.study_date).toMatch(/^\d{4}-\d\d-\d\d$/);
    expect(complete !== undefined && "warnings" in complete).toBe(false);
  }, 60_000);
});

describe("storage.require: [patient_id, study_date]", () => {
  let server: OurServerHandle;
  beforeAll(async () => {
    server = await startServer({
      config: { storage: { fsync: true, min_free_mb: 1, require: ["patient_id", "study_date"] } },
    });
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
    rmSync(server.workDir, { recursive: true, force: true });
  });

  test("each is answered A900 with the reason and quarantined as sent; nothing is stored or recorded", async () => {
    const files = CASES.map((c) => c.file());
    const r = await dcmsend({ port: server.port, files, extraArgs: ["--no-halt"] });
    expect(r.statuses).toEqual(files.map(() => 0xa900));
    const kept = filesBelow(join(server.dataDir, "_quarantine")).filter((f) => f.endsWith(".dcm"));
    expect(kept).toHaveLength(CASES.length);
    for (const c of CASES) {
      const src = await readPart10(c.file());
      const q = kept.find((f) => f.includes(`-${src.sopInstanceUid}-`)) ?? "";
      const reason = JSON.parse(readFileSync(`${q}.reason.json`, "utf8")) as {
        reason: string;
        status: string;
      };
      expect(reason.status).toBe("A900");
      expect(reason.reason.startsWith("storage.require: ")).toBe(true);
      expect(reason.reason.slice("storage.require: ".length)).toMatch(c.warnings[0] ?? /never/);
      const again = await readPart10(q);
      expect(Buffer.compare(Buffer.from(again.dataSet), Buffer.from(src.dataSet))).toBe(0);
    }
    for (const x of r.responses) expect(x.errorComment ?? "").toStartWith("storage.require: ");
    expect(filesBelow(join(server.dataDir, "default"))).toEqual([]);
    expect(await records(server)).toEqual([]);
  }, 60_000);
});
