import type { OutputMap, OutputTensor } from './tensor-types';

/**
 * A batched run's outputs as n batch-of-one outputs, in input order: every output's first
 * dimension is the batch, so image i's rows are the i-th of n equal slices of its data. The slices
 * are views (no copy); their dims keep the graph's rank with a batch of 1, as a single run's would.
 */
export function splitBatch(outputs: OutputMap, n: number): OutputMap[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`a batch of ${n}`);
  const perImage: Record<string, OutputTensor>[] = Array.from({ length: n }, () => ({}));
  for (const [name, tensor] of Object.entries(outputs)) {
    const [batch, ...rest] = tensor.dims;
    if (batch !== n) {
      throw new RangeError(
        `output '${name}' has dims [${tensor.dims.join(',')}]; expected a batch of ${n} first`,
      );
    }
    const size = rest.reduce((a, b) => a * b, 1);
    if (tensor.data.length !== n * size) {
      throw new RangeError(
        `output '${name}' has ${tensor.data.length} values for dims [${tensor.dims.join(',')}]`,
      );
    }
    const dims = [1, ...rest];
    for (let i = 0; i < n; i++) {
      (perImage[i] as Record<string, OutputTensor>)[name] = {
        data: tensor.data.subarray(i * size, (i + 1) * size),
        dims,
      };
    }
  }
  return perImage;
}

/**
 * Starts `work` for every item, at most `limit` at a time, in order, and returns one promise per
 * item at once (so a caller can use the first results while later items still run). Once `stop()`
 * says so (a request timed out), items not yet started never start: their promises reject with
 * `stopped()`. Every returned promise is already observed, so one left unawaited is no unhandled
 * rejection.
 */
export function boundedMap<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
  stop: { stopped: () => boolean; reason: () => unknown } = { stopped: () => false, reason: () => undefined },
): Promise<R>[] {
  const width = Math.max(1, Math.min(Math.floor(limit) || 1, items.length));
  const settle = items.map(() => {
    let resolve!: (v: R) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<R>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined);
    return { promise, resolve, reject };
  });
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      const slot = settle[i] as (typeof settle)[number];
      if (stop.stopped()) {
        slot.reject(stop.reason());
        continue;
      }
      try {
        slot.resolve(await work(items[i] as T, i));
      } catch (e) {
        slot.reject(e);
      }
    }
  };
  for (let k = 0; k < width; k++) void lane();
  return settle.map((s) => s.promise);
}
