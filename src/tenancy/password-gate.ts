// Password checks in bounded number. An scrypt check takes tens of milliseconds of a thread-pool
// thread, which file I/O needs too: checks run a few at a time (limits.password_checks), the rest
// wait in a bounded queue (limits.password_queue; beyond it: refused at once), taken in turn from each
// address, so that a flood from one address does not delay another's login. An address whose logins
// keep failing is refused without a check for a while (back-off, doubled per failure), which slows
// that address and nobody else.

export interface PasswordGateOptions {
  /** Checks running at once. */
  concurrency: number;
  /** Checks waiting at most, over all addresses. */
  queue: number;
  /** Failed logins in a row from one address before it is backed off. */
  backoffAfter: number;
  /** Longest back-off. */
  backoffMaxMs: number;
  now?: () => number;
}

/** A check that did not run: the queue was full, or the address is backed off. */
export interface GateRefusal {
  refused: "busy" | "backoff";
  why: string;
}

/** First back-off; doubled for each failure after that. */
const BACKOFF_BASE_MS = 1000;
/** Addresses remembered at most (the oldest are forgotten first). */
const MAX_ADDRESSES = 10_000;

interface Job {
  address: string;
  /** Runs the check, records its outcome and answers the caller; never rejects. */
  run: () => Promise<void>;
  refuse: (r: GateRefusal) => void;
}

interface Failures {
  count: number;
  /** When the last failure was. */
  last: number;
  /** Refused without a check until then. */
  until: number;
}

export class PasswordGate {
  private running = 0;
  private waiting = 0;
  /** Waiting checks per address; an address with checks waiting is served once per round. */
  private readonly queues = new Map<string, Job[]>();
  private readonly failures = new Map<string, Failures>();
  private readonly now: () => number;

  constructor(private readonly options: PasswordGateOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Checks waiting now (for tests and metrics). */
  get queued(): number {
    return this.waiting;
  }

  /**
   * Run `check` for a login from `address` within the bounds; `passed` tells a successful login from a
   * failed one. Resolves with the check's result, or with why it did not run. Never rejects unless the
   * check does.
   */
  check<T>(address: string, check: () => Promise<T>, passed: (r: T) => boolean): Promise<T | GateRefusal> {
    const backoff = this.backoff(address);
    if (backoff) return Promise.resolve(backoff);
    return new Promise((resolve, reject) => {
      const job: Job = {
        address,
        run: () =>
          check().then(
            (r) => {
              // Recorded before the answer: the next login from this address already sees it.
              this.record(address, passed(r));
              resolve(r);
            },
            (err: unknown) => {
              this.record(address, false);
              reject(err);
            },
          ),
        refuse: resolve,
      };
      if (this.running < this.options.concurrency) {
        this.start(job);
        return;
      }
      if (this.waiting >= this.options.queue && !this.makeRoomFor(address)) {
        resolve({ refused: "busy", why: `${this.waiting} password checks waiting (limits.password_queue)` });
        return;
      }
      this.waiting += 1;
      const q = this.queues.get(address);
      if (q) q.push(job);
      else this.queues.set(address, [job]);
    });
  }

  /**
   * The queue is full: when another address has more checks waiting than `address` would have, its
   * newest is refused to make room, so a flood from a few addresses cannot keep the others out.
   */
  private makeRoomFor(address: string): boolean {
    const mine = (this.queues.get(address)?.length ?? 0) + 1;
    let longest: Job[] | undefined;
    for (const jobs of this.queues.values()) if (!longest || jobs.length > longest.length) longest = jobs;
    if (!longest || longest.length <= mine) return false;
    const job = longest.pop() as Job;
    this.waiting -= 1;
    if (longest.length === 0) this.queues.delete(job.address);
    job.refuse({ refused: "busy", why: `password checks of ${job.address} make room for another address` });
    return true;
  }

  /** Why `address` is refused without a check now, or null. */
  private backoff(address: string): GateRefusal | null {
    const f = this.failures.get(address);
    if (!f) return null;
    const now = this.now();
    if (now < f.until) {
      return {
        refused: "backoff",
        why: `${f.count} failed logins in a row from ${address}: refused for ${Math.ceil((f.until - now) / 1000)} s more`,
      };
    }
    // No failure for as long as the longest back-off: forget them.
    if (now >= Math.max(f.until, f.last) + this.options.backoffMaxMs) this.failures.delete(address);
    return null;
  }

  private start(job: Job): void {
    this.running += 1;
    job.run().finally(() => {
      this.running -= 1;
      this.next();
    });
  }

  /** The next waiting check, from the address after the last one served. */
  private next(): void {
    while (this.running < this.options.concurrency && this.waiting > 0) {
      const first = this.queues.entries().next();
      if (first.done) return;
      const [address, jobs] = first.value;
      const job = jobs.shift() as Job;
      this.waiting -= 1;
      // To the back of the round (Map order), or out when it has nothing left.
      this.queues.delete(address);
      if (jobs.length > 0) this.queues.set(address, jobs);
      const backoff = this.backoff(address);
      if (backoff) job.refuse(backoff);
      else this.start(job);
    }
  }

  private record(address: string, ok: boolean): void {
    if (ok) {
      this.failures.delete(address);
      return;
    }
    const now = this.now();
    const f = this.failures.get(address) ?? { count: 0, last: now, until: 0 };
    f.count += 1;
    f.last = now;
    const over = f.count - this.options.backoffAfter;
    if (over >= 0) {
      f.until = now + Math.min(this.options.backoffMaxMs, BACKOFF_BASE_MS * 2 ** Math.min(over, 30));
    }
    this.failures.delete(address);
    this.failures.set(address, f);
    if (this.failures.size > MAX_ADDRESSES) {
      const oldest = this.failures.keys().next();
      if (!oldest.done) this.failures.delete(oldest.value);
    }
  }
}
