// Whether a peer is making progress, for an association's idle rule (association.ts): progress is a
// complete DIMSE message, a response sent, or data delivered at the minimum rate on average since the
// last progress, so a peer trickling a byte now and then does not count as alive.

export class ProgressClock {
  private last = Date.now();
  private bytes = 0;
  private readonly minBytesPerMs: number;

  constructor(minRateBytesPerS: number) {
    this.minBytesPerMs = minRateBytesPerS / 1000;
  }

  /** Bytes arrived: progress if they kept to the minimum rate on average since the last progress. */
  received(n: number, now = Date.now()): void {
    this.bytes += n;
    if (this.bytes >= this.minBytesPerMs * (now - this.last)) this.progress(now);
  }

  /** Progress: the idle clock starts again. */
  progress(now = Date.now()): void {
    this.last = now;
    this.bytes = 0;
  }

  /** Milliseconds since the last progress. */
  quietFor(now = Date.now()): number {
    return now - this.last;
  }

  /** Bytes received since the last progress (too slowly to count as progress). */
  get bytesSinceProgress(): number {
    return this.bytes;
  }
}
