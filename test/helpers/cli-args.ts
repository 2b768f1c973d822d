// Parsing the command line in tests: the UsageError an argv must give, and the serve command expected.

import { parseArgs } from "../../src/cli/args.ts";
import { type CliCommand, UsageError } from "../../src/cli/usage.ts";

/** The UsageError that parsing `argv` throws (anything else fails the test). */
export function usageError(argv: string[]): UsageError {
  try {
    parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
  throw new Error(`expected a UsageError for ${JSON.stringify(argv)}`);
}

/** The serve command with these overrides (and config file). */
export const serve = (overrides: object, configPath?: string): CliCommand =>
  configPath === undefined ? { kind: "serve", overrides } : { kind: "serve", configPath, overrides };
