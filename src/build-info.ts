// What this executable is: the release build (build/build.ts) replaces this module with the version from
// package.json, the git commit and the build time. From source, commit and built are null.

export interface BuildInfo {
  /** "abc1234" or "abc1234-dirty"; null when run from source or built outside git. */
  commit: string | null;
  /** ISO 8601 time of the build; null from source. */
  built: string | null;
  /** bun-linux-x64, bun-windows-x64, ...; null from source. */
  target: string | null;
}

export const BUILD_INFO: BuildInfo = { commit: null, built: null, target: null };
