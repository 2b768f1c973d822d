// Decode throughput (megapixels/s) per codec, ours (WASM, one thread, in process) against the native tool
// on the same file in the same run (DCMTK dcmdjpeg/dcmdjpls/dcmdrle, gdcmconv --raw, ojph_expand; their
// time includes process start and file I/O, as an operator would run them). `bun bench/transcode.ts`.

import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadCodecs } from "../src/transcode/codecs.ts";
import { transcodePart10 } from "../src/transcode/transcode.ts";
import { repoRoot } from "../test/helpers/dcmtk.ts";
import { corpus, readPart10 } from "../test/helpers/fixtures.ts";
import { referenceDecode, referenceTool } from "../test/helpers/pixels.ts";

const REPEAT = Number(process.env.REPEAT ?? 5);
await loadCodecs();
const rows: string[] = [];
for (const f of corpus()) {
  const p = await readPart10(f);
  const tool = referenceTool(p.transferSyntaxUid);
  if (tool === "dcmconv") continue;
  const bytes = new Uint8Array(readFileSync(f));
  let ours = Number.POSITIVE_INFINITY;
  let mp = 0;
  try {
    for (let i = 0; i < REPEAT; i++) {
      const t = performance.now();
      const r = transcodePart10(bytes, "1.2.840.10008.1.2.1");
      ours = Math.min(ours, performance.now() - t);
      mp = r.pixels / 1e6;
    }
  } catch (err) {
    rows.push(`${f.split("/").pop()}  ours: ${(err as Error).message}`);
    continue;
  }
  let native = Number.POSITIVE_INFINITY;
  for (let i = 0; i < REPEAT; i++)
    native = Math.min(
      native,
      referenceDecode(f, p.transferSyntaxUid, mkdtempSync(join(repoRoot, "test", ".work", "bench-"))).ms,
    );
  rows.push(
    `${(f.split("/").pop() ?? "").padEnd(40)} ${tool.padEnd(12)} ours ${(mp / (ours / 1000)).toFixed(1).padStart(7)} MP/s  native ${(mp / (native / 1000)).toFixed(1).padStart(7)} MP/s  ratio ${(native / ours).toFixed(2)}`,
  );
}
console.log(rows.join("\n"));
