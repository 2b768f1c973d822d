// What a DIMSE request becomes once its command set is read: an Operation that takes the data set
// fragments (if any) and ends in the encoded response. The assembler feeds it; the services make it.

import type { TransientBytes } from "../util/transient-bytes.ts";

/** Where the data set fragments of a request go. */
export interface DataSink {
  /**
   * The chunk is valid until the end of the current turn (src/util/transient-bytes.ts). A property,
   * not a method, so that an implementation taking a plain Uint8Array does not type-check.
   */
  write: (chunk: TransientBytes) => void;
  readonly pendingBytes: number;
  onProgress: (() => void) | null;
}

export interface Operation {
  /** Null when the request carries no data set. */
  readonly data: DataSink | null;
  /** Called once the whole data set (if any) arrived; resolves to the response command set, or null for none. */
  complete(): Promise<Uint8Array | null>;
  /** The association ended before the operation completed. */
  abort(): Promise<void>;
  /**
   * Called once the response is on its way: bookkeeping the peer need not wait for (the log line,
   * metrics, a temp file for the next instance) runs while the peer prepares its next request.
   */
  afterResponse?(): void;
}
