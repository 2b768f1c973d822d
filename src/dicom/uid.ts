// DICOM UID syntax (PS3.5 9.1) and generation (PS3.5 B.2, UUID-derived "2.25" UIDs).

import { createHash } from "node:crypto";

export interface UidCheckOptions {
  /** Also reject leading zeros in multi-digit components (forbidden by PS3.5 9.1, but common in the wild). */
  strict?: boolean;
}

/** Why `s` is not a valid UID, or undefined when it is. Leading zeros are only a problem with `strict`. */
export function uidProblem(s: string, opts: UidCheckOptions = {}): string | undefined {
  if (s.length === 0) return "empty UID";
  if (s.length > 64) return `UID longer than 64 characters (${s.length})`;
  let componentStart = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      const len = i - componentStart;
      if (len === 0) return `empty component at offset ${i}`;
      if (opts.strict && len > 1 && s.charCodeAt(componentStart) === 0x30) {
        return `component with leading zero at offset ${componentStart}`;
      }
      componentStart = i + 1;
    } else if (c < 0x30 || c > 0x39) {
      return `invalid character ${JSON.stringify(s[i])} at offset ${i}`;
    }
  }
  return undefined;
}

export function isValidUid(s: string, opts: UidCheckOptions = {}): boolean {
  return uidProblem(s, opts) === undefined;
}

/** "2.25." + the decimal value of a UUID (any textual form with 32 hex digits). */
export function uuidToUid(uuid: string): string {
  return `2.25.${BigInt(`0x${uuid.replace(/-/g, "")}`).toString(10)}`;
}

/** A new random UID: "2.25." + the decimal value of a random (v4) UUID; at most 44 characters. */
export function newUid(): string {
  return uuidToUid(crypto.randomUUID());
}

/**
 * A name-based UID: "2.25." + the decimal value of the RFC 9562 version 5 UUID (SHA-1) of `name` in the
 * namespace `namespaceUuid`. The same name gives the same UID, so work that is repeated on the same input
 * (a modality resending an instance after a lost response) yields the same instance, not a second one.
 */
export function nameBasedUid(namespaceUuid: string, name: string): string {
  const ns = Buffer.from(namespaceUuid.replace(/-/g, ""), "hex");
  if (ns.length !== 16) throw new RangeError(`not a UUID: ${namespaceUuid}`);
  const b = createHash("sha1").update(ns).update(name, "utf8").digest().subarray(0, 16);
  b[6] = 0x50 | ((b[6] ?? 0) & 0x0f);
  b[8] = 0x80 | ((b[8] ?? 0) & 0x3f);
  return uuidToUid(b.toString("hex"));
}
