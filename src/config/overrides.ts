// The command-line flags that set config keys: which flag sets which key, and the flags laid over the
// tree the file made. They win over the file, and they are validated by the same schema, so that flag
// and file share one rule.

import type { LogLevel } from "./schema.ts";
import { getIn, setIn } from "./tree.ts";

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
export const OVERRIDE_FLAGS: Record<keyof PartialOverrides, { path: string; flag: string }> = {
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

const LEVEL_ORDER: readonly LogLevel[] = ["trace", "debug", "info", "warning", "error", "fatal"];

/** The flags of `o` set in a copy of `merged` (--verbose lowers logging.level to debug, never raises it). */
export function applyOverrides(merged: unknown, o: PartialOverrides): unknown {
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
