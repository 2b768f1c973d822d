import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { StreamingFile } from "../../src/store/streaming-file.ts";

const dir = mkdtempSync(join(tmpdir(), "streaming-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

/** What the transport does to a read's buffer at the end of its turn (src/net/transport.ts). */
function detach(b: Uint8Array): void {
  (b.buffer as ArrayBuffer & { transfer(n: number): ArrayBuffer }).transfer(0);
}

/** Chunks written in turns (a turn ends at an await): what one socket read after another delivers. */
async function writeInTurns(turns: Uint8Array[][], durable: boolean): Promise<Buffer> {
  seq += 1;
  const path = join(dir, `f${seq}`);
  const file = StreamingFile.create(path, durable);
  for (const turn of turns) {
    for (const chunk of turn) file.write(chunk);
    await Promise.resolve();
  }
  await file.complete(durable);
  expect(file.size).toBe(turns.flat().reduce((n, c) => n + c.length, 0));
  return readFileSync(path);
}

describe("StreamingFile", () => {
  test("chunks of one turn are written together, in order, whatever their sizes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.uint8Array({ minLength: 0, maxLength: 70_000 }), { maxLength: 6 }), {
          maxLength: 6,
        }),
        fc.boolean(),
        async (turns, durable) => {
          const content = await writeInTurns(turns, durable);
          expect(Buffer.compare(content, Buffer.concat(turns.flat()))).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  test("chunks freed when their turn ends, as the socket transport frees them, are on disk intact", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.uint8Array({ minLength: 1, maxLength: 70_000 }), { maxLength: 5 }), {
          maxLength: 5,
        }),
        async (turns) => {
          seq += 1;
          const path = join(dir, `f${seq}`);
          const file = StreamingFile.create(path, false);
          for (const turn of turns) {
            // One socket read: a buffer of its own, written as PDV-sized views, freed after the turn.
            const read = Buffer.concat(turn);
            let at = 0;
            for (const c of turn) {
              file.write(read.subarray(at, at + c.length));
              at += c.length;
            }
            queueMicrotask(() => detach(read));
            await Promise.resolve();
            expect(read.length).toBe(0);
          }
          await file.complete(false);
          expect(Buffer.compare(readFileSync(path), Buffer.concat(turns.flat()))).toBe(0);
        },
      ),
      { numRuns: 30 },
    );
  });

  test("a chunk freed before its turn ends fails the file instead of storing less", async () => {
    seq += 1;
    const file = StreamingFile.create(join(dir, `f${seq}`), false);
    const read = Buffer.from([1, 2, 3, 4]);
    file.write(read);
    detach(read);
    await expect(file.complete(false)).rejects.toThrow(/released before being written/);
  });

  test("a turn larger than the batch bound is written as it goes", async () => {
    const big = Array.from({ length: 20 }, (_, i) => new Uint8Array(128 * 1024).fill(i));
    const content = await writeInTurns([big], false);
    expect(Buffer.compare(content, Buffer.concat(big))).toBe(0);
  });

  test("many tiny pieces in one turn (more than writev takes at once)", async () => {
    const tiny = Array.from({ length: 5000 }, (_, i) => new Uint8Array([i & 0xff, (i >> 8) & 0xff]));
    const content = await writeInTurns([tiny], false);
    expect(Buffer.compare(content, Buffer.concat(tiny))).toBe(0);
  });

  test("complete() in the same turn as the last writes includes them", async () => {
    seq += 1;
    const path = join(dir, `f${seq}`);
    const file = StreamingFile.create(path, false);
    file.write(new Uint8Array([1, 2, 3]));
    file.write(new Uint8Array([4, 5]));
    await file.complete(false);
    expect([...readFileSync(path)]).toEqual([1, 2, 3, 4, 5]);
  });

  test("discard() drops what the turn gathered and removes the file", async () => {
    seq += 1;
    const path = join(dir, `f${seq}`);
    const file = StreamingFile.create(path, false);
    file.write(new Uint8Array(1000));
    expect(file.pendingBytes).toBe(1000);
    await file.discard();
    expect(file.pendingBytes).toBe(0);
    expect(() => readFileSync(path)).toThrow();
  });
});
