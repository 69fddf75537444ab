/**
 * `work`'s outcome, or the signal's reason as soon as the signal aborts, whichever comes first.
 * For work that cannot itself be interrupted (a decode in libvips' threads, a model load): the
 * caller stops waiting and answers, and the work finishes unobserved.
 */
export function unlessAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => undefined); // its failure, if any, no longer concerns anyone
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => {
      signal.removeEventListener('abort', onAbort);
    });
  });
}
