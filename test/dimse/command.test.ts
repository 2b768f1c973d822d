import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  CommandField,
  decodeCommandSet,
  encodeCommandSet,
  errorComment,
  NO_DATA_SET,
  Tag,
} from "../../src/dimse/command.ts";
import { DimseError } from "../../src/dimse/status.ts";

const uid = fc
  .array(fc.integer({ min: 0, max: 99999 }), { minLength: 2, maxLength: 8 })
  .map((a) => a.join("."));

describe("command sets", () => {
  test("round-trip of a C-STORE-RQ, with the group length first", () => {
    fc.assert(
      fc.property(uid, uid, fc.integer({ min: 0, max: 0xffff }), (sopClass, sopInstance, messageId) => {
        const bytes = encodeCommandSet([
          [Tag.AffectedSopInstanceUid, sopInstance],
          [Tag.CommandField, CommandField.CStoreRq],
          [Tag.AffectedSopClassUid, sopClass],
          [Tag.MessageId, messageId],
          [Tag.Priority, 0],
          [Tag.CommandDataSetType, 0],
        ]);
        const view = new DataView(bytes.buffer);
        expect(view.getUint32(8, true)).toBe(bytes.length - 12);
        const cs = decodeCommandSet(bytes);
        expect(cs.affectedSopClassUid).toBe(sopClass);
        expect(cs.affectedSopInstanceUid).toBe(sopInstance);
        expect(cs.messageId).toBe(messageId);
        expect(cs.commandField).toBe(CommandField.CStoreRq);
        expect(cs.hasDataSet).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  test("no data set when Command Data Set Type is 0101", () => {
    const cs = decodeCommandSet(encodeCommandSet([[Tag.CommandDataSetType, NO_DATA_SET]]));
    expect(cs.hasDataSet).toBe(false);
  });

  test("elements of other groups (the tenant_tag (1211,1217)) are kept raw under their full tag", () => {
    const bytes = encodeCommandSet([
      [Tag.CommandField, 1],
      [0x12111217, "hospital-a"],
    ]);
    const cs = decodeCommandSet(bytes);
    expect(cs.commandField).toBe(1);
    expect(new TextDecoder().decode(cs.bytes(0x12111217))).toBe("hospital-a");
    // The group length covers group 0000 only.
    expect(new DataView(bytes.buffer).getUint32(8, true)).toBe(10);
  });

  test("truncated and random command sets are DimseErrors, never other exceptions", () => {
    const good = encodeCommandSet([
      [Tag.AffectedSopClassUid, "1.2.3"],
      [Tag.CommandField, 1],
    ]);
    for (let cut = 1; cut < good.length; cut++) {
      try {
        decodeCommandSet(good.subarray(0, cut));
      } catch (e) {
        expect(e).toBeInstanceOf(DimseError);
      }
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeCommandSet(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(DimseError);
        }
      }),
      { numRuns: 500 },
    );
  });

  test("Error Comment is cut to 64 characters without backslashes or control characters", () => {
    expect(errorComment(`a\\b\nc${"x".repeat(100)}`)).toHaveLength(64);
    expect(errorComment("a\\b\nc")).toBe("a b c");
  });
});
