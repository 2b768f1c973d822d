// Framing of outbox records (src/outbox/frame.ts): round trips, cuts, flipped bits.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { encodeFrame, parseFrames } from "../../src/outbox/frame.ts";
import { rec } from "../helpers/outbox-log.ts";

describe("frames", () => {
  test("any sequence of payloads round-trips; any cut leaves only whole frames and one bad tail", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
        fc.nat(),
        (payloads, cutSeed) => {
          const frames = payloads.map(encodeFrame);
          const all = Buffer.concat(frames);
          const parsed = parseFrames(all);
          expect(parsed.bad).toEqual([]);
          expect(parsed.frames.map((f) => Buffer.from(f.payload))).toEqual(
            payloads.map((p) => Buffer.from(p)),
          );
          const cut = all.length === 0 ? 0 : cutSeed % all.length;
          const p2 = parseFrames(all.subarray(0, cut));
          let whole = 0;
          let end = 0;
          for (const f of frames) {
            if (end + f.length > cut) break;
            end += f.length;
            whole += 1;
          }
          expect(p2.frames.length).toBe(whole);
          expect(p2.bad.length).toBe(cut > end ? 1 : 0);
        },
      ),
    );
  });

  test("a flipped bit costs exactly the frame it is in", () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 12 }), fc.nat(), fc.nat(7), (n, at, bit) => {
        const frames = Array.from({ length: n }, (_, i) => encodeFrame(rec(i)));
        const all = Buffer.concat(frames);
        const pos = at % all.length;
        all[pos] = (all[pos] ?? 0) ^ (1 << bit);
        const parsed = parseFrames(all);
        expect(parsed.frames.length).toBe(n - 1);
        expect(parsed.bad.length).toBe(1);
      }),
    );
  });
});
