// How long received bytes live. A socket read's buffer is lent to its receivers for the turn it arrives
// in (its microtasks included) and freed when that turn ends (releaseChunk, called by the transport that
// read it): left to the collector, the buffers of every read pile up between collections and the next
// reads fault fresh pages in.
//
// Receivers see such bytes as TransientBytes, which is not a Uint8Array: it cannot be indexed, queued as
// bytes, or handed to a file or a socket. Whatever has to outlive the turn leaves through one of the
// exits below, so a receiver that forgets does not type-check instead of corrupting data when the turn
// ends. An owned Uint8Array is TransientBytes too (it lives at least as long), so tests and other
// producers pass plain bytes.
//
// Interfaces that hand TransientBytes on declare their callbacks as properties (`write: (chunk) =>
// void`), not methods: TypeScript checks method parameters bivariantly, and an implementation taking a
// Uint8Array would then slip through.

declare const TURN_ONLY: unique symbol;

/** Bytes valid until the end of the current turn; see the exits below. */
export interface TransientBytes {
  readonly length: number;
  readonly byteLength: number;
  /** Never present: it only tells these apart from the bytes a receiver may keep. */
  readonly [TURN_ONLY]?: true;
}

/** Every TransientBytes is a Uint8Array underneath (the transport's reads, or owned bytes). */
function bytesOf(t: TransientBytes): Uint8Array {
  return t as Uint8Array;
}

/** Exit: a copy of its own, for what is small or held for long (a command set). */
export function copyTransient(t: TransientBytes): Uint8Array {
  return bytesOf(t).slice();
}

/**
 * Exit: the same bytes, no longer freed when their turn ends (the collector frees them later). Cheaper
 * than a copy for what is held on briefly, such as the head of a data set waiting for its file; the
 * whole read's buffer is kept.
 */
export function keepTransient(t: TransientBytes): Uint8Array {
  const bytes = bytesOf(t);
  kept.add(bytes.buffer);
  return bytes;
}

/**
 * Exit for code done with the bytes within this turn: a parser reading them now, a file writer that
 * writes them when the turn ends. The view must not be held past the turn.
 */
export function viewWithinTurn(t: TransientBytes): Uint8Array {
  return bytesOf(t);
}

/** Part of the bytes, as transient as the whole. */
export function sliceTransient(t: TransientBytes, start: number, end: number): TransientBytes {
  return bytesOf(t).subarray(start, end);
}

const kept = new WeakSet<ArrayBufferLike>();

/**
 * `transfer(0)` detaches a buffer and frees its memory at once; ES2024, so not in our lib types.
 * Absent: the collector frees it later.
 */
const detach = (ArrayBuffer.prototype as { transfer?: (this: ArrayBuffer, length: number) => ArrayBuffer })
  .transfer;

/**
 * Free a received chunk's memory now, at the end of its turn, instead of when the collector gets to
 * it. Only a buffer the chunk covers whole is freed, so a transport that slices one buffer into several
 * chunks is never affected; one a receiver kept (keepTransient) is left to the collector.
 */
export function releaseChunk(chunk: Uint8Array): void {
  const buffer = chunk.buffer;
  if (kept.has(buffer)) return;
  if (
    detach &&
    chunk.byteOffset === 0 &&
    chunk.byteLength === buffer.byteLength &&
    buffer instanceof ArrayBuffer
  ) {
    try {
      detach.call(buffer, 0);
    } catch {
      // A buffer that cannot be detached (none of Bun's reads so far) is freed by the collector, as
      // before: this runs in a microtask, where a throw would end the process.
    }
  }
}
