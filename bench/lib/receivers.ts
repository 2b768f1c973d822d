// The receivers under test, started fresh for each run: ours (from this checkout, or from --base REV in
// a git worktree), DCMTK storescp (single-process, --fork, or syncing through a shim), and the floor
// receivers of bench/floor-receiver.ts.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { stringify as stringifyYaml } from "yaml";
import {
  type ConfigTree,
  freePort,
  repoRoot,
  type ServerHandle,
  spawnServer,
  startDcmtkStorescp,
  startServer,
} from "../../test/helpers/dcmtk.ts";
import { startMockBroker } from "../../test/helpers/kafka.ts";
import { durableDcmtkShim } from "../durability.ts";
import { FLOORS, LABEL, type Options, type ReceiverId } from "./options.ts";
import { WORK } from "./paths.ts";
import type { StoredFiles } from "./stored.ts";
import type { Workload } from "./workloads.ts";

export interface Receiver {
  handle: ServerHandle;
  calledAe: string;
  files: StoredFiles;
  note?: string;
  /** Stops what the receiver needed besides itself (the mock Kafka cluster). */
  cleanup?: () => Promise<void>;
}

/** The receivers that set storage.durability explicitly. */
const DURABILITY: Partial<Record<ReceiverId, "file" | "wal">> = {
  "ours-file": "file",
  "ours-wal": "wal",
  "ours-transcode-wal": "wal",
};

export async function startReceiver(id: ReceiverId, opts: Options, w: Workload): Promise<Receiver> {
  const recv = join(WORK, "recv", id);
  rmSync(recv, { recursive: true, force: true });
  mkdirSync(recv, { recursive: true });
  if (id === "dcmtk" || id === "dcmtk-fork" || id === "dcmtk-durable") {
    const outDir = join(recv, "out");
    let env: Record<string, string> | undefined;
    if (id === "dcmtk-durable") {
      const shim = durableDcmtkShim(WORK);
      if (typeof shim !== "string") throw new Error(shim.skipped);
      env = { LD_PRELOAD: shim, DURABLE_DIR: outDir };
    }
    const handle = await startDcmtkStorescp({
      outDir,
      fork: id === "dcmtk-fork",
      maxPdu: 131072,
      // JPEG-LS is accepted only when asked for (+xa: every syntax it supports)
      extraArgs: w.propose === "-xe" ? [] : ["+xa"],
      ...(env ? { env } : {}),
    });
    return {
      handle,
      calledAe: "STORESCP",
      files: { dir: handle.outDir, accept: () => true, skip: () => false },
    };
  }
  if ((FLOORS as readonly ReceiverId[]).includes(id)) {
    const data = join(recv, "data");
    const port = await freePort();
    const flags = id === "floor" ? [] : id === "floor-duties" ? ["--duties"] : ["--duties", "--fsync"];
    const handle = await spawnServer({
      cmd: process.execPath,
      args: [join(repoRoot, "bench", "floor-receiver.ts"), "--port", String(port), "--root", data, ...flags],
      port,
      env: process.env,
      ready: "output",
      readyPattern: /listening/,
      readyTimeoutMs: 15_000,
      name: LABEL[id],
    });
    return {
      handle,
      calledAe: "FLOOR",
      files: { dir: data, accept: (n) => n.endsWith(".dcm"), skip: () => true },
    };
  }
  if (!existsSync(join(repoRoot, "src", "main.ts"))) throw new Error("src/main.ts does not exist yet");
  const data = join(recv, "data");
  // ours-kafka: fsync on, publishing to the librdkafka mock cluster while receiving.
  const mock = id === "ours-kafka" ? await startMockBroker(["storage_queue:3", "log_queue:3"]) : undefined;
  // ours-fsync, ours-base (another revision of this code) and the rest: storage.durability as defaulted.
  const durability = DURABILITY[id];
  const config: ConfigTree = {
    scp: { ae_title: "STORESCP", host: "127.0.0.1", max_pdu_length: 131072 },
    storage: {
      root: data,
      fsync: id !== "ours-nofsync",
      quarantine: join(data, "_quarantine"),
      ...(durability ? { durability } : {}),
    },
    outbox: { dir: join(recv, "outbox") },
    kafka: mock ? { enabled: true, brokers: mock.bootstrap.split(",") } : { enabled: false },
    logging: { level: opts.logLevel, format: "text" },
    // ours-transcode(-wal): everything compressed is decoded and stored as Explicit VR LE (default workers).
    ...(id === "ours-transcode" || id === "ours-transcode-wal"
      ? {
          transcode: {
            supported_transfer_syntaxes: ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"],
            target: "1.2.840.10008.1.2.1",
          },
        }
      : {}),
  };
  // As written (the tests' helper would shrink the log): each revision with its own defaults.
  const handle = await startServer({
    workDir: recv,
    configYaml: stringifyYaml(config),
    readyTimeoutMs: 15_000,
    ...(id === "ours-base" && opts.baseDir ? { entry: join(opts.baseDir, "src", "main.ts") } : {}),
  });
  // A new write-ahead log is filled with zeros behind the start, once per machine: timed as a deployed
  // receiver runs, after that.
  if (/wal-filling/.test(handle.output())) await handle.waitForOutput(/wal-filled/, 120_000);
  return {
    ...(mock ? { cleanup: () => mock.stop() } : {}),
    handle,
    calledAe: "STORESCP",
    files: { dir: data, accept: (n) => n.endsWith(".dcm"), skip: (n) => n === "_quarantine" },
  };
}

/** Where baseWorktree(rev) puts it (the link's re-execution runs the worktree its parent made). */
export function baseDirOf(rev: string): string {
  return join(WORK, `base-${rev.replace(/[^A-Za-z0-9._-]/g, "_")}`);
}

/** A detached `git worktree` of `rev` under bench/.work, sharing this checkout's node_modules. */
export function baseWorktree(rev: string): string {
  const dir = baseDirOf(rev);
  removeWorktree(dir);
  const r = spawnSync("git", ["worktree", "add", "--detach", dir, rev], { cwd: repoRoot, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`git worktree add ${rev} failed: ${r.stderr}`);
  symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"));
  return dir;
}

export function removeWorktree(dir: string): void {
  if (existsSync(dir)) spawnSync("git", ["worktree", "remove", "--force", dir], { cwd: repoRoot });
  rmSync(dir, { recursive: true, force: true });
  spawnSync("git", ["worktree", "prune"], { cwd: repoRoot });
}
