import { describe, expect, test } from "bun:test";
import { defaultConfig } from "../../src/config/defaults.ts";
import type { Config } from "../../src/config/schema.ts";
import { type AssociateRqPdu, UserIdentityType } from "../../src/net/pdu/types.ts";
import { AdmissionControl, type AdmissionDecision, type AdmissionDeps } from "../../src/scp/admission.ts";
import { TenantDirectory } from "../../src/tenancy/tenants.ts";
import { associateRq } from "../helpers/fake-connection.ts";

const PEER = { remoteAddress: "10.0.0.1", tlsSubject: null };

function withUsers(): Config {
  const c = defaultConfig();
  c.tenants = [
    {
      id: "a",
      ae_titles: ["STORESCP"],
      allowed_calling_aes: [],
      allowed_networks: [],
      users: [{ username: "bob", password_hash: null }],
      tls_subjects: [],
      storage: null,
      topics: null,
    },
  ] as typeof c.tenants;
  return c;
}

function control(over: Partial<AdmissionDeps> = {}, config = defaultConfig()): AdmissionControl {
  return new AdmissionControl({
    config,
    tenants: new TenantDirectory(config),
    freeSpaceOk: () => true,
    ...over,
  });
}

/** Result/source/reason of a rejection, or the tenant of an acceptance. */
async function outcome(d: AdmissionDecision | Promise<AdmissionDecision>): Promise<string> {
  const decision = await d;
  if (decision.accepted) return `accepted ${decision.acceptance.tenant.id} ${decision.acceptance.user}`;
  const { result, source, reason } = decision.rejection;
  return `${result}/${source}/${reason}`;
}

function withIdentity(username: string, positiveResponseRequested = false): AssociateRqPdu {
  const rq = associateRq();
  rq.userInformation.userIdentityRq = {
    identityType: UserIdentityType.Username,
    positiveResponseRequested,
    primaryField: new TextEncoder().encode(username),
    secondaryField: new Uint8Array(0),
  };
  return rq;
}

describe("admission (PS3.8 Table 9-21 rejections)", () => {
  test("the Upper Layer's own reasons come first: protocol version 1/2/2, application context 1/1/2", async () => {
    const a = control({ licenseProblem: () => "expired" });
    expect(await outcome(a.decide({}, associateRq({ protocolVersion: 2 }), PEER))).toBe("1/2/2");
    expect(await outcome(a.decide({}, associateRq({ applicationContext: "1.2.3" }), PEER))).toBe("1/1/2");
  });

  test("scp.max_associations: 2/3/2 while every slot is held; a released slot is free again", async () => {
    const config = defaultConfig();
    config.scp.max_associations = 1;
    const a = control({}, config);
    const first = {};
    expect(await outcome(a.decide(first, associateRq(), PEER))).toBe("accepted default null");
    expect(await outcome(a.decide({}, associateRq(), PEER))).toBe("2/3/2");
    a.release(first);
    expect(await outcome(a.decide({}, associateRq(), PEER))).toBe("accepted default null");
  });

  test("scp.max_associations_per_address: 2/3/2 for that address only", async () => {
    const config = defaultConfig();
    config.scp.max_associations_per_address = 1;
    const a = control({}, config);
    expect(await outcome(a.decide({}, associateRq(), PEER))).toBe("accepted default null");
    expect(await outcome(a.decide({}, associateRq(), PEER))).toBe("2/3/2");
    expect(await outcome(a.decide({}, associateRq(), { ...PEER, remoteAddress: "10.0.0.2" }))).toBe(
      "accepted default null",
    );
  });

  test("license 2/1/1, disk 2/3/1, outbox congestion 2/3/1", async () => {
    expect(await outcome(control({ licenseProblem: () => "expired" }).decide({}, associateRq(), PEER))).toBe(
      "2/1/1",
    );
    expect(await outcome(control({ freeSpaceOk: () => false }).decide({}, associateRq(), PEER))).toBe(
      "2/3/1",
    );
    expect(await outcome(control({ congested: () => "outbox full" }).decide({}, associateRq(), PEER))).toBe(
      "2/3/1",
    );
  });

  test("a refused tenant rule: unknown called AE 1/1/7", async () => {
    const a = control({}, withUsers());
    expect(await outcome(a.decide({}, associateRq({ calledAeTitle: "OTHER" }), PEER))).toBe("1/1/7");
  });

  test("user identity: verified is accepted with the user, a failed one is 1/1/1 and gives its slot back", async () => {
    const config = withUsers();
    config.scp.max_associations = 1;
    const a = control({}, config);
    expect(await outcome(a.decide({}, withIdentity("eve"), PEER))).toBe("1/1/1");
    const bob = await a.decide({}, withIdentity("bob", true), PEER);
    expect(await outcome(bob)).toBe("accepted a bob");
    expect(bob.accepted && bob.identityResponse).toBe(true);
  });
});
