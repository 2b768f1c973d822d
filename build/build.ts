/**
 * The release build: one self-contained executable per target, with `bun build --compile`.
 *
 *   npm run build [-- --vendor-ca FILE] [--targets linux-x64,linux-arm64,windows-x64] [--outdir dist]
 *                    [--no-bytecode]
 *
 * Writes dist/storescp-linux-x64, dist/storescp-linux-arm64, dist/storescp-windows-x64.exe,
 * dist/SHA256SUMS (`sha256sum -c` format, over every storescp-* in the output directory), and beside them
 * the starter kit: site.yaml (what `storescp init` writes: every key with its default, listening on
 * 127.0.0.1) and QUICKSTART.txt (build/QUICKSTART.txt: start, check, send an image, find it, stop).
 *
 * Two modules are generated at build time, in memory (a bundler plugin), never in the source tree:
 *  - src/license/vendor-ca.ts: the vendor CA (PEM) that license certificates must chain to, from
 *    --vendor-ca FILE; without it the module stays as committed (null: an "unlicensed build" that warns).
 *  - src/build-info.ts: the git commit (`-dirty` with uncommitted changes), the build time and the target;
 *    the version itself comes from package.json (src/cli/version.ts imports it, the bundler inlines it).
 *
 * Why each option (README "Building"):
 *  - compile: one file holding the Bun runtime and our bundled code and dependencies; nothing to
 *    install on the edge PC, no node_modules.
 *  - minify: smaller bundle, less to parse at start (bench/startup.ts measures the cold start).
 *  - bytecode: JavaScriptCore bytecode compiled ahead of time is embedded beside the source, so the
 *    start skips parsing and compiling (measured in bench/startup.ts). --no-bytecode to compare.
 *  - autoloadDotenv / autoloadBunfig false: a stray .env or bunfig.toml in the directory an operator
 *    starts us from must not change what the binary does; the config is --config FILE only.
 *  - define NODE_ENV=production: dependencies drop their development branches.
 *  - no sourcemap: stack traces of an unexpected failure name minified functions; the build's commit
 *    (`storescp --version`) finds the source.
 */

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { BunPlugin } from "bun";
import { initSiteYaml } from "../src/config/site-template.ts";

const ROOT = resolve(import.meta.dir, "..");
export const TARGETS = ["linux-x64", "linux-arm64", "windows-x64"] as const;
export type Target = (typeof TARGETS)[number];

export interface BuildOptions {
  targets: Target[];
  outdir: string;
  vendorCaPem: string | null;
  bytecode: boolean;
  /** Log per-target progress. */
  quiet?: boolean;
}

export interface BuiltFile {
  target: Target;
  path: string;
  bytes: number;
  seconds: number;
  /** Built with bytecode (false also when the bytecode build did not start and was redone without). */
  bytecode: boolean;
}

export function outputName(target: Target): string {
  return `storescp-${target}${target.startsWith("windows") ? ".exe" : ""}`;
}

function gitCommit(): string | null {
  const rev = spawnSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: ROOT, encoding: "utf8" });
  if (rev.status !== 0) return null;
  const dirty = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  return `${rev.stdout.trim()}${dirty.stdout.trim() !== "" ? "-dirty" : ""}`;
}

