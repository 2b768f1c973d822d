// Start-up that checks and tells: each mistake an operator makes in the first hour ends, before anything
// listens, in exactly one line on stderr naming what and why, and exit 2; client commands fail in one
// line too. Run as the operator runs it (src/main.ts in a process of its own).

import { afterAll, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { stringify as yaml } from "yaml";
import { makeWorkDir, type ProcResult, repoRoot, run, startServer } from "../helpers/dcmtk.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Runs `storescp ARGS` in a new directory holding site.yaml made of `config` (and what `prepare` adds). */
async function storescp(
  config: object | null,
  args: string[],
  prepare: (dir: string) => void = () => {},
): Promise<ProcResult & { dir: string }> {
  const dir = makeWorkDir("startup");
  dirs.push(dir);
  if (config !== null) writeFileSync(join(dir, "site.yaml"), yaml(config));
  prepare(dir);
  const r = await run(process.execPath, [join(repoRoot, "src", "main.ts"), ...args], {
    cwd: dir,
    timeoutMs: 30_000,
  });
  return { ...r, dir };
}

/** Exactly one line on stderr, matching `re`, no stack trace. */
function oneLine(r: ProcResult, re: RegExp): void {
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  expect(lines).toHaveLength(1);
  expect(lines[0] ?? "").toMatch(re);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

/** A TCP port held by this process for the test's length. */
async function hold(host: string): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, host, r));
  const a = server.address();
  return { port: typeof a === "object" && a !== null ? a.port : 0, server };
}

const SITE = { storage: { min_free_mb: 1 } };

describe("start-up failures: one line, exit 2", () => {
  test("port in use: names host:port and the reason", async () => {
    const held = await hold("127.0.0.1");
    try {
      const r = await storescp(SITE, ["-c", "site.yaml", "--host", "127.0.0.1", "--port", String(held.port)]);
      expect(r.code).toBe(2);
      oneLine(
        r,
        new RegExp(
          `^storescp: cannot listen on 127\\.0\\.0\\.1:${held.port} \\(scp\\.port\\): the port is in use`,
        ),
      );
    } finally {
      held.server.close();
    }
  });

  test("the ops port in use", async () => {
    const held = await hold("127.0.0.1");
    try {
      const r = await storescp({ ...SITE, ops: { http_port: held.port } }, [
        "-c",
        "site.yaml",
        "--host",
        "127.0.0.1",
        "-p",
        "0",
      ]);
      expect(r.code).toBe(2);
      oneLine(
        r,
        new RegExp(
          `^storescp: cannot listen on 127\\.0\\.0\\.1:${held.port} \\(ops\\.http_port\\): the port is in use`,
        ),
      );
    } finally {
      held.server.close();
    }
  });

  test("an address that is not this machine's", async () => {
    const r = await storescp(SITE, ["-c", "site.yaml", "--host", "192.0.2.1", "-p", "0"]);
    expect(r.code).toBe(2);
    oneLine(r, /^storescp: cannot listen on 192\.0\.2\.1:0 \(scp\.port\): no such address on this machine/);
  });

  test("storage.root is a file: found before listening, not at the first C-STORE", async () => {
    const block = (dir: string) => writeFileSync(join(dir, "data"), "a file");
    const r = await storescp(SITE, ["-c", "site.yaml", "-p", "0"], block);
    expect(r.code).toBe(2);
    oneLine(r, new RegExp(`^storescp: storage\\.root ${join(r.dir, "data")}: is a file, not a directory$`));
    expect(r.stdout).not.toContain(" ready ");
  });

  test("outbox.dir, and the quarantine, not writable (below a file)", async () => {
    const block = (dir: string) => writeFileSync(join(dir, "blocker"), "a file");
    const o = await storescp(
      { ...SITE, outbox: { dir: "./blocker/outbox" } },
      ["-c", "site.yaml", "-p", "0"],
      block,
    );
    expect(o.code).toBe(2);
    oneLine(
      o,
      /^storescp: outbox\.dir .*\/blocker\/outbox: a part of the path is a file, not a directory \(ENOTDIR\)$/,
    );
    const q = await storescp(
      { storage: { min_free_mb: 1, quarantine: "./blocker/q" } },
      ["-c", "site.yaml", "-p", "0"],
      block,
    );
    expect(q.code).toBe(2);
    oneLine(q, /^storescp: storage\.quarantine .*\/blocker\/q: /);
  });

  test("free space below storage.min_free_mb", async () => {
    const r = await storescp({ storage: { min_free_mb: 1_000_000_000 } }, ["-c", "site.yaml", "-p", "0"]);
    expect(r.code).toBe(2);
    oneLine(r, /^storescp: storage\.root .*\/data: only \d+ MB free, below storage\.min_free_mb 1000000000/);
  });

  test("a TLS key that is not there", async () => {
    const tls = { cert: "server.pem", key: "server.key", ca: null, require_client_cert: false };
    const r = await storescp({ ...SITE, scp: { tls } }, ["-c", "site.yaml", "-p", "0"]);
    expect(r.code).toBe(2);
    oneLine(r, /^storescp: scp\.tls\.cert .*\/server\.pem: no such file or directory \(ENOENT\)$/);
  });

  test("the outbox in use by a running server", async () => {
    const first = await startServer({ config: SITE });
    dirs.push(first.workDir);
    try {
      const r = await run(
        process.execPath,
        [join(repoRoot, "src", "main.ts"), "-c", first.configPath, "-p", "0"],
        {
          cwd: first.workDir,
        },
      );
      expect(r.code).toBe(2);
      oneLine(r, /^storescp: outbox\.dir: outbox .* is in use by process \d+$/);
    } finally {
      expect(await first.stop()).toBe(0);
    }
  }, 30_000);

  test("bad flags and a bad config stay one line", async () => {
    oneLine(
      await storescp(null, ["-xcr", "x"]),
      /^storescp: DCMTK's -xcr has no equivalent here; see --help/,
    );
    const r = await storescp({ scp: { port: "abc" } }, ["-c", "site.yaml"]);
    expect(r.code).toBe(2);
    oneLine(r, /site\.yaml:2:\d+: scp\.port: /);
  });
});

describe("client commands: one line, no stack trace", () => {
  test("echo to a closed port", async () => {
    const held = await hold("127.0.0.1");
    const port = held.port;
    await new Promise<void>((r) => held.server.close(() => r()));
    const r = await storescp(null, ["echo", "127.0.0.1", String(port)]);
    expect(r.code).toBe(1);
    oneLine(
      r,
      new RegExp(`^storescp: echo 127\\.0\\.0\\.1:${port}: connection refused .*\\(ECONNREFUSED\\)$`),
    );
  });

  test("license verify without a certificate; outbox status of an outbox that is a file", async () => {
    const lic = await storescp(SITE, ["license", "verify", "-c", "site.yaml"]);
    expect(lic.code).toBe(2);
    oneLine(lic, /license/);
    const d = await storescp({ outbox: { dir: "./ob" } }, ["outbox", "drain", "-c", "site.yaml"]);
    expect(d.code).toBe(1);
    oneLine(d, /^storescp: kafka\.enabled is false/);
    const s = await storescp({ outbox: { dir: "./ob" } }, ["outbox", "status", "-c", "site.yaml"], (dir) =>
      writeFileSync(join(dir, "ob"), "a file"),
    );
    expect(s.code).toBe(1);
    oneLine(s, /^storescp: outbox: /);
  });
});
