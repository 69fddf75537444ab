import { OverloadedError } from './errors';

/**
 * Runs jobs one at a time, in order, with a bounded backlog. One per model session: two runs
 * fighting over the same cores are slower than two runs in turn, and a full queue answers
 * OVERLOADED at once instead of letting latency grow without bound.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(
    private readonly maxPending: number,
    private readonly name: string,
  ) {}

  get size(): number {
    return this.pending;
  }

  run<T>(job: () => Promise<T>): Promise<T> {
    if (this.pending >= this.maxPending) {
      return Promise.reject(
        new OverloadedError(
          `Too many requests queued for '${this.name}' (${this.maxPending}); retry shortly.`,
          1,
        ),
      );
    }
    this.pending++;
    const result = this.tail.then(job);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result.finally(() => {
      this.pending--;
    });
  }
}
