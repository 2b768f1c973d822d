// Streaming PDU reader for the socket hot path.
//
// P-DATA-TF PDUs are never buffered: only the 6-byte PDU header and each 6-byte PDV header are
// assembled (they may be split across pushes at any byte), and PDV values are handed to the handler as
// views into the pushed chunks, as transient as the chunks themselves (src/util/transient-bytes.ts). Every other PDU type is small and accumulated whole (at most
// maxOtherPduLength, checked from its header before anything is allocated), then decoded by decodePdu.

import { type TransientBytes, viewWithinTurn } from "../../util/transient-bytes.ts";
import { readU32 } from "./bytes.ts";
import { decodePdu, isKnownPduType } from "./codec.ts";
import { PduError } from "./errors.ts";
import { PDV_HEADER_LENGTH } from "./pdata.ts";
import { PDU_HEADER_LENGTH } from "./primitives.ts";
import { AbortReason, type PDataPdu, type Pdu, PduType } from "./types.ts";

/**
 * Receives consecutive pieces of one PDV's value, in order. `pdvEnd` is true on the final piece of that
 * PDV (a zero-length PDV yields one call with an empty chunk and pdvEnd true). A function type, not a
 * method, so that an implementation taking a plain Uint8Array does not type-check.
 */
export type PdvHandler = (
  contextId: number,
  isCommand: boolean,
  isLast: boolean,
  chunk: TransientBytes,
  pdvEnd: boolean,
) => void;

export interface PduReaderHandler {
  /** A complete PDU other than P-DATA-TF. */
  pdu(pdu: Exclude<Pdu, PDataPdu>): void;
  /** A P-DATA-TF PDU header was read; `length` is the PDU length field (bytes after the 6-byte header). */
  pdataStart(length: number): void;
  /**
   * The PDVs' values. Chunks are views into the buffers given to push(), valid as long as those; the
   * reader never copies, mutates or reuses them.
   */
  pdvData: PdvHandler;
  /** The whole P-DATA-TF PDU has been consumed. */
  pdataEnd(): void;
}

export interface PduReaderLimits {
  /** Largest P-DATA-TF PDU length field accepted; 0 = unlimited (then P-DATA is streamed PDV by PDV so memory stays bounded anyway). */
  maxPDataLength: number;
  /** Largest length field accepted for every other PDU type (they are buffered whole), e.g. 1 MiB. */
  maxOtherPduLength: number;
}

// Reader states.
/** Between PDUs or inside a PDU header (headerFill bytes of it in `header`). */
const PDU_HEADER = 0;
/** Inside P-DATA-TF, at or inside a PDV item header (headerFill bytes of it in `header`). */
const PDV_HEADER = 1;
/** Inside a PDV value; pdvRemaining bytes of it still to come. */
const PDV_DATA = 2;
/** Accumulating a non-P-DATA PDU into `other`. */
const OTHER = 3;

export class PduReader {
  private readonly handler: PduReaderHandler;
  private readonly maxPDataLength: number;
  private readonly maxOtherPduLength: number;

  private state = PDU_HEADER;
  /** Shared by the PDU and PDV header states: both are 6 bytes. */
  private readonly header = new Uint8Array(6);
  private headerFill = 0;
  /** P-DATA-TF bytes not yet consumed (after its header). */
  private pduRemaining = 0;
  /** Value bytes of the current PDV not yet delivered. */
  private pdvRemaining = 0;
  private contextId = 0;
  private isCommand = false;
  private isLast = false;
  private other: Uint8Array = new Uint8Array(0);
  private otherFill = 0;
  /** Set while push() runs and left set if it throws: the reader is then unusable. */
  private broken = false;

