// Test data made on demand with Debian's tools (test/fixtures/*.sh), cached under test/.work/fixtures so
// the suite pays for it once per run (npm test removes test/.work after a green run).

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AttributeScanner, type InstanceAttributes } from "../../src/dicom/attribute-scanner.ts";
import { readFileMeta } from "../../src/dicom/part10.ts";
import { validDate } from "../../src/store/validate.ts";
import { dcmtkEnv, repoRoot } from "./dcmtk.ts";

const FIXTURES = join(repoRoot, "test", ".work", "fixtures");

function sh(script: string, args: string[]): void {
  const r = spawnSync("bash", [join(repoRoot, "test", "fixtures", script), ...args], {
    env: dcmtkEnv(),
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0)
    throw new Error(`${script} ${args.join(" ")} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
}

/** Made once: `dir/.done` marks a complete build, so an interrupted one is redone. */
function once(name: string, build: (dir: string) => void): string {
  const dir = join(FIXTURES, name);
  if (!existsSync(join(dir, ".done"))) {
    mkdirSync(dir, { recursive: true });
    build(dir);
    writeFileSync(join(dir, ".done"), "");
  }
  return dir;
}

/** Every transfer syntax make-corpus.sh produces: the .dcm files, sorted. */
export function corpus(): string[] {
  const dir = once("corpus", (d) => sh("make-corpus.sh", [d]));
  return readdirSync(dir)
    .filter((f) => f.endsWith(".dcm"))
    .sort()
    .map((f) => join(dir, f));
}

/** N small distinct instances (10 series), from the corpus's 8-bit secondary capture image. */
export function perfset(n: number, source = "03_sc_mono8_explicitLE.dcm"): string {
  const src = corpus().find((f) => f.endsWith(source));
  if (!src) throw new Error(`corpus has no ${source}`);
  return once(`perfset-${n}-${source}`, (d) => sh("make-perfset.sh", [src, d, String(n)]));
}

/** The files of perfset(n), sorted. */
export function perfsetFiles(n: number, source?: string): string[] {
  const dir = perfset(n, source);
  return readdirSync(dir)
    .filter((f) => f.endsWith(".dcm"))
    .sort()
    .map((f) => join(dir, f));
}

/** One multi-frame instance of about sizeMb MiB. */
export function bigInstance(sizeMb: number): string {
  const dir = once(`big-${sizeMb}`, (d) => sh("make-big.sh", [join(d, "big.dcm"), String(sizeMb)]));
  return join(dir, "big.dcm");
}

export interface Part10 {
  transferSyntaxUid: string;
  sopClassUid: string;
  sopInstanceUid: string;
  meta: ReturnType<typeof readFileMeta>["meta"];
  dataSet: Uint8Array;
  attributes: InstanceAttributes;
}

/** A Part-10 file split into meta and data set, with the data set's identifying attributes. */
export async function readPart10(path: string): Promise<Part10> {
  const bytes = new Uint8Array(readFileSync(path));
  const { meta, dataSetOffset } = readFileMeta(bytes);
  const dataSet = bytes.subarray(dataSetOffset);
  const scanner = new AttributeScanner(meta.transferSyntaxUid);
  scanner.push(dataSet);
  const attributes = await scanner.finish();
  return {
    transferSyntaxUid: meta.transferSyntaxUid,
    sopClassUid: meta.mediaStorageSopClassUid ?? "",
    sopInstanceUid: meta.mediaStorageSopInstanceUid ?? "",
    meta,
    dataSet,
    attributes,
  };
}

/**
 * A storescu association profile (-xf FILE Profile) proposing, for each file, its own SOP class with its
 * own transfer syntax only: storescu's -x flags can offer one compressed family at a time, and the corpus
 * must go in one association.
 */
export async function storescuProfile(files: string[], path: string): Promise<string> {
  const pairs: Array<[string, string]> = [];
  for (const f of files) {
    const p = await readPart10(f);
    if (!pairs.some(([s, t]) => s === p.sopClassUid && t === p.transferSyntaxUid))
      pairs.push([p.sopClassUid, p.transferSyntaxUid]);
  }
  const tss = [...new Set(pairs.map(([, t]) => t))];
  const lines = ["[[TransferSyntaxes]]"];
  for (const [i, t] of tss.entries()) lines.push(`[TS${i}]`, `TransferSyntax1 = ${t}`);
  lines.push("[[PresentationContexts]]", "[Corpus]");
  for (const [i, [s, t]] of pairs.entries())
    lines.push(`PresentationContext${i + 1} = ${s}\\TS${tss.indexOf(t)}`);
  lines.push("[[Profiles]]", "[Corpus]", "PresentationContexts = Corpus");
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

/** Where the default path template puts an instance with these attributes ("undated" without a date). */
export function storedPathOf(dataDir: string, a: InstanceAttributes, tenant = "default"): string {
  return join(
    dataDir,
    tenant,
    a.studyDate !== undefined && validDate(a.studyDate) ? a.studyDate : "undated",
    a.studyInstanceUid ?? "",
    a.seriesInstanceUid ?? "",
    `${a.sopInstanceUid}.dcm`,
  );
}

/** All regular files below a directory (recursive), relative names excluded. */
export function filesBelow(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesBelow(p));
    else out.push(p);
  }
  return out;
}

/**
 * `get()` once `ok` holds for it, or its last value after `timeoutMs`. With storage.durability wal (the
 * default) a file is placed a moment after its answer: tests that look at the archive wait for it.
 */
export async function eventually<T>(get: () => T, ok: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const until = performance.now() + timeoutMs;
  let value = get();
  while (!ok(value) && performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    value = get();
  }
  return value;
}

/** `path`, once a file is there (see eventually). */
export async function placed(path: string, timeoutMs = 15_000): Promise<string> {
  await eventually(() => existsSync(path), Boolean, timeoutMs);
  return path;
}

/** The files below `dir` that `filter` keeps, once there are `count` of them (see eventually). */
export function placedBelow(
  dir: string,
  count: number,
  filter = (f: string) => f.endsWith(".dcm"),
): Promise<string[]> {
  return eventually(
    () => filesBelow(dir).filter(filter),
    (files) => files.length >= count,
  );
}
