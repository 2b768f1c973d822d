// Encoder/decoder of whole DICOM Upper Layer PDUs, PS3.8 section 9.3 and PS3.7 Annex D.3.3: the
// dispatch on the PDU type to the codec of its family (associate.ts, pdata.ts, release-abort.ts).
// Pure: bytes in, typed value out, and back; every decoding failure is a PduError carrying the
// A-ABORT reason.

import { decodeAssociate, decodeAssociateRj, encodeAssociate, encodeAssociateRj } from "./associate.ts";
import { PduError } from "./errors.ts";
import { decodePData, encodePData } from "./pdata.ts";
import { hex, invalid, PDU_HEADER_LENGTH } from "./primitives.ts";
import {
  decodeAbort,
  decodeReleaseRp,
  decodeReleaseRq,
  encodeAbort,
  encodeRelease,
} from "./release-abort.ts";
import { AbortReason, type Pdu, PduType } from "./types.ts";

/** Encodes one whole PDU, header included. Throws RangeError on values the wire format cannot carry. */
export function encodePdu(pdu: Pdu): Uint8Array {
  switch (pdu.type) {
    case PduType.AssociateRq:
    case PduType.AssociateAc:
      return encodeAssociate(pdu);
    case PduType.AssociateRj:
      return encodeAssociateRj(pdu);
    case PduType.PData:
      return encodePData(pdu);
    case PduType.ReleaseRq:
    case PduType.ReleaseRp:
      return encodeRelease(pdu);
    case PduType.Abort:
      return encodeAbort(pdu);
  }
}

/** Whether `t` is one of the seven PDU types of PS3.8 Table 9-1. */
export function isKnownPduType(t: number): boolean {
  return t >= PduType.AssociateRq && t <= PduType.Abort;
}

/**
 * Decodes one whole PDU (6-byte header included; `bytes.length` must match the length field).
 * P-DATA-TF PDV data are views into `bytes`; byte fields of the other PDUs are copies.
 * Throws only PduError.
 */
export function decodePdu(bytes: Uint8Array): Pdu {
  if (bytes.length < PDU_HEADER_LENGTH) throw invalid(`truncated PDU header (${bytes.length} bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = dv.getUint8(0);
  if (!isKnownPduType(type))
    throw new PduError(`unrecognized PDU type ${hex(type)}`, AbortReason.UnrecognizedPdu);
  const length = dv.getUint32(2);
  if (length !== bytes.length - PDU_HEADER_LENGTH) {
    throw invalid(
      `PDU length field ${length} disagrees with the ${bytes.length - PDU_HEADER_LENGTH} bytes present`,
    );
  }
  switch (type) {
    case PduType.AssociateRq:
    case PduType.AssociateAc:
      return decodeAssociate(bytes, dv, type === PduType.AssociateRq);
    case PduType.AssociateRj:
      return decodeAssociateRj(dv, length);
    case PduType.PData:
      return decodePData(bytes, dv);
    case PduType.ReleaseRq:
      return decodeReleaseRq(length);
    case PduType.ReleaseRp:
      return decodeReleaseRp(length);
    default:
      return decodeAbort(dv, length);
  }
}
