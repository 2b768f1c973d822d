// Start-up bench: binary sizes, median cold start of `storescp --version`, and the time from
// spawning the server to its first accepted association (a C-ECHO from an in-process SCU that retries the
// connect every 2 ms; the start-up checks of the directories included), against DCMTK storescp and a
// compiled hello-world (the runtime's own start, built with the same options) in the same run.
// Targets: --version at most 60 ms, first association at most 150 ms.
//
// Builds into bench/.work/dist: all three targets with bytecode, and linux-x64 without bytecode too, to
// show what bytecode buys.
//
// With --emulated, also the linux-arm64 binary under qemu-aarch64-static and the Windows binary under
// Wine (as test/smoke/smoke.ts runs them), beside native linux-x64: figures for tracking regressions only,
// an emulator's cost is not the binary's.
//
// usage: bun bench/startup.ts [--runs N] [--emulated]   (also run at the end of `npm run bench`, unless --no-startup)

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BuiltFile, build, outputName } from "../build/build.ts";
import { echo } from "../src/scu/client.ts";
import { dcmtkEnv, freePort, repoRoot } from "../test/helpers/dcmtk.ts";

const WORK = join(repoRoot, "bench", ".work", "startup");

export interface StartupResult {
  sizes: BuiltFile[];
  rows: { name: string; versionMs: number | null; firstAssocMs: number | null }[];
  runs: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

function timeVersion(cmd: string, args: string[], runs: number, env: Record<string, string> = {}): number {
  const times: number[] = [];
  process.stderr.write(`startup: ${cmd} ${args.join(" ")}\n`);
  spawnSync(cmd, args, { env: dcmtkEnv(env) }); // page cache warm: "cold" is a new process, not a cold disk
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(cmd, args, { env: dcmtkEnv(env), stdio: "ignore" });
    times.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}`);
  }
  return median(times);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Spawn, then C-ECHO until an association is accepted; milliseconds from spawn to the C-ECHO-RSP. */
async function timeFirstAssociation(
  cmd: string,
  args: (port: number) => string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<number> {
  const port = await freePort();
  const t = performance.now();
  const proc = spawn(cmd, args(port), { cwd, env: dcmtkEnv(env), stdio: "ignore" });
  try {
    for (;;) {
      try {
        await echo("127.0.0.1", port, "ANY-SCP", "BENCH");
        return performance.now() - t;
      } catch {
        if (proc.exitCode !== null) throw new Error(`${cmd} exited ${proc.exitCode}`);
        if (performance.now() - t > 60_000) throw new Error(`${cmd}: no association within 60 s`);
        await sleep(2);
      }
    }
  } finally {
    const closed = new Promise((r) => proc.once("close", r));
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGKILL");
      await closed;
    }
  }
}

async function medianFirstAssociation(
  cmd: string,
  args: (port: number) => string[],
  cwd: string,
  runs: number,
  env: Record<string, string> = {},
): Promise<number> {
  const times: number[] = [];
  process.stderr.write(`startup: first association of ${cmd}\n`);
  for (let i = 0; i < runs; i++) {
    rmSync(join(cwd, "data"), { recursive: true, force: true });
    rmSync(join(cwd, "outbox"), { recursive: true, force: true });
    mkdirSync(join(cwd, "data")); // DCMTK's -od must exist
    times.push(await timeFirstAssociation(cmd, args, cwd, env));
  }
  return median(times);
}

/** The arm64 binary under qemu-user and the Windows one under Wine, timed like the native rows. */
async function emulatedRows(dist: string, site: string, runs: number): Promise<StartupResult["rows"]> {
  const rows: StartupResult["rows"] = [];
  const config = join(site, "site.yaml");
  const arm = join(dist, outputName("linux-arm64"));
  const qemu = { QEMU_LD_PREFIX: "/usr/aarch64-linux-gnu" };
  rows.push({
    name: "linux-arm64 under qemu",
    versionMs: timeVersion("qemu-aarch64-static", [arm, "--version"], runs, qemu),
    firstAssocMs: await medianFirstAssociation(
      "qemu-aarch64-static",
      (port) => [arm, "--config", config, "--port", String(port)],
      site,
      runs,
      qemu,
    ),
  });
  // Wine as the smoke test runs it: the test-only DLL beside the exe, a prefix of its own, kept warm by
  // an idle process (a first Wine command also starts Wine's own services).
  const exe = join(dist, outputName("windows-x64"));
  const dll = spawnSync("x86_64-w64-mingw32-gcc", [
    "-shared",
    "-O2",
    "-o",
    join(dist, "bcryptprimitives.dll"),
    join(repoRoot, "test", "smoke", "bcryptprimitives.c"),
    "-ladvapi32",
  ]);
  if (dll.status !== 0) throw new Error("building bcryptprimitives.dll failed (gcc-mingw-w64-x86-64-win32?)");
  const wine = {
    WINEPREFIX: join(WORK, "wineprefix"),
    WINEDEBUG: "-all",
    WINEDLLOVERRIDES: "mscoree,mshtml=",
  };
  const wine64 = "/usr/lib/wine/wine64";
  // The wineserver alone first (one started by a timed command would hold its pipes open), then the prefix.
  spawnSync("wineserver", ["-p"], { env: dcmtkEnv(wine), stdio: "ignore" });
  spawnSync(wine64, ["wineboot", "--init"], { env: dcmtkEnv(wine), stdio: "ignore" });
  const idle: ChildProcess = spawn(wine64, ["cmd.exe"], {
    env: dcmtkEnv(wine),
    stdio: ["pipe", "ignore", "ignore"],
  });
  try {
    const winConfig = `Z:${config.replaceAll("/", "\\")}`;
    rows.push({
      name: "windows-x64 under Wine",
      versionMs: timeVersion(wine64, [exe, "--version"], runs, wine),
      firstAssocMs: await medianFirstAssociation(
        wine64,
        (port) => [exe, "--config", winConfig, "--port", String(port)],
        site,
        runs,
        wine,
      ),
    });
  } finally {
    idle.kill("SIGKILL");
    spawnSync("wineserver", ["-k"], { env: dcmtkEnv(wine) });
  }
  return rows;
}

export async function startupBench(runs = 11, emulated = false): Promise<StartupResult> {
  rmSync(WORK, { recursive: true, force: true });
  const dist = join(WORK, "dist");
  const sizes = await build({
    targets: ["linux-x64", "linux-arm64", "windows-x64"],
    outdir: dist,
    vendorCaPem: null,
    bytecode: true,
    quiet: true,
  });
  const [plain] = await build({
    targets: ["linux-x64"],
    outdir: join(WORK, "dist-no-bytecode"),
    vendorCaPem: null,
    bytecode: false,
    quiet: true,
  });
  const site = join(WORK, "site");
  mkdirSync(site, { recursive: true });
  // No tenants: any called AE; min_free_mb low so a small disk does not refuse; fsync as shipped.
  writeFileSync(join(site, "site.yaml"), "storage: { min_free_mb: 1 }\nlogging: { level: warning }\n");
  const ours = (port: number) => ["--config", join(site, "site.yaml"), "--port", String(port)];
  const rows: StartupResult["rows"] = [];
  const bin = join(dist, outputName("linux-x64"));
  const hello = await helloWorld(join(WORK, "hello"));
  rows.push({ name: "hello-world, compiled", versionMs: timeVersion(hello, [], runs), firstAssocMs: null });
  rows.push({
    name: `ours, bytecode${sizes[0]?.bytecode ? "" : " (fell back: none)"}`,
    versionMs: timeVersion(bin, ["--version"], runs),
    firstAssocMs: await medianFirstAssociation(bin, ours, site, runs),
  });
  if (plain) {
    rows.push({
      name: "ours, no bytecode",
      versionMs: timeVersion(plain.path, ["--version"], runs),
      firstAssocMs: await medianFirstAssociation(plain.path, ours, site, runs),
    });
  }
  rows.push({
    name: "ours, bun src/main.ts",
    versionMs: timeVersion(process.execPath, [join(repoRoot, "src", "main.ts"), "--version"], runs),
    firstAssocMs: await medianFirstAssociation(
      process.execPath,
      (port) => [join(repoRoot, "src", "main.ts"), ...ours(port)],
      site,
      runs,
    ),
  });
  if (emulated) rows.push(...(await emulatedRows(dist, site, runs)));
  const hasDcmtk = spawnSync("storescp", ["--version"], { env: dcmtkEnv() }).status === 0;
  rows.push(
    hasDcmtk
      ? {
          name: "DCMTK storescp",
          versionMs: timeVersion("storescp", ["--version"], runs),
          firstAssocMs: await medianFirstAssociation(
            "storescp",
            (port) => ["-od", join(site, "data"), String(port)],
            site,
            runs,
          ),
        }
      : { name: "DCMTK storescp (not installed)", versionMs: null, firstAssocMs: null },
  );
  return { sizes: [...sizes, ...(plain ? [plain] : [])], rows, runs };
}

/** A program that prints one line, compiled as ours is (minify, bytecode, ESM): the runtime's own start. */
async function helloWorld(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, "hello.ts");
  writeFileSync(entry, 'process.stdout.write("hello\\n");\n');
  const outfile = join(dir, "hello");
  const r = await Bun.build({
    entrypoints: [entry],
    minify: true,
    format: "esm",
    bytecode: true,
    compile: { target: "bun-linux-x64", outfile, autoloadDotenv: false, autoloadBunfig: false },
  });
  if (!r.success) throw new Error(`hello-world build failed: ${r.logs.join("\n")}`);
  return outfile;
}

export function printStartupBench(r: StartupResult): void {
  console.log("start-up:");
  for (const s of r.sizes)
    console.log(
      `  ${outputName(s.target).padEnd(28)} ${(s.bytes / 1024 / 1024).toFixed(1).padStart(7)} MiB` +
        `  ${s.bytecode ? "bytecode" : "no bytecode"}`,
    );
  console.log(`  median of ${r.runs}          --version ms   first association ms`);
  const f = (v: number | null) => (v === null ? "-" : v.toFixed(1)).padStart(12);
  for (const row of r.rows)
    console.log(`  ${row.name.padEnd(28)} ${f(row.versionMs)} ${f(row.firstAssocMs)}`);
  const ours = r.rows.find((row) => row.name.startsWith("ours, bytecode"));
  if (ours?.versionMs != null && ours.firstAssocMs != null)
    console.log(
      `  targets: --version ${ours.versionMs.toFixed(0)} ms (<= 60: ${ours.versionMs <= 60 ? "met" : "MISSED"}), ` +
        `first association ${ours.firstAssocMs.toFixed(0)} ms (<= 150: ${ours.firstAssocMs <= 150 ? "met" : "MISSED"})`,
    );
}

if (import.meta.main) {
  const i = process.argv.indexOf("--runs");
  const runs = i > 0 ? Number.parseInt(process.argv[i + 1] ?? "", 10) : 11;
  printStartupBench(await startupBench(runs > 0 ? runs : 11, process.argv.includes("--emulated")));
}