/** A PEM file with at least one certificate, normalised (one trailing newline). */
export function readVendorCa(file: string): string {
  const text = readFileSync(file, "utf8").replace(/\r\n/g, "\n").trim();
  if (!/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----$/m.test(text))
    throw new Error(`${file}: not a PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return `${text}\n`;
}

/** Generated modules, substituted when the bundler loads the committed ones. */
function generatedModules(o: BuildOptions, target: Target): BunPlugin {
  const buildInfo = {
    commit: gitCommit(),
    built: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    target: `bun-${target}`,
  };
  return {
    name: "storescp-generated-modules",
    setup(b) {
      b.onLoad({ filter: /[\\/]src[\\/]build-info\.ts$/ }, () => ({
        loader: "ts",
        contents:
          `import type { BuildInfo } from "./build-info.ts";\n` +
          `export type { BuildInfo };\nexport const BUILD_INFO = ${JSON.stringify(buildInfo)};\n`,
      }));
      b.onLoad({ filter: /[\\/]src[\\/]license[\\/]vendor-ca\.ts$/ }, (args) => ({
        loader: "ts",
        contents:
          o.vendorCaPem === null
            ? readFileSync(args.path, "utf8")
            : `export const VENDOR_CA_PEM: string | null = ${JSON.stringify(o.vendorCaPem)};\n`,
      }));
    },
  };
}

export async function buildOne(o: BuildOptions, target: Target): Promise<BuiltFile> {
  const outfile = join(o.outdir, outputName(target));
  const started = performance.now();
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  const result = await Bun.build({
    entrypoints: [join(ROOT, "src", "main.ts")],
    minify: true,
    // ESM, not the CommonJS bytecode builds default to: src/license/x509.ts uses a top-level await.
    format: "esm",
    bytecode: o.bytecode,
    define: { "process.env.NODE_ENV": JSON.stringify("production") },
    plugins: [generatedModules(o, target)],
    compile: {
      target: `bun-${target}`,
      outfile,
      autoloadDotenv: false,
      autoloadBunfig: false,
      ...(target.startsWith("windows")
        ? {
            windows: {
              title: "storescp",
              description: "DICOM Storage SCP",
              version: `${pkg.version}.0`,
            },
          }
        : {}),
    },
  });
  if (!result.success) {
    // (Bun.build throws an AggregateError on failure by default; kept for throw: false callers.)
    const why = result.logs.map((l) => String(l)).join("\n");
    throw new Error(`build ${target} failed:\n${why}`);
  }
  const seconds = (performance.now() - started) / 1000;
  return { target, path: outfile, bytes: statSync(outfile).size, seconds, bytecode: o.bytecode };
}

function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** SHA256SUMS over every storescp-* in the directory (`sha256sum -c SHA256SUMS` checks them). */
export function writeChecksums(outdir: string): string {
  const names = readdirSync(outdir)
    .filter((n) => n.startsWith("storescp-"))
    .sort();
  const text = names.map((n) => `${sha256File(join(outdir, n))}  ${n}\n`).join("");
  const file = join(outdir, "SHA256SUMS");
  writeFileSync(file, text);
  return file;
}

/** The target this machine runs, if it is one of ours. */
function hostTarget(): Target | null {
  const t = `${process.platform === "win32" ? "windows" : process.platform}-${process.arch}`;
  return (TARGETS as readonly string[]).includes(t) ? (t as Target) : null;
}

/** Run `--version` of a binary built for this machine: null when it works, else what went wrong. */
export function smokeTest(path: string): string | null {
  const r = spawnSync(path, ["--version"], { cwd: tmpdir(), encoding: "utf8", timeout: 30_000 });
  if (r.status === 0 && r.stdout.startsWith("storescp ")) return null;
  return `exit ${r.status ?? r.signal}, stdout ${JSON.stringify(r.stdout.slice(0, 200))}, stderr ${JSON.stringify(r.stderr.slice(0, 400))}`;
}

export async function build(o: BuildOptions): Promise<BuiltFile[]> {
  mkdirSync(o.outdir, { recursive: true });
  const out: BuiltFile[] = [];
  const host = hostTarget();
  // The host's binary first: it is started (--version) before the others are built. If the bytecode build
  // does not start, every target is built without bytecode (same bundle, same JavaScriptCore), loudly.
  const targets = [...o.targets].sort((a, b) => (a === host ? -1 : b === host ? 1 : 0));
  let opts = o;
  // One at a time: each compile holds the whole bundle in memory, and the machine is small.
  for (const t of targets) {
    let f = await buildOne(opts, t);
    if (t === host) {
      const problem = smokeTest(f.path);
      if (problem !== null && opts.bytecode) {
        process.stderr.write(
          `build: WARNING: the bytecode build of ${t} does not start (${problem}); building without bytecode\n`,
        );
        opts = { ...opts, bytecode: false };
        f = await buildOne(opts, t);
      }
      const still = smokeTest(f.path);
      if (still !== null) throw new Error(`${f.path} does not start: ${still}`);
    }
    f.bytecode = opts.bytecode;
    if (!o.quiet)
      process.stdout.write(
        `${f.path}  ${(f.bytes / 1024 / 1024).toFixed(1)} MiB  (${f.seconds.toFixed(1)} s${f.bytecode ? ", bytecode" : ", no bytecode"})\n`,
      );
    out.push(f);
  }
  const sums = writeChecksums(o.outdir);
  writeStarterKit(o.outdir);
  if (!o.quiet)
    process.stdout.write(`${sums}\n${join(o.outdir, "site.yaml")}\n${join(o.outdir, "QUICKSTART.txt")}\n`);
  return out;
}

/** site.yaml and QUICKSTART.txt beside the binaries: from download to a stored image in minutes. */
export function writeStarterKit(outdir: string): void {
  writeFileSync(join(outdir, "site.yaml"), initSiteYaml());
  copyFileSync(join(ROOT, "build", "QUICKSTART.txt"), join(outdir, "QUICKSTART.txt"));
}

function usage(msg: string): never {
  process.stderr.write(
    `build: ${msg}\nusage: bun build/build.ts [--vendor-ca FILE] [--targets ${TARGETS.join(",")}] [--outdir DIR] [--no-bytecode]\n`,
  );
  process.exit(2);
}

export function parseBuildArgs(argv: string[]): BuildOptions {
  const o: BuildOptions = {
    targets: [...TARGETS],
    outdir: join(ROOT, "dist"),
    vendorCaPem: null,
    bytecode: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => argv[++i] ?? usage(`${a} needs a value`);
    if (a === "--vendor-ca") o.vendorCaPem = readVendorCa(value());
    else if (a === "--outdir") o.outdir = resolve(value());
    else if (a === "--no-bytecode") o.bytecode = false;
    else if (a === "--targets") {
      const list = value().split(",");
      for (const t of list)
        if (!(TARGETS as readonly string[]).includes(t)) usage(`unknown target ${t} (${TARGETS.join(", ")})`);
      o.targets = list as Target[];
    } else usage(`unknown argument ${a}`);
  }
  return o;
}

if (import.meta.main) {
  try {
    await build(parseBuildArgs(process.argv.slice(2)));
  } catch (err) {
    const errors = err instanceof AggregateError ? err.errors.map((e) => `\n  ${String(e)}`).join("") : "";
    process.stderr.write(`build: ${(err as Error).message}${errors}\n`);
    process.exit(1);
  }
}
