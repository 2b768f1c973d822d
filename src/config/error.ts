// The one error type of reading a config: a bad config file or a bad flag value. Its message is the one
// line to print (`FILE:LINE:COL: reason`, `FILE: reason` or `--flag: reason`), for exit code 2; every
// problem found is in `issues`, sorted by position, for a tool that wants them all.

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
