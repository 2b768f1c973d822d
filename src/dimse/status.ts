// DIMSE status codes (PS3.7 Annex C, PS3.4 B.2.3 for the Storage Service Class).

export const Status = {
  /** PS3.7 C.1.1 */
  Success: 0x0000,
  /** PS3.7 C.5.8 — Duplicate SOP Instance. */
  DuplicateSopInstance: 0x0111,
  /** PS3.7 C.5.13 — No such SOP Class. */
  NoSuchSopClass: 0x0118,
  /** PS3.7 C.5.14 — Class-Instance conflict (command and context disagree). */
  ClassInstanceConflict: 0x0119,
  /** PS3.7 C.5.6 — Unrecognized operation. */
  UnrecognizedOperation: 0x0211,
  /** PS3.7 C.5.20 — Refused: Not authorized (e.g. a tenant_tag naming a tenant that does not admit us). */
  NotAuthorized: 0x0124,
  /** PS3.7 C.5.10 — Processing failure. */
  ProcessingFailure: 0x0110,
  /** PS3.4 B.2.3 — Refused: Out of Resources. */
  OutOfResources: 0xa700,
  /** PS3.4 B.2.3 — Error: Data Set does not match SOP Class. */
  DataSetDoesNotMatchSopClass: 0xa900,
  /** PS3.4 B.2.3 — Error: Cannot understand (0xC000-0xCFFF). */
  CannotUnderstand: 0xc000,
  /** PS3.4 B.2.3 — Warning: Coercion of Data Elements. */
  CoercionOfDataElements: 0xb000,
} as const;

export type StatusCode = (typeof Status)[keyof typeof Status];

/** A failure that ends one DIMSE operation (not the association), with the status the peer gets. */
export class DimseError extends Error {
  override readonly name = "DimseError";
  constructor(
    readonly status: number,
    /** Goes into Error Comment (0000,0902): at most 64 characters are sent. */
    readonly comment: string,
  ) {
    super(comment);
  }
}

export function isFailure(status: number): boolean {
  return status !== Status.Success && (status & 0xf000) !== 0xb000 && status !== 0x0107 && status !== 0x0116;
}

export function hex4(status: number): string {
  return status.toString(16).toUpperCase().padStart(4, "0");
}
