// Zod's issues turned into the messages an operator reads: each at its FILE:LINE:COL, naming the key as
// written (the Rust original's key when the file is one), with the value it got (never a secret's), a
// hint for a typo of a known key, and for a flag's value the flag instead of the key.

import { z } from "zod";
import { ConfigError, type ConfigIssue } from "./error.ts";
import { OVERRIDE_FLAGS, type PartialOverrides } from "./overrides.ts";
import { ConfigSchema } from "./schema.ts";
import { dottedPath, getIn, type Path } from "./tree.ts";
import type { LocatedDoc } from "./yaml-positions.ts";

/** The error for issues of the file (or of the defaults): every issue, the first by position as its message. */
export function fileError(
  issues: readonly z.core.$ZodIssue[],
  data: unknown,
  located: LocatedDoc | null,
  file: string | undefined,
): ConfigError {
  const out: Required<ConfigIssue>[] = [];
  for (const iss of issues) {
    for (const { path, kind, reason } of describeIssue(iss, data)) {
      const pos = located?.locate(path, kind) ?? { line: 1, col: 1 };
      const name = located?.rename?.(path) ?? null;
      const ours = dottedPath(path);
      out.push({
        ...pos,
        reason: name !== null && reason.startsWith(ours) ? name + reason.slice(ours.length) : reason,
      });
    }
  }
  out.sort((a, b) => a.line - b.line || a.col - b.col);
  const head = out[0] ?? { line: 1, col: 1, reason: "invalid config" };
  if (file === undefined) {
    // Only possible if the embedded defaults were invalid: a bug, but say what it is.
    return new ConfigError(`embedded defaults: ${head.reason}`);
  }
  return new ConfigError(head.reason, file, head.line, head.col, out);
}

/** The error for issues after the flags: the flag whose value is wrong, else as fileError. */
export function flagError(
  issues: readonly z.core.$ZodIssue[],
  data: unknown,
  overrides: PartialOverrides,
  located: LocatedDoc | null,
  file: string | undefined,
): ConfigError {
  for (const iss of issues) {
    const dotted = dottedPath(iss.path);
    for (const [k, v] of Object.entries(OVERRIDE_FLAGS)) {
      if (overrides[k as keyof PartialOverrides] !== undefined && v.path === dotted) {
        const [d] = describeIssue(iss, data);
        const msg = d ? d.reason.slice(d.reason.indexOf(": ") + 2) : iss.message;
        return new ConfigError(`${v.flag}: ${msg}`);
      }
    }
  }
  // A cross-field check the flags broke (ops.http_port == --port): report it where the file has it.
  return fileError(issues, data, located, file);
}

interface Described {
  path: Path;
  kind: "value" | "key" | "parent";
  reason: string;
}

function describeIssue(iss: z.core.$ZodIssue, data: unknown): Described[] {
  const path = iss.path;
  if (iss.code === "unrecognized_keys") {
    const known = knownKeys(path);
    return iss.keys.map((k) => {
      const hint = known ? suggest(k, known) : null;
      return {
        path: [...path, k],
        kind: "key" as const,
        reason: `${dottedPath([...path, k])}: unknown key${hint ? ` (did you mean "${hint}"?)` : ""}`,
      };
    });
  }
  const value = getIn(data, path);
  const last = path[path.length - 1];
  if (iss.code === "invalid_type" && value === undefined && last !== undefined) {
    const parent = path.slice(0, -1);
    return [
      {
        path,
        kind: "parent",
        reason: `${parent.length ? `${dottedPath(parent)}: ` : ""}missing required key "${String(last)}"`,
      },
    ];
  }
  let reason = iss.message;
  // Secrets are never echoed (stderr ends up in logs): license_key, password, password_hash.
  const secret = last === "license_key" || last === "password" || last === "password_hash";
  const shown = secret ? "(a secret, not shown)" : show(value);
  const isScalarValue = value === null || typeof value !== "object";
  if (value !== undefined && (isScalarValue || iss.code === "invalid_type") && !reason.includes(shown)) {
    reason += `, got ${shown}`;
    if (iss.code === "invalid_type" && iss.expected === "string" && typeof value !== "string") {
      reason += " (quote it)";
    }
  }
  return [{ path, kind: "value", reason: `${dottedPath(path) || "config"}: ${reason}` }];
}

function show(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null (empty)";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return String(v);
}

/** The keys a strict object at `path` allows, found by walking the schema. */
function knownKeys(path: Path): string[] | null {
  let t: unknown = ConfigSchema;
  for (const seg of [...path, null]) {
    // Unwrap wrappers until an object or array.
    for (;;) {
      if (t instanceof z.ZodNullable || t instanceof z.ZodOptional || t instanceof z.ZodDefault) {
        t = t.unwrap();
      } else if (t instanceof z.ZodPipe) {
        t = t.in;
      } else break;
    }
    if (seg === null) break;
    if (t instanceof z.ZodObject) t = (t.shape as Record<string, unknown>)[String(seg)];
    else if (t instanceof z.ZodArray) t = t.element;
    else return null;
  }
  return t instanceof z.ZodObject ? Object.keys(t.shape) : null;
}

/** The closest known key, if it is close enough to be a typo. */
function suggest(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Number.POSITIVE_INFINITY;
  const k = key.toLowerCase().replaceAll("-", "_");
  for (const cand of known) {
    // A shortened key (max_pdu for max_pdu_length) counts as close.
    const d = cand === k ? 0 : k.length >= 3 && cand.startsWith(k) ? 1 : editDistance(k, cand);
    if (d < bestD) {
      bestD = d;
      best = cand;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(best.length / 4)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
