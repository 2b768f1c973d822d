// Logging: logtape with one sink on stdout, as text (grep-able key=value lines, like DCMTK's) or as
// JSON lines (for collectors), and optionally the same lines to a size-rotated file (logging.file).
// Categories: storescp.server, storescp.assoc, storescp.store, ...

import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  renameSync,
  truncateSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import {
  configureSync,
  getLogger,
  jsonLinesFormatter,
  type Logger,
  type LogLevel,
  type LogRecord,
  resetSync,
} from "@logtape/logtape";

export type LogFormat = "text" | "json";

const LEVEL: Record<LogLevel, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO ",
  warning: "WARN ",
  error: "ERROR",
  fatal: "FATAL",
};

function renderText(record: LogRecord): string {
  let msg = "";
  for (const part of record.message) msg += typeof part === "string" ? part : String(part);
  const category = record.category.slice(1).join(".") || record.category.join(".");
  return `${new Date(record.timestamp).toISOString()} ${LEVEL[record.level]} ${category}: ${msg}\n`;
}

/**
 * Lines are gathered and written every FLUSH_MS (or at 64 KiB): a few writes a second instead of
 * one per instance keeps the log's cost (ours and the reader's) off the C-STORE path. Flushed at exit.
 */
const FLUSH_MS = 25;
let pending: string[] = [];
let pendingBytes = 0;
let flushScheduled = false;

export function flushLogs(): void {
  flushScheduled = false;
  if (pending.length === 0) return;
  const text = pending.join("");
  pending = [];
  pendingBytes = 0;
  process.stdout.write(text);
  logFile?.write(text);
}

export interface LogFileOptions {
  path: string;
  max_mb: number;
  keep: number;
}

/**
 * A log file rotated by size: before a write would take it past max_mb, FILE.(keep-1) becomes
 * FILE.keep, ..., FILE becomes FILE.1, and a new FILE starts (keep 0: FILE is truncated). Written
 * synchronously with the batched stdout text (a few writes a second). A failing write is reported once on
 * stderr and retried at the next batch: the log file never stops the server.
 */
export class RotatingFile {
  private fd = -1;
  private size = 0;
  private failed = false;
  private readonly maxBytes: number;

  constructor(private readonly o: LogFileOptions) {
    this.maxBytes = o.max_mb * 1024 * 1024;
    mkdirSync(dirname(o.path), { recursive: true });
    this.open();
  }

  private open(): void {
    this.fd = openSync(this.o.path, "a");
    this.size = fstatSync(this.fd).size;
  }

  private rotate(): void {
    closeSync(this.fd);
    this.fd = -1;
    if (this.o.keep === 0) {
      truncateSync(this.o.path, 0);
    } else {
      for (let i = this.o.keep - 1; i >= 1; i--) {
        if (existsSync(`${this.o.path}.${i}`)) renameSync(`${this.o.path}.${i}`, `${this.o.path}.${i + 1}`);
      }
      // Rename over an existing file works on Windows too (libuv uses MoveFileEx REPLACE_EXISTING).
      renameSync(this.o.path, `${this.o.path}.1`);
    }
    this.open();
  }

  write(text: string): void {
    try {
      const bytes = Buffer.from(text, "utf8");
      if (this.fd < 0) this.open();
      if (this.size > 0 && this.size + bytes.length > this.maxBytes) this.rotate();
      writeSync(this.fd, bytes);
      this.size += bytes.length;
      this.failed = false;
    } catch (err) {
      if (!this.failed)
        process.stderr.write(`storescp: log file ${this.o.path}: ${(err as Error).message}\n`);
      this.failed = true;
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

let logFile: RotatingFile | null = null;

function bufferedStdout(line: string): void {
  pending.push(line);
  pendingBytes += line.length;
  if (pendingBytes >= 64 * 1024) flushLogs();
  else if (!flushScheduled) {
    flushScheduled = true;
    setTimeout(flushLogs, FLUSH_MS).unref();
  }
}

process.on("exit", flushLogs);

/**
 * Where event() hands its records: the configured formatter and sink, set by setupLogging. Events are
 * our own structured lines (a name and key=value fields): they need none of logtape's per-call work
 * (template parsing, context lookups, property snapshots), which cost more than the rest of an
 * instance's bookkeeping on the per-instance path. Level filtering is still logtape's.
 */
let emitEvent: ((record: LogRecord) => void) | null = null;

export function setupLogging(level: LogLevel, format: LogFormat, file: LogFileOptions | null = null): void {
  const formatter = format === "json" ? jsonLinesFormatter : renderText;
  emitEvent = (record) => bufferedStdout(formatter(record));
  flushLogs();
  logFile?.close();
  logFile = file === null ? null : new RotatingFile(file);
  resetSync();
  configureSync({
    reset: true,
    sinks: { stdout: (record: LogRecord) => bufferedStdout(formatter(record)) },
    loggers: [
      { category: ["storescp"], lowestLevel: level, sinks: ["stdout"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stdout"] },
    ],
  });
}

export function logger(...category: string[]): Logger {
  return getLogger(["storescp", ...category]);
}

const NEEDS_QUOTES = /[\s"=]/;

/**
 * Text for a log line from key/value pairs: `key=value`, quoting values with spaces, so an operator can
 * grep for `sop=1.2.3` or `calling=CT01`.
 */
export function kv(fields: Record<string, string | number | boolean | undefined | null>): string {
  let out = "";
  for (const k in fields) {
    const v = fields[k];
    if (v === undefined || v === null) continue;
    const s = typeof v === "string" ? v : String(v);
    out += `${out === "" ? "" : " "}${k}=${s === "" || NEEDS_QUOTES.test(s) ? JSON.stringify(s) : s}`;
  }
  return out;
}

/** One structured event: a `key=value` line in text, the same fields as properties in JSON. */
export function event(
  log: Logger,
  level: "debug" | "info" | "warning" | "error",
  name: string,
  fields: Record<string, string | number | boolean | undefined | null>,
): void {
  // Formatting costs more than the check: debug events sit on per-PDU paths.
  if (!log.isEnabledFor(level)) return;
  const text = kv(fields);
  const properties = { event: name, fields: text, ...fields };
  if (!emitEvent) {
    log[level]("{event} {fields}", properties);
    return;
  }
  // The record logtape would build for "{event} {fields}".
  emitEvent({
    category: log.category,
    level,
    message: ["", name, " ", text, ""],
    rawMessage: "{event} {fields}",
    timestamp: Date.now(),
    properties,
  });
}
