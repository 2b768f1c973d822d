// Paths from the operator (config file, command line), made absolute once, at the edge, by the rules of
// the platform the binary runs on. On Windows that means drive letters (C:\data, C:/data), UNC shares
// (\\server\share\dicom), backslashes and forward slashes alike, and what Windows does not allow in a
// name: device names (CON, PRN, AUX, NUL, COM0-9, LPT0-9, with or without an extension), which open a
// device instead of a file, and names ending in a dot or a space, which Windows silently trims (so
// "data." and "data" would be one directory). Those are refused with the reason, never guessed at.
//
// Paths longer than Windows' classic limit (MAX_PATH, 260 characters, 248 for a directory) are given the
// \\?\ prefix, which lifts it: a storage root plus three 64-character UIDs can pass it.
//
// The platform is a parameter, so that the Windows rules are unit-tested on Linux (node:path's win32).

import { posix, win32 } from "node:path";

/** Names Windows reserves for devices, whatever the extension (CON, con.txt, COM1.dcm, ...). */
export const WINDOWS_DEVICE = /^(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?$/i;

/** Beyond this length a Windows path gets the \\?\ prefix (CreateDirectoryW's limit is 248). */
export const WINDOWS_SHORT_PATH_MAX = 247;

/** The path module of a platform. */
export function pathsOf(platform: NodeJS.Platform): typeof posix {
  return platform === "win32" ? win32 : posix;
}

/** Why Windows cannot use `segment` as a file or directory name, or null. */
export function windowsNameProblem(segment: string): string | null {
  if (segment === "." || segment === "..") return null;
  if (WINDOWS_DEVICE.test(segment)) return `"${segment}" is a Windows device name`;
  if (/[. ]$/.test(segment)) return `"${segment}" ends in a dot or a space, which Windows drops`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[<>:"|?*\u0000-\u001f]/.test(segment))
    return `"${segment}" holds a character Windows refuses in a name`;
  return null;
}

/** Thrown for a path value the platform cannot use. */
export class PathError extends Error {
  override readonly name = "PathError";
}

/**
 * `value` as an absolute path of `platform`, relative ones resolved against `base` (itself absolute).
 * Throws PathError for what the platform cannot use (see the header).
 */
export function absolutePath(
  value: string,
  base: string,
  platform: NodeJS.Platform = process.platform,
): string {
  const p = pathsOf(platform);
  if (platform !== "win32") return p.resolve(base, value);
  if (/^[A-Za-z]:(?![\\/])/.test(value)) {
    throw new PathError(
      `"${value}" is relative to the current directory of drive ${value.slice(0, 2)}; write ${value.slice(0, 2)}\\${value.slice(2)}`,
    );
  }
  const abs = p.resolve(base, value);
  const root = p.parse(abs).root;
  for (const segment of abs.slice(root.length).split("\\")) {
    if (segment === "") continue;
    const problem = windowsNameProblem(segment);
    if (problem !== null) throw new PathError(problem);
  }
  return abs;
}

/**
 * An absolute path usable whatever its length: on Windows, one longer than the classic limit gets the
 * \\?\ prefix (\\?\UNC\ for a share); everywhere else, and when short, the path itself.
 */
export function longPath(path: string, platform: NodeJS.Platform = process.platform): string {
  if (platform !== "win32" || path.length <= WINDOWS_SHORT_PATH_MAX || path.startsWith("\\\\?\\"))
    return path;
  if (path.startsWith("\\\\")) return `\\\\?\\UNC\\${path.slice(2)}`;
  return `\\\\?\\${path}`;
}

/** The path without a \\?\ prefix (for comparing and showing). */
export function withoutLongPrefix(path: string): string {
  if (path.startsWith("\\\\?\\UNC\\")) return `\\\\${path.slice(8)}`;
  if (path.startsWith("\\\\?\\")) return path.slice(4);
  return path;
}
