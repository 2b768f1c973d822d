// When placing waits (src/store/wal/gate.ts): while instances keep arriving and the log has room, and
// never past the receiver going quiet, the log running short of room, too many waiting, or too long.

import { expect, test } from "bun:test";
import { PlacementGate } from "../../../src/store/wal/gate.ts";
import { sleep } from "./helpers.ts";

/** Whether the promise has settled after the microtasks now queued. */
async function settled(p: Promise<void>): Promise<boolean> {
  let done = false;
  void p.then(() => {
    done = true;
  });
  await sleep(0);
  return done;
}

function gate(o: { free?: () => number; heldMax?: number; ageMaxMs?: number; quietMs?: number } = {}) {
  return new PlacementGate({
    freeShare: o.free ?? (() => 1),
    quietMs: o.quietMs ?? 40,
    heldMax: o.heldMax ?? 100,
    ageMaxMs: o.ageMaxMs ?? 10_000,
  });
}

test("nothing arriving: a placing goes at once", () => {
  expect(gate().hold()).toBeUndefined();
});

test("held while instances arrive, released once the receiver has been quiet", async () => {
  // Quiet only after 300 ms: arrivals 20 ms apart keep it busy even on a loaded machine.
  const g = gate({ quietMs: 300 });
  g.arriving();
  const held = g.hold();
  if (!held) throw new Error("expected the placing to wait");
  expect(g.waiting).toBe(1);
  for (let i = 0; i < 6; i++) {
    await sleep(20);
    g.arriving();
    expect(await settled(held)).toBe(false);
  }
  await sleep(450);
  expect(await settled(held)).toBe(true);
  expect(g.waiting).toBe(0);
});

test("short of log room: nothing waits, and what waited goes at the next arrival", async () => {
  let free = 1;
  const g = gate({ free: () => free });
  g.arriving();
  const held = g.hold();
  if (!held) throw new Error("expected the placing to wait");
  free = 0.2;
  expect(g.hold()).toBeUndefined();
  g.arriving();
  expect(await settled(held)).toBe(true);
});

test("placeNow (the outbox would be full once the held records are written): what waits goes at once", async () => {
  let now = false;
  const g = new PlacementGate({ freeShare: () => 1, placeNow: () => now, quietMs: 10_000 });
  g.arriving();
  const held = g.hold();
  if (!held) throw new Error("expected the placing to wait");
  now = true;
  expect(g.hold()).toBeUndefined();
  expect(await settled(held)).toBe(true);
  g.close();
});

test("at most heldMax wait: one more releases them all", async () => {
  const g = gate({ heldMax: 3 });
  g.arriving();
  const held = [g.hold(), g.hold(), g.hold()];
  expect(g.waiting).toBe(3);
  expect(g.hold()).toBeUndefined();
  for (const p of held) expect(await settled(p ?? Promise.reject(new Error("not held")))).toBe(true);
});

test("none waits longer than ageMaxMs, however long the burst", async () => {
  const g = gate({ ageMaxMs: 80 });
  g.arriving();
  const held = g.hold();
  if (!held) throw new Error("expected the placing to wait");
  const t0 = performance.now();
  while (!(await settled(held))) {
    expect(performance.now() - t0).toBeLessThan(2_000);
    g.arriving();
    await sleep(10);
  }
  expect(performance.now() - t0).toBeGreaterThanOrEqual(70);
});

test("closing releases everything held, and nothing waits after", async () => {
  const g = gate();
  g.arriving();
  const held = g.hold();
  if (!held) throw new Error("expected the placing to wait");
  g.close();
  expect(await settled(held)).toBe(true);
  g.arriving();
  expect(g.hold()).toBeUndefined();
});

test("release: what is held goes now, and later placings wait again while the burst goes on", async () => {
  const g = gate();
  g.arriving();
  const held = g.hold();
  if (!held) throw new Error("expected the placing to wait");
  g.release();
  expect(await settled(held)).toBe(true);
  g.arriving();
  expect(g.hold()).toBeDefined();
  g.close();
});
