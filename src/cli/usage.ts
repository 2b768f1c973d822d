// What the command line can say: the commands and their actions, the value parsing yields for each
// (CliCommand), and the error for bad usage (UsageError: one line, exit code 2). Parsing is args.ts,
// DCMTK's words dcmtk-flags.ts, the help text help.ts.

import { DEFAULTS } from "../config/defaults.ts";
import type { PartialOverrides } from "../config/overrides.ts";

export const OUTBOX_ACTIONS = ["status", "drain", "export", "import"] as const;
export const LICENSE_ACTIONS = ["show", "verify"] as const;
export type OutboxAction = (typeof OUTBOX_ACTIONS)[number];
export type LicenseAction = (typeof LICENSE_ACTIONS)[number];

export const ECHO_DEFAULT_CALLED = DEFAULTS.scp.ae_title;
export const ECHO_DEFAULT_CALLING = "ECHOSCU";

export type CliCommand =
  | { kind: "serve"; configPath?: string; overrides: PartialOverrides }
  | { kind: "init"; dir: string }
  | { kind: "config-convert"; file: string }
  | { kind: "echo"; host: string; port: number; called: string; calling: string }
  | {
      kind: "outbox";
      action: OutboxAction;
      dir?: string;
      configPath?: string;
      /** export */
      withFiles?: boolean;
      maxBundleMb?: number;
      /** import */
      filesTo?: string;
      /** status */
      bundle?: string;
    }
  | { kind: "license"; action: LicenseAction; configPath?: string }
  | { kind: "transcode"; input: string; output: string; ts?: string }
  | { kind: "hash-password" }
  | { kind: "help"; text: string }
  | { kind: "version" };

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export const SUBCOMMANDS = [
  "echo",
  "outbox",
  "license",
  "init",
  "config",
  "transcode",
  "hash-password",
  "help",
] as const;
export type Subcommand = (typeof SUBCOMMANDS)[number];

export function isSubcommand(s: string | undefined): s is Subcommand {
  return (SUBCOMMANDS as readonly (string | undefined)[]).includes(s);
}
