// Outbox fill: the texts say what empties it (Kafka, or an export when Kafka is off), the refusal fits an
// Error Comment.

import { describe, expect, test } from "bun:test";
import { drainAdvice, fullRefusal } from "../../src/outbox/fill.ts";

describe("outbox fill", () => {
  test("texts: export needed with Kafka off, never waiting for Kafka; the refusal fits an Error Comment", () => {
    expect(drainAdvice(false)).toContain("export needed");
    expect(drainAdvice(false)).not.toContain("waiting");
    expect(drainAdvice(true)).toContain("waiting for Kafka");
    expect(fullRefusal(2048, false)).toBe("outbox full (outbox.max_mb 2048): Kafka off, export needed");
    for (const k of [true, false]) expect(fullRefusal(1_000_000, k).length).toBeLessThanOrEqual(64);
  });
});
