// The data transfer PDU: P-DATA-TF and its Presentation Data Value items, PS3.8 9.3.5 and Annex E.2
// (the message control header). The socket path does not decode whole P-DATA-TFs (reader.ts streams
// them); decodePData serves tests and peers of our own, and the PDV header lets a response go out
// without copying its command set.

import { checkUint, writeU32 } from "./bytes.ts";
import { invalid, MAX_U32, PDU_HEADER_LENGTH, Writer } from "./primitives.ts";
import { type PDataPdu, PduType, type Pdv } from "./types.ts";

/** Bytes of a PDV item header: uint32 item length, context id, message control header. */
export const PDV_HEADER_LENGTH = 6;

/** Bytes of a P-DATA-TF PDU carrying one PDV, up to (excluding) the PDV's data. */
export const PDATA_PDV_HEADER_LENGTH = PDU_HEADER_LENGTH + PDV_HEADER_LENGTH;

export function encodePData(pdu: PDataPdu): Uint8Array {
  let size = PDU_HEADER_LENGTH;
  for (const pdv of pdu.pdvs) size += PDV_HEADER_LENGTH + pdv.data.length;
  checkUint("P-DATA-TF PDU length", size - PDU_HEADER_LENGTH, MAX_U32);
  const w = new Writer(size);
  w.u8(PduType.PData);
  w.skip(1);
  w.u32(size - PDU_HEADER_LENGTH);
  for (const pdv of pdu.pdvs) {
    checkUint("presentation context id", pdv.presentationContextId, 0xff);
    w.u32(pdv.data.length + 2);
    w.u8(pdv.presentationContextId);
    w.u8((pdv.isCommand ? 1 : 0) | (pdv.isLast ? 2 : 0));
    w.bytes(pdv.data);
  }
  return w.buf;
}

/**
 * The 12 bytes (PDU header, PDV item length, context id, message control header) of a P-DATA-TF PDU
 * holding a single PDV of `dataLength` bytes; send the data right after them, uncopied.
 */
export function encodePDataPdvHeader(
  contextId: number,
  isCommand: boolean,
  isLast: boolean,
  dataLength: number,
): Uint8Array {
  checkUint("presentation context id", contextId, 0xff);
  checkUint("PDV data length", dataLength, MAX_U32 - PDV_HEADER_LENGTH);
  const b = new Uint8Array(PDATA_PDV_HEADER_LENGTH);
  b[0] = PduType.PData;
  writeU32(b, 2, dataLength + PDV_HEADER_LENGTH);
  writeU32(b, 6, dataLength + 2);
  b[10] = contextId;
  b[11] = (isCommand ? 1 : 0) | (isLast ? 2 : 0);
  return b;
}

/**
 * A command set as P-DATA-TF PDUs of one PDV each, fragmented to the peer's maximum PDU length
 * (`peerMaxLength`, 0 = unlimited), PS3.8 D.1.
 */
export function encodeCommandPdus(
  contextId: number,
  command: Uint8Array,
  peerMaxLength: number,
): Uint8Array[] {
  const maxData = peerMaxLength > 0 ? Math.max(1, peerMaxLength - PDV_HEADER_LENGTH) : command.length;
  const pdus: Uint8Array[] = [];
  for (let pos = 0; pos < command.length || pos === 0; pos += maxData) {
    const part = command.subarray(pos, pos + maxData);
    const last = pos + maxData >= command.length;
    const pdu = new Uint8Array(PDATA_PDV_HEADER_LENGTH + part.length);
    pdu.set(encodePDataPdvHeader(contextId, true, last, part.length), 0);
    pdu.set(part, PDATA_PDV_HEADER_LENGTH);
    pdus.push(pdu);
    if (last) break;
  }
  return pdus;
}

/** A whole P-DATA-TF, header included; PDV data are views into `b`. */
export function decodePData(b: Uint8Array, dv: DataView): PDataPdu {
  const end = b.length;
  const pdvs: Pdv[] = [];
  let o = PDU_HEADER_LENGTH;
  while (o < end) {
    if (end - o < PDV_HEADER_LENGTH) throw invalid(`P-DATA-TF: truncated PDV header (${end - o} bytes left)`);
    const len = dv.getUint32(o);
    if (len < 2) throw invalid(`P-DATA-TF: PDV item length ${len} is shorter than 2`);
    if (len > end - o - 4) throw invalid(`P-DATA-TF: PDV item length ${len} runs past the PDU`);
    const mch = dv.getUint8(o + 5);
    pdvs.push({
      presentationContextId: dv.getUint8(o + 4),
      isCommand: (mch & 1) !== 0,
      isLast: (mch & 2) !== 0,
      data: b.subarray(o + PDV_HEADER_LENGTH, o + 4 + len),
    });
    o += 4 + len;
  }
  return { type: PduType.PData, pdvs };
}
