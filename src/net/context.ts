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
}
