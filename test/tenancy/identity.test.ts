import { describe, expect, test } from "bun:test";
import { defaultConfig } from "../../src/config/defaults.ts";
import { CommandSet } from "../../src/dimse/command.ts";
import { UserIdentityType } from "../../src/net/pdu/types.ts";
import { checkIdentity } from "../../src/tenancy/identity.ts";
import { hashPassword } from "../../src/tenancy/password-hash.ts";
import { quotaDir } from "../../src/tenancy/quota.ts";
import { parseTag, tenantTagResolver } from "../../src/tenancy/tenant-tag.ts";
import { type Tenant, TenantDirectory } from "../../src/tenancy/tenants.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const rq = (type: number, user: string, pass = "") => ({
  identityType: type,
  positiveResponseRequested: false,
  primaryField: enc(user),
  secondaryField: enc(pass),
});

function directory(): TenantDirectory {
  const c = defaultConfig();
  const base = {
    allowed_calling_aes: [],
    allowed_networks: [],
    tls_subjects: [],
    storage: null,
    topics: null,
  };
  c.tenants = [
    {
      ...base,
      id: "a",
      ae_titles: ["A"],
      users: [
        { username: "alice", password_hash: hashPassword("pw-a") },
        { username: "bob", password_hash: null },
      ],
    },
    { ...base, id: "b", ae_titles: ["B"], users: [] },
    { ...base, id: "c", ae_titles: ["C"], allowed_calling_aes: ["ONLY"], users: [] },
  ];
  return new TenantDirectory(c);
}

describe("user identity", () => {
  const dir = directory();
  const a = dir.byId("a") as Tenant;

  test("types 1 and 2 against the tenant's users", async () => {
    expect(await checkIdentity(a, rq(UserIdentityType.UsernameAndPasscode, "alice", "pw-a"))).toEqual({
      ok: true,
      username: "alice",
    });
    expect((await checkIdentity(a, rq(2, "alice", "wrong"))).ok).toBe(false);
    expect((await checkIdentity(a, rq(1, "alice"))).ok).toBe(false);
    expect(await checkIdentity(a, rq(1, "bob"))).toEqual({ ok: true, username: "bob" });
    expect((await checkIdentity(a, rq(2, "mallory", "pw-a"))).ok).toBe(false);
    expect((await checkIdentity(a, undefined)).ok).toBe(false);
    expect((await checkIdentity(a, rq(5, "jwt"))).ok).toBe(false);
    expect(await checkIdentity(dir.byId("b") as Tenant, undefined)).toEqual({ ok: true, username: null });
  });

  test("the scrypt check leaves the event loop free", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await Promise.all([1, 2, 3].map(() => checkIdentity(a, rq(2, "alice", "pw-a"))));
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(2);
  });

  test("the reason never holds the passcode", async () => {
    const r = await checkIdentity(a, rq(2, "alice", "hunter2"));
    expect(!r.ok && r.why).toMatch(/wrong passcode for user "alice"/);
    expect(JSON.stringify(r)).not.toContain("hunter2");
  });
});

describe("tenant_tag and quota helpers", () => {
  test("parseTag and the resolver's rules", () => {
    expect(parseTag("(1211,1217)")).toBe(0x12111217);
    const dir = directory();
    const resolve = tenantTagResolver("(1211,1217)", dir);
    const ctx = {
      id: "A1",
      tenant: dir.byId("b") as Tenant,
      callingAe: "X",
      calledAe: "B",
      remoteAddress: "127.0.0.1",
      remotePort: 1,
    };
    const cmd = (v?: string) => {
      const c = new CommandSet();
      if (v !== undefined) c.elements.set(0x12111217, enc(v));
      return c;
    };
    expect(resolve(cmd(), ctx)).toEqual({ tenant: ctx.tenant });
    expect(resolve(cmd("b "), ctx)).toEqual({ tenant: ctx.tenant });
    expect(resolve(cmd("nope"), ctx)).toEqual({ refused: 'tenant_tag names unknown tenant "nope"' });
    expect("refused" in resolve(cmd("c"), ctx)).toBe(true);
    expect("refused" in resolve(cmd("a"), ctx)).toBe(true);
    expect(resolve(cmd("c"), { ...ctx, callingAe: "ONLY" })).toEqual({ tenant: dir.byId("c") as Tenant });
  });

  test("quota directory: the tenant's own subtree when the path starts with {tenant}", () => {
    expect(quotaDir("/d", "{tenant}/{sop_uid}.dcm", "t")).toBe("/d/t");
    expect(quotaDir("/d", "{study_uid}/{sop_uid}.dcm", "t")).toBe("/d");
  });
});
