import { expect, test } from "bun:test";
import { ProgressClock } from "../../src/net/progress.ts";

test("data at the minimum rate is progress; a trickle is not", () => {
  const clock = new ProgressClock(1000); // 1 byte per ms
  clock.progress(0);
  clock.received(50, 100);
  expect(clock.quietFor(100)).toBe(100);
  expect(clock.bytesSinceProgress).toBe(50);
  clock.received(60, 100);
  expect(clock.quietFor(100)).toBe(0);
  expect(clock.bytesSinceProgress).toBe(0);
});

test("with no minimum rate any byte is progress", () => {
  const clock = new ProgressClock(0);
  clock.progress(0);
  clock.received(1, 10_000);
  expect(clock.quietFor(10_000)).toBe(0);
});
