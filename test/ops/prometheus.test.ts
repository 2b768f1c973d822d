// The Prometheus metrics (src/ops/prometheus.ts): rejection reasons as labels, counters from events,
// gauges read when scraped.

import { describe, expect, test } from "bun:test";
import { PromMetrics, rejectReasonLabel } from "../../src/ops/prometheus.ts";

describe("PromMetrics", () => {
  test("PS3.8 rejection reasons become labels; unknown ones say their numbers", () => {
    expect(rejectReasonLabel(1, 7)).toBe("called-ae-not-recognized");
    expect(rejectReasonLabel(3, 1)).toBe("temporary-congestion");
    expect(rejectReasonLabel(2, 9)).toBe("source-2-reason-9");
  });

  test("events count; the associations gauge is read at the scrape", async () => {
    let active = 0;
    const m = new PromMetrics({
      version: "test",
      roots: [],
      outbox: null,
      license: { info: null, problem: () => null, stop: () => {} },
      activeAssociations: () => active,
      startedAt: Date.now(),
    });
    m.associationAccepted({ id: "a", peer: "p", calling: "C", called: "S", tenant: "t1" });
    m.associationRejected(2, 3, 1);
    m.instance({
      assoc: "a",
      tenant: "t1",
      status: "0000",
      failed: false,
      ts: "1.2.840.10008.1.2.1",
      bytes: 512,
      ms: 3,
      patientId: undefined,
      modality: undefined,
      sop: "1.2.3",
      calling: "C",
    });
    active = 1;
    const text = await m.metrics();
    expect(text).toContain('storescp_associations_total{tenant="t1"} 1');
    expect(text).toContain(
      'storescp_associations_rejected_total{result="transient",reason="temporary-congestion"} 1',
    );
    expect(text).toContain('storescp_instance_bytes_total{tenant="t1"} 512');
    expect(text).toContain("storescp_associations_active 1");
    expect(text).toContain("storescp_license_days_left -1");
  });
});
