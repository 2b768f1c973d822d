import { expect, test } from "bun:test";
import { connect } from "node:net";
import { type Connection, listenTcp } from "../../src/net/transport.ts";
import { keepTransient, sliceTransient, viewWithinTurn } from "../../src/util/transient-bytes.ts";

/** Send `bytes` to a listener over loopback; `onChunk` sees each chunk the transport delivers. */
async function receive(bytes: Uint8Array, onChunk: (chunk: Uint8Array) => void): Promise<void> {
  let total = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  const listener = await listenTcp("127.0.0.1", 0, (c: Connection) => {
    c.onData = (chunk) => {
      // The test holds the view past its turn on purpose, to see what the transport does to it.
      onChunk(viewWithinTurn(chunk));
      total += chunk.length;
      if (total === bytes.length) setTimeout(done, 10);
    };
    c.resume();
  });
  const client = connect(listener.port, "127.0.0.1", () => client.end(bytes));
  await all;
  listener.close();
  client.destroy();
}

test("a received chunk is the receiver's for its turn, then its memory is freed", async () => {
  const seen: Array<{ chunk: Uint8Array; length: number; afterMicrotasks: number }> = [];
  await receive(new Uint8Array(300_000).fill(7), (chunk) => {
    const entry = { chunk, length: chunk.length, afterMicrotasks: -1 };
    seen.push(entry);
    // Still whole in a microtask queued during the turn (the file writer's end-of-turn batch).
    queueMicrotask(() => {
      entry.afterMicrotasks = chunk.length;
    });
  });
  expect(seen.length).toBeGreaterThan(0);
  for (const s of seen) {
    expect(s.afterMicrotasks).toBe(s.length);
    // Under Bun the transport frees it once the turn is over; elsewhere the collector does.
    if (typeof Bun !== "undefined") expect(s.chunk.length).toBe(0);
  }
});

test("a chunk the receiver keeps (keepTransient) is left whole", async () => {
  const kept: Array<{ chunk: Uint8Array; length: number }> = [];
  await receive(new Uint8Array(200_000).fill(3), (chunk) => {
    keepTransient(sliceTransient(chunk, 0, 1));
    kept.push({ chunk, length: chunk.length });
  });
  for (const k of kept) {
    expect(k.chunk.length).toBe(k.length);
    expect(k.chunk.every((b) => b === 3)).toBe(true);
  }
});
