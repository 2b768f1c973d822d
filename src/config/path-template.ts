// The storage.path template language as the config checks it: the placeholders there are and what makes
// a template unusable. Rendering a template for an instance is the store's (src/store/layout.ts).

import { windowsNameProblem } from "../util/paths.ts";

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

/** Why a storage path template is unusable, or null when it is fine (checked when the config loads). */
export function templateProblem(s: string): string | null {
  if (s.length === 0) return "must not be empty";
  if (s.startsWith("/") || s.startsWith("\\") || /^[A-Za-z]:/.test(s)) {
    return "must be relative to storage.root";
  }
  if (s.split(/[/\\]/).some((seg) => seg === ".." || seg === "." || seg === "")) {
    return 'must not contain empty, "." or ".." segments';
  }
  // The literal text must make names that Windows allows too, so that a tree is the same on both.
  for (const seg of s.split(/[/\\]/)) {
    const problem = windowsNameProblem(seg.replace(/\{[^{}]*\}/g, "x"));
    if (problem !== null) return `segment "${seg}": ${problem.replace(/^"[^"]*" /, "")}`;
  }
  const known: readonly string[] = TEMPLATE_PLACEHOLDERS;
  for (const m of s.matchAll(/\{([^}]*)\}/g)) {
    const name = m[1] ?? "";
    if (!known.includes(name)) {
      return `unknown placeholder {${name}} (known: ${TEMPLATE_PLACEHOLDERS.map((p) => `{${p}}`).join(" ")})`;
    }
  }
  if (/[{}]/.test(s.replace(/\{[^{}]*\}/g, ""))) return "has an unbalanced { or }";
  // Without the SOP Instance UID two different instances would land on the same file.
  if (!s.includes("{sop_uid}")) return "must contain {sop_uid}, or distinct instances would share one file";
  return null;
}
