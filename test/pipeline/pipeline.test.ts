// The store pipeline's order, with stages that only note what they are asked: each stage runs after the
// one before it succeeded, a failing stage stops the later ones and its status is what the peer gets,
// and the answer never comes before the record (nor before the name is durable). What is placed or
// transcoded behind the answer is recorded pending first, and its final record follows.

import { describe, expect, test } from "bun:test";
import { DimseError, Status } from "../../src/dimse/status.ts";
import { StorePipeline } from "../../src/pipeline/pipeline.ts";
import {
  type DerivedDuplicate,
  type PendingRecord,
  type Received,
  type Reception,
  type RecordStage,
  type StoredInstance,
  type StoreOutcome,
  type StoreStage,
  type TranscodeStage,
  UnrecordedError,
  type Validated,
} from "../../src/pipeline/stages.ts";
import { DimseServices } from "../../src/scp/services.ts";
import type { AssociationContext } from "../../src/tenancy/context.ts";
import { Quota } from "../../src/tenancy/quota.ts";
import type { Tenant } from "../../src/tenancy/tenants.ts";
import { cStore } from "../helpers/pipeline.ts";

const CT = "1.2.840.10008.5.1.4.1.1.2";
const EXPLICIT = "1.2.840.10008.1.2.1";
const SOP = "1.2.3.4";
const PATH = "/archive/1.2.3.4.dcm";

/** A promise resolved from outside, to hold a stage where the test wants it. */
function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open: (value: T) => void = () => {};
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const settled = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

interface Faults {
  /** The instance needs transcoding (behind the answer). */
  transcoded?: boolean;
  /** Write-ahead: placed behind the answer. */
  placesLater?: boolean;
  duplicate?: DerivedDuplicate;
  /** Held until the test opens it. */
  transcodeGate?: Promise<void>;
  settle?: Error;
  reserve?: Error;
  commit?: Error;
  transcode?: Error;
  record?: Error;
  name?: DimseError;
  outcome?: StoreOutcome;
  /** Held open until the test opens it. */
  recordGate?: Promise<void>;
  nameGate?: Promise<void>;
  refusal?: { disk?: string; outbox?: string };
}

/** What the stages note when all goes well, up to the answer. */
const HAPPY = ["receive", "write", "settle", "reserve", "commit", "record", "recorded"];

/** The events of a C-STORE that went well up to and including `last`. */
const upTo = (last: string): string[] => HAPPY.slice(0, HAPPY.indexOf(last) + 1);

function pendingRecord(events: string[]): PendingRecord {
  return {
    traceId: "T",
    writePending: async () => {
      events.push("pending written");
    },
    settle: async (final) => {
      events.push(`final ${final.transferStatus}`);
    },
  };
}

/** Stages that note every call in `events` and fail where `faults` says. */
function stages(faults: Faults = {}) {
  const events: string[] = [];
  const reception = (received: Received): Reception => ({
    pendingBytes: 0,
    onProgress: null,
    attributes: {},
    quarantined: false,
    write: () => events.push("write"),
    settle: async (): Promise<Validated> => {
      events.push("settle");
      if (faults.settle) throw faults.settle;
      return { received, path: PATH, fileSize: 10, attributes: {} };
    },
    discard: async () => {
      events.push("discard");
    },
    refuse: async (problem) => {
      events.push(`refuse ${problem.status.toString(16)}`);
    },
    commit: async (): Promise<StoredInstance> => {
      events.push("commit");
      if (faults.commit) throw faults.commit;
      const name = faults.nameGate ?? Promise.resolve();
      return {
        path: PATH,
        fileSize: 10,
        attributes: {},
        outcome: faults.outcome ?? "stored",
        transferSyntaxUid: EXPLICIT,
        // Its sync runs while the later stages do: the answer waits for it (see the gated test).
        nameDurable: name.then(() => faults.name ?? null),
        ...(faults.placesLater
          ? {
              makeDurable: async () => {
                events.push("logged");
              },
              place: async () => {
                events.push("place");
                return {};
              },
              release: () => events.push("released"),
            }
          : {}),
        held: {
          identity: "1:2:10:3",
          size: 10,
          take: () => null,
          release: () => events.push("held released"),
        },
      };
    },
    withdraw: async (path, problem) => {
      events.push(`withdraw ${path} ${problem.status.toString(16)}`);
    },
    abort: async () => {
      events.push("abort");
    },
  });
  const store: StoreStage = {
    placesLater: faults.placesLater ?? false,
    refusal: () => faults.refusal?.disk ?? null,
    receive: (received) => {
      events.push("receive");
      return reception(received);
    },
    prepareNext: (path) => events.push(`prepare next ${path}`),
  };
  const transcode: TranscodeStage = {
    needs: () => faults.transcoded ?? false,
    derivedDuplicate: async () => {
      events.push("duplicate?");
      return faults.duplicate ?? null;
    },
    transcode: async (stored) => {
      events.push("transcode");
      await faults.transcodeGate;
      if (faults.transcode) throw faults.transcode;
      return { ...stored, targetTs: EXPLICIT, transferStatus: "Success" };
    },
  };
  const record: RecordStage = {
    refusal: () => faults.refusal?.outbox ?? null,
    reserve: () => {
      events.push("reserve");
      if (faults.reserve) throw faults.reserve;
      return { release: () => events.push("reservation released") };
    },
    record: async () => {
      events.push("record");
      await faults.recordGate;
      if (faults.record) throw faults.record;
      events.push("recorded");
    },
    recordPending: async () => {
      events.push("record pending");
      if (faults.record) throw faults.record;
      return pendingRecord(events);
    },
    draft: () => {
      events.push("draft");
      return { bytes: new Uint8Array(1), pending: pendingRecord(events) };
    },
  };
  return { events, pipeline: new StorePipeline({ store, transcode, record }) };
}

