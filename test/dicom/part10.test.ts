import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { AttributeScanner } from "../../src/dicom/attribute-scanner.ts";
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from "../../src/dicom/implementation.ts";
import { buildFileMeta, readFileMeta } from "../../src/dicom/part10.ts";
import { TS } from "../../src/dicom/transfer-syntax.ts";
import { isValidUid } from "../../src/dicom/uid.ts";
import { concat, encodeFor } from "./encode.ts";
import { RICH_EXPECTED, richDataSet, SERIES_UID, SOP_CLASS, SOP_INSTANCE, STUDY_UID } from "./fixture.ts";

const hasDcmtk = spawnSync("dcmdump", ["--version"]).status === 0;
const dir = mkdtempSync(join(tmpdir(), "storescp-part10-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(cmd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** DCMTK errors/warnings, except the expected note about the UN sequence (0009,1003) (CP-246). */
function problems(out: string): string[] {
  return out.split("\n").filter((l) => /^[EW]:/.test(l) && !l.includes("CP-246"));
}

const SYNTAXES = [
  TS.ImplicitVRLittleEndian,
  TS.ExplicitVRLittleEndian,
  TS.ExplicitVRBigEndian,
  TS.DeflatedExplicitVRLittleEndian,
];

describe("buildFileMeta / readFileMeta", () => {
  test("layout", () => {
    const m = buildFileMeta({
      sopClassUid: SOP_CLASS,
      sopInstanceUid: "1.2.3",
      transferSyntaxUid: TS.ExplicitVRLittleEndian,
    });
    expect(m.subarray(0, 128).every((b) => b === 0)).toBe(true);
    expect(new TextDecoder().decode(m.subarray(128, 132))).toBe("DICM");
    // (0002,0000) UL 4 = bytes after it
    expect([...m.subarray(132, 140)]).toEqual([2, 0, 0, 0, 0x55, 0x4c, 4, 0]);
    const groupLength = new DataView(m.buffer, m.byteOffset).getUint32(140, true);
    expect(groupLength).toBe(m.length - 144);
    // (0002,0001) OB 00\01
    expect([...m.subarray(144, 158)]).toEqual([2, 0, 1, 0, 0x4f, 0x42, 0, 0, 2, 0, 0, 0, 0, 1]);
    expect(m.length % 2).toBe(0);
    // "1.2.3" is padded with NUL
    const at = m.indexOf(0x33, 158);
    expect(m[at + 1]).toBe(0);
  });

  test("round trip (property)", () => {
    const uid = fc
      .array(fc.integer({ min: 0, max: 999999 }), { minLength: 2, maxLength: 9 })
      .map((p) => p.join("."));
    const ae = fc.option(fc.stringMatching(/^[A-Z0-9_]{1,16}$/), { nil: undefined });
    fc.assert(
      fc.property(
        uid,
        uid,
        fc.constantFrom(...SYNTAXES, TS.JPEG2000),
        ae,
        ae,
        ae,
        (c, i, t, src, snd, rcv) => {
          const bytes = buildFileMeta({
            sopClassUid: c,
            sopInstanceUid: i,
            transferSyntaxUid: t,
            sourceAeTitle: src,
            sendingAeTitle: snd,
            receivingAeTitle: rcv,
          });
          const { meta, dataSetOffset } = readFileMeta(concat(bytes, Uint8Array.of(8, 0, 0x16, 0)));
          expect(dataSetOffset).toBe(bytes.length);
          expect(meta).toEqual({
            mediaStorageSopClassUid: c,
            mediaStorageSopInstanceUid: i,
            transferSyntaxUid: t,
            implementationClassUid: IMPLEMENTATION_CLASS_UID,
            implementationVersionName: IMPLEMENTATION_VERSION_NAME,
            ...(src === undefined ? {} : { sourceAeTitle: src }),
            ...(snd === undefined ? {} : { sendingAeTitle: snd }),
            ...(rcv === undefined ? {} : { receivingAeTitle: rcv }),
          });
        },
      ),
    );
  });

  test("implementation identity is valid", () => {
    expect(isValidUid(IMPLEMENTATION_CLASS_UID, { strict: true })).toBe(true);
    expect(IMPLEMENTATION_CLASS_UID.startsWith("2.25.")).toBe(true);
    expect(IMPLEMENTATION_VERSION_NAME.length).toBeLessThanOrEqual(16);
  });

  test("readFileMeta rejects non-Part-10 input clearly", () => {
    expect(() => readFileMeta(new Uint8Array(10))).toThrow(/not a DICOM Part 10 file/);
    expect(() => readFileMeta(new Uint8Array(200))).toThrow(/not a DICOM Part 10 file/);
    const noGroup2 = concat(new Uint8Array(128), new TextEncoder().encode("DICM"), Uint8Array.of(8, 0, 5, 0));
    expect(() => readFileMeta(noGroup2)).toThrow(/no group 0002/);
    const full = buildFileMeta({
      sopClassUid: "1.2",
      sopInstanceUid: "1.3",
      transferSyntaxUid: TS.ExplicitVRLittleEndian,
    });
    expect(() => readFileMeta(full.subarray(0, full.length - 3))).toThrow(
      /truncated file meta element \(0002,0013\)/,
    );
  });

  describe.skipIf(!hasDcmtk)("with DCMTK", () => {
    for (const ts of SYNTAXES) {
      test(`dcmdump reads meta + data set, ${ts}`, () => {
        const file = join(dir, `dump-${ts}.dcm`);
        const meta = buildFileMeta({
          sopClassUid: SOP_CLASS,
          sopInstanceUid: SOP_INSTANCE,
          transferSyntaxUid: ts,
          sourceAeTitle: "MODALITY1",
        });
        writeFileSync(file, concat(meta, encodeFor(richDataSet(1000), ts)));
        const { status, out } = run("dcmdump", [
          "-Un",
          "+L",
          "+P",
          "0002,0010",
          "+P",
          "0002,0003",
          "+P",
          "0002,0016",
          "+P",
          "0020,000e",
          "+P",
          "0028,0008",
          file,
        ]);
        expect(status).toBe(0);
        expect(problems(out)).toEqual([]);
        expect(out).toContain(`[${ts}]`);
        expect(out).toContain(`[${SOP_INSTANCE}]`);
        expect(out).toContain("[MODALITY1]");
        expect(out).toContain(`[${SERIES_UID}]`);
        expect(out).toMatch(/^\(0028,0008\) IS \[ ?12 ?\]/m);
        const full = run("dcmdump", ["-Un", "+L", file]);
        expect(full.status).toBe(0);
        expect(problems(full.out)).toEqual([]);
        expect(full.out).toContain(`(0002,0012) UI [${IMPLEMENTATION_CLASS_UID}]`);
        expect(full.out).toContain(`(0020,000d) UI [${STUDY_UID}]`);
        expect(full.out).toContain("(0010,0020) LO [PID-\u00fc\u00df]");
      });
    }

    // DCMTK as the encoder: convert to each syntax, strip the meta with readFileMeta, scan.
    for (const [flag, ts] of [
      ["+ti", TS.ImplicitVRLittleEndian],
      ["+te", TS.ExplicitVRLittleEndian],
      ["+tb", TS.ExplicitVRBigEndian],
      ["+td", TS.DeflatedExplicitVRLittleEndian],
    ] as const) {
      test(`dcmconv ${flag} output scans correctly`, async () => {
        const src = join(dir, `src-${flag}.dcm`);
        const dst = join(dir, `dst-${flag}.dcm`);
        const meta = buildFileMeta({
          sopClassUid: SOP_CLASS,
          sopInstanceUid: SOP_INSTANCE,
          transferSyntaxUid: TS.ExplicitVRLittleEndian,
        });
        writeFileSync(src, concat(meta, encodeFor(richDataSet(100000, false), TS.ExplicitVRLittleEndian)));
        const conv = run("dcmconv", [flag, src, dst]);
        expect(problems(conv.out)).toEqual([]);
        expect(conv.status).toBe(0);
        const file = new Uint8Array(readFileSync(dst));
        const { meta: m, dataSetOffset } = readFileMeta(file);
        expect(m.transferSyntaxUid).toBe(ts);
        expect(m.mediaStorageSopInstanceUid).toBe(SOP_INSTANCE);
        const s = new AttributeScanner(m.transferSyntaxUid);
        for (let o = dataSetOffset; o < file.length; o += 997)
          s.push(file.subarray(o, Math.min(o + 997, file.length)));
        expect(await s.finish()).toEqual(RICH_EXPECTED);
        expect(s.error).toBeUndefined();
      });
    }
  });
});
