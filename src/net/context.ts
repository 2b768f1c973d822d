import type { Tenant } from "../tenancy/tenants.ts";

/** Who is on the other end of an association, as the services see it. */
export interface NetContext {
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
