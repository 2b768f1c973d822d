// The association release and abort PDUs: A-RELEASE-RQ and -RP (PS3.8 9.3.6, 9.3.7) and A-ABORT
// (9.3.8). All three have the fixed 4-byte value of PS3.8 Tables 9-24 … 9-26.

import { checkFixed4, encodeFixed4 } from "./primitives.ts";
import { type AbortPdu, PduType, type ReleaseRpPdu, type ReleaseRqPdu } from "./types.ts";

export function encodeRelease(pdu: ReleaseRqPdu | ReleaseRpPdu): Uint8Array {
  return encodeFixed4(pdu.type, 0, 0, 0);
}

export function encodeAbort(pdu: AbortPdu): Uint8Array {
  return encodeFixed4(PduType.Abort, 0, pdu.source, pdu.reason);
}

export function decodeReleaseRq(length: number): ReleaseRqPdu {
  checkFixed4("A-RELEASE-RQ", length);
  return { type: PduType.ReleaseRq };
}

export function decodeReleaseRp(length: number): ReleaseRpPdu {
  checkFixed4("A-RELEASE-RP", length);
  return { type: PduType.ReleaseRp };
}

export function decodeAbort(dv: DataView, length: number): AbortPdu {
  checkFixed4("A-ABORT", length);
  return { type: PduType.Abort, source: dv.getUint8(8), reason: dv.getUint8(9) };
}
