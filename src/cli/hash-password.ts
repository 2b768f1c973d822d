// `storescp hash-password`: reads a password on stdin and prints its scrypt hash for `tenants[].users`.

import { randomBytes, scrypt, scryptSync, timingSafeEqual } from "node:crypto";
import { readSync } from "node:fs";
import { isatty } from "node:tty";

const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

/** Format: scrypt$N$r$p$salt(base64)$hash(base64). */
export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, KEYLEN, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

export function verifyPassword(password: string, encoded: string): boolean {
  const [tag, n, r, p, salt, hash] = encoded.split("$");
  if (tag !== "scrypt" || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, "base64");
  const actual = scryptSync(password, Buffer.from(salt, "base64"), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return timingSafeEqual(actual, expected);
}

/** verifyPassword on the thread pool: ~50 ms of scrypt must not stall the event loop. Never throws. */
export function verifyPasswordAsync(password: string, encoded: string): Promise<boolean> {
  const [tag, n, r, p, salt, hash] = encoded.split("$");
  if (tag !== "scrypt" || !n || !r || !p || !salt || !hash) return Promise.resolve(false);
  const expected = Buffer.from(hash, "base64");
  if (expected.length === 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    scrypt(
      password,
      Buffer.from(salt, "base64"),
      expected.length,
      { N: Number(n), r: Number(r), p: Number(p), maxmem: 256 * 1024 * 1024 },
      (err, actual) => resolve(!err && timingSafeEqual(actual, expected)),
    );
  });
}

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
