// DICOM UID syntax (PS3.5 9.1) and generation (PS3.5 B.2, UUID-derived "2.25" UIDs).

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
