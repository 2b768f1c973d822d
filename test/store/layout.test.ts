import { describe, expect, test } from "bun:test";
import { templateProblem } from "../../src/config/path-template.ts";
import { renderPath, uidHash } from "../../src/store/layout.ts";

const v = {
  tenant: "hospital-a",
  study_date: "20240101",
  study_uid: "1.2.3",
  series_uid: "1.2.3.4",
  sop_uid: "1.2.3.4.5",
  sop_class_uid: "1.2.840.10008.5.1.4.1.1.2",
  modality: "CT",
  calling_ae: "CT 01/../x",
};

describe("storage path template", () => {
  test("renders every placeholder", () => {
    const p = renderPath(
      "/data",
      "{tenant}/{study_date}/{study_uid_hash}/{series_uid}/{modality}-{calling_ae}/{sop_uid}.dcm",
      v,
    );
    expect(p).toBe(`/data/hospital-a/20240101/${uidHash("1.2.3")}/1.2.3.4/CT-CT_01_.._x/1.2.3.4.5.dcm`);
  });

  test("Windows path rules on every OS: device names and trailing dots", () => {
    const r = (calling_ae: string) => renderPath("/data", "{calling_ae}/x.dcm", { ...v, calling_ae });
    expect(r("CON")).toBe("/data/_CON/x.dcm");
    expect(r("nul.txt")).toBe("/data/_nul.txt/x.dcm");
    expect(r("COM1")).toBe("/data/_COM1/x.dcm");
    expect(r("CONSOLE")).toBe("/data/CONSOLE/x.dcm");
    expect(r("CT.")).toBe("/data/CT_/x.dcm");
    expect(r("CT:1")).toBe("/data/CT_1/x.dcm");
  });

  test("nothing a peer sends can leave the root", () => {
    expect(renderPath("/data", "{sop_uid}/x.dcm", { ...v, sop_uid: ".." })).toBe("/data/_/x.dcm");
    expect(renderPath("/data", "{calling_ae}/x.dcm", { ...v, calling_ae: "../../etc" })).toBe(
      "/data/.._.._etc/x.dcm",
    );
    // A tenant id can only come from the config (tenant_tag values are looked up, never used as paths),
    // and even a crafted one stays inside.
    expect(renderPath("/data", "{tenant}/{sop_uid}.dcm", { ...v, tenant: "../../etc" })).toBe(
      "/data/.._.._etc/1.2.3.4.5.dcm",
    );
    expect(() =>
      renderPath("/data", "{modality}/{sop_uid}.dcm", { ...v, modality: "..", sop_uid: "1.2" }),
    ).not.toThrow();
    expect(renderPath("/data", "{modality}/{sop_uid}.dcm", { ...v, modality: "..", sop_uid: "1.2" })).toBe(
      "/data/_/1.2.dcm",
    );
  });

  test("unknown placeholders and escaping templates are refused at start", () => {
    expect(templateProblem("{tenant}/{sop}.dcm")).toMatch(/unknown placeholder/);
    expect(templateProblem("../{sop_uid}.dcm")).toMatch(/segments/);
    expect(templateProblem("/abs/{sop_uid}.dcm")).toMatch(/relative/);
    expect(templateProblem("{tenant}/{study_uid}.dcm")).toMatch(/must contain \{sop_uid\}/);
    expect(templateProblem("{tenant}/{study_date}/{study_uid}/{series_uid}/{sop_uid}.dcm")).toBeNull();
  });
});
