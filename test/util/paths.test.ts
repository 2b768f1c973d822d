// Paths made absolute at the edge, by each platform's rules: Windows' checked on Linux through node:path's
// win32 variant (the same rules run for real under Wine in the smoke test).

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { templateProblem } from "../../src/config/path-template.ts";
import { renderPath, safeSegment } from "../../src/store/layout.ts";
import { absolutePath, longPath, windowsNameProblem, withoutLongPrefix } from "../../src/util/paths.ts";

const vars = {
  tenant: "default",
  study_date: "20240101",
  study_uid: `1.${"2".repeat(62)}`,
  series_uid: `1.${"3".repeat(62)}`,
  sop_uid: `1.${"4".repeat(62)}`,
  sop_class_uid: "1.2.840.10008.5.1.4.1.1.2",
  modality: "CT",
  calling_ae: "CT01",
};

describe("Windows paths", () => {
  const abs = (v: string, base = "C:\\storescp") => absolutePath(v, base, "win32");

  test("drive letters with either slash, UNC shares, and relative paths against the config's directory", () => {
    expect(abs("D:\\dicom\\data")).toBe("D:\\dicom\\data");
    expect(abs("D:/dicom/data")).toBe("D:\\dicom\\data");
    expect(abs("d:\\dicom\\")).toBe("d:\\dicom");
    expect(abs("\\\\nas01\\share\\dicom")).toBe("\\\\nas01\\share\\dicom");
    expect(abs("//nas01/share/dicom")).toBe("\\\\nas01\\share\\dicom");
    expect(abs(".\\data")).toBe("C:\\storescp\\data");
    expect(abs("data/quarantine")).toBe("C:\\storescp\\data\\quarantine");
    expect(abs("..\\outbox")).toBe("C:\\outbox");
    expect(abs("\\data", "Z:\\tmp")).toBe("Z:\\data");
  });

  test("device names, trailing dots and spaces, drive-relative paths are refused with the reason", () => {
    expect(() => abs("C:\\data\\NUL")).toThrow(/"NUL" is a Windows device name/);
    expect(() => abs("C:\\data\\con.txt\\x")).toThrow(/device name/);
    expect(() => abs("lpt1")).toThrow(/device name/);
    expect(() => abs("C:\\data.\\x")).toThrow(/ends in a dot or a space/);
    expect(() => abs("C:\\data \\x")).toThrow(/ends in a dot or a space/);
    expect(() => abs("C:\\da|ta")).toThrow(/character Windows refuses/);
    expect(() => abs("C:data")).toThrow(/current directory of drive C:; write C:\\data/);
    expect(abs("C:\\CONSOLE\\COM10")).toBe("C:\\CONSOLE\\COM10");
  });

  test("long paths get the \\\\?\\ prefix, short ones stay", () => {
    const long = `C:\\${"d".repeat(300)}`;
    expect(longPath(long, "win32")).toBe(`\\\\?\\${long}`);
    expect(longPath(`\\\\nas\\share\\${"d".repeat(300)}`, "win32")).toBe(
      `\\\\?\\UNC\\nas\\share\\${"d".repeat(300)}`,
    );
    expect(longPath("C:\\short", "win32")).toBe("C:\\short");
    expect(longPath(`\\\\?\\${long}`, "win32")).toBe(`\\\\?\\${long}`);
    expect(longPath(`/${"d".repeat(300)}`, "linux")).toBe(`/${"d".repeat(300)}`);
    expect(withoutLongPrefix(longPath(long, "win32"))).toBe(long);
    expect(withoutLongPrefix(`\\\\?\\UNC\\nas\\share\\x`)).toBe("\\\\nas\\share\\x");
  });

  test("rendered storage paths: backslashes, and the prefix once past the limit", () => {
    const t = "{tenant}/{study_date}/{study_uid}/{series_uid}/{sop_uid}.dcm";
    const short = renderPath("C:\\storescp\\data", t, vars, "win32");
    expect(short).toBe(
      `C:\\storescp\\data\\default\\20240101\\${vars.study_uid}\\${vars.series_uid}\\${vars.sop_uid}.dcm`,
    );
    const deep = `C:\\storescp\\${"archive-".repeat(6)}`;
    const p = renderPath(deep, t, vars, "win32");
    expect(p.startsWith("\\\\?\\C:\\storescp\\")).toBe(true);
    expect(withoutLongPrefix(p).length).toBeGreaterThan(260);
    expect(renderPath("/data", t, vars, "linux")).toBe(
      `/data/default/20240101/${vars.study_uid}/${vars.series_uid}/${vars.sop_uid}.dcm`,
    );
  });

  test("every value a peer sends renders to a name Windows accepts (same rule on every OS)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        expect(windowsNameProblem(safeSegment(s))).toBeNull();
      }),
    );
    for (const s of ["CON", "nul", "COM1", "LPT9.dcm", "CT.", "CT ", " aux ", "a:b", "..", "."])
      expect(windowsNameProblem(safeSegment(s))).toBeNull();
  });

  test("a template's literal text must make names Windows accepts", () => {
    expect(templateProblem("CON/{sop_uid}.dcm")).toMatch(/device name/);
    expect(templateProblem("{tenant}./{sop_uid}.dcm")).toMatch(/dot or a space/);
    expect(templateProblem("{tenant}/a:b/{sop_uid}.dcm")).toMatch(/character Windows refuses/);
    expect(templateProblem("{tenant}/{modality}-{calling_ae}/{sop_uid}.dcm")).toBeNull();
  });
});

describe("POSIX paths", () => {
  test("resolved against the base; names Windows refuses are fine here", () => {
    expect(absolutePath("data", "/etc/storescp", "linux")).toBe("/etc/storescp/data");
    expect(absolutePath("/srv/NUL.", "/etc", "linux")).toBe("/srv/NUL.");
    expect(absolutePath("C:\\data", "/etc", "linux")).toBe("/etc/C:\\data");
  });
});
