// What the crash tests (test/integration/crash.test.ts) need beside the server: a seeded PRNG, rounds of
// distinct CT instances written by our own code from one corpus file, and the checks of what a restart
// must show: every instance answered 0000 in its place, byte-exact, with one record; no temp file left;
// no file in the archive that is not whole.

import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { InstanceAttributes } from "../../src/dicom/attribute-scanner.ts";
import {
  type Element,
  find,
  getString,
  getUs,
  parsePart10,
  setElement,
  stringElement,
  usElement,
} from "../../src/dicom/dataset-tree.ts";
import { writeDataSet } from "../../src/dicom/dataset-writer.ts";
import { buildFileMeta, readFileMeta } from "../../src/dicom/part10.ts";
import { PIXEL_DATA } from "../../src/dicom/tags.ts";
import type { StoreResponse } from "./dcmtk-log.ts";
import { storedPathOf } from "./fixtures.ts";
import { outboxRecords } from "./tools.ts";

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One instance as sent: where its file is, what its data set is, where the archive must put it. */
export interface SentInstance {
  file: string;
  sopUid: string;
  attributes: InstanceAttributes;
  /** SHA-256 of the data set (the file without its meta), hex. */
  digest: string;
}

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/**
 * Rounds of CT instances made from one 512x512 16-bit Explicit VR LE CT: each round its own study and
 * series, each instance its own SOP Instance UID, a random height (so 0.25 to 0.5 MiB) and pixels stamped
 * with its number, so that no two data sets are alike.
 */
export class RoundMaker {
  private readonly elements: Element[];
  private readonly pixels: Uint8Array;
  private readonly columns: number;
  private readonly sopClassUid: string;
  private readonly transferSyntaxUid: string;
  private readonly studyDate: string | undefined;

  constructor(source: string) {
    const { meta, elements } = parsePart10(new Uint8Array(readFileSync(source)));
    const px = find(elements, PIXEL_DATA);
    const columns = getUs(elements, 0x00280011);
    if (!px || px.fragments || columns === undefined) throw new Error(`${source}: not native pixel data`);
    this.elements = elements;
    this.pixels = px.value;
    this.columns = columns;
    this.sopClassUid = meta.mediaStorageSopClassUid ?? "";
    this.transferSyntaxUid = meta.transferSyntaxUid;
    this.studyDate = getString(elements, 0x00080020);
  }

  make(dir: string, round: number, count: number, random: () => number, runId: string): SentInstance[] {
    mkdirSync(dir, { recursive: true });
    const studyUid = `2.25.${runId}${round.toString().padStart(3, "0")}1`;
    const seriesUid = `2.25.${runId}${round.toString().padStart(3, "0")}2`;
    const out: SentInstance[] = [];
    for (let i = 0; i < count; i++) {
      const sopUid = `2.25.${runId}${round.toString().padStart(3, "0")}3${i.toString().padStart(3, "0")}`;
      const rows = 256 + Math.floor(random() * 257);
      const pixels = this.pixels.slice(0, rows * this.columns * 2);
      new DataView(pixels.buffer).setUint32(0, round * 1000 + i, true);
      const els = [...this.elements];
      setElement(els, stringElement(0x00080018, "UI", sopUid));
      setElement(els, stringElement(0x0020000d, "UI", studyUid));
      setElement(els, stringElement(0x0020000e, "UI", seriesUid));
      setElement(els, stringElement(0x00200013, "IS", String(i + 1)));
      setElement(els, usElement(0x00280010, rows));
      setElement(els, { tag: PIXEL_DATA, vr: "OW", value: pixels });
      const body = writeDataSet(els, true);
      const head = buildFileMeta({
        sopClassUid: this.sopClassUid,
        sopInstanceUid: sopUid,
        transferSyntaxUid: this.transferSyntaxUid,
      });
      const file = join(dir, `${i.toString().padStart(3, "0")}.dcm`);
      writeFileSync(file, Buffer.concat([head, body]));
      out.push({
        file,
        sopUid,
        attributes: {
          sopClassUid: this.sopClassUid,
          sopInstanceUid: sopUid,
          studyInstanceUid: studyUid,
          seriesInstanceUid: seriesUid,
          ...(this.studyDate !== undefined ? { studyDate: this.studyDate } : {}),
        },
        digest: sha256(body),
      });
    }
    return out;
  }
}

