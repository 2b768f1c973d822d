// The librdkafka mock cluster (test/fixtures/kafka-mock/mockbroker.c, built here with gcc) as a process
// the tests control through its stdin (`down`, `up`, `err APIKEY CODE COUNT`, ...), and a kafkajs consumer
// that reads a topic back.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { repoRoot } from "./dcmtk.ts";

const SOURCE = join(repoRoot, "test", "fixtures", "kafka-mock", "mockbroker.c");
const BINARY = join(repoRoot, "test", ".work", "mockbroker");

/** Compile the mock broker when missing or older than its source. */
export function buildMockBroker(): string {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return BINARY;
  mkdirSync(join(repoRoot, "test", ".work"), { recursive: true });
  const flags = spawnSync("pkg-config", ["--cflags", "--libs", "rdkafka"], { encoding: "utf8" });
  if (flags.status !== 0) {
    throw new Error(`pkg-config rdkafka failed (install librdkafka-dev pkg-config gcc): ${flags.stderr}`);
  }
  const r = spawnSync(
    "gcc",
    [
      "-O2",
      "-Wall",
      "-o",
      BINARY,
      SOURCE,
      ...flags.stdout
        .trim()
        .split(/\s+/)
        .filter((s) => s.length > 0),
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`building the mock broker failed:\n${r.stderr}`);
  return BINARY;
}

export interface MockBroker {
  bootstrap: string;
  proc: ChildProcess;
  /** Send a control line; resolves with the mock's answer ("OK ..."). */
  control(line: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startMockBroker(topics: string[], brokers = 1): Promise<MockBroker> {
  const bin = buildMockBroker();
  const proc = spawn(bin, [String(brokers), ...topics], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  const waiters: Array<() => void> = [];
  proc.stdout?.on("data", (b: Buffer) => {
    out += b.toString("utf8");
    for (const w of waiters.splice(0)) w();
  });
  proc.stderr?.on("data", () => {});
  const exited = new Promise<void>((r) => proc.on("close", () => r()));
  const waitFor = async (re: RegExp, from: number, timeoutMs = 10_000): Promise<RegExpExecArray> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(out.slice(from));
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`mock broker: no ${re} in ${JSON.stringify(out)}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
  };
  const m = await waitFor(/BOOTSTRAP=(\S+)\n/, 0);
  const bootstrap = m[1] ?? "";
  let chain: Promise<unknown> = Promise.resolve();
  const control = (line: string): Promise<string> => {
    const next = chain.then(async () => {
      const from = out.length;
      proc.stdin?.write(`${line}\n`);
      const r = await waitFor(/^(OK.*|ERR.*)$/m, from);
      return r[1] ?? "";
    });
    chain = next.catch(() => undefined);
    return next;
  };
  return {
    bootstrap,
    proc,
    control,
    stop: async () => {
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

export interface Consumed {
  topic: string;
  partition: number;
  key: string;
  value: string;
  traceId: string;
}

/**
 * Read `topics` from the beginning until each has `count` messages (or timeoutMs passed), then wait a
 * little for any surplus (a duplicate would arrive right behind) and resolve with everything read.
 */
export async function consumeTopics(
  bootstrap: string,
  topics: string[],
  count: number,
  timeoutMs = 30_000,
): Promise<Consumed[]> {
  const kafka = new Kafka({
    clientId: "test-reader",
    brokers: bootstrap.split(","),
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({
    groupId: `reader-${Date.now()}-${Math.random()}`,
    heartbeatInterval: 500,
    sessionTimeout: 6000,
  });
  const got: Consumed[] = [];
  await consumer.connect();
  for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
  let settle: (() => void) | null = null;
  const enough = new Promise<void>((r) => {
    settle = r;
  });
  const per = new Map<string, number>();
  await consumer.run({
    eachMessage: async ({ topic: t, partition, message }) => {
      got.push({
        topic: t,
        partition,
        key: message.key?.toString("utf8") ?? "",
        value: message.value?.toString("utf8") ?? "",
        traceId: message.headers?.trace_id?.toString() ?? "",
      });
      per.set(t, (per.get(t) ?? 0) + 1);
      if (topics.every((x) => (per.get(x) ?? 0) >= count)) settle?.();
    },
  });
  await Promise.race([enough, new Promise((r) => setTimeout(r, timeoutMs))]);
  await new Promise((r) => setTimeout(r, 500));
  await consumer.disconnect();
  return got;
}
