// Where an instance goes: the storage.path template rendered from its attributes, and the checks
// that keep anything a peer sends from choosing a path outside its tenant's root.

import { createHash } from "node:crypto";
import { isAbsolute, relative, resolve, sep } from "node:path";

export interface PathVariables {
  tenant: string;
  study_date: string;
  study_uid: string;
  series_uid: string;
  sop_uid: string;
  sop_class_uid: string;
  modality: string;
  calling_ae: string;
}

/** Short, stable, path-safe digest of a UID, for sharding trees and for the Kafka record. */
export function uidHash(uid: string): string {
  return createHash("sha256").update(uid).digest("hex").slice(0, 16);
}

/** Values that are not UIDs may hold anything: keep letters, digits, dot, dash, underscore. */
function safeSegment(value: string): string {
  const cleaned = value.trim().replace(/[^A-Za-z0-9._-]/g, "_");
  if (cleaned === "" || /^\.+$/.test(cleaned)) return "_";
  return cleaned;
}

const PLACEHOLDER = /\{([a-z_]+)\}/g;

export const TEMPLATE_PLACEHOLDERS = [
  "tenant",
  "study_date",
  "study_uid",
  "series_uid",
  "sop_uid",
  "sop_class_uid",
  "modality",
  "calling_ae",
  "study_uid_hash",
  "series_uid_hash",
] as const;

/** Throws on a placeholder we do not know, so a typo in site.yaml is found at start, not per instance. */
export function checkTemplate(template: string): void {
  for (const m of template.matchAll(PLACEHOLDER)) {
    const name = m[1] ?? "";
    if (!(TEMPLATE_PLACEHOLDERS as readonly string[]).includes(name)) {
      throw new Error(`unknown placeholder {${name}} in storage path "${template}"`);
    }
  }
  if (isAbsolute(template) || template.split(/[\\/]/).includes("..")) {
    throw new Error(`storage path "${template}" must be relative and must not contain ".."`);
  }
}

/**
 * Render the template to an absolute path under root. UIDs must have been validated before (they are
 * used as they are, so the file name keeps the SOP Instance UID); every other value is sanitised.
 */
export function renderPath(root: string, template: string, v: PathVariables): string {
  const rendered = template.replace(PLACEHOLDER, (_, name: string) => {
    switch (name) {
      case "study_uid_hash":
        return uidHash(v.study_uid);
      case "series_uid_hash":
        return uidHash(v.series_uid);
      case "study_uid":
      case "series_uid":
      case "sop_uid":
      case "sop_class_uid":
        return safeSegment(v[name]);
      default:
        return safeSegment(v[name as keyof PathVariables] ?? "");
    }
  });
  const full = resolve(root, rendered);
  const rel = relative(resolve(root), full);
  if (rel === "" || isAbsolute(rel) || rel.split(sep).includes("..")) {
    throw new Error(`rendered path ${full} escapes the storage root ${root}`);
  }
  return full;
}
