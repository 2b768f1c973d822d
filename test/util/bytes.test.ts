import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { concatBytes, copyOf, latin1, trimmedLatin1 } from "../../src/util/bytes.ts";

/** The definition: one character per byte, code point = byte value. */
function reference(b: Uint8Array, start: number, end: number): string {
  let out = "";
  for (let i = start; i < end; i++) out += String.fromCharCode(b[i] as number);
  return out;
}

/** A view into a larger buffer, so that byteOffset is not 0. */
const views = fc
  .tuple(fc.uint8Array({ maxLength: 20_000 }), fc.nat(64), fc.nat(64))
  .map(([b, before, after]) => {
    const whole = new Uint8Array(before + b.length + after).fill(0x41);
    whole.set(b, before);
    return whole.subarray(before, before + b.length);
  });

describe("latin1", () => {
  test("any byte range of any view decodes byte for byte (ISO 8859-1, not windows-1252)", () => {
    fc.assert(
      fc.property(views, fc.nat(), fc.nat(), (b, x, y) => {
        const start = x % (b.length + 1);
        const end = start + (y % (b.length - start + 1));
        expect(latin1(b, start, end)).toBe(reference(b, start, end));
        expect(latin1(b)).toBe(reference(b, 0, b.length));
      }),
      { numRuns: 500 },
    );
  });

  test("bytes 0x80-0x9F stay C1 code points", () => {
    expect(latin1(Uint8Array.of(0x80, 0x93, 0x9f))).toBe("\u0080\u0093\u009f");
  });
});

describe("trimmedLatin1", () => {
  test("drops trailing NULs and spaces; leading spaces only when asked", () => {
    const b = new TextEncoder().encode("  1.2.3 \0");
    expect(trimmedLatin1(b, 0, b.length, false)).toBe("  1.2.3");
    expect(trimmedLatin1(b, 0, b.length, true)).toBe("1.2.3");
    expect(trimmedLatin1(b, 2, 5, true)).toBe("1.2");
  });
});

describe("concatBytes", () => {
  test("the parts in order", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (parts) => {
        expect([...concatBytes(parts)]).toEqual(parts.flatMap((p) => [...p]));
      }),
    );
  });
});

describe("copyOf", () => {
  test("a Buffer's copy has memory of its own (Buffer's slice() would not)", () => {
    const whole = Buffer.from([1, 2, 3, 4, 5, 6]);
    const view = whole.subarray(1, 4);
    const copy = copyOf(view);
    expect([...copy]).toEqual([2, 3, 4]);
    expect(copy.buffer).not.toBe(whole.buffer);
    whole.fill(9);
    (whole.buffer as ArrayBuffer & { transfer(n: number): ArrayBuffer }).transfer(0);
    expect(view.length).toBe(0);
    expect([...copy]).toEqual([2, 3, 4]);
  });
});
