// When the files answered from the log are placed (storage.durability: wal). Placing an instance writes
// its bytes a second time (the copy from the log) and commits a journal (sync, rename, directory sync);
// during a burst both land in every log sync the sender is waiting for, since a disk's flush covers
// everything written since the previous one. The log already holds those instances durably, so their
// placing waits while instances keep arriving and the log has room, and happens once the burst is over:
// the way a database defers its checkpoints. The wait is bounded four ways: the receiver quiet for
// QUIET_MS, the log's free share below ROOM_MIN (so a long stream is never refused for want of log space),
// HELD_MAX placings waiting (far below the settler's backlog bound), and none older than AGE_MAX_MS; and
// it ends at once when the caller says so (placeNow: the records held would fill the outbox, whose bound
// must be seen while the burst goes on).

export interface GateOptions {
  /** The share of the log free for new instances now (0..1). */
  freeShare: () => number;
  /** True when what is held must be placed now whatever the burst (the outbox would be full once written). */
  placeNow?: () => boolean;
  quietMs?: number;
  roomMin?: number;
  heldMax?: number;
  ageMaxMs?: number;
}

const QUIET_MS = 100;
const ROOM_MIN = 0.25;
const HELD_MAX = 1024;
const AGE_MAX_MS = 10_000;

export class PlacementGate {
  private readonly quietMs: number;
  private readonly roomMin: number;
  private readonly heldMax: number;
  private readonly ageMaxMs: number;
  private lastBegin = Number.NEGATIVE_INFINITY;
  private held: (() => void)[] = [];
  /** When the oldest placing now held began to wait. */
  private heldSince = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(private readonly o: GateOptions) {
    this.quietMs = o.quietMs ?? QUIET_MS;
    this.roomMin = o.roomMin ?? ROOM_MIN;
    this.heldMax = o.heldMax ?? HELD_MAX;
    this.ageMaxMs = o.ageMaxMs ?? AGE_MAX_MS;
  }

  /** An instance starts arriving: the burst goes on. Short of log room, what waits goes now. */
  arriving(): void {
    this.lastBegin = performance.now();
    if (this.held.length > 0 && this.pressed()) this.release();
  }

  private pressed(): boolean {
    return this.o.freeShare() < this.roomMin || this.o.placeNow?.() === true;
  }

  /** Undefined when a placing may go at once, else a promise that resolves when it may. */
  hold(): Promise<void> | undefined {
    if (this.closed || this.pressed()) {
      if (this.held.length > 0) this.release();
      return undefined;
    }
    const now = performance.now();
    if (now - this.lastBegin >= this.quietMs) return undefined;
    if (this.held.length >= this.heldMax) {
      this.release();
      return undefined;
    }
    if (this.held.length === 0) this.heldSince = now;
    return new Promise<void>((resolve) => {
      this.held.push(resolve);
      this.arm();
    });
  }

  /** Everything held goes now, and nothing waits from here on (the store is closing). */
  close(): void {
    this.closed = true;
    this.release();
  }

  /** How many placings wait (tests). */
  get waiting(): number {
    return this.held.length;
  }

  /** Everything held goes now; later placings wait again while a burst goes on. */
  release(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const all = this.held;
    this.held = [];
    for (const resolve of all) resolve();
  }

  /** Wake when the receiver will have been quiet long enough, or the oldest has waited long enough. */
  private arm(): void {
    if (this.timer) return;
    const now = performance.now();
    const quietIn = this.lastBegin + this.quietMs - now;
    const ageIn = this.heldSince + this.ageMaxMs - now;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        const at = performance.now();
        if (at - this.lastBegin >= this.quietMs || at - this.heldSince >= this.ageMaxMs) this.release();
        else if (this.held.length > 0) this.arm();
      },
      Math.max(1, Math.min(quietIn, ageIn)),
    );
  }
}
