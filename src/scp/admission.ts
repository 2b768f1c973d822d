// Whether an A-ASSOCIATE-RQ may proceed, and for which tenant: the Upper Layer's own checks, then the
// limits (scp.max_associations, scp.max_associations_per_address), the license, free disk space, the
// outbox's room, the tenant's rules and last the user identity (scrypt, through a bounded gate). Every
// refusal is a decision with its reason; REJECTIONS maps each to the A-ASSOCIATE-RJ that answers it.
//
// An association holds one of scp.max_associations from the moment its RQ is admitted past the limits
// (while its user identity is checked too) until it ends (release) or is rejected.

import type { Config } from "../config/schema.ts";
import { requestRejection } from "../net/negotiation.ts";
import type { AssociateRqPdu } from "../net/pdu/types.ts";
import { type AssociateRejection, Rejection } from "../net/rejections.ts";
import type { AssociateAnswer } from "../net/service-user.ts";
import { checkIdentity } from "../tenancy/identity.ts";
import { PasswordGate } from "../tenancy/password-gate.ts";
import type { PeerInfo, Tenant, TenantDirectory, TenantRefusal } from "../tenancy/tenants.ts";

/** What an admitted association carries into its context. */
export interface Admitted {
  tenant: Tenant;
  /** The verified user name (user identity negotiation), or null. */
  user: string | null;
}

export type AdmissionDecision = AssociateAnswer<Admitted>;

/** Why an association is refused (beyond the Upper Layer's own reasons). */
export type AdmissionRefusal =
  | TenantRefusal
  | "too-many-associations"
  | "too-many-from-address"
  | "license"
  | "disk-full"
  | "congested"
  | "identity-not-verified"
  | "password-checks-busy"
  | "password-backoff";

/** The A-ASSOCIATE-RJ that answers each refusal, PS3.8 Table 9-21. */
export const REJECTIONS: Readonly<Record<AdmissionRefusal, AssociateRejection>> = {
  "unknown-called-ae": Rejection.CalledAeNotRecognized,
  "calling-ae-not-allowed": Rejection.CallingAeNotRecognized,
  // No dedicated reason exists for a refused address or certificate; "no reason given" hides nothing useful.
  "address-not-allowed": Rejection.PermanentNoReason,
  "tls-subject-not-allowed": Rejection.PermanentNoReason,
  "too-many-associations": Rejection.LocalLimitExceeded,
  "too-many-from-address": Rejection.LocalLimitExceeded,
  license: Rejection.TransientNoReason,
  "disk-full": Rejection.TemporaryCongestion,
  congested: Rejection.TemporaryCongestion,
  // PS3.7 D.3.3.7: a failed identity is a permanent rejection by the service-user, no reason given.
  "identity-not-verified": Rejection.PermanentNoReason,
  "password-checks-busy": Rejection.TemporaryCongestion,
  "password-backoff": Rejection.TransientNoReason,
};

function refused(refusal: AdmissionRefusal, why: string): AdmissionDecision {
  return { accepted: false, rejection: REJECTIONS[refusal], why };
}

export interface AdmissionDeps {
  config: Config;
  tenants: TenantDirectory;
  /** False while free disk space is below storage.min_free_mb. */
  freeSpaceOk: () => boolean;
  /**
   * Why new associations must be refused right now (e.g. the license expired while running), or null.
   * Such associations get a transient reject; running ones and stored data are not affected.
   */
  licenseProblem?: () => string | null;
  /** Why new associations must wait (e.g. the outbox is full), or null: a transient reject (2/3/1). */
  congested?: () => string | null;
}

export class AdmissionControl {
  /** Associations holding one of scp.max_associations, with their peer's address. */
  private readonly holdingSlot = new Map<object, string>();
  private readonly passwords: PasswordGate;

  constructor(private readonly deps: AdmissionDeps) {
    const { limits } = deps.config;
    this.passwords = new PasswordGate({
      concurrency: limits.password_checks,
      queue: limits.password_queue,
      backoffAfter: limits.auth_backoff_after_failures,
      backoffMaxMs: limits.auth_backoff_max_s * 1000,
    });
  }

  /**
   * The decision on `association`'s RQ: at once, or once its user identity has been checked. From an
   * admission past the limits it holds a slot; a rejection gives it back.
   */
  decide(
    association: object,
    rq: AssociateRqPdu,
    peer: PeerInfo,
  ): AdmissionDecision | Promise<AdmissionDecision> {
    const first = this.admit(rq, peer);
    if (!("tenant" in first)) return first;
    const { tenant } = first;
    this.holdingSlot.set(association, peer.remoteAddress);
    const identity = rq.userInformation.userIdentityRq;
    if (tenant.users.size === 0) return { accepted: true, acceptance: { tenant, user: null } };
    const released = (d: AdmissionDecision): AdmissionDecision => {
      if (!d.accepted) this.holdingSlot.delete(association);
      return d;
    };
    const checked = this.passwords.check(
      peer.remoteAddress,
      () => checkIdentity(tenant, identity),
      (r) => r.ok,
    );
    return checked.then(
      (r): AdmissionDecision => {
        if ("refused" in r) {
          return released(refused(r.refused === "busy" ? "password-checks-busy" : "password-backoff", r.why));
        }
        if (!r.ok) return released(refused("identity-not-verified", r.why));
        return {
          accepted: true,
          acceptance: { tenant, user: r.username },
          identityResponse: identity?.positiveResponseRequested === true,
        };
      },
      (err: Error) => {
        this.holdingSlot.delete(association);
        throw err;
      },
    );
  }

  /** The association ended: its slot is free again. */
  release(association: object): void {
    this.holdingSlot.delete(association);
  }

  /** PS3.8 Table 9-21: which A-ASSOCIATE-RJ an RQ gets, or the tenant it belongs to. */
  private admit(rq: AssociateRqPdu, peer: PeerInfo): { tenant: Tenant } | AdmissionDecision {
    const own = requestRejection(rq);
    if (own !== null) return { accepted: false, ...own };
    const { scp } = this.deps.config;
    const running = this.holdingSlot.size;
    if (running >= scp.max_associations) {
      return refused(
        "too-many-associations",
        `${running} associations running or being admitted (scp.max_associations)`,
      );
    }
    const remote = peer.remoteAddress;
    const perAddress = scp.max_associations_per_address;
    if (perAddress > 0) {
      let fromPeer = 0;
      for (const address of this.holdingSlot.values()) if (address === remote) fromPeer += 1;
      if (fromPeer >= perAddress) {
        return refused(
          "too-many-from-address",
          `${fromPeer} associations from ${remote} (scp.max_associations_per_address)`,
        );
      }
    }
    const licenseProblem = this.deps.licenseProblem?.() ?? null;
    if (licenseProblem !== null) return refused("license", licenseProblem);
    if (!this.deps.freeSpaceOk()) return refused("disk-full", "free disk space below storage.min_free_mb");
    const congestion = this.deps.congested?.() ?? null;
    if (congestion !== null) return refused("congested", congestion);
    const decision = this.deps.tenants.admit(rq.calledAeTitle, rq.callingAeTitle, peer);
    return decision.ok ? { tenant: decision.tenant } : refused(decision.refusal, decision.why);
  }
}
