// The node:net transport (used where Bun's native sockets are not available) against DCMTK, so both
// transports stay tested: the rest of the suite runs on Bun's.

import { expect, test } from "bun:test";
import { join } from "node:path";
import { echoscu, startServer, storescu } from "../helpers/dcmtk.ts";
import {
  corpus,
  filesBelow,
  placed,
  readPart10,
  storedPathOf,
  storescuProfile,
} from "../helpers/fixtures.ts";

test("node:net transport: echoscu and storescu work, data set bit-preserved", async () => {
  const server = await startServer({
    config: { storage: { min_free_mb: 1 } },
    env: { STORESCP_TRANSPORT: "node" },
  });
  expect((await echoscu({ port: server.port })).statuses).toEqual([0]);
  const files = corpus().filter((f) => /0[1-6]_/.test(f));
  const profile = await storescuProfile(files, join(server.workDir, "corpus.cfg"));
  const r = await storescu({ port: server.port, files, extraArgs: ["-xf", profile, "Corpus"] });
  expect(r.statuses).toEqual(files.map(() => 0));
  for (const f of files) {
    const src = await readPart10(f);
    const got = await readPart10(await placed(storedPathOf(server.dataDir, src.attributes)));
    expect(Buffer.compare(Buffer.from(got.dataSet), Buffer.from(src.dataSet))).toBe(0);
  }
  expect(filesBelow(server.dataDir).filter((p) => p.endsWith(".dcm"))).toHaveLength(files.length);
  expect(await server.stop()).toBe(0);
}, 60_000);
