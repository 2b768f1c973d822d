// The emulated 1 Gbit/s link: a network namespace of the bench's own whose loopback carries 1500-byte
// frames through a token bucket at 1 Gbit/s. The bench re-executes itself inside it (run.ts), so that
// every receiver and sender it starts there talks over that loopback; the namespace is deleted at the end,
// also when the bench fails or is interrupted. Where none can be made (not root, no iproute2), the link's
// section of the report says so and the rest of the bench runs.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { repoRoot } from "../../test/helpers/dcmtk.ts";

/**
 * The shaping. The bucket holds 128 KiB, about 1 ms at 1 Gbit/s: enough for the 64 KiB segments loopback
 * hands the qdisc whole (segmentation offload), small enough that bursts do not outrun the rate. Packets
 * wait at most 5 ms in the queue, as in a switch's buffer, before they are dropped.
 */
const TBF = ["rate", "1gbit", "burst", "128kb", "latency", "5ms"];
const MTU = 1500;
const PREFIX = "storescp-bench-";

export const LINK_DESCRIPTION = `1 Gbit/s emulated: lo in a network namespace, MTU ${MTU}, tc tbf ${TBF.join(" ")}`;

export interface LinkNamespace {
  name: string;
  /** Runs the bench itself inside, its output on ours; resolves to its exit code. */
  runBench(args: string[]): Promise<number>;
  /** Ends what still runs inside (only the bench's own processes are there) and deletes the namespace. */
  remove(): void;
}

function ip(args: string[]): { ok: true } | { ok: false; why: string } {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.error) return { ok: false, why: `ip: ${r.error.message}` };
  if (r.status !== 0)
    return { ok: false, why: `ip ${args.join(" ")}: ${(r.stderr ?? "").trim() || `exit ${r.status}`}` };
  return { ok: true };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Namespaces left by a bench that was killed outright (its pid gone): nothing else can end them. */
function removeStale(): void {
  const r = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
  for (const line of (r.stdout ?? "").split("\n")) {
    const m = new RegExp(`^(${PREFIX}(\\d+))\\b`).exec(line.trim());
    if (m?.[1] && !alive(Number(m[2]))) ip(["netns", "delete", m[1]]);
  }
}

function killInside(name: string): void {
  const r = spawnSync("ip", ["netns", "pids", name], { encoding: "utf8" });
  for (const pid of (r.stdout ?? "").split(/\s+/).filter(Boolean).map(Number)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

export function createLinkNamespace(): LinkNamespace | { skipped: string } {
  if (process.platform !== "linux") return { skipped: "network namespaces need Linux" };
  if (process.getuid?.() !== 0) return { skipped: "network namespaces need root" };
  removeStale();
  const name = `${PREFIX}${process.pid}`;
  const made = ip(["netns", "add", name]);
  if (!made.ok) return { skipped: made.why };
  let child: ChildProcess | undefined;
  const remove = (): void => {
    child?.kill("SIGKILL");
    killInside(name);
    ip(["netns", "delete", name]);
  };
  for (const step of [
    ["netns", "exec", name, "ip", "link", "set", "lo", "up", "mtu", String(MTU)],
    ["netns", "exec", name, "tc", "qdisc", "add", "dev", "lo", "root", "tbf", ...TBF],
  ]) {
    const r = ip(step);
    if (!r.ok) {
      remove();
      return { skipped: r.why };
    }
  }
  return {
    name,
    remove,
    runBench: (args) =>
      new Promise((resolve) => {
        // `ip netns exec` may fork: the pids the bench needs (its receivers') are taken inside, by itself.
        const cmd = [process.execPath, join(repoRoot, "bench", "run.ts"), ...args];
        child = spawn("ip", ["netns", "exec", name, ...cmd], { stdio: "inherit", cwd: repoRoot });
        child.on("error", () => resolve(-1));
        child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : -1)));
      }),
  };
}

/** Bulk TCP over 127.0.0.1 in this process's namespace: bits per second for `bytes` sent in 1 MiB writes. */
export async function bulkRate(bytes: number): Promise<number> {
  const chunk = Buffer.alloc(1024 * 1024, 0x5a);
  return await new Promise<number>((resolve, reject) => {
    let received = 0;
    let t0 = 0;
    const server = createServer((s) => {
      s.on("data", (d: Buffer) => {
        received += d.length;
        if (received >= bytes) {
          const seconds = (performance.now() - t0) / 1000;
          s.destroy();
          server.close();
          resolve((received * 8) / seconds);
        }
      });
    });
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      const c = connect(port, "127.0.0.1", () => {
        t0 = performance.now();
        let sent = 0;
        const pump = (): void => {
          while (sent < bytes) {
            sent += chunk.length;
            if (!c.write(chunk)) {
              c.once("drain", pump);
              return;
            }
          }
          c.end();
        };
        pump();
      });
      c.on("error", reject);
    });
  });
}

/** The link check, printed: a bulk transfer over the shaped loopback should run near 1 Gbit/s. */
export async function checkLink(): Promise<string> {
  const bytes = 256 * 1024 * 1024;
  try {
    const bps = await bulkRate(bytes);
    return `link check: bulk TCP, ${bytes / 1024 / 1024} MiB at ${(bps / 1e9).toFixed(3)} Gbit/s`;
  } catch (e) {
    return `link check: failed (${e instanceof Error ? e.message : String(e)})`;
  }
}
