// A stored file's descriptor, held past its commit so that the bytes of that reception can be hashed
// after the peer was answered, from the very inode they were written to, whatever happens to the name
// meanwhile (a later reception of the same instance replaces the file by rename, never in place).

import type { BigIntStats } from "node:fs";
import { closeSync } from "node:fs";

/**
 * What identifies a file's bytes without reading them: the inode (device and number), its size and its
 * last modification. Files under storage.root are written once and replaced by rename, so a name whose
 * identity is unchanged still holds the same bytes.
 */
export function fileIdentity(st: Pick<BigIntStats, "dev" | "ino" | "size" | "mtimeNs">): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
}

/** -1: nothing held (Windows), the identity alone travels. */
export class HeldFile {
  private fd: number;

  constructor(
    fd: number,
    /** fileIdentity of the file as written. */
    readonly identity: string,
    readonly size: number,
  ) {
    this.fd = fd;
  }

  /** Hand the descriptor over to its next owner (who closes it); null once taken or released. */
  take(): number | null {
    const fd = this.fd;
    this.fd = -1;
    return fd >= 0 ? fd : null;
  }

  /** Close the descriptor unless it was taken. Never throws. */
  release(): void {
    const fd = this.take();
    if (fd === null) return;
    try {
      closeSync(fd);
    } catch {
      // already closed: nothing held any more either way
    }
  }
}
