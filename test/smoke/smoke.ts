// Smoke test of one release binary where it ships: linux-x64 natively, linux-arm64 under qemu-user,
// windows-x64 under Wine (with the test-only bcryptprimitives.dll stand-in beside it, a fresh
// WINEPREFIX, no display). DCMTK drives it from the Linux side over loopback.
//
//   bun test/smoke/smoke.ts linux-x64|linux-arm64|windows-x64 [--dist DIR]      (after `npm run build`)
//
// It checks what an operator does on the first day: --version, --help, hash-password from a pipe and a
// console, an offline transcode with relative paths, serving from a config written in the platform's
// own path style (Windows: drive letters, backslashes, a path relative to the config), C-ECHO, C-STORE
// of native, JPEG-LS and RLE instances with storage.fsync on and transcoding to Explicit VR Little
// Endian (the records say Success), a duplicate refused into the quarantine (on_duplicate: reject),
// `outbox status` beside the server, a clean stop on Ctrl+C / SIGINT (exit 0, no temp file, no LOCK), a
// restart after a hard kill (stale temp files removed, the outbox taken over), and `outbox export` and
// `import` into a second site. Prints one line per check and ends with
// `smoke TARGET: N passed, N failed`; exits 1 when a check failed.

import { spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { outputName, TARGETS, type Target } from "../../build/build.ts";
import type { OutboxRecord } from "../../src/outbox/record.ts";
import { withoutLongPrefix } from "../../src/util/paths.ts";
import {
  dcmsend,
  dcmtkEnv,
  echoscu,
  repoRoot,
  run,
  type ServerHandle,
  spawnServer,
} from "../helpers/dcmtk.ts";
import { corpus, filesBelow, readPart10 } from "../helpers/fixtures.ts";
import { finalRecords, outboxRecords } from "../helpers/tools.ts";

const EXPLICIT_LE = "1.2.840.10008.1.2.1";
const TEMP = /\.storescp-[^/\\]*\.tmp$|\.tmp$/;

/** How a target's binary is started here, and how it names the paths of this machine. */
interface Runner {
  target: Target;
  argv(exe: string, args: string[]): [string, string[]];
  env: Record<string, string>;
  /** A local absolute path as the binary spells it (Wine: the Z: drive, backslashes). */
  native(p: string): string;
  /** Set up the emulator (and the site directory beside the binary); returns what to clean up after. */
  prepare(work: string, siteDir: string): void;
  finish(): void;
}

function runnerFor(target: Target, work: string): Runner {
  if (target === "linux-x64")
    return {
      target,
      argv: (exe, args) => [exe, args],
      env: {},
      native: (p) => p,
      prepare: () => {},
      finish: () => {},
    };
  if (target === "linux-arm64")
    return {
      target,
      argv: (exe, args) => ["qemu-aarch64-static", [exe, ...args]],
      env: { QEMU_LD_PREFIX: "/usr/aarch64-linux-gnu" },
      native: (p) => p,
      prepare: () => {},
      finish: () => {},
    };
  const wine = existsSync("/usr/lib/wine/wine64") ? "/usr/lib/wine/wine64" : "wine64";
  const env = {
    WINEPREFIX: join(work, "wineprefix"),
    WINEDEBUG: "-all",
    // No Mono or Gecko installers at prefix creation (they would try the network); no display.
    WINEDLLOVERRIDES: "mscoree,mshtml=",
    DISPLAY: "",
  };
  return {
    target,
    argv: (exe, args) => [wine, [exe, ...args]],
    env,
    native: (p) => `Z:${p.replaceAll("/", "\\")}`,
    prepare: (_work, siteDir) => {
      // Bun imports ProcessPrng from bcryptprimitives.dll, which Wine 8 does not have.
      const dll = join(siteDir, "bcryptprimitives.dll");
      const cc = spawnSync(
        "x86_64-w64-mingw32-gcc",
        ["-shared", "-O2", "-o", dll, join(repoRoot, "test", "smoke", "bcryptprimitives.c"), "-ladvapi32"],
        { encoding: "utf8" },
      );
      if (cc.status !== 0) throw new Error(`building bcryptprimitives.dll: ${cc.stderr}`);
      // A fresh prefix, made before anything else runs in it (two processes making it at once can hang).
      const wineEnv = { ...process.env, ...env };
      // The wineserver first, started alone with no pipes of ours: one started by a command below would
      // inherit that command's stdout and stderr and keep them open, so the command never seems to end.
      // The server refuses a prefix directory that does not exist yet, so it is made first. wineboot's own
      // output goes to a file, never to a pipe of ours: the services it starts would inherit that pipe and
      // hold it open after wineboot exits, and waiting for its end would wait for them.
      mkdirSync(env.WINEPREFIX, { recursive: true });
      const server = spawnSync("wineserver", ["-p"], { env: wineEnv, stdio: "ignore" });
      if (server.status !== 0)
        throw new Error(`wineserver -p: exit ${server.status ?? server.error?.message}`);
      const bootLog = join(work, "wineboot.log");
      const bootOut = openSync(bootLog, "w");
      const boot = spawnSync(wine, ["wineboot", "--init"], {
        env: wineEnv,
        stdio: ["ignore", bootOut, bootOut],
        timeout: 120_000,
      });
      closeSync(bootOut);
      if (boot.status !== 0)
        throw new Error(`wineboot: exit ${boot.status ?? boot.signal}: ${readFileSync(bootLog, "utf8")}`);
      // A Windows process kept alive for the whole run keeps the wineserver and Wine's own services
      // up: otherwise each command waits seconds for them to start again.
      const idle = spawn(wine, ["cmd.exe"], { env: wineEnv, stdio: ["pipe", "ignore", "ignore"] });
      idle.unref();
    },
    finish: () => {
      spawnSync("wineserver", ["-k"], { env: { ...process.env, ...env } });
    },
  };
}

// ---------------------------------------------------------------------------------------------------

const results: { name: string; ok: boolean; detail?: string }[] = [];

async function check(name: string, body: () => Promise<void> | void): Promise<boolean> {
  const started = performance.now();
  try {
    await body();
    results.push({ name, ok: true });
    console.log(`ok     ${name} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    return true;
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    results.push({ name, ok: false, detail });
    console.log(`FAILED ${name}: ${detail.split("\n").slice(0, 30).join("\n       ")}`);
    return false;
  }
}

function expect(cond: boolean, what: string): void {
  if (!cond) throw new Error(what);
}

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

async function main(): Promise<number> {
  const target = process.argv[2] as Target;
  if (!(TARGETS as readonly string[]).includes(target)) {
    process.stderr.write(`usage: bun test/smoke/smoke.ts ${TARGETS.join("|")} [--dist DIR]\n`);
    return 2;
  }
  const distArg = process.argv.indexOf("--dist");
  const dist = resolve(distArg > 0 ? (process.argv[distArg + 1] ?? "dist") : join(repoRoot, "dist"));
  const work = mkdtempSync(join(tmpdir(), `storescp-smoke-${target}-`));
  const r = runnerFor(target, work);
  const site = join(work, "site");
  const site2 = join(work, "site2");
  mkdirSync(site);
  mkdirSync(site2);
  const exe = join(site, outputName(target));
  let server: ServerHandle | null = null;
  try {
    copyFileSync(join(dist, outputName(target)), exe);
    spawnSync("chmod", ["755", exe]);
    r.prepare(work, site);
    const env = { ...r.env };
    const argv = (args: string[]) => r.argv(exe, args);
    const bin = (args: string[], cwd = site, timeoutMs = 120_000) => {
      const [cmd, a] = argv(args);
      return run(cmd, a, { cwd, env, timeoutMs });
    };
    const binWithInput = (args: string[], input: string) => {
      const [cmd, a] = argv(args);
      return spawnSync(cmd, a, { cwd: site, env: dcmtkEnv(env), input, encoding: "utf8", timeout: 120_000 });
    };
    const files = corpus();
    const pick = (name: string) => files.find((f) => f.endsWith(name)) ?? "";
    const native = pick("01_ct_s16_explicitLE.dcm");
    const jpegLs = pick("15_ct_s16_jpegLS_lossless.dcm");
    const rle = pick("17_ct_s16_RLE.dcm");
    const later = pick("18_sc_rgb8_RLE.dcm");

    // The config in the platform's own style. Windows: a drive-letter path with backslashes, one with
    // forward slashes, and one relative to the config file.
    // Deep enough that stored paths pass Windows' classic 260-character limit.
    const data = join(site, "data", "long-path-".repeat(12));
    const outbox = join(site, "outbox");
    const win = target === "windows-x64";
    const siteYaml = [
      "scp: { host: 127.0.0.1, port: 0 }",
      "storage:",
      `  root: ${win ? quote(r.native(data)) : `./${relative(site, data)}`}`,
      `  quarantine: ${win ? quote(".\\quarantine") : "./quarantine"}`,
      "  fsync: true",
      // The write-ahead mode where the platform has it (Windows keeps file, and says so).
      "  durability: wal",
      "  on_duplicate: reject",
      "  min_free_mb: 1",
      `outbox: { dir: ${win ? quote(r.native(outbox).replaceAll("\\", "/")) : quote(outbox)} }`,
      "transcode:",
      `  supported_transfer_syntaxes: [1.2.840.10008.1.2, ${EXPLICIT_LE}]`,
      `  target: ${EXPLICIT_LE}`,
      "  workers: 1",
      `logging: { file: { path: ${win ? quote("logs\\storescp.log") : "./logs/storescp.log"} } }`,
      "",
    ].join("\n");
    writeFileSync(join(site, "site.yaml"), siteYaml);
    writeFileSync(join(site2, "site.yaml"), `outbox: { dir: ${quote(win ? ".\\outbox" : "./outbox")} }\n`);
    const config = r.native(join(site, "site.yaml"));

    const startServer = async (): Promise<ServerHandle> => {
      const [cmd, a] = argv(["--config", config]);
      const h = await spawnServer({
        cmd,
        args: a,
        port: 0,
        env: dcmtkEnv(env),
        cwd: work,
        ready: "output",
        readyPattern: /listening on=\S+:\d+/,
        readyTimeoutMs: 90_000,
        name: `storescp ${target}`,
      });
      const port = Number(/listening on=\S+:(\d+)/.exec(h.output())?.[1]);
      return { ...h, port };
    };
    /** Ctrl+C (Wine turns SIGINT into CTRL_C_EVENT); resolves with the exit code. */
    const interrupt = async (h: ServerHandle): Promise<number> => {
      h.kill("SIGINT");
      const t = setTimeout(() => h.kill("SIGKILL"), 60_000);
      const code = await h.exited;
      clearTimeout(t);
      return code;
    };
    const temps = () =>
      [...filesBelow(data), ...filesBelow(join(site, "quarantine"))].filter((f) => TEMP.test(f));

    await check("--version", async () => {
      const v = await bin(["--version"]);
      expect(v.code === 0, `exit ${v.code}: ${v.stderr}`);
      expect(v.stdout.includes(`bun-${target}`), `names no target: ${v.stdout}`);
    });
    await check("--help", async () => {
      const h = await bin(["--help"]);
      expect(h.code === 0 && /usage:/.test(h.stdout) && /storage options:/.test(h.stdout), `exit ${h.code}`);
    });
    await check("hash-password from a pipe", () => {
      const h = binWithInput(["hash-password"], "s3cret\n");
      expect(
        h.status === 0 && /^scrypt\$16384\$8\$1\$\S+\$\S+\n$/.test(h.stdout),
        `exit ${h.status}: ${h.stderr}`,
      );
    });
    await check("hash-password from a console", async () => {
      // script(1) gives the binary a terminal (Wine: a console), and the line is typed once it runs.
      // Wine's console reads the terminal raw, where Enter is a carriage return: the terminal must not
      // turn it into a line feed (stty -icrnl).
      const [cmd, a] = argv(["hash-password"]);
      const line = `${win ? "stty -icrnl; " : ""}exec ${[cmd, ...a].map((s) => `'${s}'`).join(" ")}`;
      const p = spawn("script", ["-qec", line, "/dev/null"], { cwd: site, env: dcmtkEnv(env) });
      let out = "";
      p.stdout.on("data", (b: Buffer) => {
        out += b.toString("utf8");
      });
      const typing = setTimeout(() => p.stdin.write(win ? "s3cret\r" : "s3cret\n"), 1000);
      const killer = setTimeout(() => p.kill("SIGKILL"), 60_000);
      const code = await new Promise<number | null>((ok) => p.on("close", ok));
      clearTimeout(typing);
      clearTimeout(killer);
      p.stdin.destroy();
      expect(code === 0 && /scrypt\$16384\$8\$1\$\S+/.test(out), `exit ${code}: ${out}`);
    });
    await check("transcode IN OUT with relative paths", async () => {
      copyFileSync(jpegLs, join(site, "in.dcm"));
      const t = await bin(["transcode", "in.dcm", "out.dcm"]);
      expect(t.code === 0, `exit ${t.code}: ${t.stderr}`);
      const p = await readPart10(join(site, "out.dcm"));
      expect(p.transferSyntaxUid === EXPLICIT_LE, `out.dcm is ${p.transferSyntaxUid}`);
      rmSync(join(site, "in.dcm"));
      rmSync(join(site, "out.dcm"));
    });

    if (win)
      await check("a device name in a config path: exit 2 with FILE:LINE:COL and the reason", async () => {
        writeFileSync(
          join(site, "bad.yaml"),
          `storage:\n  root: ${quote(r.native(join(site, "NUL", "x")))}\n`,
        );
        const b = await bin(["--config", "bad.yaml"]);
        expect(
          b.code === 2 && /bad\.yaml:2:9: storage\.root: "NUL" is a Windows device name/.test(b.stderr),
          `exit ${b.code}: ${b.stderr}`,
        );
        rmSync(join(site, "bad.yaml"));
      });

    let port = 0;
    const served = await check("serves from a config in the platform's path style", async () => {
      server = await startServer();
      port = server.port;
      expect(port > 0, "no port in the listening line");
    });
    if (served && server) {
      const h: ServerHandle = server;
      await check("C-ECHO (DCMTK echoscu)", async () => {
        const e = await echoscu({ port, calledAe: "STORESCP" });
        expect(e.statuses.length === 1 && e.statuses[0] === 0, `statuses ${e.statuses}: ${e.stderr}`);
      });
      await check("C-ECHO (its own echo command)", async () => {
        const e = await bin(["echo", "127.0.0.1", String(port), "--called", "STORESCP"]);
        expect(e.code === 0 && /status 0000/.test(e.stdout), `exit ${e.code}: ${e.stdout}${e.stderr}`);
      });
      await check("C-STORE native, JPEG-LS, RLE with fsync; stored as Explicit VR LE", async () => {
        for (const f of [native, jpegLs, rle]) {
          const s = await dcmsend({ port, files: [f] });
          expect(
            s.statuses.length === 1 && s.statuses[0] === 0,
            `${f}: statuses ${s.statuses}\n${h.output()}`,
          );
        }
        // Placed and transcoded behind the answers: once their final records are written.
        await finalRecords(outbox, 3, 60_000);
        const stored = filesBelow(data).filter((f) => f.endsWith(".dcm"));
        expect(stored.length === 3, `${stored.length} files stored`);
        for (const f of stored) {
          const p = await readPart10(f);
          expect(p.transferSyntaxUid === EXPLICIT_LE, `${f} is ${p.transferSyntaxUid}`);
        }
      });
      await check("a duplicate is refused (0111) into the quarantine with its reason", async () => {
        const s = await dcmsend({ port, files: [native] });
        expect(s.statuses[0] === 0x0111, `statuses ${s.statuses}`);
        const q = filesBelow(join(site, "quarantine"));
        expect(q.filter((f) => f.endsWith(".dcm")).length === 1, `quarantine: ${q}`);
        expect(q.filter((f) => f.endsWith(".dcm.reason.json")).length === 1, `quarantine: ${q}`);
      });
      await check("outbox status beside the running server", async () => {
        const s = await bin(["outbox", "status", "-c", config]);
        // 3 instances, 2 of them transcoded behind their answer: a pending and a final record each.
        expect(s.code === 0 && /records:\s+5\b/.test(s.stdout), `exit ${s.code}: ${s.stdout}${s.stderr}`);
        expect(/owner:\s+pid \d+/.test(s.stdout), s.stdout);
      });
      await check("clean stop on Ctrl+C: exit 0, no temp file, no LOCK", async () => {
        const code = await interrupt(h);
        expect(code === 0, `exit ${code}\n${h.output()}`);
        expect(/stopped/.test(h.output()), "no 'stopped' line");
        expect(temps().length === 0, `temp files: ${temps()}`);
        expect(!existsSync(join(outbox, "LOCK")), "outbox/LOCK left");
        server = null;
      });
    }

    await check("restart after a hard kill: stale temp removed, outbox taken over", async () => {
      const stale = join(data, "default", ".storescp-deadbeef-1.tmp");
      mkdirSync(join(data, "default"), { recursive: true });
      writeFileSync(stale, "left by a crash");
      const first = await startServer();
      server = first;
      const s = await dcmsend({ port: first.port, files: [later] });
      expect(s.statuses[0] === 0, `statuses ${s.statuses}\n${first.output()}`);
      first.kill("SIGKILL");
      await first.exited;
      expect(existsSync(join(outbox, "LOCK")), "a hard kill leaves the LOCK");
      const again = await startServer();
      server = again;
      const e = await echoscu({ port: again.port });
      expect(e.statuses[0] === 0, `echo after restart: ${e.statuses}`);
      for (let i = 0; i < 100 && existsSync(stale); i++) await new Promise((ok) => setTimeout(ok, 100));
      expect(!existsSync(stale), "stale temp file still there");
      const code = await interrupt(again);
      server = null;
      expect(code === 0, `exit ${code}\n${again.output()}`);
      expect(temps().length === 0 && !existsSync(join(outbox, "LOCK")), `left: ${temps()}`);
    });

    const bundle = join(work, "bundle");
    let exported: OutboxRecord[] = [];
    await check("outbox export: a verified bundle, records with their final fields", async () => {
      const x = await bin(["outbox", "export", r.native(bundle), "-c", config]);
      expect(x.code === 0 && /exported 4 record/.test(x.stdout), `exit ${x.code}: ${x.stdout}${x.stderr}`);
      const names = filesBelow(bundle)
        .map((f) => f.slice(bundle.length + 1))
        .sort();
      expect(
        names.join(",") === "export.json,vol-0001/manifest.json,vol-0001/records.seg",
        `bundle holds ${names}`,
      );
      exported = outboxRecords(join(bundle, "vol-0001"));
      const byTs = new Map(exported.map((rec) => [rec.transfer_syntax_uid, rec]));
      expect(byTs.get(EXPLICIT_LE)?.transfer_status === "NoNeedTransfer", "native record");
      for (const ts of ["1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.5"]) {
        const rec = byTs.get(ts);
        expect(
          rec?.transfer_status === "Success" && rec.target_ts === EXPLICIT_LE,
          `${ts}: ${JSON.stringify(rec)}`,
        );
      }
      const nativeData = r.native(data);
      expect(
        exported.every((rec) => withoutLongPrefix(rec.file_path).startsWith(nativeData)),
        `paths: ${exported.map((e) => e.file_path)}`,
      );
      expect(
        exported.every((rec) => typeof rec.sha256 === "string"),
        "export adds each file's SHA-256",
      );
      const st = await bin(["outbox", "status", "-c", config]);
      expect(/records:\s+0\b/.test(st.stdout), `after export: ${st.stdout}`);
    });
    await check("outbox import into a second site, twice: taken once", async () => {
      const cfg2 = r.native(join(site2, "site.yaml"));
      const i1 = await bin(["outbox", "import", r.native(bundle), "-c", cfg2], site2);
      expect(
        i1.code === 0 && /imported 4 record/.test(i1.stdout),
        `exit ${i1.code}: ${i1.stdout}${i1.stderr}`,
      );
      const i2 = await bin(["outbox", "import", "../bundle", "-c", "site.yaml"], site2);
      expect(
        i2.code === 0 && /imported 0 record.*4 already imported/.test(i2.stdout),
        `exit ${i2.code}: ${i2.stdout}${i2.stderr}`,
      );
      const st = await bin(["outbox", "status", "-c", cfg2], site2);
      expect(st.code === 0 && /records:\s+4\b/.test(st.stdout), st.stdout);
      const ids = outboxRecords(join(site2, "outbox")).map((rec) => rec.trace_id);
      expect(
        ids.sort().join() ===
          exported
            .map((rec) => rec.trace_id)
            .sort()
            .join(),
        "other records",
      );
      expect(readFileSync(join(site2, "outbox", "imported.ids"), "utf8").split("\n").length === 5, "ledger");
    });
    await check("the log file in the config's logging.file", () => {
      const log = readFileSync(join(site, "logs", "storescp.log"), "utf8");
      expect(/listening/.test(log) && /stopped/.test(log), "log file lacks the server's lines");
    });
  } finally {
    const h = server as ServerHandle | null;
    if (h) {
      h.kill("SIGKILL");
      await h.exited;
    }
    r.finish();
    rmSync(work, { recursive: true, force: true });
  }
  const passed = results.filter((x) => x.ok).length;
  const failed = results.length - passed;
  console.log(`smoke ${target}: ${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

process.exit(await main());
