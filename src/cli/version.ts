// The version line: package.json's version and, in a release build, the commit, target and build time
// (src/build-info.ts). Its own small module, so that `storescp --version` loads nothing else.

import pkg from "../../package.json" with { type: "json" };
import { BUILD_INFO } from "../build-info.ts";

export const VERSION: string = pkg.version;

export function versionText(): string {
  const { commit, built, target } = BUILD_INFO;
  if (commit === null && built === null) return `storescp ${VERSION}`;
  return `storescp ${VERSION} (${[commit ?? "no git", target, built].filter((s) => s !== null).join(", ")})`;
}
