// The scrypt hash of tenants[].users: what hash-password makes, the identity check accepts, and nothing
// else.

import { expect, test } from "bun:test";
import { hashPassword, verifyPassword, verifyPasswordAsync } from "../../src/tenancy/password-hash.ts";

test("a hash verifies its password and no other, sync and on the thread pool", async () => {
  const h = hashPassword("s3cret");
  expect(h).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  expect(verifyPassword("s3cret", h)).toBe(true);
  expect(verifyPassword("s3cret!", h)).toBe(false);
  expect(await verifyPasswordAsync("s3cret", h)).toBe(true);
  expect(await verifyPasswordAsync("S3cret", h)).toBe(false);
});

test("a string that is not an scrypt hash verifies nothing, without throwing", async () => {
  for (const bad of ["", "plain", "bcrypt$1$2$3$c2FsdA==$aGFzaA==", "scrypt$16384$8$1$c2FsdA==$"]) {
    expect(verifyPassword("x", bad)).toBe(false);
    expect(await verifyPasswordAsync("x", bad)).toBe(false);
  }
});
