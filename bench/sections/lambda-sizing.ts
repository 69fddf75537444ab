import { threadsForLambdaMemory } from '../../lambda/src/adapters/config';

export interface SizingRow {
  memoryMb: number;
  vcpus: number;
  threads: number;
  latency: { model: string; ms: number | null; source: 'measured' | 'extrapolated' | 'n/a' }[];
}

export const LAMBDA_MEMORY = [1769, 3008, 5307, 10240];

/**
 * (8) Lambda sizing. Lambda gives 1 vCPU per 1,769 MB (6 at most); the handler runs
 * floor(memory/1769) intra-op threads (1..6). Latency at 1 and 2 threads is measured here; for more
 * threads it is extrapolated with Amdahl's law fitted to the 1→2 thread speed-up of the fastest
 * runs (least disturbed by other processes): t(n) = t1·((1−p) + p/n), p = 2·(1 − t2/t1).
 */
export function lambdaSizing(
  models: string[],
  latency: (model: string, threads: number) => number | null,
  fastest: (model: string, threads: number) => number | null,
): SizingRow[] {
  return LAMBDA_MEMORY.map((memoryMb) => {
    const threads = threadsForLambdaMemory(memoryMb);
    return {
      memoryMb,
      vcpus: Math.round(Math.min(6, memoryMb / 1769) * 100) / 100,
      threads,
      latency: models.map((model) => {
        const measured = latency(model, threads);
        if (measured !== null) return { model, ms: measured, source: 'measured' as const };
        const t1 = latency(model, 1);
        const f1 = fastest(model, 1);
        const f2 = fastest(model, 2);
        // No speed-up from 1 to 2 threads means the second CPU was busy elsewhere: nothing to fit.
        if (t1 === null || f1 === null || f2 === null || f2 >= f1)
          return { model, ms: null, source: 'n/a' as const };
        const p = Math.min(1, Math.max(0, 2 * (1 - f2 / f1)));
        return { model, ms: t1 * (1 - p + p / threads), source: 'extrapolated' as const };
      }),
    };
  });
}

/**
 * Lambda's published x86 price (us-east-1, first tier: up to 6 billion GB-seconds a month), as
 * aws.amazon.com/lambda/pricing and AWS's "How AWS Pricing Works" state it, checked 2026-12-05.
 * Billed memory is MB / 1024 GB; duration is rounded up to the millisecond.
 */
export const LAMBDA_X86_PRICE = {
  checked: '2026-12-05',
  region: 'us-east-1',
  perGbSecond: 0.0000166667,
  perMillionRequests: 0.2,
} as const;

export interface CostRow {
  memoryMb: number;
  threads: number;
  costs: {
    model: string;
    /** Billed duration: inference at this size plus the measured rest of the request (decode, pre/post). */
    durationMs: number | null;
    source: SizingRow['latency'][number]['source'];
    gbSeconds: number | null;
    dollarsPerMillion: number | null;
  }[];
}

/**
 * (8b) What a million requests cost at each size: the sizing latency (measured or extrapolated
 * inference) plus `restMs(model)`, the rest of a request as measured end to end on this machine
 * (decode, preprocessing, postprocessing and the handler: single-threaded work that does not shrink
 * with more vCPUs), billed at {@link LAMBDA_X86_PRICE}.
 */
export function lambdaCost(rows: readonly SizingRow[], restMs: (model: string) => number | null): CostRow[] {
  const price = LAMBDA_X86_PRICE;
  return rows.map((row) => ({
    memoryMb: row.memoryMb,
    threads: row.threads,
    costs: row.latency.map((l) => {
      const rest = restMs(l.model);
      if (l.ms === null || rest === null) {
        return {
          model: l.model,
          durationMs: null,
          source: l.source,
          gbSeconds: null,
          dollarsPerMillion: null,
        };
      }
      const durationMs = Math.ceil(l.ms + rest);
      const gbSeconds = (row.memoryMb / 1024) * (durationMs / 1000);
      return {
        model: l.model,
        durationMs,
        source: l.source,
        gbSeconds,
        dollarsPerMillion: gbSeconds * 1e6 * price.perGbSecond + price.perMillionRequests,
      };
    }),
  }));
}
