import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { isValidUid, newUid, uidProblem, uuidToUid } from "../../src/dicom/uid.ts";

const component = fc.oneof(fc.constant("0"), fc.stringMatching(/^[1-9][0-9]{0,9}$/));
const validUid = fc
  .array(component, { minLength: 1, maxLength: 12 })
  .map((c) => c.join("."))
  .filter((s) => s.length <= 64);

describe("uid", () => {
  test("well-formed UIDs are valid (strict and lenient)", () => {
    fc.assert(
      fc.property(validUid, (u) => {
        expect(uidProblem(u)).toBeUndefined();
        expect(isValidUid(u, { strict: true })).toBe(true);
      }),
    );
  });

  test("a non-digit, non-dot character makes it invalid", () => {
    fc.assert(
      fc.property(
        validUid.filter((u) => u.length < 64),
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 1 }).filter((c) => !/[0-9.]/.test(c)),
        (u, at, c) => {
          const i = at % (u.length + 1);
          const bad = u.slice(0, i) + c + u.slice(i);
          expect(uidProblem(bad)).toMatch(/invalid character/);
        },
      ),
    );
  });

  test("empty components, empty, too long", () => {
    expect(uidProblem("")).toBe("empty UID");
    for (const bad of [".1.2", "1.2.", "1..2", "."]) expect(uidProblem(bad)).toMatch(/empty component/);
    expect(uidProblem(`1.${"2".repeat(63)}`)).toMatch(/longer than 64/);
    expect(isValidUid(`1.${"2".repeat(62)}`)).toBe(true);
    fc.assert(
      fc.property(validUid, validUid, (a, b) => {
        expect(isValidUid(`${a}..${b}`)).toBe(false);
      }),
    );
  });

  test("leading zeros: only a problem when strict", () => {
    expect(isValidUid("1.2.03")).toBe(true);
    expect(uidProblem("1.2.03", { strict: true })).toMatch(/leading zero/);
    expect(isValidUid("1.0.3", { strict: true })).toBe(true);
    expect(isValidUid("00.1", { strict: true })).toBe(false);
  });

  test("newUid: valid, strict, 2.25 form, unique", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const u = newUid();
      expect(u.startsWith("2.25.")).toBe(true);
      expect(uidProblem(u, { strict: true })).toBeUndefined();
      expect(u.length).toBeLessThanOrEqual(44);
      seen.add(u);
    }
    expect(seen.size).toBe(2000);
  });

  test("uuidToUid", () => {
    expect(uuidToUid("00000000-0000-0000-0000-000000000000")).toBe("2.25.0");
    expect(uuidToUid("ffffffff-ffff-ffff-ffff-ffffffffffff")).toBe(`2.25.${(2n ** 128n - 1n).toString()}`);
    fc.assert(
      fc.property(fc.uuid(), (u) => {
        const uid = uuidToUid(u);
        expect(isValidUid(uid, { strict: true })).toBe(true);
        expect(BigInt(uid.slice(5)).toString(16).padStart(32, "0")).toBe(u.replace(/-/g, ""));
      }),
    );
  });
});
