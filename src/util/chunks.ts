// How long a received chunk lives. A socket read's buffer belongs to its receiver for the turn it
// arrives in; the transport then frees it (src/net/transport.ts), unless a receiver said it keeps
// the chunk longer: then the collector frees it, as it would any buffer.

const kept = new WeakSet<ArrayBufferLike>();

/**
 * Keep `chunk` past its turn. Cheaper than a copy for what is held on briefly, such as the head of a
 * data set waiting for its file; the whole read's buffer is kept.
 */
export function keepChunk(chunk: Uint8Array): void {
  kept.add(chunk.buffer);
}

/** Whether a receiver kept some chunk of `buffer` past its turn. */
export function isKept(buffer: ArrayBufferLike): boolean {
  return kept.has(buffer);
}
