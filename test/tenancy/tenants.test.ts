import { describe, expect, test } from "bun:test";
import { defaultConfig } from "../../src/config/defaults.ts";
import { REJECTIONS } from "../../src/scp/admission.ts";
import { type TenantDecision, TenantDirectory } from "../../src/tenancy/tenants.ts";

/** The decision as the peer sees it: a refusal becomes the A-ASSOCIATE-RJ that answers it. */
function onTheWire(d: TenantDecision): object {
  return d.ok ? d : { ok: false, ...REJECTIONS[d.refusal], why: d.why };
}

function withTenants(): TenantDirectory {
  const c = defaultConfig();
  c.tenants = [
    {
      id: "hospital-a",
      ae_titles: ["HOSPA"],
      allowed_calling_aes: ["CT_A"],
      allowed_networks: ["127.0.0.0/8", "fd00::/8"],
      users: [],
      tls_subjects: [],
      storage: null,
      topics: null,
    },
    {
      id: "hospital-b",
      ae_titles: ["HOSPB"],
      allowed_calling_aes: [],
      allowed_networks: [],
      users: [],
      tls_subjects: [],
      storage: null,
      topics: null,
    },
  ] as typeof c.tenants;
  return new TenantDirectory(c);
}

describe("tenant admission (PS3.8 Table 9-21 reasons)", () => {
  test("without tenants every called AE title is the default tenant", () => {
    const dir = new TenantDirectory(defaultConfig());
    const a = dir.admit("ANYTHING", "X", "10.1.1.1");
    expect(a.ok && a.tenant.id).toBe("default");
  });

  test("the called AE title selects the tenant", () => {
    const dir = withTenants();
    const a = dir.admit("HOSPB", "WHOEVER", "192.0.2.1");
    expect(a.ok && a.tenant.id).toBe("hospital-b");
  });

  test("unknown called AE: permanent, service-user, reason 7", () => {
    expect(onTheWire(withTenants().admit("NOPE", "CT_A", "127.0.0.1"))).toMatchObject({
      ok: false,
      result: 1,
      source: 1,
      reason: 7,
    });
  });

  test("calling AE not allowed: permanent, service-user, reason 3", () => {
    expect(onTheWire(withTenants().admit("HOSPA", "CT_B", "127.0.0.1"))).toMatchObject({
      ok: false,
      result: 1,
      source: 1,
      reason: 3,
    });
  });

  test("networks: IPv4, IPv4-mapped IPv6 and IPv6 are matched; others refused", () => {
    const dir = withTenants();
    expect(dir.admit("HOSPA", "CT_A", "127.0.0.1").ok).toBe(true);
    expect(dir.admit("HOSPA", "CT_A", "::ffff:127.0.0.1").ok).toBe(true);
    expect(dir.admit("HOSPA", "CT_A", "fd00::1").ok).toBe(true);
    expect(onTheWire(dir.admit("HOSPA", "CT_A", "192.0.2.7"))).toMatchObject({
      ok: false,
      result: 1,
      source: 1,
      reason: 1,
    });
  });
});
