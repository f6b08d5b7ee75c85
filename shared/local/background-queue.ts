import type { Log } from '../ports';

/**
 * Local mode's stand-in for work AWS does after an S3 event, off the writer's path (the
 * asynchronous check of a WAL record whose decoded bytes `complete` did not read, docs/wal.md):
 * jobs run one at a time, in order, after the caller moved on. Bounded: past `max` waiting
 * jobs a new one is dropped and logged — what it would have done is found by
 * reconciliation (hourly under `npm start`), as an event lost in AWS is. A job's failure is
 * logged, never thrown.
 */
export class BackgroundQueue {
  readonly #max: number;
  readonly #log: Log;
  readonly #name: string;
  #waiting = 0;
  #tail: Promise<void> = Promise.resolve();
  #ran = 0;
  #busyMs = 0;
  #held: { promise: Promise<void>; release: () => void } | undefined;

  constructor(options: { name: string; log: Log; max?: number }) {
    this.#name = options.name;
    this.#log = options.log;
    this.#max = options.max ?? 1024;
  }

  /** Queues `job`; false when the queue was full and the job was dropped. */
  push(job: () => Promise<void>): boolean {
    if (this.#waiting >= this.#max) {
      this.#log.warn('background job dropped: queue full (reconciliation will do it)', { queue: this.#name, waiting: this.#waiting });
      return false;
    }
    this.#waiting += 1;
    this.#tail = this.#tail.then(async () => {
      // Read when the job is next: a hold placed meanwhile delays it until released.
      await this.#held?.promise;
      const started = performance.now();
      try {
        await job();
      } catch (error) {
        this.#log.error('background job failed', { queue: this.#name, error: (error as Error).message });
      } finally {
        this.#waiting -= 1;
        this.#ran += 1;
        this.#busyMs += performance.now() - started;
      }
    });
    return true;
  }

  /** Holds the jobs not started yet until `release` (benchmarks: work AWS does elsewhere, kept off a measured pass). */
  hold(): void {
    if (this.#held) return;
    let release!: () => void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.#held = { promise, release };
  }

  /** Lets held jobs run. */
  release(): void {
    const held = this.#held;
    this.#held = undefined;
    held?.release();
  }

  /** Resolves once every job queued so far has run (release a hold first). */
  idle(): Promise<void> {
    return this.#tail;
  }

  /** Jobs run so far and the time they took in all (for benchmarks). */
  stats(): { ran: number; busyMs: number; waiting: number } {
    return { ran: this.#ran, busyMs: Math.round(this.#busyMs), waiting: this.#waiting };
  }
}
