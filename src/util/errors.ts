// An operating system error as an operator reads it: what it means, then its code, in one line. One table
// for the file system (start-up checks) and the network (client commands, listeners).

const MEANING: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EEXIST: "a file of that name is in the way",
  ENOTDIR: "a part of the path is a file, not a directory",
  EISDIR: "is a directory",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  ENAMETOOLONG: "name too long",
  ELOOP: "too many symbolic links",
  EIO: "input/output error",
  ECONNREFUSED: "connection refused (is the SCP running, on this port?)",
  ETIMEDOUT: "timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ECONNRESET: "connection reset by the peer",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed",
};

/** "permission denied (EACCES)"; an error without a known code: its message's first line. */
export function describeSystemError(err: unknown): string {
  const e = err as NodeJS.ErrnoException | null;
  const text = e?.code !== undefined ? MEANING[e.code] : undefined;
  if (text !== undefined) return `${text} (${e?.code})`;
  return (e?.message ?? String(err)).split("\n")[0] ?? "";
}
