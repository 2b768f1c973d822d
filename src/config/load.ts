// Loading the config: YAML file (optional) deep-merged over the embedded defaults, then the command-line
// overrides, all validated by the zod schema. Every error becomes a ConfigError whose message is
// `FILE:LINE:COL: reason` (file errors) or `--flag: reason` (flag errors), one line, for exit code 2.
//
// Merge rules: see tree.ts; flags: overrides.ts; positions: yaml-positions.ts; messages: issues.ts.
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
import { absolutePath, PathError } from "../util/paths.ts";
import { defaultConfig, QUARANTINE_DIRNAME } from "./defaults.ts";
import { ConfigError } from "./error.ts";
import { fileError, flagError } from "./issues.ts";
import { applyOverrides, type PartialOverrides } from "./overrides.ts";
import { fromRustConfig, isRustConfig } from "./rust-json.ts";
import { type Config, ConfigSchema } from "./schema.ts";
import { dottedPath, isPlainObject, merge, type Path, setIn } from "./tree.ts";
import { type LocatedDoc, parseYaml, withOrigins } from "./yaml-positions.ts";

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
