import type { Tenant } from "./tenants.ts";

/**
 * Who is on the other end of an association and which tenant it serves, as the services see it: what
 * the Upper Layer learnt of the peer (AE titles, address, verified user and certificate) joined with
 * the tenant admission chose.
 */
export interface AssociationContext {
  /** Short id that ties the log lines of one association together. */
  id: string;
  tenant: Tenant;
  callingAe: string;
  calledAe: string;
  remoteAddress: string;
  remotePort: number;
  /** User name verified by user identity negotiation, or null. */
  user?: string | null;
  /** Subject CN of the verified TLS client certificate, or null. */
  tlsSubject?: string | null;
}
