// The status page's lists (src/ops/live.ts): associations while they run, the last instances, totals.

import { describe, expect, test } from "bun:test";
import { LiveLists } from "../../src/ops/live.ts";
import type { InstanceEvent } from "../../src/ops/metrics.ts";

const assoc = { id: "a1", peer: "127.0.0.1:5000", calling: "MOD", called: "STORESCP", tenant: "default" };
const instance = (over: Partial<InstanceEvent> = {}): InstanceEvent => ({
  assoc: "a1",
  tenant: "default",
  status: "0000",
  failed: false,
  ts: "1.2.840.10008.1.2.1",
  bytes: 1000,
  ms: 2.4,
  patientId: "P1",
  modality: "CT",
  sop: "1.2.3",
  calling: "MOD",
  ...over,
});

describe("LiveLists", () => {
  test("an association counts while it runs; its instances and failures add up", () => {
    const live = new LiveLists();
    live.associationAccepted(assoc);
    live.instance(instance());
    live.instance(instance({ failed: true, status: "A700", error: "out of resources" }));
    live.associationRejected();
    expect(live.active).toBe(1);
    expect(live.associations[0]).toMatchObject({ id: "a1", instances: 1, failures: 1, bytes: 1000 });
    expect(live.totals).toEqual({ associations: 1, rejected: 1, instances: 1, failures: 1, bytes: 1000 });
    live.associationEnded("a1");
    expect(live.active).toBe(0);
  });

  test("the last 50 instances, newest first, with the stored syntax only when transcoded", () => {
    const live = new LiveLists();
    for (let i = 0; i < 60; i++) live.instance(instance({ sop: `1.2.${i}` }));
    live.instance(instance({ sop: "1.2.99", storedTs: "1.2.840.10008.1.2.4.80" }));
    expect(live.recent).toHaveLength(50);
    expect(live.recent[0]).toMatchObject({ sop: "1.2.99", stored_ts: "1.2.840.10008.1.2.4.80", ms: 2 });
    expect(live.recent[1]).toMatchObject({ sop: "1.2.59", stored_ts: null, stored_ts_name: null });
  });
});