/** The SOP Instance UIDs a DCMTK SCU was answered Success for (its -d log names each response's UID). */
export function answeredSuccess(responses: readonly StoreResponse[]): string[] {
  return responses.filter((r) => r.status === 0 && r.sopInstanceUid !== "").map((r) => r.sopInstanceUid);
}

/** Every path below `dir` (files only), skipping the directories in `skip`. */
function walk(dir: string, skip: ReadonlySet<string>, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (!skip.has(p)) walk(p, skip, out);
    } else out.push(p);
  }
  return out;
}

export interface ArchiveState {
  dataDir: string;
  outboxDir: string;
  quarantineDir: string;
  /** Every instance sent so far (all rounds), by SOP Instance UID. */
  sent: Map<string, SentInstance>;
  /** The SOP Instance UIDs answered 0000 so far (all rounds). */
  answered: Set<string>;
  /** Files found whole at an earlier check, by path: "ino:size:mtime" then (unchanged files are not read again). */
  verified: Map<string, string>;
}

/** What a check found wrong (empty: nothing). */
export type Problems = string[];

function fileProblem(state: ArchiveState, path: string): string | null {
  const st = lstatSync(path);
  const signature = `${st.ino}:${st.size}:${st.mtimeMs}`;
  if (state.verified.get(path) === signature) return null;
  let sop: string;
  let dataSet: Uint8Array;
  try {
    const bytes = new Uint8Array(readFileSync(path));
    const { meta, dataSetOffset } = readFileMeta(bytes);
    sop = meta.mediaStorageSopInstanceUid ?? "";
    dataSet = bytes.subarray(dataSetOffset);
  } catch (err) {
    return `${path}: unreadable (${(err as Error).message}), ${st.size} bytes`;
  }
  const sent = state.sent.get(sop);
  if (!sent) return `${path}: SOP Instance UID ${sop} was never sent`;
  const expected = storedPathOf(state.dataDir, sent.attributes);
  if (expected !== path) return `${path}: ${sop} belongs at ${expected}`;
  if (sha256(dataSet) !== sent.digest)
    return `${path}: data set differs from the one sent (${st.size} bytes)`;
  state.verified.set(path, signature);
  return null;
}

/**
 * The archive and the outbox as a restart must leave them: each instance answered 0000 at its path,
 * byte-exact, with exactly one record; no instance with more than one record; every .dcm file under the
 * storage root (but quarantine) whole and the one sent. Temp files are checked by tempFiles().
 */
export function archiveProblems(state: ArchiveState): Problems {
  const problems: Problems = [];
  const records = outboxRecords(state.outboxDir);
  const bySop = new Map<string, number>();
  for (const r of records) bySop.set(r.sop_uid, (bySop.get(r.sop_uid) ?? 0) + 1);
  for (const [sop, n] of bySop) if (n > 1) problems.push(`${sop}: ${n} records`);
  for (const sop of state.answered) {
    if (!bySop.has(sop)) problems.push(`${sop}: answered 0000 but has no record`);
    const sent = state.sent.get(sop);
    if (!sent) {
      problems.push(`${sop}: answered 0000 but never sent`);
      continue;
    }
    const path = storedPathOf(state.dataDir, sent.attributes);
    if (!existsSync(path)) problems.push(`${sop}: answered 0000 but missing at ${path}`);
  }
  for (const r of records) {
    const sent = state.sent.get(r.sop_uid);
    if (!sent) {
      problems.push(`${r.sop_uid}: a record of an instance never sent`);
      continue;
    }
    const path = storedPathOf(state.dataDir, sent.attributes);
    if (r.file_path !== path) problems.push(`${r.sop_uid}: record names ${r.file_path}, not ${path}`);
    else if (existsSync(path) && lstatSync(path).size !== r.file_size)
      problems.push(`${r.sop_uid}: record says ${r.file_size} bytes, the file has ${lstatSync(path).size}`);
  }
  for (const path of walk(state.dataDir, new Set([state.quarantineDir]))) {
    if (!path.endsWith(".dcm")) continue;
    const p = fileProblem(state, path);
    if (p) problems.push(p);
  }
  return problems;
}

/** Temp files (".storescp-" prefix) anywhere under the storage root. */
export function tempFiles(dataDir: string): string[] {
  return walk(dataDir, new Set()).filter((p) => (p.split("/").at(-1) ?? "").startsWith(".storescp-"));
}
