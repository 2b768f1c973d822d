// Loading the config: YAML file (optional) deep-merged over the embedded defaults, then the command-line
// overrides, all validated by the zod schema. Every error becomes a ConfigError whose message is
// `FILE:LINE:COL: reason` (file errors) or `--flag: reason` (flag errors), one line, for exit code 2.
//
// Merge rules: mappings merge key by key, everything else (lists included) replaces the default; a key
// whose value is empty (`scp:` with everything below commented out) keeps the default mapping.
//
// Paths: relative paths in the file (storage.root, storage.quarantine, tenants[].storage.root,
// outbox.dir, license.certificate, scp.tls.*, kafka.ssl.*) are resolved against the directory of the
// config file, so a config works whatever the working directory of the service is; without a file,
// and for paths given on the command line, against the working directory. The returned Config holds
// absolute paths. storage.quarantine, when the file does not set it, is `<storage.root>/_quarantine`.
// The platform's own rules apply (src/util/paths.ts): on Windows drive letters, UNC shares and either
// slash; a value Windows cannot use (a device name such as NUL, a name ending in a dot) is an error at
// its FILE:LINE:COL.

import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { z } from "zod";
import { absolutePath, PathError } from "../util/paths.ts";
import { defaultConfig, QUARANTINE_DIRNAME } from "./defaults.ts";
import { fromRustConfig, isRustConfig } from "./rust-json.ts";
import { type Config, ConfigSchema, type LogLevel } from "./schema.ts";

/** Values from command-line flags; they win over the file. */
export interface PartialOverrides {
  /** --port, -p */
  port?: number;
  /** --ae-title, --calling-ae-title */
  ae_title?: string;
  /** --max-pdu-length, -m */
  max_pdu_length?: number;
  /** --strict, -s */
  strict?: boolean;
  /** --uncompressed-only (true), DCMTK's +xa / --accept-all (false) */
  uncompressed_only?: boolean;
  /** --promiscuous */
  promiscuous?: boolean;
  /** --sequential, -n/--non-blocking [true|false] */
  mode?: "concurrent" | "sequential";
  /** --verbose, -v: logging.level becomes debug (trace stays trace) */
  verbose?: boolean;
  /** -o DIR (the Rust original's output directory), DCMTK's -od DIR: storage.root, relative to the working directory */
  storage_root?: string;
  /** --host ADDR */
  host?: string;
}

/** Which flag sets which config key, for error messages. */
const OVERRIDE_FLAGS: Record<keyof PartialOverrides, { path: string; flag: string }> = {
  port: { path: "scp.port", flag: "--port" },
  ae_title: { path: "scp.ae_title", flag: "--ae-title" },
  max_pdu_length: { path: "scp.max_pdu_length", flag: "--max-pdu-length" },
  strict: { path: "scp.strict", flag: "--strict" },
  uncompressed_only: { path: "scp.uncompressed_only", flag: "--uncompressed-only" },
  promiscuous: { path: "scp.promiscuous", flag: "--promiscuous" },
  mode: { path: "scp.mode", flag: "--sequential" },
  verbose: { path: "logging.level", flag: "--verbose" },
  storage_root: { path: "storage.root", flag: "-o" },
  host: { path: "scp.host", flag: "--host" },
};

export interface ConfigIssue {
  line?: number;
  col?: number;
  reason: string;
}

/** A bad config file or bad flag value. `message` is the one line to print. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** All problems found (the first one is this error's own), sorted by position. */
  readonly issues: readonly ConfigIssue[];

  constructor(
    readonly reason: string,
    readonly file?: string,
    readonly line?: number,
    readonly col?: number,
    issues?: readonly ConfigIssue[],
  ) {
    super(
      file === undefined
        ? reason
        : line === undefined
          ? `${file}: ${reason}`
          : `${file}:${line}:${col ?? 1}: ${reason}`,
    );
    this.issues = issues ?? [{ line, col, reason }];
  }
}

type Path = readonly PropertyKey[];

/** A config and what to say about how it was read, once logging is set up (one line each). */
export interface LoadedConfig {
  config: Config;
  /** Event name and fields, e.g. the Rust original's keys this product does not use. */
  notes: Array<{ event: string; fields: Record<string, string> }>;
}

export function loadConfig(path?: string, overrides: PartialOverrides = {}): Config {
  return readConfig(path, overrides).config;
}

/**
 * loadConfig, plus notes. A JSON file with a dicom_store_scp object is the Rust original's
 * application.json (src/config/rust-json.ts): its keys are read as ours, errors point at its own keys.
 */
