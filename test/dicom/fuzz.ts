// The data set fuzzer: well-formed data sets (arbitraries.ts) in every native syntax and Deflated
// Explicit VR LE, then cut, padded with junk, bit-flipped, given lying length fields, nested deeper than
// any limit, spliced, deflated before or after the damage; pushed through the streaming scanner (the
// attribute scanner and its walker, the inflater) in random chunkings and with random limits. It asserts
// that no exception escapes, that memory stays bounded, that every undamaged data set is accepted, and
// that every data set the scanner accepts is read without error by DCMTK's dcmdump (as the Part-10 file
// the SCP would store). test/dicom/dataset-fuzz.test.ts runs it in CI with a fixed seed; bench/fuzz.ts
// runs it for longer.

import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { deflateRawSync } from "node:zlib";
import fc from "fast-check";
import {
  AttributeScanner,
  type DataSetLimits,
  DEFAULT_DATA_SET_LIMITS,
} from "../../src/dicom/attribute-scanner.ts";
import { buildFileMeta } from "../../src/dicom/part10.ts";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { concatBytes as concat } from "../../src/util/bytes.ts";
import { dcmtkEnv } from "../helpers/dcmtk.ts";
import { dataSetArb } from "./arbitraries.ts";
import { type Encoding, encode } from "./encode.ts";

export interface FuzzOptions {
  seed: number;
  numRuns: number;
  /** Stop generating after this long (the runs done so far still count). */
  timeLimitMs: number;
  /** Where accepted inputs are written for dcmdump (removed afterwards). */
  workDir: string;
  /** Resident memory may grow by at most this much over the run. */
  maxRssGrowth: number;
}

export interface FuzzReport {
  runs: number;
  accepted: number;
  /** Accepted by the scanner but not by dcmdump: file name and dcmdump's error. */
  disagreements: Array<{ file: string; error: string }>;
  /** Exceptions that escaped the scanner. */
  escaped: string[];
  /** Undamaged data sets the scanner refused. */
  refusedWhole: string[];
  rssGrowth: number;
}

const SYNTAXES: ReadonlyArray<readonly [string, Encoding, boolean]> = [
  [TS.ImplicitVRLittleEndian, "implicitLE", false],
  [TS.ExplicitVRLittleEndian, "explicitLE", false],
  [TS.ExplicitVRBigEndian, "explicitBE", false],
  [TS.DeflatedExplicitVRLittleEndian, "explicitLE", true],
];

/** 20 bytes that open one more sequence and item (explicit LE). */
const NEST = new Uint8Array([
  0x08, 0x00, 0x15, 0x11, 0x53, 0x51, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff,
  0xff,
]);

type Damage =
  | { kind: "none" }
  | { kind: "cut"; at: number }
  | { kind: "junk"; bytes: Uint8Array }
  | { kind: "flip"; at: number[]; values: number[] }
  | { kind: "length"; at: number; value: number; be: boolean }
  | { kind: "nest"; at: number; levels: number }
  | { kind: "splice"; from: number; to: number; at: number };

const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  { arbitrary: fc.constant<Damage>({ kind: "none" }), weight: 2 },
  { arbitrary: fc.nat().map((at): Damage => ({ kind: "cut", at })), weight: 2 },
  {
    arbitrary: fc
      .uint8Array({ minLength: 1, maxLength: 64 })
      .map((bytes): Damage => ({ kind: "junk", bytes })),
    weight: 1,
  },
  {
    arbitrary: fc
      .tuple(
        fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }),
      )
      .map(([at, values]): Damage => ({ kind: "flip", at, values })),
    weight: 2,
  },
  {
    arbitrary: fc
      .tuple(
        fc.nat(),
        fc.constantFrom(0, 1, 2, 0xfffe, 0xffff, 0x10000, 0x7fffffff, 0xfffffff0, 0xfffffffe, 0xffffffff),
        fc.boolean(),
      )
      .map(([at, value, be]): Damage => ({ kind: "length", at, value, be })),
    weight: 2,
  },
  {
    arbitrary: fc
      .tuple(fc.nat(), fc.oneof(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 1000, max: 20_000 })))
      .map(([at, levels]): Damage => ({ kind: "nest", at, levels })),
    weight: 1,
  },
  {
    arbitrary: fc
      .tuple(fc.nat(), fc.nat(), fc.nat())
      .map(([from, to, at]): Damage => ({ kind: "splice", from, to, at })),
    weight: 1,
  },
);

function damage(b: Uint8Array, d: Damage): Uint8Array {
  const n = b.length;
  switch (d.kind) {
    case "none":
      return b;
    case "cut":
      return b.subarray(0, d.at % (n + 1));
    case "junk":
      return concat([b, d.bytes]);
    case "flip": {
      const out = b.slice();
      if (n > 0) {
        for (const [i, a] of d.at.entries()) out[a % n] = d.values[i] ?? 0;
      }
      return out;
    }
    case "length": {
      if (n < 4) return b;
      const out = b.slice();
      new DataView(out.buffer).setUint32(d.at % (n - 3), d.value >>> 0, !d.be);
      return out;
    }
    case "nest": {
      const at = d.at % (n + 1);
      const run = new Uint8Array(NEST.length * d.levels);
      for (let i = 0; i < d.levels; i++) run.set(NEST, i * NEST.length);
      return concat([b.subarray(0, at), run, b.subarray(at)]);
    }
    case "splice": {
      const from = d.from % (n + 1);
      const to = from + (d.to % (n - from + 1));
      const at = d.at % (n + 1);
      return concat([b.subarray(0, at), b.subarray(from, to), b.subarray(at)]);
    }
  }
}

interface Case {
  ts: string;
  bytes: Uint8Array;
  damaged: boolean;
}

