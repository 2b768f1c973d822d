// What a verified license says, its gate while the server runs, and its error: apart from the verification
// (src/license/verify.ts), which brings @peculiar/x509 and is loaded only where a license is checked, and
// from the runtime (runtime.ts), which logs. A leaf: what reads the license (ops) imports only this.

/** Warn this long before the license expires. */
export const EXPIRY_WARNING_DAYS = 30;

export class LicenseError extends Error {
  override readonly name = "LicenseError";
}

export interface LicenseInfo {
  clientId: string;
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** Subjects from the license certificate up to (excluding) the vendor CA. */
  chain: string[];
}

/**
 * The license while the server runs (made by runtime.ts), as the status page and the server's admission
 * read it. Here, beside what it carries, so that its readers need nothing of the runtime's.
 */
export interface LicenseGate {
  /** null in an unlicensed build. */
  readonly info: LicenseInfo | null;
  /** Why new associations must be refused now, or null. */
  problem(): string | null;
  stop(): void;
}

/** Whole days until the license expires (negative once expired). */
export function daysLeft(info: LicenseInfo, now = new Date()): number {
  return Math.floor((info.notAfter.getTime() - now.getTime()) / 86_400_000);
}
