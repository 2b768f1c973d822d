// Who may open an association, and for which tenant: the called AE title selects the tenant, whose
// calling-AE, network and TLS-subject rules then admit or refuse the peer. A refusal is a decision
// with its reason, not a wire code: the association layer (src/scp/admission.ts) answers it with an
// A-ASSOCIATE-RJ, tenant_tag (tenant-tag.ts) with a C-STORE failure. User identity (users) is checked
// after these, asynchronously (identity.ts).

import { BlockList, isIPv4, isIPv6 } from "node:net";
import { isAbsolute, resolve } from "node:path";
import type { Config } from "../config/schema.ts";
import { Quota, quotaDir } from "./quota.ts";

/** The tenant id used when `tenants` is empty. */
export const DEFAULT_TENANT_ID = "default";

export interface Tenant {
  id: string;
  aeTitles: readonly string[];
  /** Empty: any calling AE. */
  allowedCallingAes: ReadonlySet<string>;
  /** null: any address. */
  allowedNetworks: BlockList | null;
  storageRoot: string;
  pathTemplate: string;
  /** User identity: user name -> scrypt hash, or null (the name alone identifies). Empty: not required. */
  users: ReadonlyMap<string, string | null>;
  /** Client certificate subject CNs of which one is required (over TLS). Empty: any peer. */
  tlsSubjects: ReadonlySet<string>;
  /** Kafka topics of this tenant (the outbox uses them); null: kafka.topics. */
  topics: { storage?: string; log?: string } | null;
  /** storage.max_gb; null: no quota. */
  quota: Quota | null;
}

/** What the transport knows of the peer. */
export interface PeerInfo {
  remoteAddress: string;
  /** Subject CN of the client certificate, when the connection is TLS and the certificate verified. */
  tlsSubject: string | null;
}

/** Why a tenant will not serve a peer. */
export type TenantRefusal =
  | "unknown-called-ae"
  | "calling-ae-not-allowed"
  | "address-not-allowed"
  | "tls-subject-not-allowed";

/**
 * The tenant an association serves, or why none will; `why` is for the log line, never sent to the
 * peer (A-ASSOCIATE-RJ has no text).
 */
export type TenantDecision =
  | { ok: true; tenant: Tenant }
  | { ok: false; refusal: TenantRefusal; why: string };

/** Parse CIDRs ("10.0.0.0/8", "fd00::/8", or a bare address) into one BlockList. */
export function networkList(cidrs: readonly string[]): BlockList | null {
  if (cidrs.length === 0) return null;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [addr = "", bits] = cidr.split("/");
    const family = isIPv4(addr) ? "ipv4" : isIPv6(addr) ? "ipv6" : undefined;
    if (!family) throw new Error(`not an IP network: ${cidr}`);
    const prefix = bits === undefined ? (family === "ipv4" ? 32 : 128) : Number(bits);
    list.addSubnet(addr, prefix, family);
  }
  return list;
}

/** Does the address (as node reports it, possibly IPv4-mapped IPv6) fall in the list? */
export function addressAllowed(list: BlockList | null, address: string): boolean {
  if (!list) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return list.check(mapped[1], "ipv4") || list.check(address, "ipv6");
  return isIPv4(address) ? list.check(address, "ipv4") : list.check(address, "ipv6");
}

export class TenantDirectory {
  readonly tenants: readonly Tenant[];
  private readonly byAe = new Map<string, Tenant>();
  /** With no tenants configured every called AE title reaches the default tenant, as in DCMTK storescp. */
  private readonly catchAll: Tenant | null;

  constructor(config: Config, baseDir = process.cwd()) {
    const root = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
    if (config.tenants.length === 0) {
      this.catchAll = {
        id: DEFAULT_TENANT_ID,
        aeTitles: [config.scp.ae_title],
        allowedCallingAes: new Set(),
        allowedNetworks: null,
        storageRoot: root(config.storage.root),
        pathTemplate: config.storage.path,
        users: new Map(),
        tlsSubjects: new Set(),
        topics: null,
        quota: null,
      };
      this.tenants = [this.catchAll];
      return;
    }
    this.catchAll = null;
    this.tenants = config.tenants.map((t) => {
      const storageRoot = root(t.storage?.root ?? config.storage.root);
      const pathTemplate = t.storage?.path ?? config.storage.path;
      const maxGb = t.storage?.max_gb;
      return {
        id: t.id,
        aeTitles: t.ae_titles,
        allowedCallingAes: new Set(t.allowed_calling_aes),
        allowedNetworks: networkList(t.allowed_networks),
        storageRoot,
        pathTemplate,
        users: new Map(t.users.map((u) => [u.username, u.password_hash])),
        tlsSubjects: new Set(t.tls_subjects),
        topics: t.topics,
        quota:
          maxGb === undefined
            ? null
            : new Quota(maxGb * 1024 ** 3, quotaDir(storageRoot, pathTemplate, t.id)),
      };
    });
    for (const t of this.tenants) for (const ae of t.aeTitles) this.byAe.set(ae, t);
  }

  byId(id: string): Tenant | undefined {
    return this.tenants.find((t) => t.id === id);
  }

  /** The tenant the called AE title selects, if its rules admit the peer. */
  admit(calledAe: string, callingAe: string, peer: PeerInfo | string): TenantDecision {
    const tenant = this.catchAll ?? this.byAe.get(calledAe);
    if (!tenant) {
      return {
        ok: false,
        refusal: "unknown-called-ae",
        why: `called AE title "${calledAe}" is not served here`,
      };
    }
    return checkRules(
      tenant,
      callingAe,
      typeof peer === "string" ? { remoteAddress: peer, tlsSubject: null } : peer,
    );
  }
}

/** The tenant's own rules (calling AE, networks, TLS subject) for a peer: also used for tenant_tag. */
export function checkRules(tenant: Tenant, callingAe: string, peer: PeerInfo): TenantDecision {
  const remoteAddress = peer.remoteAddress;
  if (tenant.allowedCallingAes.size > 0 && !tenant.allowedCallingAes.has(callingAe)) {
    return {
      ok: false,
      refusal: "calling-ae-not-allowed",
      why: `calling AE title "${callingAe}" is not allowed for tenant ${tenant.id}`,
    };
  }
  if (!addressAllowed(tenant.allowedNetworks, remoteAddress)) {
    return {
      ok: false,
      refusal: "address-not-allowed",
      why: `address ${remoteAddress} is not in the allowed networks of tenant ${tenant.id}`,
    };
  }
  if (tenant.tlsSubjects.size > 0 && (peer.tlsSubject === null || !tenant.tlsSubjects.has(peer.tlsSubject))) {
    return {
      ok: false,
      refusal: "tls-subject-not-allowed",
      why:
        peer.tlsSubject === null
          ? `tenant ${tenant.id} requires a TLS client certificate (tls_subjects)`
          : `client certificate CN "${peer.tlsSubject}" is not in the tls_subjects of tenant ${tenant.id}`,
    };
  }
  return { ok: true, tenant };
}