const caseArb: fc.Arbitrary<Case> = fc
  .tuple(
    fc.integer({ min: 0, max: SYNTAXES.length - 1 }),
    damageArb,
    fc.boolean(),
    fc.constantFrom(0, 0, 0, 1, 2),
  )
  .chain(([i, d, beforeDeflate, pad]) => {
    const [ts, enc, deflated] = SYNTAXES[i] as (typeof SYNTAXES)[number];
    return dataSetArb(4, enc !== "implicitLE").map((nodes): Case => {
      const plain = encode(nodes, enc);
      if (!deflated) return { ts, bytes: damage(plain, d), damaged: d.kind !== "none" };
      // The damage to the data set inside, or to the deflated bitstream; then perhaps padding after it.
      const inner = beforeDeflate ? damage(plain, d) : plain;
      let bytes: Uint8Array = new Uint8Array(deflateRawSync(inner));
      if (!beforeDeflate) bytes = damage(bytes, d);
      if (pad === 1) bytes = concat([bytes, new Uint8Array([0])]);
      if (pad === 2) bytes = concat([bytes, new Uint8Array([0x41, 0x42])]);
      return { ts, bytes, damaged: d.kind !== "none" || pad === 2 };
    });
  });

const limitsArb: fc.Arbitrary<DataSetLimits> = fc.oneof(
  { arbitrary: fc.constant(DEFAULT_DATA_SET_LIMITS), weight: 4 },
  {
    arbitrary: fc
      .tuple(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 64, max: 4096 }),
        fc.integer({ min: 2, max: 50 }),
      )
      .map(([depth, inflated, ratio]) => ({
        maxSequenceDepth: depth,
        maxInflatedBytes: inflated,
        maxInflateRatio: ratio,
        inflateRatioFloorBytes: 256,
      })),
    weight: 1,
  },
);

async function scan(c: Case, limits: DataSetLimits, sizes: number[]): Promise<AttributeScanner> {
  const s = new AttributeScanner(c.ts, limits);
  let o = 0;
  let i = 0;
  while (o < c.bytes.length) {
    const n = Math.max(1, sizes[i++ % sizes.length] ?? 1);
    // A copy that is clobbered after the push: nothing may keep a chunk past its turn.
    const chunk = c.bytes.slice(o, o + n);
    s.push(chunk);
    chunk.fill(0xee);
    o += n;
  }
  await s.finish();
  return s;
}

/** dcmdump over the accepted files, in batches; the files it could not read and why. */
function dcmdumpAll(files: string[]): Array<{ file: string; error: string }> {
  const bad: Array<{ file: string; error: string }> = [];
  for (let i = 0; i < files.length; i += 200) {
    const batch = files.slice(i, i + 200);
    const r = spawnSync("dcmdump", batch, { env: dcmtkEnv(), encoding: "utf8", maxBuffer: 256 << 20 });
    if (r.status === 0) continue;
    // Which ones: each alone.
    for (const f of batch) {
      const one = spawnSync("dcmdump", [f], { env: dcmtkEnv(), encoding: "utf8", maxBuffer: 64 << 20 });
      if (one.status !== 0)
        bad.push({ file: f, error: (one.stderr || one.stdout).split("\n").slice(0, 3).join(" | ") });
    }
  }
  return bad;
}

export async function fuzzDataSets(o: FuzzOptions): Promise<FuzzReport> {
  rmSync(o.workDir, { recursive: true, force: true });
  mkdirSync(o.workDir, { recursive: true });
  const report: FuzzReport = {
    runs: 0,
    accepted: 0,
    disagreements: [],
    escaped: [],
    refusedWhole: [],
    rssGrowth: 0,
  };
  const files: string[] = [];
  Bun.gc(true);
  const rss0 = process.memoryUsage().rss;
  let rssMax = rss0;
  await fc.assert(
    fc.asyncProperty(
      caseArb,
      limitsArb,
      fc.array(fc.integer({ min: 1, max: 4096 }), { minLength: 1, maxLength: 6 }),
      async (c, limits, sizes) => {
        report.runs += 1;
        let s: AttributeScanner;
        try {
          s = await scan(c, limits, sizes);
        } catch (err) {
          report.escaped.push(`${c.ts}: ${(err as Error).stack ?? String(err)}`);
          return;
        }
        if (!s.done) report.escaped.push(`${c.ts}: not done after finish`);
        // What the scanner holds, not the garbage the generator leaves: sampled after a full collection.
        if (report.runs % 500 === 0) {
          Bun.gc(true);
          rssMax = Math.max(rssMax, process.memoryUsage().rss);
        }
        if (s.error !== undefined) {
          if (!c.damaged && limits === DEFAULT_DATA_SET_LIMITS)
            report.refusedWhole.push(`${c.ts}: ${s.error}`);
          return;
        }
        report.accepted += 1;
        const file = join(o.workDir, `${report.accepted}.dcm`);
        const meta = buildFileMeta({
          sopClassUid: "1.2.840.10008.5.1.4.1.1.7",
          sopInstanceUid: `2.25.${report.accepted}`,
          transferSyntaxUid: c.ts,
          sourceAeTitle: "FUZZ",
          sendingAeTitle: "FUZZ",
          receivingAeTitle: "STORESCP",
        });
        writeFileSync(file, concat([meta, c.bytes]));
        files.push(file);
      },
    ),
    {
      seed: o.seed,
      numRuns: o.numRuns,
      interruptAfterTimeLimit: o.timeLimitMs,
      markInterruptAsFailure: false,
    },
  );
  report.disagreements = dcmdumpAll(files);
  report.rssGrowth = Math.max(rssMax, process.memoryUsage().rss) - rss0;
  if (report.disagreements.length === 0) rmSync(o.workDir, { recursive: true, force: true });
  return report;
}