export function readConfig(path?: string, overrides: PartialOverrides = {}): LoadedConfig {
  const defaults = defaultConfig() as unknown as Record<string, unknown>;
  let merged: unknown = defaults;
  let located: LocatedDoc | null = null;
  let quarantineExplicit = false;
  const notes: LoadedConfig["notes"] = [];

  if (path !== undefined) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new ConfigError(
        code === "ENOENT" ? "no such file" : `cannot read: ${(e as Error).message}`,
        path,
      );
    }
    located = parseYaml(path, text);
    let raw = located.data;
    if (isRustConfig(raw)) {
      const converted = fromRustConfig(raw as Record<string, unknown>);
      raw = converted.tree;
      located = withOrigins(located, converted.origin);
      notes.push({ event: "config-rust-original", fields: { file: path, format: "application.json" } });
      if (converted.unused.length > 0)
        notes.push({ event: "config-keys-unused", fields: { file: path, keys: converted.unused.join(",") } });
      for (const n of converted.notes)
        notes.push({ event: "config-adapted", fields: { file: path, detail: n } });
    }
    if (raw !== null && raw !== undefined) {
      if (!isPlainObject(raw)) {
        const pos = located.posOf(located.contents);
        throw new ConfigError("the top level must be a mapping (key: value)", path, pos.line, pos.col);
      }
      merged = merge(defaults, raw);
      const storage = raw.storage;
      quarantineExplicit = isPlainObject(storage) && storage.quarantine != null;
    }
  }

  // 1. The file over the defaults. The quarantine placeholder keeps validation from complaining about
  //    a value the operator never wrote.
  if (!quarantineExplicit) setIn(merged, ["storage", "quarantine"], "-");
  const first = ConfigSchema.safeParse(merged);
  if (!first.success) throw fileError(first.error.issues, merged, located, path);

  // 2. The flags over that.
  const withFlags = applyOverrides(merged, overrides);
  const second = ConfigSchema.safeParse(withFlags);
  if (!second.success) throw flagError(second.error.issues, withFlags, overrides, located, path);
  const cfg = second.data;

  // 3. Paths.
  const base = path === undefined ? process.cwd() : dirname(resolve(path));
  resolvePaths(cfg, (at, value) => {
    try {
      return absolutePath(value, base);
    } catch (err) {
      if (!(err instanceof PathError) || path === undefined) throw err;
      const pos = located?.locate(at, "value") ?? { line: 1, col: 1 };
      throw new ConfigError(`${dottedPath(at)}: ${err.message}`, path, pos.line, pos.col);
    }
  });
  if (overrides.storage_root !== undefined) {
    try {
      cfg.storage.root = absolutePath(overrides.storage_root, process.cwd());
    } catch (err) {
      if (err instanceof PathError) throw new ConfigError(`-o: ${err.message}`);
      throw err;
    }
  }
  if (!quarantineExplicit) cfg.storage.quarantine = join(cfg.storage.root, QUARANTINE_DIRNAME);
  return { config: cfg, notes };
}

/**
 * A converted document: positions of our keys are looked up at the original's keys they came from, and
 * messages name the original's key (ours in brackets).
 */
