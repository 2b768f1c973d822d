import { describe, expect, test } from "bun:test";
import { type GateRefusal, PasswordGate } from "../../src/tenancy/password-gate.ts";

/** A check that resolves when told to, recording the order checks started in. */
function controlled() {
  const started: string[] = [];
  const pending: Array<(ok: boolean) => void> = [];
  const check = (name: string) => () =>
    new Promise<boolean>((resolve) => {
      started.push(name);
      pending.push(resolve);
    });
  const finishNext = async (ok: boolean) => {
    pending.shift()?.(ok);
    await new Promise((r) => setTimeout(r, 0));
  };
  return { started, check, finishNext };
}

const refused = (r: boolean | GateRefusal): string | null => (typeof r === "object" ? r.refused : null);
const ok = (r: boolean) => r;

describe("PasswordGate", () => {
  test("at most `concurrency` at once; a bounded queue; beyond it refused at once", async () => {
    const gate = new PasswordGate({ concurrency: 2, queue: 3, backoffAfter: 100, backoffMaxMs: 60_000 });
    const c = controlled();
    const results = ["a1", "a2", "a3", "a4", "a5", "a6"].map((n) => gate.check("10.0.0.1", c.check(n), ok));
    expect(c.started).toEqual(["a1", "a2"]);
    expect(gate.queued).toBe(3);
    expect(refused((await results[5]) ?? false)).toBe("busy");
    for (let i = 0; i < 5; i++) await c.finishNext(true);
    expect(await Promise.all(results.slice(0, 5))).toEqual([true, true, true, true, true]);
    expect(c.started).toEqual(["a1", "a2", "a3", "a4", "a5"]);
  });

  test("waiting checks are taken in turn from each address: a flood does not delay another's login", async () => {
    const gate = new PasswordGate({ concurrency: 1, queue: 100, backoffAfter: 1000, backoffMaxMs: 60_000 });
    const c = controlled();
    const flood = Array.from({ length: 20 }, (_, i) => gate.check("10.0.0.66", c.check(`f${i}`), ok));
    const login = gate.check("10.0.0.7", c.check("legit"), ok);
    await c.finishNext(false); // f0
    await c.finishNext(false); // f1, then the legitimate login is next
    expect(c.started.slice(0, 3)).toEqual(["f0", "f1", "legit"]);
    await c.finishNext(true);
    expect(await login).toBe(true);
    while (c.started.length < 21) await c.finishNext(false);
    await c.finishNext(false);
    expect((await Promise.all(flood)).every((r) => r === false)).toBe(true);
  });

  test("a full queue makes room for an address with fewer checks waiting", async () => {
    const gate = new PasswordGate({ concurrency: 1, queue: 4, backoffAfter: 1000, backoffMaxMs: 60_000 });
    const c = controlled();
    const flood = Array.from({ length: 6 }, (_, i) => gate.check("10.0.0.66", c.check(`f${i}`), ok));
    // f0 runs, f1..f4 wait, f5 is refused: the queue is full of one address.
    expect(refused((await flood[5]) ?? false)).toBe("busy");
    const login = gate.check("10.0.0.7", c.check("legit"), ok);
    // The flood's newest waiting check made room.
    expect(refused((await flood[4]) ?? false)).toBe("busy");
    await c.finishNext(false);
    await c.finishNext(false);
    expect(c.started).toEqual(["f0", "f1", "legit"]);
    await c.finishNext(true);
    expect(await login).toBe(true);
  });

  test("repeated failures back off that address only, doubling; a success clears it", async () => {
    let now = 1_000_000;
    const gate = new PasswordGate({
      concurrency: 4,
      queue: 10,
      backoffAfter: 3,
      backoffMaxMs: 5000,
      now: () => now,
    });
    const fail = () => Promise.resolve(false);
    const pass = () => Promise.resolve(true);
    for (let i = 0; i < 3; i++) expect(await gate.check("10.0.0.9", fail, ok)).toBe(false);
    // Third failure: 1 s back-off; no check runs meanwhile.
    let ran = false;
    const r = await gate.check(
      "10.0.0.9",
      () => {
        ran = true;
        return pass();
      },
      ok,
    );
    expect(refused(r)).toBe("backoff");
    expect(ran).toBe(false);
    // Another address is not affected.
    expect(await gate.check("10.0.0.10", pass, ok)).toBe(true);
    now += 1000;
    expect(await gate.check("10.0.0.9", fail, ok)).toBe(false); // fourth: 2 s
    now += 1999;
    expect(refused(await gate.check("10.0.0.9", pass, ok))).toBe("backoff");
    now += 1;
    expect(await gate.check("10.0.0.9", pass, ok)).toBe(true); // cleared
    expect(await gate.check("10.0.0.9", fail, ok)).toBe(false);
    expect(await gate.check("10.0.0.9", pass, ok)).toBe(true);
    // Capped at backoffMaxMs: each failure waits out the previous back-off, 20 in a row.
    for (let i = 0; i < 20; i++) {
      expect(await gate.check("10.0.0.11", fail, ok)).toBe(false);
      now += i < 2 ? 1 : 5000;
    }
    now -= 1;
    expect(refused(await gate.check("10.0.0.11", pass, ok))).toBe("backoff");
    now += 1;
    expect(await gate.check("10.0.0.11", pass, ok)).toBe(true);
    // Failures further apart than the longest back-off are forgotten.
    for (let i = 0; i < 10; i++) {
      expect(await gate.check("10.0.0.12", fail, ok)).toBe(false);
      now += 5001;
    }
  });
});