  constructor(handler: PduReaderHandler, limits: PduReaderLimits) {
    for (const name of ["maxPDataLength", "maxOtherPduLength"] as const) {
      const v = limits[name];
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
        throw new RangeError(`PduReader limit ${name} ${v} is not an integer in 0..2^32-1`);
      }
    }
    this.handler = handler;
    this.maxPDataLength = limits.maxPDataLength;
    this.maxOtherPduLength = limits.maxOtherPduLength;
  }

  /** True when not in the middle of a PDU (useful at close to know if the peer cut a PDU short). */
  get idle(): boolean {
    return this.state === PDU_HEADER && this.headerFill === 0;
  }

  /** Feed socket bytes. Throws PduError (and the reader is then dead) on a protocol error. */
  push(bytes: TransientBytes): void {
    if (this.broken) {
      throw new PduError("PDU reader used after an earlier error (or re-entered)", AbortReason.NotSpecified);
    }
    this.broken = true;
    // Read within this call; PDV values leave as views, headers and buffered PDUs as copies.
    const chunk = viewWithinTurn(bytes);
    const n = chunk.length;
    let o = 0;
    while (o < n) {
      switch (this.state) {
        case PDU_HEADER: {
          let h: Uint8Array;
          let at: number;
          if (this.headerFill === 0 && n - o >= 6) {
            h = chunk;
            at = o;
            o += 6;
          } else {
            o = this.fillHeader(chunk, o);
            if (this.headerFill < 6) break;
            this.headerFill = 0;
            h = this.header;
            at = 0;
          }
          this.onPduHeader(h[at]!, readU32(h, at + 2), h, at);
          break;
        }
        case PDV_HEADER: {
          let h: Uint8Array;
          let at: number;
          if (this.headerFill === 0 && n - o >= 6) {
            h = chunk;
            at = o;
            o += 6;
          } else {
            o = this.fillHeader(chunk, o);
            if (this.headerFill < 6) break;
            this.headerFill = 0;
            h = this.header;
            at = 0;
          }
          this.onPdvHeader(readU32(h, at), h[at + 4]!, h[at + 5]!, chunk, o);
          break;
        }
        case PDV_DATA: {
          const avail = n - o;
          const take = Math.min(this.pdvRemaining, avail);
          this.pdvRemaining -= take;
          this.pduRemaining -= take;
          const end = this.pdvRemaining === 0;
          this.handler.pdvData(this.contextId, this.isCommand, this.isLast, chunk.subarray(o, o + take), end);
          o += take;
          if (end) this.afterPdv();
          break;
        }
        default: {
          const want = this.other.length - this.otherFill;
          const take = Math.min(want, n - o);
          this.other.set(chunk.subarray(o, o + take), this.otherFill);
          this.otherFill += take;
          o += take;
          if (this.otherFill === this.other.length) this.finishOther();
        }
      }
    }
    this.broken = false;
  }

  /** Copies up to the missing header bytes from chunk[o..]; returns the new offset. */
  private fillHeader(chunk: Uint8Array, o: number): number {
    const take = Math.min(6 - this.headerFill, chunk.length - o);
    for (let i = 0; i < take; i++) this.header[this.headerFill + i] = chunk[o + i]!;
    this.headerFill += take;
    return o + take;
  }

  private onPduHeader(type: number, length: number, h: Uint8Array, at: number): void {
    if (type === PduType.PData) {
      if (this.maxPDataLength !== 0 && length > this.maxPDataLength) {
        throw new PduError(
          `P-DATA-TF PDU length ${length} exceeds the limit of ${this.maxPDataLength}`,
          AbortReason.InvalidPduParameterValue,
        );
      }
      this.pduRemaining = length;
      this.handler.pdataStart(length);
      this.afterPdv();
      return;
    }
    if (!isKnownPduType(type)) {
      throw new PduError(
        `unrecognized PDU type 0x${type.toString(16).padStart(2, "0")}`,
        AbortReason.UnrecognizedPdu,
      );
    }
    if (type !== PduType.AssociateRq && type !== PduType.AssociateAc && length !== 4) {
      throw new PduError(
        `PDU type ${type} length ${length}, expected 4`,
        AbortReason.InvalidPduParameterValue,
      );
    }
    if (length > this.maxOtherPduLength) {
      throw new PduError(
        `PDU type ${type} length ${length} exceeds the limit of ${this.maxOtherPduLength}`,
        AbortReason.InvalidPduParameterValue,
      );
    }
    this.other = new Uint8Array(PDU_HEADER_LENGTH + length);
    this.other.set(h.subarray(at, at + PDU_HEADER_LENGTH));
    this.otherFill = PDU_HEADER_LENGTH;
    this.state = OTHER;
    if (length === 0) this.finishOther();
  }

  private finishOther(): void {
    const bytes = this.other;
    this.other = new Uint8Array(0);
    this.otherFill = 0;
    this.state = PDU_HEADER;
    const pdu = decodePdu(bytes);
    // Unreachable (the type byte was checked in onPduHeader); narrows the type.
    if (pdu.type === PduType.PData) throw new PduError("internal: P-DATA-TF in the buffered path");
    this.handler.pdu(pdu);
  }

  private onPdvHeader(
    itemLength: number,
    contextId: number,
    mch: number,
    chunk: Uint8Array,
    o: number,
  ): void {
    this.pduRemaining -= PDV_HEADER_LENGTH;
    if (itemLength < 2) {
      throw new PduError(`P-DATA-TF: PDV item length ${itemLength} is shorter than 2`);
    }
    const valueLength = itemLength - 2;
    if (valueLength > this.pduRemaining) {
      throw new PduError(`P-DATA-TF: PDV item length ${itemLength} runs past the PDU`);
    }
    this.contextId = contextId;
    this.isCommand = (mch & 1) !== 0;
    this.isLast = (mch & 2) !== 0;
    this.pdvRemaining = valueLength;
    if (valueLength === 0) {
      this.handler.pdvData(contextId, this.isCommand, this.isLast, chunk.subarray(o, o), true);
      this.afterPdv();
    } else {
      this.state = PDV_DATA;
    }
  }

  /** After a PDV value (or the P-DATA header): next PDV header, or the end of the PDU. */
  private afterPdv(): void {
    if (this.pduRemaining === 0) {
      this.state = PDU_HEADER;
      this.handler.pdataEnd();
    } else if (this.pduRemaining < PDV_HEADER_LENGTH) {
      throw new PduError(`P-DATA-TF: ${this.pduRemaining} bytes left, too few for a PDV header`);
    } else {
      this.state = PDV_HEADER;
    }
  }
}
