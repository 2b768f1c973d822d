import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { encodePdu } from "../../../src/net/pdu/codec.ts";
import { PduError } from "../../../src/net/pdu/errors.ts";
import { encodePDataPdvHeader } from "../../../src/net/pdu/pdata.ts";
import { PduReader, type PduReaderHandler, type PduReaderLimits } from "../../../src/net/pdu/reader.ts";
import {
  AbortReason,
  DICOM_APPLICATION_CONTEXT,
  emptyUserInformation,
  type PDataPdu,
  type Pdu,
  PduType,
} from "../../../src/net/pdu/types.ts";
import { copyTransient, type TransientBytes, viewWithinTurn } from "../../../src/util/transient-bytes.ts";
import * as arb from "./arbitraries.ts";

type Event =
  | { kind: "pdu"; pdu: Pdu }
  | { kind: "start"; length: number }
  | { kind: "pdv"; contextId: number; isCommand: boolean; isLast: boolean; data: Uint8Array; end: boolean }
  | { kind: "end" };

const LIMITS: PduReaderLimits = { maxPDataLength: 0, maxOtherPduLength: 1 << 20 };

/** A handler recording events; PDV chunks are copied (and checked to be views of `source` if given). */
class Recorder implements PduReaderHandler {
  readonly events: Event[] = [];
  chunks = 0;
  constructor(private readonly sources: ArrayBufferLike[] = []) {}
  pdu(pdu: Exclude<Pdu, PDataPdu>): void {
    this.events.push({ kind: "pdu", pdu });
  }
  pdataStart(length: number): void {
    this.events.push({ kind: "start", length });
  }
  pdvData(contextId: number, isCommand: boolean, isLast: boolean, chunk: TransientBytes, end: boolean): void {
    this.chunks++;
    if (this.sources.length > 0 && !this.sources.includes(viewWithinTurn(chunk).buffer)) {
      throw new Error("PDV chunk is not a view into a pushed buffer");
    }
    this.events.push({ kind: "pdv", contextId, isCommand, isLast, data: copyTransient(chunk), end });
  }
  pdataEnd(): void {
    this.events.push({ kind: "end" });
  }
}

/** Merges the consecutive chunks of each PDV into one event, so differently split streams compare equal. */
function normalize(events: readonly Event[]): Event[] {
  const out: Event[] = [];
  let pending: Uint8Array[] = [];
  for (const e of events) {
    if (e.kind !== "pdv") {
      if (pending.length > 0) throw new Error("PDV without pdvEnd");
      out.push(e);
    } else {
      pending.push(e.data);
      if (e.end) {
        out.push({ ...e, data: arb.concat(pending) });
        pending = [];
      }
    }
  }
  if (pending.length > 0) throw new Error("PDV without pdvEnd");
  return out;
}

/** The events a stream of these PDUs must produce (PDVs merged). */
function expectedEvents(pdus: readonly Pdu[]): Event[] {
  const out: Event[] = [];
  for (const p of pdus) {
    if (p.type !== PduType.PData) {
      out.push({ kind: "pdu", pdu: p });
      continue;
    }
    out.push({ kind: "start", length: encodePdu(p).length - 6 });
    for (const v of p.pdvs) {
      out.push({
        kind: "pdv",
        contextId: v.presentationContextId,
        isCommand: v.isCommand,
        isLast: v.isLast,
        data: v.data,
        end: true,
      });
    }
    out.push({ kind: "end" });
  }
  return out;
}

/** Pushes `stream` cut at `cuts` (positions, any order, duplicates allowed → empty pushes). */
function pushSplit(reader: PduReader, stream: Uint8Array, cuts: readonly number[]): void {
  const points = [...cuts.map((c) => c % (stream.length + 1)), stream.length].sort((a, b) => a - b);
  let prev = 0;
  for (const p of points) {
    reader.push(stream.subarray(prev, p));
    prev = p;
  }
}

function reasonOf(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof PduError) return e.abortReason;
    throw e;
  }
  throw new Error("expected PduError, nothing thrown");
}

