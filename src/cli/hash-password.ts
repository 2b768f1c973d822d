// `storescp hash-password`: reads a password on stdin; the command prints its scrypt hash for
// `tenants[].users` (the hash itself is tenancy's).

import { readSync } from "node:fs";
import { isatty } from "node:tty";

/**
 * The password on stdin: a pipe or a file to its end, a console (a terminal) up to the first line break,
 * without the line break. Plain blocking reads of descriptor 0: process.stdin's stream fails with EBADF
 * on a Windows pipe, and a console gives no end of file until Ctrl+Z (Windows) or Ctrl+D.
 */
export function readStdin(fd = 0): string {
  const console = isatty(fd);
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EOF") break;
      // A non-blocking descriptor inherited from the parent: wait for the bytes.
      if (code === "EAGAIN") {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        continue;
      }
      throw err;
    }
    if (n === 0) break;
    const chunk = Buffer.from(buf.subarray(0, n));
    chunks.push(chunk);
    if (console && chunk.includes(0x0a)) break;
  }
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}