function withOrigins(doc: LocatedDoc, origin: ReadonlyMap<string, readonly (string | number)[]>): LocatedDoc {
  const original = (path: Path): Path | null => {
    for (let n = path.length; n > 0; n--) {
      const from = origin.get(dottedPath(path.slice(0, n)));
      if (from !== undefined) return [...from, ...path.slice(n)];
    }
    return null;
  };
  return {
    ...doc,
    locate: (path, kind) => {
      const from = original(path);
      return from === null ? doc.locate(path, kind) : doc.locate(from, kind === "parent" ? "value" : kind);
    },
    rename: (path) => {
      const from = original(path);
      return from === null ? null : `${dottedPath(from)} (${dottedPath(path)})`;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// YAML with positions

interface LocatedDoc {
  data: unknown;
  contents: unknown;
  posOf(node: unknown): { line: number; col: number };
  /** The position for an issue at `path`; see locate(). */
  locate(path: Path, kind: "value" | "key" | "parent"): { line: number; col: number };
  /** How a message names `path` when the document is not in our own keys (null: as it is). */
  rename?(path: Path): string | null;
}

function parseYaml(file: string, text: string): LocatedDoc {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const err = doc.errors[0];
  if (err !== undefined) {
    const { line, col } = lineCounter.linePos(err.pos[0]);
    const reason = err.message.split("\n")[0] ?? err.code;
    throw new ConfigError(`YAML: ${reason}`, file, line, col);
  }
  const posOf = (node: unknown): { line: number; col: number } => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? lineCounter.linePos(range[0]) : { line: 1, col: 1 };
  };
  const deref = (n: unknown): unknown => (isAlias(n) ? n.resolve(doc) : n);

  /**
   * Walks `path` through the document. `value`: the node of the value at path (the key when the value
   * is empty); `key`: the key node of the last segment; `parent`: the mapping that holds the last
   * segment. When the path leaves the document (the value came from the defaults), the deepest node
   * that exists is used.
   */
  const locate = (path: Path, kind: "value" | "key" | "parent"): { line: number; col: number } => {
    const segs = kind === "parent" ? path.slice(0, -1) : path;
    let node: unknown = doc.contents;
    let keyNode: unknown = null;
    for (const seg of segs) {
      const cur = deref(node);
      let next: unknown;
      let nextKey: unknown = null;
      if (isMap(cur)) {
        const pair = cur.items.find((p) => (isScalar(p.key) ? String(p.key.value) : p.key) === String(seg));
        if (pair !== undefined) {
          next = pair.value;
          nextKey = pair.key;
        }
      } else if (isSeq(cur) && typeof seg === "number") {
        next = cur.items[seg];
        nextKey = next;
      }
      if (next === undefined && nextKey === null) return posOf(node);
      // An empty value (`key:`) has a null node or a null scalar with no width: point at the key.
      node = next === null || next === undefined || isEmptyScalar(next) ? nextKey : next;
      keyNode = nextKey;
    }
    return posOf(kind === "key" ? (keyNode ?? node) : node);
  };

  return { data: doc.toJS(), contents: doc.contents, posOf, locate };
}

function isEmptyScalar(n: unknown): boolean {
  if (!isScalar(n)) return false;
  const r = (n as Node).range;
  return n.value === null && (r == null || r[0] === r[1]);
}

// ---------------------------------------------------------------------------------------------------
// Issues -> messages

function fileError(
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

function flagError(
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

/** `tenants[1].ae_titles[0]` */
export function dottedPath(path: Path): string {
  let s = "";
  for (const seg of path) {
    if (typeof seg === "number") s += `[${seg}]`;
    else s += s === "" ? String(seg) : `.${String(seg)}`;
  }
  return s;
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

// ---------------------------------------------------------------------------------------------------
// Data helpers

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `over` deep-merged onto `base`: mappings merge, anything else replaces; null over a mapping keeps it. */
function merge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (isPlainObject(base) && over === null) return base;
  if (isPlainObject(base) && isPlainObject(over)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
    return out;
  }
  return over;
}

function getIn(data: unknown, path: Path): unknown {
  let cur = data;
  for (const seg of path) {
    if (Array.isArray(cur) && typeof seg === "number") cur = cur[seg];
    else if (isPlainObject(cur)) cur = cur[String(seg)];
    else return undefined;
  }
  return cur;
}

function setIn(data: unknown, path: readonly string[], value: unknown): void {
  let cur = data;
  for (const seg of path.slice(0, -1)) {
    if (!isPlainObject(cur)) return;
    cur = cur[seg];
  }
  const last = path[path.length - 1];
  if (isPlainObject(cur) && last !== undefined) cur[last] = value;
}

const LEVEL_ORDER: readonly LogLevel[] = ["trace", "debug", "info", "warning", "error", "fatal"];

function applyOverrides(merged: unknown, o: PartialOverrides): unknown {
  const out = structuredClone(merged);
  const set = (path: string, v: unknown) => {
    if (v !== undefined) setIn(out, path.split("."), v);
  };
  set("scp.port", o.port);
  set("scp.ae_title", o.ae_title);
  set("scp.max_pdu_length", o.max_pdu_length);
  set("scp.strict", o.strict);
  set("scp.uncompressed_only", o.uncompressed_only);
  set("scp.promiscuous", o.promiscuous);
  set("scp.mode", o.mode);
  set("storage.root", o.storage_root);
  set("scp.host", o.host);
  if (o.verbose) {
    const level = getIn(out, ["logging", "level"]);
    const idx = LEVEL_ORDER.indexOf(level as LogLevel);
    if (idx < 0 || idx > LEVEL_ORDER.indexOf("debug")) set("logging.level", "debug");
  }
  return out;
}

/** Every path of the config through `r` (absolute, or an error naming the key at `at`). */
function resolvePaths(cfg: Config, r: (at: Path, value: string) => string): void {
  cfg.storage.root = r(["storage", "root"], cfg.storage.root);
  cfg.storage.quarantine = r(["storage", "quarantine"], cfg.storage.quarantine);
  cfg.outbox.dir = r(["outbox", "dir"], cfg.outbox.dir);
  cfg.license.certificate = r(["license", "certificate"], cfg.license.certificate);
  if (cfg.logging.file) cfg.logging.file.path = r(["logging", "file", "path"], cfg.logging.file.path);
  const tls = cfg.scp.tls;
  if (tls) {
    tls.cert = r(["scp", "tls", "cert"], tls.cert);
    tls.key = r(["scp", "tls", "key"], tls.key);
    if (tls.ca !== null) tls.ca = r(["scp", "tls", "ca"], tls.ca);
  }
  const ssl = cfg.kafka.ssl;
  if (ssl) {
    if (ssl.ca !== null) ssl.ca = r(["kafka", "ssl", "ca"], ssl.ca);
    if (ssl.cert !== null) ssl.cert = r(["kafka", "ssl", "cert"], ssl.cert);
    if (ssl.key !== null) ssl.key = r(["kafka", "ssl", "key"], ssl.key);
  }
  for (const [i, t] of cfg.tenants.entries()) {
    if (t.storage?.root !== undefined) t.storage.root = r(["tenants", i, "storage", "root"], t.storage.root);
  }
}