const SAMPLE: Pdu[] = [
  {
    type: PduType.AssociateRq,
    protocolVersion: 1,
    calledAeTitle: "STORESCP",
    callingAeTitle: "MODALITY",
    applicationContext: DICOM_APPLICATION_CONTEXT,
    presentationContexts: [
      { id: 1, abstractSyntax: "1.2.840.10008.1.1", transferSyntaxes: ["1.2.840.10008.1.2"] },
    ],
    userInformation: { ...emptyUserInformation(), maxLength: 16384 },
  },
  {
    type: PduType.PData,
    pdvs: [
      {
        presentationContextId: 1,
        isCommand: true,
        isLast: true,
        data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7]),
      },
      { presentationContextId: 3, isCommand: false, isLast: false, data: new Uint8Array(0) },
      { presentationContextId: 5, isCommand: false, isLast: true, data: Uint8Array.from([9, 8, 7]) },
    ],
  },
  { type: PduType.PData, pdvs: [] },
  { type: PduType.ReleaseRq },
  { type: PduType.Abort, source: 2, reason: 1 },
];
const SAMPLE_STREAM = arb.concat(SAMPLE.map(encodePdu));

describe("PduReader events", () => {
  test("a single push of the sample stream", () => {
    const rec = new Recorder([SAMPLE_STREAM.buffer]);
    const reader = new PduReader(rec, LIMITS);
    reader.push(SAMPLE_STREAM);
    expect(rec.events).toEqual(expectedEvents(SAMPLE));
    expect(reader.idle).toBe(true);
  });

  test("the sample stream split in two at every position", () => {
    for (let cut = 0; cut <= SAMPLE_STREAM.length; cut++) {
      const rec = new Recorder([SAMPLE_STREAM.buffer]);
      const reader = new PduReader(rec, LIMITS);
      reader.push(SAMPLE_STREAM.subarray(0, cut));
      reader.push(SAMPLE_STREAM.subarray(cut));
      expect(normalize(rec.events)).toEqual(expectedEvents(SAMPLE));
    }
  });

  test("the sample stream pushed one byte at a time, each in its own buffer", () => {
    const rec = new Recorder();
    const reader = new PduReader(rec, LIMITS);
    for (const byte of SAMPLE_STREAM) {
      reader.push(Uint8Array.of(byte));
    }
    expect(normalize(rec.events)).toEqual(expectedEvents(SAMPLE));
    expect(reader.idle).toBe(true);
  });

  test("random PDU streams split at random positions give the events of one push", () => {
    fc.assert(
      fc.property(
        fc.array(arb.anyPdu, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 24 }),
        (pdus, cuts) => {
          const stream = arb.concat(pdus.map(encodePdu));
          const whole = new Recorder([stream.buffer]);
          new PduReader(whole, LIMITS).push(stream);
          // One push: one chunk per PDV, exactly the PDV data.
          expect(whole.events).toEqual(expectedEvents(pdus));

          const split = new Recorder([stream.buffer]);
          const reader = new PduReader(split, LIMITS);
          pushSplit(reader, stream, cuts);
          expect(normalize(split.events)).toEqual(whole.events);
          expect(reader.idle).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("a zero-length PDV at the very end of a push is reported at once", () => {
    const bytes = encodePdu({
      type: PduType.PData,
      pdvs: [{ presentationContextId: 1, isCommand: false, isLast: true, data: new Uint8Array(0) }],
    });
    const rec = new Recorder();
    const reader = new PduReader(rec, LIMITS);
    reader.push(bytes);
    expect(rec.events.map((e) => e.kind)).toEqual(["start", "pdv", "end"]);
  });

  test("idle is false inside a PDU and true between PDUs", () => {
    const reader = new PduReader(new Recorder(), LIMITS);
    expect(reader.idle).toBe(true);
    const bytes = encodePdu(SAMPLE[1]!);
    for (let i = 0; i < bytes.length - 1; i++) {
      reader.push(bytes.subarray(i, i + 1));
      expect(reader.idle).toBe(false);
    }
    reader.push(bytes.subarray(bytes.length - 1));
    expect(reader.idle).toBe(true);
  });

  test("an empty push does nothing", () => {
    const rec = new Recorder();
    const reader = new PduReader(rec, LIMITS);
    reader.push(new Uint8Array(0));
    expect(rec.events).toEqual([]);
    expect(reader.idle).toBe(true);
  });
});

describe("PduReader streaming", () => {
  test("a P-DATA-TF of length 0xFFFFFFFF streams through with maxPDataLength 0 and no buffering", () => {
    const rec = {
      starts: [] as number[],
      bytes: 0,
      calls: 0,
      ends: 0,
      pdvEnds: 0,
      pdu(): void {
        throw new Error("unexpected PDU");
      },
      pdataStart(length: number): void {
        this.starts.push(length);
      },
      pdvData(
        contextId: number,
        isCommand: boolean,
        isLast: boolean,
        chunk: TransientBytes,
        end: boolean,
      ): void {
        expect([contextId, isCommand, isLast]).toEqual([9, false, true]);
        this.bytes += chunk.length;
        this.calls++;
        if (end) this.pdvEnds++;
      },
      pdataEnd(): void {
        this.ends++;
      },
    };
    const reader = new PduReader(rec, { maxPDataLength: 0, maxOtherPduLength: 1024 });
    const dataLength = 0xffffffff - 6; // PDU length field 0xFFFFFFFF
    const header = encodePDataPdvHeader(9, false, true, dataLength);
    expect(Array.from(header.subarray(2, 6))).toEqual([0xff, 0xff, 0xff, 0xff]);
    reader.push(header);
    expect(rec.starts).toEqual([0xffffffff]);
    const chunk = new Uint8Array(1 << 24);
    let left = dataLength;
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      reader.push(chunk.subarray(0, n));
      left -= n;
    }
    expect(rec.bytes).toBe(dataLength);
    expect(rec.calls).toBe(Math.ceil(dataLength / chunk.length));
    expect(rec.pdvEnds).toBe(1);
    expect(rec.ends).toBe(1);
    expect(reader.idle).toBe(true);
  });

  test("PDV chunks are views of the pushed buffers (no copies)", () => {
    const stream = encodePdu(SAMPLE[1]!);
    const seen: Uint8Array[] = [];
    const reader = new PduReader(
      {
        pdu: () => {},
        pdataStart: () => {},
        pdvData: (_c, _cmd, _last, chunk) => {
          seen.push(viewWithinTurn(chunk));
        },
        pdataEnd: () => {},
      },
      LIMITS,
    );
    reader.push(stream);
    expect(seen[0]!.buffer).toBe(stream.buffer);
    expect(seen[0]!.byteOffset).toBe(12);
    expect(seen[0]!.length).toBe(7);
  });
});

describe("PduReader errors", () => {
  const header = (type: number, length: number): Uint8Array =>
    Uint8Array.of(type, 0, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);

  test("a P-DATA-TF over maxPDataLength throws from the header alone, before pdataStart", () => {
    for (const length of [1025, 0xffffffff]) {
      const rec = new Recorder();
      const reader = new PduReader(rec, { maxPDataLength: 1024, maxOtherPduLength: 1024 });
      expect(reasonOf(() => reader.push(header(PduType.PData, length)))).toBe(
        AbortReason.InvalidPduParameterValue,
      );
      expect(rec.events).toEqual([]);
    }
    const ok = new PduReader(new Recorder(), { maxPDataLength: 1024, maxOtherPduLength: 1024 });
    ok.push(header(PduType.PData, 1024));
  });

  test("an A-ASSOCIATE over maxOtherPduLength throws from the header alone", () => {
    for (const type of [PduType.AssociateRq, PduType.AssociateAc]) {
      for (const length of [1025, 0xffffffff]) {
        const reader = new PduReader(new Recorder(), { maxPDataLength: 0, maxOtherPduLength: 1024 });
        const h = header(type, length);
        reader.push(h.subarray(0, 3)); // split header
        expect(reasonOf(() => reader.push(h.subarray(3)))).toBe(AbortReason.InvalidPduParameterValue);
      }
    }
  });

  test("fixed-size PDUs with a length other than 4 throw from the header", () => {
    for (const type of [PduType.AssociateRj, PduType.ReleaseRq, PduType.ReleaseRp, PduType.Abort]) {
      for (const length of [0, 3, 5, 0xffffffff]) {
        const reader = new PduReader(new Recorder(), LIMITS);
        expect(reasonOf(() => reader.push(header(type, length)))).toBe(AbortReason.InvalidPduParameterValue);
      }
    }
  });

  test("an unknown PDU type throws UnrecognizedPdu from the header", () => {
    for (const type of [0x00, 0x08, 0x80, 0xff]) {
      const reader = new PduReader(new Recorder(), LIMITS);
      expect(reasonOf(() => reader.push(header(type, 4)))).toBe(AbortReason.UnrecognizedPdu);
    }
  });

  test("bad PDV headers throw InvalidPduParameterValue", () => {
    const cases: number[][] = [
      [4, 0, 0, 0, 0, 6, 0, 0, 0, 1, 1, 0], // PDV length 1
      [4, 0, 0, 0, 0, 6, 0, 0, 0, 0, 1, 0], // PDV length 0
      [4, 0, 0, 0, 0, 7, 0, 0, 0, 4, 1, 0], // PDV past the PDU
      [4, 0, 0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 1, 0], // PDV length 0xFFFFFFFF
      [4, 0, 0, 0, 0, 5], // PDU too short for a PDV header
      [4, 0, 0, 0, 0, 9, 0, 0, 0, 2, 1, 0, 0, 0, 0], // 3 bytes left after a PDV
    ];
    for (const c of cases) {
      const reader = new PduReader(new Recorder(), LIMITS);
      expect(reasonOf(() => reader.push(Uint8Array.from(c)))).toBe(AbortReason.InvalidPduParameterValue);
    }
  });

  test("a malformed buffered PDU throws the decoder's PduError", () => {
    const bad = encodePdu(SAMPLE[0]!);
    bad[bad.length - 6] = 0xff; // max length sub-item's length high byte → runs past its parent
    const reader = new PduReader(new Recorder(), LIMITS);
    expect(() => reader.push(bad)).toThrow(PduError);
  });

  test("after an error the reader is dead", () => {
    const reader = new PduReader(new Recorder(), LIMITS);
    expect(() => reader.push(header(0x09, 4))).toThrow(PduError);
    expect(() => reader.push(encodePdu({ type: PduType.ReleaseRq }))).toThrow(PduError);
  });

  test("a handler exception propagates and kills the reader", () => {
    const boom = new Error("boom");
    const reader = new PduReader(
      {
        pdu: () => {
          throw boom;
        },
        pdataStart: () => {},
        pdvData: () => {},
        pdataEnd: () => {},
      },
      LIMITS,
    );
    expect(() => reader.push(encodePdu({ type: PduType.ReleaseRq }))).toThrow(boom);
    expect(() => reader.push(encodePdu({ type: PduType.ReleaseRq }))).toThrow(PduError);
  });

  test("random streams in random splits: only PduError, and never a buffer over the limit", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 40 }),
            arb.anyPdu.map((p) => encodePdu(p)),
            fc.integer({ min: 1, max: 7 }).map((t) => header(t, 0xffffffff)),
          ),
          { maxLength: 5 },
        ),
        fc.array(fc.nat(), { maxLength: 10 }),
        (parts, cuts) => {
          const stream = arb.concat(parts);
          const reader = new PduReader(new Recorder(), { maxPDataLength: 4096, maxOtherPduLength: 4096 });
          try {
            pushSplit(reader, stream, cuts);
          } catch (e) {
            if (!(e instanceof PduError)) throw e;
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  test("invalid limits are refused", () => {
    expect(() => new PduReader(new Recorder(), { maxPDataLength: -1, maxOtherPduLength: 1 })).toThrow(
      RangeError,
    );
    expect(() => new PduReader(new Recorder(), { maxPDataLength: 0, maxOtherPduLength: 1.5 })).toThrow(
      RangeError,
    );
  });
});
