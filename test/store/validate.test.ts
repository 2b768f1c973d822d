import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { safeSegment } from "../../src/store/layout.ts";
import { validDate } from "../../src/store/validate.ts";

/** The definition through the calendar of Date (years below 100 refused: Date reads them as 19YY). */
function dateReference(s: string): boolean {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

describe("validDate (Study Date, YYYYMMDD)", () => {
  test("agrees with the calendar on every day, month and year form", () => {
    for (const y of [0, 1, 99, 100, 1600, 1899, 1900, 1999, 2000, 2023, 2024, 2100, 2400, 9999]) {
      for (let m = 0; m <= 13; m++) {
        for (let d = 0; d <= 32; d++) {
          const s = `${String(y).padStart(4, "0")}${String(m).padStart(2, "0")}${String(d).padStart(2, "0")}`;
          expect([s, validDate(s)]).toEqual([s, dateReference(s)]);
        }
      }
    }
  });

  test("anything else is refused as the calendar refuses it", () => {
    fc.assert(fc.property(fc.string({ maxLength: 10 }), (s) => validDate(s) === dateReference(s)));
    for (const s of ["2024-1-1", "2024010", "202401011", " 20240101", "2024O101", ""])
      expect(validDate(s)).toBe(false);
  });
});

/** safeSegment as first written, with regexes only: the digit-and-dot shortcut must not change it. */
function segmentReference(value: string): string {
  const cleaned = value.trim().replace(/[^A-Za-z0-9._-]/g, "_");
  if (cleaned === "" || /^\.+$/.test(cleaned)) return "_";
  const noTrailingDot = cleaned.endsWith(".") ? `${cleaned.slice(0, -1)}_` : cleaned;
  return /^(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?$/i.test(noTrailingDot)
    ? `_${noTrailingDot}`
    : noTrailingDot;
}

describe("safeSegment", () => {
  test("UIDs, dates and anything else render as the regex rules say", () => {
    const uidish = fc.stringMatching(/^[0-9.]{0,70}$/);
    fc.assert(
      fc.property(
        fc.oneof(uidish, fc.string({ maxLength: 20 })),
        (s) => safeSegment(s) === segmentReference(s),
      ),
    );
    for (const s of ["1.2.840.10008", "20240101", "1.", ".1", "..", "", " 1.2", "CON", "com1.txt", "CT"])
      expect(safeSegment(s)).toBe(segmentReference(s));
  });
});
