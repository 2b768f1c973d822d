// What `outbox status` gives to plan with: the fill rate over the last hour, the time until max_mb at
// that rate, and the size of an export with and without files.

import { describe, expect, test } from "bun:test";
import { capacity, capacityLines } from "../../src/outbox/capacity.ts";
import { OutboxLog } from "../../src/outbox/log.ts";
import { tmpDirs } from "../helpers/tmp.ts";

const tmp = tmpDirs("capacity");

describe("capacity", () => {
  test("rate over the last hour, time to full at that rate, export sizes", async () => {
    const dir = tmp();
    const now = Date.parse("2024-05-01T12:00:00Z");
    const log = await OutboxLog.open({ dir, maxBytes: 1 << 30, fsync: false });
    const payload = (minutesAgo: number) =>
      new TextEncoder().encode(
        JSON.stringify({
          trace_id: `t${String(minutesAgo).padStart(3, "0")}`,
          created_time: new Date(now - minutesAgo * 60_000).toISOString(),
          file_size: 1_000_000,
          pad: "x".repeat(900),
        }),
      );
    // Two hours ago: 10 records; in the last hour: 60.
    for (let i = 0; i < 10; i++) await log.append(payload(120 + i));
    for (let i = 0; i < 60; i++) await log.append(payload(i));
    const frame = log.bytes / 70;
    const maxBytes = 1024 * 1024 * 1024;
    const c = await capacity(log, maxBytes, now);
    expect(c.records).toBe(70);
    expect(c.recordsPerHour).toBeCloseTo(60, 5);
    expect(c.bytesPerHour).toBeCloseTo(60 * frame, 0);
    expect((c.fullInMs ?? 0) / 3_600_000).toBeCloseTo((maxBytes - log.bytes) / (60 * frame), 3);
    expect(c.exportBytes).toBeGreaterThanOrEqual(log.bytes);
    expect(c.exportBytesWithFiles).toBeGreaterThanOrEqual(c.exportBytes + 70_000_000);
    const lines = capacityLines(c, 1024, false, 4000);
    expect(lines.join("\n")).toMatch(/fill rate: +[\d.]+ KiB\/h, 60 records\/h \(last hour\)/);
    expect(lines.join("\n")).toMatch(/max_mb: +in ~[\d.]+ d at that rate/);
    expect(lines.join("\n")).toMatch(/--with-files \(1 volume\(s\) of at most 4000 MiB\)/);
    await log.close();
  });

  test("a quiet last hour: the rate is the average since the oldest record waiting, never 'not filling'", async () => {
    const dir = tmp();
    const now = Date.parse("2024-05-01T12:00:00Z");
    const log = await OutboxLog.open({ dir, maxBytes: 1 << 30, fsync: false });
    // 40 records, the oldest 4 hours ago, the newest 2 hours ago: 10 records/h since the oldest.
    for (let i = 0; i < 40; i++)
      await log.append(
        new TextEncoder().encode(
          JSON.stringify({
            trace_id: `q${i}`,
            created_time: new Date(now - (240 - 3 * i) * 60_000).toISOString(),
            file_size: 1000,
          }),
        ),
      );
    const c = await capacity(log, 1 << 30, now);
    expect(c.basis).toBe("oldest");
    expect(c.recordsPerHour).toBeCloseTo(10, 5);
    expect(c.fullInMs).not.toBeNull();
    expect(capacityLines(c, 1024, false, 4000).join("\n")).toMatch(
      /records\/h \(average since the oldest record waiting\)/,
    );
    await log.close();
  });
});
