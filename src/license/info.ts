// What a verified license says, and its error: apart from the verification (src/license/verify.ts), which
// brings @peculiar/x509 and is loaded only where a license is checked.

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

/** Whole days until the license expires (negative once expired). */
export function daysLeft(info: LicenseInfo, now = new Date()): number {
  return Math.floor((info.notAfter.getTime() - now.getTime()) / 86_400_000);
}
