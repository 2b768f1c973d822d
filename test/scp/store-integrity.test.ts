// What is not whole is never acknowledged, and what is answered with a failure is never in the archive:
// the data set checked to its end, the limits, the record's room reserved before the commit, a file
// taken back out when its record cannot be written, and path values that cannot be a path.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultConfig } from "../../src/config/defaults.ts";
import { DEFAULT_DATA_SET_LIMITS } from "../../src/dicom/attribute-scanner.ts";
import { DimseError } from "../../src/dimse/status.ts";
import { type RecordStage, UnrecordedError } from "../../src/pipeline/stages.ts";
import { DimseServices } from "../../src/scp/services.ts";
import { Storage } from "../../src/store/storage.ts";
import type { AssociationContext } from "../../src/tenancy/context.ts";
import { TenantDirectory } from "../../src/tenancy/tenants.ts";
import { filesBelow } from "../helpers/fixtures.ts";
import {
  deepNesting,
  deflateNestingBomb,
  deflateZeroBomb,
  type Hostile,
  longModality,
  truncatedInItem,
  truncatedInPixelData,
  truncatedInSequence,
  wholeInstance,
} from "../helpers/hostile.ts";
import { cStore, NO_OUTBOX, storePipeline } from "../helpers/pipeline.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(
  opts: { reserve?: RecordStage["reserve"]; record?: RecordStage["record"]; path?: string } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), "integrity-"));
  dirs.push(dir);
  const storage = new Storage({
    fsync: false,
    onDuplicate: "overwrite",
    minFreeMb: 0,
    quarantineDir: join(dir, "q"),
  });
  const config = defaultConfig();
  config.storage.root = join(dir, "data");
  if (opts.path) config.storage.path = opts.path;
  const tenant = new TenantDirectory(config).tenants[0];
  if (!tenant) throw new Error("no tenant");
  const ctx: AssociationContext = {
    id: "T1",
    tenant,
    callingAe: "SCU",
    calledAe: "STORESCP",
    remoteAddress: "127.0.0.1",
    remotePort: 1,
  };
  const services = new DimseServices(
    storePipeline(storage, {
      sink: {
        dataSet: { ...DEFAULT_DATA_SET_LIMITS, inflateRatioFloorBytes: 1 << 20 },
        headLimit: 4 << 20,
        required: [],
      },
      record: {
        refusal: NO_OUTBOX.refusal,
        reserve: opts.reserve ?? NO_OUTBOX.reserve,
        record: opts.record ?? NO_OUTBOX.record,
        recordPending: NO_OUTBOX.recordPending,
        draft: NO_OUTBOX.draft,
      },
    }),
  );
  return { dir, ctx, services, archive: join(dir, "data"), quarantine: join(dir, "q") };
}

/** C-STORE of `h` through the services, in 16 KiB pieces; the response's status and comment. */
const store = (s: ReturnType<typeof setup>, h: Hostile) => cStore(s.services, s.ctx, h);

const dcmIn = (dir: string) => filesBelow(dir).filter((f) => f.endsWith(".dcm"));

function quarantined(s: ReturnType<typeof setup>): Array<{ reason: string; status: string; size: number }> {
  return dcmIn(s.quarantine).map((f) => {
    const r = JSON.parse(readFileSync(`${f}.reason.json`, "utf8")) as { reason: string; status: string };
    return { reason: r.reason, status: r.status, size: readFileSync(f).length };
  });
}

