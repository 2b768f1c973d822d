// Password hashes for `tenants[].users`: scrypt, in a self-describing string, so that the cost
// parameters of an old hash are read from the hash itself. Made by `storescp hash-password`, checked by
// the user identity negotiation.

import { randomBytes, scrypt, scryptSync, timingSafeEqual } from "node:crypto";

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
