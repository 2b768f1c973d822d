import { expect, test } from "bun:test";
import type { DataSink } from "../../src/dimse/operation.ts";
import {
  copyTransient,
  keepTransient,
  releaseChunk,
  sliceTransient,
  type TransientBytes,
  viewWithinTurn,
} from "../../src/util/transient-bytes.ts";

// The type checker is the guard: `tsc --noEmit -p .` covers this file, and each @ts-expect-error fails
// the check the day the line below it would compile.
test("a receiver that would hold received bytes past their turn does not type-check", () => {
  const held: Uint8Array[] = [];
  const forgetful = (chunk: TransientBytes): void => {
    // @ts-expect-error a TransientBytes is not a Uint8Array: it cannot be queued as bytes
    held.push(chunk);
  };
  const takesBytes = (chunk: Uint8Array): void => {
    held.push(chunk);
  };
  // @ts-expect-error a sink taking plain bytes is not a DataSink
  const sink: DataSink = { write: takesBytes, pendingBytes: 0, onProgress: null };
  class MethodSink {
    write(chunk: Uint8Array): void {
      held.push(chunk);
    }
  }
  // @ts-expect-error nor as a class method (DataSink.write is a property: no bivariance)
  const methodSink: DataSink = Object.assign(new MethodSink(), { pendingBytes: 0, onProgress: null });
  void forgetful;
  void sink;
  void methodSink;
  expect(held).toEqual([]);
});

test("the exits: a copy survives the release, a kept chunk is not released, a view is the same bytes", () => {
  const read = Uint8Array.of(1, 2, 3, 4);
  const copy = copyTransient(read);
  const view = viewWithinTurn(sliceTransient(read, 1, 3));
  expect([...view]).toEqual([2, 3]);
  releaseChunk(read);
  expect([...copy]).toEqual([1, 2, 3, 4]);
  if (typeof Bun !== "undefined") expect(read.length).toBe(0);

  const other = Uint8Array.of(5, 6);
  const kept = keepTransient(sliceTransient(other, 0, 1));
  releaseChunk(other);
  expect([...other]).toEqual([5, 6]);
  expect([...kept]).toEqual([5]);
});
