import type { TimeoutError } from '../core/errors';

/**
 * A time limit as a signal that aborts with `reason` after `ms`, and `clear` to stop its timer
 * once the work is done. The service stops waiting on the signal and skips a model run that has
 * not started.
 */
export function timeLimitSignal(
  ms: number,
  reason: TimeoutError,
): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  // No time left at all: nothing starts (a timer, however short, would let the decode begin).
  if (ms <= 0) controller.abort(reason);
  const timer = setTimeout(
    () => {
      controller.abort(reason);
    },
    Math.max(0, ms),
  );
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer);
    },
  };
}
