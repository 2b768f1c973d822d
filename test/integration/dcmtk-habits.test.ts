// A PACS engineer's DCMTK storescp command lines work with DCMTK's meaning: `storescp -aet X -od DIR PORT`
// stores into DIR under that AE title, +xa accepts every known syntax where the config says
// uncompressed only, and -pm accepts an unknown SOP class, as DCMTK's do.

import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { makeWorkDir, run, startServer, storescu } from "../helpers/dcmtk.ts";
import { corpus, filesBelow, placedBelow, readPart10, storescuProfile } from "../helpers/fixtures.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function work(name: string): string {
  const d = makeWorkDir(name);
  dirs.push(d);
  return d;
}

describe("DCMTK storescp habits", () => {
  test("storescp -aet X -od DIR PORT: listens as X and stores into DIR", async () => {
    const w = work("dcmtk-aet-od");
    const into = join(w, "incoming");
    // PORT 0: the trailing positional port, any free one (the start-up line says which).
    const server = await startServer({
      workDir: w,
      config: { storage: { min_free_mb: 1 } },
      args: ["-aet", "ARCHIVE", "-od", into, "0"],
    });
    try {
      expect(server.output()).toMatch(/ ready ae=ARCHIVE on=0\.0\.0\.0:\d+ /);
      const f = corpus().find((x) => x.includes("03_sc_mono8")) ?? "";
      const r = await storescu({ port: server.port, calledAe: "ARCHIVE", files: [f] });
      expect(r.statuses).toEqual([0]);
      const sop = (await readPart10(f)).sopInstanceUid;
      const stored = await placedBelow(into, 1, (x) => x.endsWith(`${sop}.dcm`));
      expect(stored).toHaveLength(1);
      // Not -o d: nothing went to ./d or the default ./data.
      expect(filesBelow(join(w, "d"))).toEqual([]);
      expect(filesBelow(join(w, "data"))).toEqual([]);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, 60_000);

  test("+xa accepts a compressed syntax that uncompressed_only refuses, as DCMTK's +xa does", async () => {
    const w = work("dcmtk-xa");
    const jls = corpus().find((f) => f.includes("15_ct_s16_jpegLS_lossless")) ?? "";
    const profile = await storescuProfile([jls], join(w, "jls.cfg"));
    const config = { storage: { min_free_mb: 1 }, scp: { uncompressed_only: true } };
    const strict = await startServer({ workDir: join(w, "a"), config });
    const refused = await storescu({
      port: strict.port,
      files: [jls],
      extraArgs: ["-xf", profile, "Corpus"],
    });
    expect(refused.statuses).toEqual([]);
    expect(await strict.stop()).toBe(0);
    const open = await startServer({ workDir: join(w, "b"), config, args: ["+xa"] });
    const r = await storescu({ port: open.port, files: [jls], extraArgs: ["-xf", profile, "Corpus"] });
    expect(r.statuses).toEqual([0]);
    expect(open.output()).toContain("uncompressed_only=off");
    expect(await open.stop()).toBe(0);
  }, 60_000);

  test("-pm accepts an unknown SOP class, as DCMTK's promiscuous mode does", async () => {
    const w = work("dcmtk-pm");
    const file = join(w, "unknown-class.dcm");
    copyFileSync(corpus().find((f) => f.includes("01_ct_s16_explicitLE")) ?? "", file);
    expect((await run("dcmodify", ["-nb", "-m", "(0008,0016)=1.2.826.0.1.3680043.9999.1", file])).code).toBe(
      0,
    );
    const profile = await storescuProfile([file], join(w, "unknown.cfg"));
    const server = await startServer({
      workDir: join(w, "srv"),
      config: { storage: { min_free_mb: 1 } },
      args: ["-pm"],
    });
    try {
      const r = await storescu({ port: server.port, files: [file], extraArgs: ["-xf", profile, "Corpus"] });
      expect(r.statuses).toEqual([0]);
      expect(await placedBelow(server.dataDir, 1)).toHaveLength(1);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, 60_000);
});
