// Where an instance goes: the storage.path template rendered from its attributes, and the checks
// that keep anything a peer sends from choosing a path outside its tenant's root.

import { createHash } from "node:crypto";
import type { InstanceAttributes } from "../dicom/attribute-scanner.ts";
import { longPath, pathsOf, WINDOWS_DEVICE } from "../util/paths.ts";
import { validDate } from "./validate.ts";

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

/** What {study_date} renders when the Study Date is absent, empty or not a date (a Type 2 gap). */
export const UNDATED = "undated";

/** The template's values for an instance; `sopUid` differs from the data set's for a derived instance. */
export function pathVariables(
  tenant: string,
  a: InstanceAttributes,
  callingAe: string,
  sopUid: string = a.sopInstanceUid ?? "",
): PathVariables {
  const date = a.studyDate;
  return {
    tenant,
    study_date: date !== undefined && validDate(date) ? date : UNDATED,
    study_uid: a.studyInstanceUid ?? "",
    series_uid: a.seriesInstanceUid ?? "",
    sop_uid: sopUid,
    sop_class_uid: a.sopClassUid ?? "",
    modality: a.modality ?? "",
    calling_ae: callingAe,
  };
}

/** Every record hashes its study and series UIDs, which repeat for hundreds of instances in a row. */
const recentHashes = new Map<string, string>();

/** Short, stable, path-safe digest of a UID, for sharding trees and for the Kafka record. */
export function uidHash(uid: string): string {
  let h = recentHashes.get(uid);
  if (h === undefined) {
    h = createHash("sha256").update(uid).digest("hex").slice(0, 16);
    if (recentHashes.size >= 1024) recentHashes.clear();
    recentHashes.set(uid, h);
  }
  return h;
}

/**
 * Values that are not UIDs may hold anything: keep letters, digits, dot, dash, underscore. The same rules
 * on every OS, so that a tree is the same on Linux and Windows: Windows device names get a leading "_",
 * and a trailing dot (which Windows drops, merging "CT." into "CT") becomes "_".
 */
export function safeSegment(value: string): string {
  if (isDigitsAndDots(value)) return value;
  const cleaned = value.trim().replace(/[^A-Za-z0-9._-]/g, "_");
  if (cleaned === "" || /^\.+$/.test(cleaned)) return "_";
  const noTrailingDot = cleaned.endsWith(".") ? `${cleaned.slice(0, -1)}_` : cleaned;
  return WINDOWS_DEVICE.test(noTrailingDot) ? `_${noTrailingDot}` : noTrailingDot;
}

/**
 * UIDs and dates, most of a path: digits and dots, starting with a digit (so no device name, no dot
 * segment) and not ending with a dot. Such a value is its own safe segment; no regex needed.
 */
function isDigitsAndDots(value: string): boolean {
  const n = value.length;
  if (n === 0 || value.charCodeAt(n - 1) === 0x2e) return false;
  const first = value.charCodeAt(0);
  if (first < 0x30 || first > 0x39) return false;
  for (let i = 1; i < n; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x30 || c > 0x39) && c !== 0x2e) return false;
  }
  return true;
}

const PLACEHOLDER = /\{([a-z_]+)\}/g;

/** The longest file or directory name (NAME_MAX of ext4 and XFS; NTFS allows 255 UTF-16 units). */
export const MAX_SEGMENT_LENGTH = 255;
/** The longest path written (Linux PATH_MAX is 4096, with room for a temp name beside the file). */
export const MAX_PATH_LENGTH = 4000;

/** What a placeholder's value is, for a message an operator can act on. */
const PLACEHOLDER_SOURCE: Readonly<Record<string, string>> = {
  tenant: "the tenant id",
  study_date: "Study Date (0008,0020)",
  study_uid: "Study Instance UID (0020,000D)",
  series_uid: "Series Instance UID (0020,000E)",
  sop_uid: "SOP Instance UID (0008,0018)",
  sop_class_uid: "SOP Class UID (0008,0016)",
  modality: "Modality (0008,0060)",
  calling_ae: "the calling AE title",
};

/**
 * A value that cannot be part of a path (storage.path): too long for a file name or the whole path.
 * The instance is answered with a failure and quarantined, not stored under a shortened name.
 */
export class PathValueError extends Error {
  override readonly name = "PathValueError";
}

type Part = string | { name: string };

/** Templates split once into literal text and placeholders: rendering runs once per instance. */
const compiled = new Map<string, Part[]>();

function compile(template: string): Part[] {
  let parts = compiled.get(template);
  if (!parts) {
    parts = [];
    let last = 0;
    for (const m of template.matchAll(PLACEHOLDER)) {
      if (m.index > last) parts.push(template.slice(last, m.index));
      parts.push({ name: m[1] ?? "" });
      last = m.index + m[0].length;
    }
    if (last < template.length) parts.push(template.slice(last));
    compiled.set(template, parts);
  }
  return parts;
}

function placeholderValue(name: string, v: PathVariables): string {
  switch (name) {
    case "study_uid_hash":
      return uidHash(v.study_uid);
    case "series_uid_hash":
      return uidHash(v.series_uid);
    default:
      return safeSegment(v[name as keyof PathVariables] ?? "");
  }
}

/**
 * Render the template to an absolute path under root. UIDs must have been validated before (they are
 * used as they are, so the file name keeps the SOP Instance UID); every other value is sanitised. On
 * Windows a path beyond the classic length limit comes back with the \\?\ prefix (util/paths.ts).
 */
export function renderPath(
  root: string,
  template: string,
  v: PathVariables,
  platform: NodeJS.Platform = process.platform,
): string {
  let rendered = "";
  for (const part of compile(template)) {
    if (typeof part === "string") {
      rendered += part;
      continue;
    }
    const value = placeholderValue(part.name, v);
    if (value.length > MAX_SEGMENT_LENGTH) {
      throw new PathValueError(
        `${PLACEHOLDER_SOURCE[part.name] ?? part.name} of ${value.length} characters cannot be part of a file name (storage.path {${part.name}})`,
      );
    }
    rendered += value;
  }
  // Every segment is a template literal or a checked value, so this never fires; it stays as the last
  // line of defence, made of string operations (the path module's calls cost more per instance).
  const segments = rendered.split("/");
  if (segments.some((seg) => seg === "" || seg === "." || seg === "..")) {
    throw new Error(`rendered path ${rendered} would escape the storage root ${root}`);
  }
  for (const seg of segments) {
    if (seg.length > MAX_SEGMENT_LENGTH) {
      throw new PathValueError(
        `a file name of ${seg.length} characters (storage.path): longer than ${MAX_SEGMENT_LENGTH}`,
      );
    }
  }
  const { sep, resolve } = pathsOf(platform);
  const base = resolvedRoot(root, resolve, sep === "/" ? resolvedRoots : resolvedWindowsRoots);
  const path = `${base}${base.endsWith(sep) ? "" : sep}${sep === "/" ? rendered : segments.join(sep)}`;
  if (path.length > MAX_PATH_LENGTH) {
    throw new PathValueError(
      `a path of ${path.length} characters (storage.path): longer than ${MAX_PATH_LENGTH}`,
    );
  }
  return sep === "/" ? path : longPath(path, platform);
}

const resolvedRoots = new Map<string, string>();
const resolvedWindowsRoots = new Map<string, string>();

function resolvedRoot(root: string, resolve: (p: string) => string, cache: Map<string, string>): string {
  let r = cache.get(root);
  if (r === undefined) {
    r = resolve(root);
    cache.set(root, r);
  }
  return r;
}
