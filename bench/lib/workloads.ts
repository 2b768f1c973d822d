// The workloads and their inputs: CT instances made by the fixture scripts (test/fixtures/make-*.sh),
// compressed with DCMTK where a workload sends JPEG-LS, built once and cached under bench/.work/.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dcmtkEnv } from "../../test/helpers/dcmtk.ts";
import type { WorkloadId } from "./options.ts";
import { FIXTURES, MiB, WORK } from "./paths.ts";

function sh(script: string, args: string[], env: Record<string, string> = {}): void {
  const r = spawnSync("bash", [script, ...args], { env: dcmtkEnv(env), encoding: "utf8" });
  if (r.status !== 0)
    throw new Error(`${script} ${args.join(" ")} failed (${r.status}):\n${r.stdout}${r.stderr}`);
}

function ensureCorpusCt(): string {
  const dir = join(WORK, "corpus");
  const ct = join(dir, "01_ct_s16_explicitLE.dcm");
  const stamp = `${dir}.done`;
  if (!existsSync(stamp)) {
    console.error("bench: building the corpus (test/fixtures/make-corpus.sh) ...");
    rmSync(dir, { recursive: true, force: true });
    sh(join(FIXTURES, "make-corpus.sh"), [dir]);
    writeFileSync(stamp, "");
  }
  return ct;
}

export function ensurePerfset(n: number): string[] {
  const dir = join(WORK, `perfset-${n}`);
  const stamp = `${dir}.done`; // beside, not inside: storescu +sd would try to send it
  if (!existsSync(stamp)) {
    const ct = ensureCorpusCt();
    console.error(`bench: building ${n} CT instances (test/fixtures/make-perfset.sh) ...`);
    rmSync(dir, { recursive: true, force: true });
    sh(join(FIXTURES, "make-perfset.sh"), [ct, dir, String(n)]);
    writeFileSync(stamp, "");
  }
  return readdirSync(dir)
    .filter((f) => f.endsWith(".dcm"))
    .sort()
    .map((f) => join(dir, f));
}

/** The perfset compressed to JPEG-LS lossless (dcmcjpls), cached beside it. */
function ensurePerfsetJls(n: number): string[] {
  const source = ensurePerfset(n);
  const dir = join(WORK, `perfset-${n}-jls`);
  const stamp = `${dir}.done`;
  if (!existsSync(stamp)) {
    console.error(`bench: compressing ${n} CT instances to JPEG-LS lossless (dcmcjpls) ...`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const f of source) {
      const r = spawnSync("dcmcjpls", [f, join(dir, f.split("/").pop() ?? "")], { env: dcmtkEnv() });
      if (r.status !== 0) throw new Error(`dcmcjpls ${f} failed: ${r.stderr}`);
    }
    writeFileSync(stamp, "");
  }
  return readdirSync(dir)
    .filter((f) => f.endsWith(".dcm"))
    .sort()
    .map((f) => join(dir, f));
}

function ensureBig(frames: number): string {
  const file = join(WORK, `big-${frames}fr.dcm`);
  if (!existsSync(file)) {
    console.error(`bench: building a ${frames}-frame instance (test/fixtures/make-big.sh) ...`);
    sh(join(FIXTURES, "make-big.sh"), [file, "0"], { FRAMES: String(frames) });
  }
  return file;
}

/** Reads every input once so that the first receiver does not pay for a cold page cache. */
export function readBack(files: string[]): void {
  for (const f of files) readFileSync(f);
}

export interface Workload {
  id: WorkloadId;
  title: string;
  /** One file list per parallel storescu. */
  senders: string[][];
  /** Directories to give storescu (+sd) instead of files, per sender, when set. */
  dirs?: string[];
  /** storescu's transfer syntax proposal. */
  propose: string;
  instances: number;
  bytes: number;
}

export function makeWorkload(id: WorkloadId, quick: boolean): Workload {
  if (id === "W3") {
    const frames = quick ? 200 : 1000;
    const file = ensureBig(frames);
    return {
      id,
      title: `1 x ${(statSync(file).size / MiB).toFixed(0)} MiB ${frames}-frame instance`,
      senders: [[file]],
      propose: "-xe",
      instances: 1,
      bytes: statSync(file).size,
    };
  }
  const n = quick ? 100 : 1000;
  if (id === "W1T") {
    const files = ensurePerfsetJls(n);
    const bytes = files.reduce((s, f) => s + statSync(f).size, 0);
    return {
      id,
      title: `${n} x ${(bytes / files.length / MiB).toFixed(2)} MiB CT as JPEG-LS lossless, 1 association`,
      senders: [files],
      dirs: [join(WORK, `perfset-${n}-jls`)],
      propose: "-xt",
      instances: n,
      bytes,
    };
  }
  const files = ensurePerfset(n);
  const bytes = files.reduce((s, f) => s + statSync(f).size, 0);
  const each = (bytes / files.length / MiB).toFixed(2);
  if (id === "W1") {
    return {
      id,
      title: `${n} x ${each} MiB CT, 1 association`,
      senders: [files],
      dirs: [join(WORK, `perfset-${n}`)],
      propose: "-xe",
      instances: n,
      bytes,
    };
  }
  const per = n / 10;
  const senders: string[][] = [];
  for (let i = 0; i < 10; i++) senders.push(files.slice(i * per, (i + 1) * per));
  return {
    id,
    title: `${n} x ${each} MiB CT, 10 associations x ${per}`,
    senders,
    propose: "-xe",
    instances: n,
    bytes,
  };
}