function tenant(quotaExceeded = false): Tenant {
  return {
    id: "t1",
    aeTitles: [],
    allowedCallingAes: new Set(),
    allowedNetworks: null,
    storageRoot: "/archive",
    pathTemplate: "{sop_uid}.dcm",
    users: new Map(),
    tlsSubjects: new Set(),
    topics: null,
    // A limit of 0 bytes is exceeded from the start.
    quota: new Quota(quotaExceeded ? 0 : 1 << 30, "/archive"),
  };
}

function context(t: Tenant = tenant()): AssociationContext {
  return {
    id: "A1",
    tenant: t,
    callingAe: "SCU",
    calledAe: "STORESCP",
    remoteAddress: "127.0.0.1",
    remotePort: 1,
  };
}

const received = (): Received => ({
  origin: context(),
  sopClassUid: CT,
  sopInstanceUid: SOP,
  transferSyntaxUid: EXPLICIT,
});

/** One C-STORE through DimseServices, and what follows its answer: the status and Error Comment. */
function store(pipeline: StorePipeline, ctx = context()): Promise<{ status: number; comment: string }> {
  const rq = { bytes: new Uint8Array(8), ts: EXPLICIT, sopClassUid: CT, sopInstanceUid: SOP };
  return cStore(new DimseServices(pipeline), ctx, rq, { afterResponse: true });
}

describe("the order of the stages", () => {
  test("received, validated, reserved, stored, recorded, answered", async () => {
    const { events, pipeline } = stages();
    expect(await store(pipeline)).toEqual({ status: Status.Success, comment: "" });
    expect(events).toEqual([...HAPPY, "held released", `prepare next ${PATH}`]);
  });

  test("the answer waits for the record, then for the name", async () => {
    const record = gate();
    const name = gate();
    const { events, pipeline } = stages({ recordGate: record.promise, nameGate: name.promise });
    const run = pipeline.begin(received());
    let answered = false;
    const done = run.complete().then(() => {
      answered = true;
    });
    await settled();
    expect(events.at(-1)).toBe("record");
    expect(answered).toBe(false);
    record.open();
    await settled();
    expect(events.at(-1)).toBe("recorded");
    expect(answered).toBe(false);
    name.open();
    await done;
    expect(answered).toBe(true);
  });

  test("transcoded behind the answer: recorded pending, answered, then transcoded and recorded final", async () => {
    const transcoding = gate();
    const { events, pipeline } = stages({ transcoded: true, transcodeGate: transcoding.promise });
    expect(await store(pipeline)).toEqual({ status: Status.Success, comment: "" });
    expect(events).toEqual([
      ...HAPPY.slice(0, 3),
      "duplicate?",
      "reserve",
      "commit",
      "record pending",
      "transcode",
      `prepare next ${PATH}`,
    ]);
    expect(pipeline.settler.backlog).toBe(1);
    transcoding.open();
    await pipeline.settler.idle();
    expect(events.slice(-2)).toEqual(["final Success", "held released"]);
    expect(pipeline.settler.backlog).toBe(0);
  });

  test("write-ahead: placed behind the answer, then recorded final", async () => {
    const { events, pipeline } = stages({ placesLater: true });
    expect(await store(pipeline)).toEqual({ status: Status.Success, comment: "" });
    await pipeline.settler.idle();
    // What follows the answer (a spare file for the next instance) runs beside the settling.
    expect(events.filter((e) => !e.startsWith("prepare next"))).toEqual([
      ...HAPPY.slice(0, 5),
      "draft",
      "logged",
      "place",
      "final NoNeedTransfer",
      "released",
      "held released",
    ]);
  });

  test("while associations are receiving, a transcode waits for a quiet moment", async () => {
    let busy = true;
    const { events, pipeline } = stages({ transcoded: true });
    const quiet = new StorePipeline(
      (pipeline as unknown as { stages: ConstructorParameters<typeof StorePipeline>[0] }).stages,
      { busy: () => busy },
    );
    expect((await store(quiet)).status).toBe(Status.Success);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(events).not.toContain("transcode");
    busy = false;
    await quiet.settler.idle();
    expect(events).toContain("final Success");
  });

  test("past the settling bound, new instances are refused (A700) until it shrinks", async () => {
    const transcoding = gate();
    const { pipeline } = stages({ transcoded: true, transcodeGate: transcoding.promise });
    const bounded = new StorePipeline(
      (pipeline as unknown as { stages: ConstructorParameters<typeof StorePipeline>[0] }).stages,
      { maxBacklog: 1 },
    );
    expect((await store(bounded)).status).toBe(Status.Success);
    const refused = bounded.refusal(received(), null);
    expect(refused?.status).toBe(Status.OutOfResources);
    expect(refused?.comment).toContain("wait to be placed or transcoded");
    transcoding.open();
    await bounded.settler.idle();
    expect(bounded.refusal(received(), null)).toBeNull();
  });

  test("a lossy target's derived instance stored already: keep drops the data set, reject quarantines it", async () => {
    const keep = stages({
      transcoded: true,
      duplicate: { kind: "keep", path: "/archive/derived.dcm", sopInstanceUid: "9.9" },
    });
    expect((await store(keep.pipeline)).status).toBe(Status.Success);
    expect(keep.events).toEqual([
      ...HAPPY.slice(0, 3),
      "duplicate?",
      "discard",
      "prepare next /archive/derived.dcm",
    ]);
    const reject = stages({
      transcoded: true,
      duplicate: { kind: "reject", problem: { status: Status.DuplicateSopInstance, reason: "derived" } },
    });
    expect(await store(reject.pipeline)).toEqual({ status: Status.DuplicateSopInstance, comment: "derived" });
    expect(reject.events).toEqual([...HAPPY.slice(0, 3), "duplicate?", "refuse 111"]);
  });

  test("on_duplicate keep: nothing transcoded, no new record, its room given back", async () => {
    const { events, pipeline } = stages({ outcome: "kept-existing" });
    expect((await store(pipeline)).status).toBe(Status.Success);
    expect(events).not.toContain("transcode");
    expect(events).not.toContain("record");
    expect(events).toContain("reservation released");
  });
});

