// Outbox fill: the texts say what empties it (Kafka, or an export when Kafka is off), the refusal fits an
// Error Comment, and the forecast is the average growth since the oldest record waiting.

import { describe, expect, test } from "bun:test";
import { drainAdvice, forecast, forecastLines, formatHours, fullRefusal } from "../../src/outbox/fill.ts";

const MiB = 1024 * 1024;
const now = Date.parse("2026-01-10T12:00:00Z");

describe("outbox fill", () => {
  test("texts: export needed with Kafka off, never waiting for Kafka; the refusal fits an Error Comment", () => {
    expect(drainAdvice(false)).toContain("export needed");
    expect(drainAdvice(false)).not.toContain("waiting");
    expect(drainAdvice(true)).toContain("waiting for Kafka");
    expect(fullRefusal(2048, false)).toBe("outbox full (outbox.max_mb 2048): Kafka off, export needed");
    for (const k of [true, false]) expect(fullRefusal(1_000_000, k).length).toBeLessThanOrEqual(64);
  });

  test("forecast: average since the oldest record, time left at that rate", () => {
    // 100 MiB in 10 h of a 1000 MiB outbox: 10 MiB/h, 90 h left.
    const f = forecast(100 * MiB, 1000 * MiB, "2026-01-10T02:00:00Z", now);
    expect(f.bytesPerHour).toBeCloseTo(10 * MiB, 3);
    expect(f.hoursToFull).toBeCloseTo(90, 6);
    expect(forecast(0, 1000 * MiB, null, now)).toEqual({ bytesPerHour: null, hoursToFull: null });
    expect(forecast(1000 * MiB, 1000 * MiB, "2026-01-10T02:00:00Z", now).hoursToFull).toBe(0);
    const lines = forecastLines(100 * MiB, 1000, "2026-01-10T02:00:00Z", false, now);
    expect(lines).toEqual([
      ["fill rate", "10.0 MiB/h (average since the oldest record waiting)"],
      ["full", "in about 3.8 d at that rate"],
    ]);
    expect(forecastLines(0, 1000, null, false, now)).toEqual([
      ["fill rate", "-"],
      ["full", "-"],
    ]);
    expect(formatHours(0.5)).toBe("30 min");
    expect(formatHours(5.25)).toBe("5.3 h");
  });
});
