import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Status } from "../../src/dimse/status.ts";
import { pathVariables, safeSegment, UNDATED } from "../../src/store/layout.ts";
import { type2Warnings, validateInstance, validDate } from "../../src/store/validate.ts";

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

describe("Type 2 attributes (Patient ID, Study Date)", () => {
  const cmd = { sopClassUid: "1.2.840.10008.5.1.4.1.1.7", sopInstanceUid: "1.2.3" };
  const full = {
    sopClassUid: cmd.sopClassUid,
    sopInstanceUid: cmd.sopInstanceUid,
    studyInstanceUid: "1.2.4",
    seriesInstanceUid: "1.2.5",
    patientId: "P1",
    studyDate: "20240101",
  };
  const gaps: Array<[string, Partial<typeof full>, string]> = [
    ["Patient ID absent", { patientId: undefined }, "Patient ID (0010,0020) absent"],
    ["Patient ID empty", { patientId: "" }, "Patient ID (0010,0020) empty"],
    ["Study Date absent", { studyDate: undefined }, "Study Date (0008,0020) absent"],
    ["Study Date empty", { studyDate: "" }, "Study Date (0008,0020) empty"],
    ["Study Date odd", { studyDate: "2024-01-01" }, 'Study Date (0008,0020) "2024-01-01" is not YYYYMMDD'],
  ];

  test("complete: stored, no warnings", () => {
    expect(validateInstance(full, cmd, undefined)).toBeUndefined();
    expect(validateInstance(full, cmd, undefined, ["patient_id", "study_date"])).toBeUndefined();
    expect(type2Warnings(full)).toBeNull();
  });

  for (const [name, change, text] of gaps) {
    test(`${name}: a warning by default; A900 with storage.require`, () => {
      const a = { ...full, ...change };
      expect(validateInstance(a, cmd, undefined)).toBeUndefined();
      expect(type2Warnings(a)).toEqual([text]);
      const which = name.startsWith("Patient") ? "patient_id" : "study_date";
      const other = which === "patient_id" ? "study_date" : "patient_id";
      expect(validateInstance(a, cmd, undefined, [which])).toEqual({
        status: Status.DataSetDoesNotMatchSopClass,
        reason: `storage.require: ${text}`,
      });
      expect(type2Warnings(a, [which])).toBeNull();
      // Requiring the other one only keeps this one a warning.
      expect(validateInstance(a, cmd, undefined, [other])).toBeUndefined();
      expect(type2Warnings(a, [other])).toEqual([text]);
    });
  }

  test("Type 1 UIDs stay required whatever storage.require says", () => {
    const a = { ...full, seriesInstanceUid: undefined };
    expect(validateInstance(a, cmd, undefined)?.reason).toBe("Series Instance UID (0020,000E) missing");
  });

  test('{study_date} renders "undated" without a date', () => {
    expect(pathVariables("t", full, "CT").study_date).toBe("20240101");
    for (const studyDate of [undefined, "", "2024-01-01", "20241301"])
      expect(pathVariables("t", { ...full, studyDate }, "CT").study_date).toBe(UNDATED);
    expect(pathVariables("t", full, "CT", "9.9").sop_uid).toBe("9.9");
  });
});
