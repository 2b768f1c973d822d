// User Identity Negotiation (PS3.7 D.3.3.7) against tenants[].users: type 1 (user name) and type 2
// (user name and passcode). The scrypt check runs on the thread pool (async), and takes the same time
// whether the user exists or not (an unknown user is checked against a dummy hash), so neither the event
// loop nor the timing tells anything.

import { type UserIdentityRq, UserIdentityType } from "../net/pdu/types.ts";
import { verifyPasswordAsync } from "./password-hash.ts";
import type { Tenant } from "./tenants.ts";

/** Checked when the user is unknown, so that the answer takes as long as for a known one. */
const DUMMY_HASH = "scrypt$16384$8$1$PGRlcMjF//OPMtQc+hKfSA==$dQRZHT8THQBdJ6XnsLzdWro7qkcDDGCDalng0PrHkVs=";

export type IdentityResult = { ok: true; username: string | null } | { ok: false; why: string };

const utf8 = new TextDecoder("utf-8", { fatal: false });

/**
 * Check the A-ASSOCIATE-RQ's user identity for the tenant. A tenant without users requires none (and
 * ignores one sent). `why` names the user but never the passcode.
 */
export async function checkIdentity(tenant: Tenant, rq: UserIdentityRq | undefined): Promise<IdentityResult> {
  if (tenant.users.size === 0) return { ok: true, username: null };
  if (!rq) return { ok: false, why: `tenant ${tenant.id} requires user identity, none was sent` };
  const type = rq.identityType;
  if (type !== UserIdentityType.Username && type !== UserIdentityType.UsernameAndPasscode) {
    return { ok: false, why: `user identity type ${type} is not supported (1 or 2)` };
  }
  const username = utf8.decode(rq.primaryField);
  const printable = JSON.stringify(username.slice(0, 64));
  const known = tenant.users.has(username);
  const hash = tenant.users.get(username) ?? null;
  if (known && hash === null) return { ok: true, username };
  if (type === UserIdentityType.Username) {
    return {
      ok: false,
      why: known
        ? `user ${printable} of tenant ${tenant.id} needs a passcode (identity type 2)`
        : `unknown user ${printable} for tenant ${tenant.id}`,
    };
  }
  const passcode = utf8.decode(rq.secondaryField);
  const match = await verifyPasswordAsync(passcode, hash ?? DUMMY_HASH);
  if (known && match) return { ok: true, username };
  return {
    ok: false,
    why: known
      ? `wrong passcode for user ${printable} of tenant ${tenant.id}`
      : `unknown user ${printable} for tenant ${tenant.id}`,
  };
}
