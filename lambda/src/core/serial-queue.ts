import { OverloadedError } from './errors';

/**
 * Runs jobs one at a time, in order, with a bounded backlog. One per model session: two runs
 * fighting over the same cores are slower than two runs in turn, and a full queue answers
 * OVERLOADED at once instead of letting latency grow without bound.
 *
 * A job whose signal aborts while it waits (its request timed out) leaves the backlog at once and
 * never runs: nobody would read its result, and the requests behind it would wait for it. A job
 * already running finishes (a model run cannot be interrupted) and keeps its place until then.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(
    private readonly maxPending: number,
    private readonly name: string,
  ) {}

  /** Jobs waiting or running. */
  get size(): number {
    return this.pending;
  }

  run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (this.pending >= this.maxPending) {
      return Promise.reject(
        new OverloadedError(
          `Too many requests queued for '${this.name}' (${this.maxPending}); retry shortly.`,
          1,
        ),
      );
    }
    this.pending++;
    let state: 'waiting' | 'running' | 'skipped' = 'waiting';
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        if (state !== 'waiting') return;
        state = 'skipped';
        this.pending--;
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      // The chain itself never rejects: one job's failure is its own caller's only.
      this.tail = this.tail.then(async () => {
        signal?.removeEventListener('abort', onAbort);
        if (state === 'skipped') return;
        state = 'running';
        // Through then(): a job that throws before returning its promise rejects its caller too.
        const outcome = Promise.resolve().then(job);
        await outcome.catch(() => undefined);
        // The slot is free before the caller learns the outcome.
        this.pending--;
        resolve(outcome);
      });
    });
  }
}
