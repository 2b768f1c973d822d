// A live process's memory, from /proc (Linux).

import { readFileSync } from "node:fs";

function statusField(pid: number, field: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
  return m ? Number.parseInt(m[1] ?? "", 10) * 1024 : undefined;
}

/** Peak resident set size (VmHWM) of a live process, in bytes; undefined once it is gone. */
export function peakRss(pid: number): number | undefined {
  return statusField(pid, "VmHWM");
}

/** Current resident set size (VmRSS) of a live process, in bytes. */
export function currentRss(pid: number): number | undefined {
  return statusField(pid, "VmRSS");
}
