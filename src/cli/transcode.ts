// `storescp transcode IN OUT [--ts UID]`: transcode one Part-10 file offline (default target: Explicit VR
// Little Endian). Exit 0 on success, 1 with the reason when the file cannot be transcoded.

import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { TS } from "../dicom/transfer-syntax.ts";
import { loadCodecs } from "../transcode/codecs.ts";
import { transcodePart10 } from "../transcode/transcode.ts";
import { durable } from "../util/durable.ts";

export async function transcodeCommand(input: string, output: string, ts?: string): Promise<number> {
  const target = ts ?? TS.ExplicitVRLittleEndian;
  await loadCodecs();
  try {
    const started = performance.now();
    const r = transcodePart10(new Uint8Array(readFileSync(input)), target);
    // Never a partial OUT: written beside it, synced, renamed over it.
    durable.replaceFileSync(output, r.bytes, true, dirname(output));
    // Named because a lossy target makes a new instance: the output then has another UID than the input.
    const uid = r.sopInstanceUid ? `, SOP Instance UID ${r.sopInstanceUid}` : "";
    process.stderr.write(
      `storescp: ${input} -> ${output} (${target}, ${r.frames} frame(s)${uid}, ${Math.round(performance.now() - started)} ms)\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`storescp: transcode failed: ${(err as Error).message}\n`);
    return 1;
  }
}
