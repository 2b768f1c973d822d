// src/outbox/kafkajs-fix.ts against kafkajs as installed, connected to the librdkafka mock cluster: an
// idle producer connection runs no timer loop (kafkajs#1704), and sending still works. Guards a kafkajs
// upgrade: the fix replaces an internal method.

import { afterAll, beforeAll, expect, test } from "bun:test";
import "../../src/outbox/kafkajs-fix.ts";
import { Kafka, logLevel } from "kafkajs";
import RequestQueue from "kafkajs/src/network/requestQueue/index.js";
import { type MockBroker, startMockBroker } from "../helpers/kafka.ts";

let mock: MockBroker;
beforeAll(async () => {
  mock = await startMockBroker(["t:1"]);
}, 60_000);
afterAll(async () => {
  await mock?.stop();
});

test("an idle, connected producer checks no pending requests; sends keep working", async () => {
  let checks = 0;
  const original = RequestQueue.prototype.checkPendingRequests;
  RequestQueue.prototype.checkPendingRequests = function counted(this: RequestQueue) {
    checks += 1;
    original.call(this);
  };
  try {
    const producer = new Kafka({ brokers: mock.bootstrap.split(","), logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    await producer.send({ topic: "t", messages: [{ value: "one" }] });
    const before = checks;
    await new Promise((r) => setTimeout(r, 500));
    // unfixed kafkajs 2.2.4: ~460 checks in 500 ms
    expect(checks - before).toBeLessThan(5);
    await producer.send({ topic: "t", messages: [{ value: "two" }] });
    await producer.disconnect();
  } finally {
    RequestQueue.prototype.checkPendingRequests = original;
  }
}, 30_000);