describe("a data set that is not whole or exceeds a limit: C000, quarantined, never in the archive", () => {
  const cases: Array<[string, () => Hostile | Promise<Hostile>, RegExp]> = [
    [
      "truncated in Pixel Data",
      () => truncatedInPixelData("1.2.3.1"),
      /^truncated in \(7FE0,0010\): 999900 of 1000000 bytes missing$/,
    ],
    [
      "truncated in a sequence",
      () => truncatedInSequence("1.2.3.2"),
      /^truncated in \(0040,A160\): 5 of 14 bytes missing in sequence \(0040,A730\)$/,
    ],
    [
      "truncated in an item",
      () => truncatedInItem("1.2.3.3"),
      /^truncated in \(0040,A160\).* in sequence \(0040,A730\)$/,
    ],
    [
      "nested 100 000 deep",
      () => deepNesting("1.2.3.4"),
      /^nesting deeper than limits\.max_sequence_depth \(64\) at \(0008,1115\)$/,
    ],
    [
      "a deflated nesting bomb",
      () => deflateNestingBomb("1.2.3.5", 1_000_000),
      /^nesting deeper than limits\.max_sequence_depth/,
    ],
    [
      "a deflated zero bomb",
      () => deflateZeroBomb("1.2.3.6", 32),
      /^inflates over 200x its size \(limits\.max_inflate_ratio\)$/,
    ],
  ];
  for (const [name, make, reason] of cases) {
    test(name, async () => {
      const s = setup();
      const h = await make();
      const r = await store(s, h);
      expect(r.status).toBe(0xc000);
      expect(r.comment).toMatch(/^(truncated|nesting|inflates)/);
      const q = quarantined(s);
      expect(q).toHaveLength(1);
      expect(q[0]?.status).toBe("C000");
      expect(q[0]?.reason).toMatch(reason);
      // The quarantined file holds what was sent (after our file meta).
      expect(q[0]?.size ?? 0).toBeGreaterThan(h.bytes.length);
      expect(dcmIn(s.archive)).toEqual([]);
      expect(filesBelow(s.dir).filter((f) => f.includes(".storescp-"))).toEqual([]);
    });
  }

  test("the control: a whole instance is stored, 0000", async () => {
    const s = setup();
    expect((await store(s, wholeInstance("1.2.3.9"))).status).toBe(0);
    expect(dcmIn(s.archive)).toHaveLength(1);
  });
});

describe("archive and outbox never disagree", () => {
  test("no room for the record: A700, the file never enters the archive, nothing left behind", async () => {
    let released = 0;
    const s = setup({
      reserve: () => {
        throw new DimseError(0xa700, "outbox cannot take the record: ENOSPC");
      },
      record: async () => {
        released += 1;
      },
    });
    const r = await store(s, wholeInstance("1.2.4.1"));
    expect(r).toEqual({ status: 0xa700, comment: "outbox cannot take the record: ENOSPC" });
    expect(released).toBe(0);
    expect(filesBelow(s.dir)).toEqual([]);
  });

  test("the reservation is taken before the commit and handed to the record's writer", async () => {
    const events: string[] = [];
    const s = setup({
      reserve: (d) => {
        events.push(`reserve ${existsSync(d.path) ? "after" : "before"} commit`);
        return { release: () => events.push("release") };
      },
      record: async (instance, _received, reservation) => {
        events.push(`record ${existsSync(instance.path) ? "after" : "before"} commit`);
        reservation.release();
      },
    });
    expect((await store(s, wholeInstance("1.2.4.2"))).status).toBe(0);
    expect(events).toEqual(["reserve before commit", "record after commit", "release"]);
  });

  test("a record that cannot be written after all: the file is taken back out into quarantine", async () => {
    let released = 0;
    const s = setup({
      reserve: () => ({ release: () => (released += 1) }),
      record: async (instance) => {
        throw new UnrecordedError(0xa700, "outbox write failed: EIO", instance.path);
      },
    });
    const r = await store(s, wholeInstance("1.2.4.3"));
    expect(r.status).toBe(0xa700);
    expect(dcmIn(s.archive)).toEqual([]);
    expect(quarantined(s).map((q) => [q.status, q.reason])).toEqual([["A700", "outbox write failed: EIO"]]);
    expect(released).toBe(1);
  });

  test("a 6000-character Modality with {modality} in storage.path: A900 and quarantine, not 0110", async () => {
    const s = setup({ path: "{modality}/{study_uid}/{sop_uid}.dcm" });
    const r = await store(s, longModality("1.2.4.4"));
    expect(r.status).toBe(0xa900);
    expect(r.comment).toMatch(/^Modality \(0008,0060\) of 6000 characters cannot be part of a file/);
    expect(quarantined(s)).toHaveLength(1);
    expect(dcmIn(s.archive)).toEqual([]);
  });
});
