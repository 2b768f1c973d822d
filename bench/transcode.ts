// Decode throughput (megapixels/s) per codec, ours (WASM, one thread, in process) against the native tool
// on the same file in the same run (DCMTK dcmdjpeg/dcmdjpls/dcmdrle, gdcmconv --raw, ojph_expand; their
// time includes process start and file I/O, as an operator would run them). Part of `npm run bench`;
// alone: `bun bench/transcode.ts`. Target (issue 3): at least 0.5x native for JPEG, JPEG-LS and RLE.

import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TS } from "../src/dicom/transfer-syntax.ts";
import { loadCodecs } from "../src/transcode/codecs.ts";
import { transcodePart10 } from "../src/transcode/transcode.ts";
import { repoRoot } from "../test/helpers/dcmtk.ts";
import { corpus, readPart10 } from "../test/helpers/fixtures.ts";
import { referenceDecode, referenceTool } from "../test/helpers/pixels.ts";

/** The families with a speed target: JPEG (all processes), JPEG-LS and RLE. */
const TARGETED = new Set<string>([
  TS.JPEGBaseline8Bit,
  TS.JPEGExtended12Bit,
  TS.JPEGLossless,
  TS.JPEGLosslessSV1,
  TS.JPEGLSLossless,
  TS.JPEGLSNearLossless,
  TS.RLELossless,
]);

/** The table, one row per compressed corpus file, best of `repeat` runs each. */
export async function codecBench(repeat: number): Promise<string> {
  await loadCodecs();
  const rows: string[] = [
    "decode (best of each), ours WASM in-process vs the native tool as a process; target >= 0.5x for JPEG, JPEG-LS, RLE",
  ];
  for (const f of corpus()) {
    const p = await readPart10(f);
    const tool = referenceTool(p.transferSyntaxUid);
    if (tool === "dcmconv") continue;
    const name = (f.split("/").pop() ?? "").padEnd(40);
    const bytes = new Uint8Array(readFileSync(f));
    let ours = Number.POSITIVE_INFINITY;
    let mp = 0;
    try {
      for (let i = 0; i < repeat; i++) {
        const t = performance.now();
        const r = transcodePart10(bytes, TS.ExplicitVRLittleEndian);
        ours = Math.min(ours, performance.now() - t);
        mp = r.pixels / 1e6;
      }
    } catch (err) {
      rows.push(`${name} ours: ${(err as Error).message}`);
      continue;
    }
    let native = Number.POSITIVE_INFINITY;
    for (let i = 0; i < repeat; i++)
      native = Math.min(
        native,
        referenceDecode(f, p.transferSyntaxUid, mkdtempSync(join(repoRoot, "test", ".work", "bench-"))).ms,
      );
    const ratio = native / ours;
    const verdict = TARGETED.has(p.transferSyntaxUid) ? (ratio >= 0.5 ? "PASS" : "FAIL") : "";
    rows.push(
      `${name} ${tool.padEnd(12)} ours ${(mp / (ours / 1000)).toFixed(1).padStart(7)} MP/s  native ${(mp / (native / 1000)).toFixed(1).padStart(7)} MP/s  ratio ${ratio.toFixed(2).padStart(5)} ${verdict}`,
    );
  }
  return rows.join("\n");
}

if (import.meta.main) console.log(await codecBench(Number(process.env.REPEAT ?? 5)));