describe("a failing stage stops the later ones, and its status is the answer", () => {
  const released = "reservation released";
  const after = ["held released", `prepare next ${PATH}`];
  const quarantined = new DimseError(Status.DataSetDoesNotMatchSopClass, "Study Instance UID absent");
  const noRoom = new DimseError(Status.OutOfResources, "outbox cannot take the record: ENOSPC");
  const duplicate = new DimseError(Status.DuplicateSopInstance, "already stored (on_duplicate: reject)");
  const unrecorded = new UnrecordedError(Status.OutOfResources, "outbox write failed: EIO", PATH);
  const nameLost = new DimseError(Status.ProcessingFailure, "storage failed: EIO");
  // [case, fault, the last stage that ran, what followed it]
  const cases: Array<[string, Faults, string, string[]]> = [
    ["validated: the data set is quarantined", { settle: quarantined }, "settle", []],
    [
      "reserved: no room for the record, the file never enters the archive",
      { reserve: noRoom },
      "reserve",
      ["discard"],
    ],
    ["stored: on_duplicate reject", { commit: duplicate }, "commit", [released]],
    [
      "recorded: no record, the file is taken back out",
      { record: unrecorded },
      "record",
      [released, `withdraw ${PATH} a700`, ...after],
    ],
    ["answered: the name could not be made durable", { name: nameLost }, "recorded", [released, ...after]],
    [
      "an error that is not a DIMSE failure: 0110, internal error",
      { commit: new Error("EBADF") },
      "commit",
      [released],
    ],
  ];
  for (const [name, faults, last, followed] of cases) {
    test(name, async () => {
      const { events, pipeline } = stages(faults);
      const fault = Object.values(faults)[0] as Error;
      expect(await store(pipeline)).toEqual(
        fault instanceof DimseError
          ? { status: fault.status, comment: fault.comment }
          : { status: Status.ProcessingFailure, comment: `internal error: ${fault.message}` },
      );
      expect(events).toEqual([...upTo(last), ...followed]);
    });
  }
});

describe("refused before the data set arrives (A700), nothing received", () => {
  const cases: Array<[string, Faults, boolean, string]> = [
    ["the disk", { refusal: { disk: "disk space below storage.min_free_mb" } }, false, "disk space below"],
    ["the tenant's quota", {}, true, "quota of tenant t1 exceeded (max_gb)"],
    ["the outbox", { refusal: { outbox: "outbox full (outbox.max_mb 1)" } }, false, "outbox full"],
  ];
  for (const [name, faults, quotaExceeded, comment] of cases) {
    test(name, async () => {
      const { events, pipeline } = stages(faults);
      const r = await store(pipeline, context(tenant(quotaExceeded)));
      expect(r.status).toBe(Status.OutOfResources);
      expect(r.comment).toContain(comment);
      expect(events).toEqual([]);
    });
  }
});
