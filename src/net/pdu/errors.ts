import { AbortReason } from "./types.ts";

/**
 * A PDU that cannot be decoded or is not allowed here. Carries the A-ABORT reason (PS3.8 Table 9-26)
 * the association answers it with, so the socket layer never has to guess.
 */
export class PduError extends Error {
  override readonly name = "PduError";
  constructor(
    message: string,
    readonly abortReason: number = AbortReason.InvalidPduParameterValue,
  ) {
    super(message);
  }
}
