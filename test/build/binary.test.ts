// The release build: built with a test vendor CA (made here), the Linux binary copied alone into an
// empty directory outside the repository (no source, no node_modules in reach) starts from a site.yaml,
// answers echoscu, stores an instance, writes its outbox record, and refuses a bad license with exit 2.
// From an empty folder, `storescp init` then `storescp --config site.yaml` takes an image from storescu.
// Start-up failures of the binary are one line and exit 2. The arm64 and Windows binaries are built too
// and their sizes printed; site.yaml and QUICKSTART.txt lie beside them.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify as yaml } from "yaml";
import { type BuiltFile, build, outputName, TARGETS } from "../../build/build.ts";
import { echoscu, startServer, storescu } from "../helpers/dcmtk.ts";
import {
  corpus,
  filesBelow,
  perfset,
  placedBelow,
  readPart10,
  storescuProfile,
} from "../helpers/fixtures.ts";
import { issue, licenseExtension, utf8StringDer } from "../helpers/pki.ts";
import { finalRecords } from "../helpers/tools.ts";

const CLIENT = "edge-pc-7";
const KEY = "K3Y-0f-7h3-l1c3n53";

let work: string;
let built: BuiltFile[] = [];
let file = "";

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "storescp-build-"));
  const dir = perfset(1000);
  file = join(
    dir,
    readdirSync(dir)
      .filter((f) => f.endsWith(".dcm"))
      .sort()[0] ?? "",
  );
  const ca = await issue({ subject: "CN=Test Vendor CA", ca: true });
  const license = await issue({
    subject: `CN=${CLIENT}`,
    issuer: ca,
    extensions: [licenseExtension(utf8StringDer(KEY))],
  });
  writeFileSync(join(work, "vendor-ca.pem"), ca.pem);
  writeFileSync(join(work, "license.pem"), license.pem);
  built = await build({
    targets: [...TARGETS],
    outdir: join(work, "dist"),
    vendorCaPem: ca.pem,
    bytecode: true,
    quiet: true,
  });
  for (const b of built)
    console.log(
      `built ${outputName(b.target)}: ${(b.bytes / 1024 / 1024).toFixed(1)} MiB in ${b.seconds.toFixed(1)} s`,
    );
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** An empty directory holding only the Linux binary, a site.yaml and the license. */
function site(
  name: string,
  license: { client_id: string; license_key: string },
  opsPort: number | null,
): string {
  const dir = join(work, name);
  spawnSync("mkdir", ["-p", dir]);
  copyFileSync(join(work, "dist", "storescp-linux-x64"), join(dir, "storescp"));
  spawnSync("chmod", ["755", join(dir, "storescp")]);
  copyFileSync(join(work, "license.pem"), join(dir, "license.pem"));
  writeFileSync(
    join(dir, "site.yaml"),
    yaml({
      storage: { root: "./data", min_free_mb: 1, fsync: true },
      license: { certificate: "./license.pem", ...license },
      ops: { http_port: opsPort },
    }),
  );
  return dir;
}

