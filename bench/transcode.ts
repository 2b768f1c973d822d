// Decode throughput (megapixels/s) per codec, ours (WASM, one thread, in process) against the native tool
// on the same file in the same run (DCMTK dcmdjpeg/dcmdjpls/dcmdrle, gdcmconv --raw, ojph_expand; their
// time includes process start and file I/O, as an operator would run them). Single-frame corpus files
// flatter us (a process start costs more than one frame), so the same codecs are also measured on
// 30-frame files, where the native tools' start is spread over 30 frames: that row is the one that
// says whether a codec is fast enough. Part of `npm run bench`; alone: `bun bench/transcode.ts`.
// Target: at least 0.5x native for JPEG, JPEG-LS and RLE.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { TS } from "../src/dicom/transfer-syntax.ts";
import { loadCodecs } from "../src/transcode/codecs.ts";
import { transcodePart10 } from "../src/transcode/transcode.ts";
import { dcmtkEnv, repoRoot } from "../test/helpers/dcmtk.ts";
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

const MF = join(repoRoot, "bench", ".work", "codec-30fr");

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { env: dcmtkEnv(), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
}

/** 30-frame files of the targeted codecs (16-bit CT frames, and 8-bit for JPEG Baseline), cached. */
function multiFrameFiles(): string[] {
  mkdirSync(MF, { recursive: true });
  const ct = join(MF, "ct16_30fr_explicitLE.dcm");
  if (!existsSync(ct)) {
    const r = spawnSync("bash", [join(repoRoot, "test", "fixtures", "make-big.sh"), ct, "0"], {
      env: { ...dcmtkEnv(), FRAMES: "30" },
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`make-big.sh: ${r.stderr}`);
  }
  const mf8 = corpus().find((f) => f.includes("05_mf8_30fr_explicitLE")) ?? "";
  const made: Array<[string, string, string[]]> = [
    ["ct16_30fr_jpegLS.dcm", "dcmcjpls", [ct]],
    ["ct16_30fr_RLE.dcm", "dcmcrle", [ct]],
    ["ct16_30fr_jpegLL_SV1.dcm", "dcmcjpeg", ["+e1", ct]],
    ["mf8_30fr_jpegBaseline.dcm", "dcmcjpeg", ["+eb", mf8]],
    ["mf8_30fr_jpegExtended.dcm", "dcmcjpeg", ["+ee", mf8]],
  ];
  return made.map(([name, cmd, args]) => {
    const out = join(MF, name);
    if (!existsSync(out)) run(cmd, [...args, out]);
    return out;
  });
}

/** The table, one row per compressed corpus file and per 30-frame file, best of `repeat` runs each. */
export async function codecBench(repeat: number): Promise<string> {
  await loadCodecs();
  const rows: string[] = [
    "decode (best of each), ours WASM in-process vs the native tool as a process; target >= 0.5x for JPEG, JPEG-LS, RLE",
    "  (judged on the 30-frame rows: single frames mostly time the native tool's start)",
  ];
  for (const f of [...corpus(), ...multiFrameFiles()]) {
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
    for (let i = 0; i < repeat; i++) native = Math.min(native, nativeMs(f, p.transferSyntaxUid));
    const ratio = native / ours;
    const judged = TARGETED.has(p.transferSyntaxUid) && f.startsWith(MF);
    const verdict = judged ? (ratio >= 0.5 ? "PASS" : "FAIL") : "";
    rows.push(
      `${name} ${tool.padEnd(12)} ours ${(mp / (ours / 1000)).toFixed(1).padStart(7)} MP/s  native ${(mp / (native / 1000)).toFixed(1).padStart(7)} MP/s  ratio ${ratio.toFixed(2).padStart(5)} ${verdict}`,
    );
  }
  return rows.join("\n");
}

/** The native tool's decode time of `file`, in a work directory of its own, removed after. */
function nativeMs(file: string, ts: string): number {
  const dir = mkdtempSync(join(repoRoot, "test", ".work", "bench-"));
  try {
    return referenceDecode(file, ts, dir).ms;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) console.log(await codecBench(Number(process.env.REPEAT ?? 5)));
