// tenant_tag compatibility mode: the Rust original's SCU tools name the tenant in an element of the
// C-STORE-RQ command set, e.g. (1211,1217). The tenant it names must exist and admit this association
// by its own rules: calling AE, networks, TLS subject, and (when it has users) the association's
// verified user with the very same password_hash entry. Anything else is refused (0124, Refused: Not
// authorized) and the data set quarantined under the association's tenant. A request without the element
// stays with the called AE's tenant.

import type { CommandSet } from "../dimse/command.ts";
import type { AssociationContext } from "./context.ts";
import type { Tenant } from "./tenants.ts";
import { checkRules, type TenantDirectory } from "./tenants.ts";

/** "(1211,1217)" -> 0x12111217. */
export function parseTag(text: string): number {
  const m = /^\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)$/.exec(text);
  if (!m) throw new Error(`not a tag: ${text}`);
  return Number.parseInt(`${m[1]}${m[2]}`, 16) >>> 0;
}

const latin1 = new TextDecoder("latin1");

/** The element's value as text (LO/SH/CS-like: padding spaces and NULs trimmed), or undefined. */
export function tagText(cmd: CommandSet, tag: number): string | undefined {
  const raw = cmd.bytes(tag);
  const text = raw !== undefined ? latin1.decode(raw) : cmd.string(tag);
  if (text === undefined) return undefined;
  const trimmed = text.replace(/[\0 ]+$/, "").replace(/^ +/, "");
  return trimmed === "" ? undefined : trimmed;
}

/**
 * Which tenant a C-STORE belongs to when the command set may name one (tenant_tag): the tenant, or why
 * the request is refused (0124, data set quarantined).
 */
export type TenantResolver = (
  cmd: CommandSet,
  ctx: AssociationContext,
) => { tenant: Tenant } | { refused: string };

export function tenantTagResolver(tagText_: string, directory: TenantDirectory): TenantResolver {
  const tag = parseTag(tagText_);
  return (cmd: CommandSet, ctx: AssociationContext) => {
    const named = tagText(cmd, tag);
    if (named === undefined || named === ctx.tenant.id) return { tenant: ctx.tenant };
    const shown = JSON.stringify(named.slice(0, 64));
    const tenant = directory.byId(named);
    if (!tenant) return { refused: `tenant_tag names unknown tenant ${shown}` };
    const rules = checkRules(tenant, ctx.callingAe, {
      remoteAddress: ctx.remoteAddress,
      tlsSubject: ctx.tlsSubject ?? null,
    });
    if (!rules.ok) return { refused: `tenant_tag ${shown}: ${rules.why}` };
    if (tenant.users.size > 0) {
      const user = ctx.user ?? null;
      const same =
        user !== null &&
        tenant.users.has(user) &&
        ctx.tenant.users.has(user) &&
        tenant.users.get(user) === ctx.tenant.users.get(user);
      if (!same) return { refused: `tenant_tag ${shown}: tenant requires user identity not verified here` };
    }
    return { tenant };
  };
}