describe("release build", () => {
  test("three targets, SHA256SUMS, and the version names the commit", () => {
    expect(built.map((b) => b.target)).toEqual(["linux-x64", "linux-arm64", "windows-x64"]);
    for (const b of built) expect(statSync(b.path).size).toBeGreaterThan(20 * 1024 * 1024);
    const sums = readFileSync(join(work, "dist", "SHA256SUMS"), "utf8");
    expect(sums).toMatch(
      /^[0-9a-f]{64} {2}storescp-linux-arm64\n[0-9a-f]{64} {2}storescp-linux-x64\n[0-9a-f]{64} {2}storescp-windows-x64\.exe\n$/,
    );
    const check = spawnSync("sha256sum", ["-c", "SHA256SUMS"], { cwd: join(work, "dist"), encoding: "utf8" });
    expect(check.status).toBe(0);
    const v = spawnSync(join(work, "dist", "storescp-linux-x64"), ["--version"], {
      cwd: work,
      encoding: "utf8",
    });
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(
      /^storescp \d+\.\d+\.\d+ \(([0-9a-f]{7,}(-dirty)?|no git), bun-linux-x64, \d{4}-\d\d-\d\dT/,
    );
    // The starter kit beside the binaries: the site.yaml `init` writes, and the quick start.
    expect(readFileSync(join(work, "dist", "site.yaml"), "utf8")).toContain(
      "host: 127.0.0.1 # default: 0.0.0.0",
    );
    expect(readFileSync(join(work, "dist", "QUICKSTART.txt"), "utf8")).toContain("--config site.yaml");
    // The Windows binary is a PE file.
    expect(
      readFileSync(join(work, "dist", "storescp-windows-x64.exe"))
        .subarray(0, 2)
        .toString(),
    ).toBe("MZ");
    // sha256sum reads ~350 MiB: more than bun's default 5 s on a busy machine.
  }, 60_000);

  test("alone in an empty directory: license verified, echoscu, a stored instance and its outbox record", async () => {
    const dir = site("good", { client_id: CLIENT, license_key: KEY }, 0);
    expect(readdirSync(dir).sort()).toEqual(["license.pem", "site.yaml", "storescp"]);
    const verify = spawnSync("./storescp", ["license", "verify", "-c", "site.yaml"], {
      cwd: dir,
      encoding: "utf8",
    });
    expect(verify.status).toBe(0);

    const server = await startServer({
      workDir: dir,
      executable: join(dir, "storescp"),
      configYaml: readFileSync(join(dir, "site.yaml"), "utf8"),
    });
    const opsPort = server.opsPort ?? 0;
    try {
      expect(server.output()).toContain("license-ok");
      expect(server.output()).not.toContain("unlicensed-build");
      const echo = await echoscu({ port: server.port, calledAe: "STORESCP" });
      expect(echo.statuses).toEqual([0]);
      const r = await storescu({ port: server.port, calledAe: "STORESCP", files: [file] });
      expect(r.statuses).toEqual([0]);
      const p10 = await readPart10(file);
      const stored = await placedBelow(join(dir, "data"), 1, (f) => f.endsWith(`${p10.sopInstanceUid}.dcm`));
      expect(stored.length).toBe(1);
      await finalRecords(join(dir, "outbox"), 1);
      // The outbox record, as the binary's own CLI sees it beside the running server...
      const status = spawnSync("./storescp", ["outbox", "status", "-c", "site.yaml"], {
        cwd: dir,
        encoding: "utf8",
      });
      expect(status.status).toBe(0);
      expect(status.stdout).toMatch(/records:\s+1\b/);
      // ...and in the segment (JSON payload).
      const segs = filesBelow(join(dir, "outbox")).filter((f) => f.endsWith(".seg") || /seg/.test(f));
      expect(segs.some((s) => readFileSync(s, "latin1").includes(`"sop_uid":"${p10.sopInstanceUid}"`))).toBe(
        true,
      );
      // The ops endpoints from the binary: healthy with the license, and the instance counted.
      const health = await fetch(`http://127.0.0.1:${opsPort}/healthz`);
      expect(health.status).toBe(200);
      const checks = ((await health.json()) as { checks: { license: { detail: string } } }).checks;
      expect(checks.license.detail).toMatch(/^valid until/);
      const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
      expect(metrics).toMatch(
        /^storescp_instances_total\{tenant="default",status="0000",transfer_syntax="[0-9.]+"\} 1$/m,
      );
      expect(metrics).toMatch(/^storescp_license_days_left \d+$/m);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, 60_000);

  test("alone: a JPEG-LS instance is stored transcoded to Explicit VR Little Endian, with its record", async () => {
    const dir = site("jpegls", { client_id: CLIENT, license_key: KEY }, 0);
    // The viewer here takes only uncompressed data: JPEG-LS must be transcoded on arrival.
    const siteYaml = `${readFileSync(join(dir, "site.yaml"), "utf8")}transcode:\n  supported_transfer_syntaxes: [1.2.840.10008.1.2, 1.2.840.10008.1.2.1]\n  target: 1.2.840.10008.1.2.1\n`;
    writeFileSync(join(dir, "site.yaml"), siteYaml);
    const jls = corpus().find((f) => f.includes("15_ct_s16_jpegLS_lossless")) ?? "";
    const server = await startServer({
      workDir: dir,
      executable: join(dir, "storescp"),
      configYaml: readFileSync(join(dir, "site.yaml"), "utf8"),
    });
    const opsPort = server.opsPort ?? 0;
    try {
      const profile = await storescuProfile([jls], join(work, "jls.cfg"));
      const r = await storescu({ port: server.port, files: [jls], extraArgs: ["-xf", profile, "Corpus"] });
      expect(r.statuses).toEqual([0]);
      const src = await readPart10(jls);
      // Transcoded behind the answer: its final record says how it is stored.
      const recs = await finalRecords(join(dir, "outbox"), 1);
      expect(recs.find((x) => x.sop_uid === src.sopInstanceUid)?.transfer_status).toBe("Success");
      const stored = await placedBelow(join(dir, "data"), 1, (f) => f.endsWith(`${src.sopInstanceUid}.dcm`));
      expect(stored).toHaveLength(1);
      expect((await readPart10(stored[0] ?? "")).transferSyntaxUid).toBe("1.2.840.10008.1.2.1");
      // Timed once in the binary's worker pool, as /metrics shows.
      const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
      expect(metrics).toMatch(
        /^storescp_transcode_duration_seconds_count\{target="1\.2\.840\.10008\.1\.2\.1",result="ok"\} 1$/m,
      );
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, 60_000);

  test("a bad license: exit 2 with a one-line reason, at start and from `license verify`", async () => {
    const dir = site("bad", { client_id: CLIENT, license_key: "wrong-key" }, 0);
    for (const args of [
      ["--port", "0", "-c", "site.yaml"],
      ["license", "verify", "-c", "site.yaml"],
    ]) {
      const r = spawnSync("./storescp", args, { cwd: dir, encoding: "utf8", timeout: 20_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/license/i);
    }
    expect(readdirSync(dir).includes("data")).toBe(false);
  }, 60_000);

  test("from an empty folder: init, then --config site.yaml, then storescu stores an image", async () => {
    const dir = join(work, "fresh");
    spawnSync("mkdir", ["-p", dir]);
    copyFileSync(join(work, "dist", "storescp-linux-x64"), join(dir, "storescp"));
    spawnSync("chmod", ["755", join(dir, "storescp")]);
    const init = spawnSync("./storescp", ["init"], { cwd: dir, encoding: "utf8" });
    expect(init.status).toBe(0);
    expect(init.stdout).toContain("storescp --config site.yaml");
    expect(readdirSync(dir).sort()).toEqual(["site.yaml", "storescp"]);
    // Never over an existing one.
    const again = spawnSync("./storescp", ["init"], { cwd: dir, encoding: "utf8" });
    expect(again.status).toBe(2);
    expect(again.stderr.trim().split("\n")).toHaveLength(1);
    // What an operator of a licensed build does next: the license file beside it, its two values in.
    copyFileSync(join(work, "license.pem"), join(dir, "license.pem"));
    const siteYaml = readFileSync(join(dir, "site.yaml"), "utf8");
    writeFileSync(
      join(dir, "site.yaml"),
      siteYaml
        .replace('client_id: ""', `client_id: "${CLIENT}"`)
        .replace('license_key: ""', `license_key: "${KEY}"`),
    );
    // The site.yaml as written otherwise; only the port is any free one (tests never race for 11112).
    const server = await startServer({
      workDir: dir,
      executable: join(dir, "storescp"),
      existingConfig: join(dir, "site.yaml"),
    });
    try {
      expect(server.output()).toMatch(/ ready ae=STORESCP on=127\.0\.0\.1:\d+ /);
      const r = await storescu({ port: server.port, calledAe: "STORESCP", files: [file] });
      expect(r.statuses).toEqual([0]);
      const p10 = await readPart10(file);
      const stored = await placedBelow(join(dir, "data"), 1, (f) => f.endsWith(`${p10.sopInstanceUid}.dcm`));
      expect(stored).toHaveLength(1);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, 60_000);

  test("start-up failures of the binary: one line, exit 2", async () => {
    const dir = site("failures", { client_id: CLIENT, license_key: KEY }, null);
    const held = createServer();
    await new Promise<void>((r) => held.listen(0, "127.0.0.1", r));
    const a = held.address();
    const port = typeof a === "object" && a !== null ? a.port : 0;
    try {
      const inUse = spawnSync("./storescp", ["-c", "site.yaml", "--host", "127.0.0.1", "-p", String(port)], {
        cwd: dir,
        encoding: "utf8",
        timeout: 20_000,
      });
      expect(inUse.status).toBe(2);
      expect(inUse.stderr).toBe(
        `storescp: cannot listen on 127.0.0.1:${port} (scp.port): the port is in use (another storescp or DICOM service? see ss -ltnp)\n`,
      );
    } finally {
      held.close();
    }
    // The directories the first start made; now a file where the storage root should be.
    rmSync(join(dir, "data"), { recursive: true, force: true });
    writeFileSync(join(dir, "data"), "a file");
    const file_ = spawnSync("./storescp", ["-c", "site.yaml", "-p", "0"], {
      cwd: dir,
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(file_.status).toBe(2);
    expect(file_.stderr).toBe(`storescp: storage.root ${join(dir, "data")}: is a file, not a directory\n`);
    const echo = spawnSync("./storescp", ["echo", "127.0.0.1", String(port)], { cwd: dir, encoding: "utf8" });
    expect(echo.status).toBe(1);
    expect(echo.stderr.trim().split("\n")).toHaveLength(1);
  }, 60_000);
});
