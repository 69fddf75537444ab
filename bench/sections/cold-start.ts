import path from 'node:path';
import { runEventChild } from '../lib/child-process';
import { log } from '../lib/log';
import { ROOT } from '../lib/models';
import { withAllocator } from '../lib/service-env';
import { round, summarize } from '../lib/stats';

export interface ColdStartRow {
  model: string;
  /** 'tuned': lambda/allocator-env.json as the image sets it; 'glibc defaults': without it. */
  allocator?: 'tuned' | 'glibc defaults';
  /** Parent's clock: spawn() to the first successful answer. */
  spawnToFirstMs: number;
  /** Child's clock: node + tsx + runtime modules loaded. */
  modulesLoadedMs: number;
  /** Config, service, session creation (preload). */
  initMs: number;
  firstRequestMs: number;
  status: number;
  /** Peak RSS once the model is loaded and has answered. */
  peakRssMb: number;
  after: {
    requests: number;
    failures: number;
    meanMs: number | null;
    rssMb: number;
    maxRssMb: number;
  } | null;
}

/**
 * (4) Cold start: a new node process to the first successful answer, per model; (5) its peak RSS,
 * and RSS after `requests` more requests through the handler.
 */
export async function runColdStart(
  models: { id: string; route: string; requests: number; detector: boolean; glibcDefaults?: boolean }[],
  baseEnv: NodeJS.ProcessEnv,
  image: string,
): Promise<ColdStartRow[]> {
  const rows: ColdStartRow[] = [];
  for (const m of models) {
    // The before/after of the allocator settings: the same child with glibc's defaults.
    const base = withAllocator(baseEnv, m.glibcDefaults ? 'glibc defaults' : 'tuned');
    const env: NodeJS.ProcessEnv = {
      ...base,
      PRELOAD_MODELS: m.id,
      BENCH_MODEL: m.id,
      BENCH_ROUTE: m.route,
      BENCH_REQUESTS: String(m.requests),
      BENCH_IMAGE: image,
      ...(m.id ? (m.detector ? { DEFAULT_DETECTOR: m.id } : { DEFAULT_CLASSIFIER: m.id }) : {}),
    };
    const { lines, firstAtMs } = await runEventChild(
      ['--import', 'tsx', path.join(__dirname, '..', 'child', 'cold-start.ts')],
      { cwd: ROOT, env, name: 'cold-start' },
    );
    const first = lines.find((l) => l.event === 'first');
    const after = lines.find((l) => l.event === 'after');
    if (!first) throw new Error(`cold start ${m.id}: no answer`);
    const row: ColdStartRow = {
      model: m.id || '(no model: GET /health)',
      allocator: m.glibcDefaults ? 'glibc defaults' : 'tuned',
      spawnToFirstMs: firstAtMs,
      modulesLoadedMs: first.modulesLoadedMs as number,
      initMs: first.initMs as number,
      firstRequestMs: first.firstRequestMs as number,
      status: first.status as number,
      peakRssMb: first.maxRssMb as number,
      after: after
        ? {
            requests: after.requests as number,
            failures: after.failures as number,
            meanMs: after.meanMs as number | null,
            rssMb: after.rssMb as number,
            maxRssMb: after.maxRssMb as number,
          }
        : null,
    };
    rows.push(row);
    log(
      `cold start ${row.model} (${row.allocator}): ${round(firstAtMs, 0)} ms to first ${row.status} (modules ${row.modulesLoadedMs}, init ${row.initMs}, request ${row.firstRequestMs}); peak RSS ${row.peakRssMb} MB; after ${row.after?.requests ?? 0} requests RSS ${row.after?.rssMb ?? '-'} MB`,
    );
  }
  return rows;
}

/** One fresh process of the warm-up before/after: WARM_UP=1 (`on`) or WARM_UP=0 (`off`). */
export interface WarmUpRun {
  model: string;
  warmUp: 'on' | 'off';
  round: number;
  spawnToFirstMs: number;
  /** Config, service, session creation and, when on, the warm-up run. */
  initMs: number;
  firstRequestMs: number;
  /** The service's own `timings.inferenceMs` of the first request. */
  firstInferenceMs: number | null;
  /** Medians over the `requests` that followed the first, in the same process. */
  steadyMs: number | null;
  steadyInferenceMs: number | null;
  requests: number;
  /** The service's stage timings of the first request, and each stage's median over the rest. */
  firstTimings?: Record<string, number> | null;
  steadyTimings?: Record<string, number | null> | null;
}

/** Per model and setting, medians over the rounds (ratios: median of the per-round ratios). */
export interface WarmUpRow {
  model: string;
  warmUp: 'on' | 'off';
  rounds: number;
  requests: number;
  spawnToFirstMs: number;
  initMs: number;
  firstRequestMs: number;
  steadyMs: number | null;
  firstOverSteady: number | null;
  firstInferenceMs: number | null;
  steadyInferenceMs: number | null;
  firstOverSteadyInference: number | null;
}

export interface WarmUpResult {
  rounds: number;
  rows: WarmUpRow[];
  runs: WarmUpRun[];
}

const medianOf = (values: (number | null)[]): number | null => {
  const known = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return known.length ? round(summarize(known).median, 2) : null;
};
const ratio = (a: number | null, b: number | null) => (a !== null && b !== null && b > 0 ? a / b : null);

/**
 * The first request with and without the start-up warm-up (config.warmUp, WARM_UP=1 / WARM_UP=0):
 * per round and model a fresh process with each setting, the order alternating between rounds
 * (on, off, then off, on), allocator settings as the image has them. Each process answers its first
 * request, then `requests` more, whose median is the steady per-request time.
 */
export async function runWarmUpAb(
  models: { id: string; route: string; requests: number; detector: boolean }[],
  baseEnv: NodeJS.ProcessEnv,
  image: string,
  rounds: number,
): Promise<WarmUpResult> {
  const runs: WarmUpRun[] = [];
  const base = withAllocator(baseEnv, 'tuned');
  for (let r = 1; r <= rounds; r++) {
    const order = r % 2 ? (['on', 'off'] as const) : (['off', 'on'] as const);
    for (const m of models) {
      for (const setting of order) {
        const env: NodeJS.ProcessEnv = {
          ...base,
          WARM_UP: setting === 'on' ? '1' : '0',
          PRELOAD_MODELS: m.id,
          BENCH_MODEL: m.id,
          BENCH_ROUTE: m.route,
          BENCH_REQUESTS: String(m.requests),
          BENCH_IMAGE: image,
          ...(m.detector ? { DEFAULT_DETECTOR: m.id } : { DEFAULT_CLASSIFIER: m.id }),
        };
        const { lines, firstAtMs } = await runEventChild(
          ['--import', 'tsx', path.join(__dirname, '..', 'child', 'cold-start.ts')],
          { cwd: ROOT, env, name: `warm-up ${setting}` },
        );
        const first = lines.find((l) => l.event === 'first');
        const after = lines.find((l) => l.event === 'after');
        if (!first || first.status !== 200) throw new Error(`warm-up ${setting} ${m.id}: no 200 answer`);
        if (first.warmUp !== (setting === 'on'))
          throw new Error(`warm-up ${setting} ${m.id}: WARM_UP ignored`);
        if (after && after.failures)
          throw new Error(`warm-up ${setting} ${m.id}: ${after.failures as number} failed`);
        const run: WarmUpRun = {
          model: m.id,
          warmUp: setting,
          round: r,
          spawnToFirstMs: round(firstAtMs, 1),
          initMs: first.initMs as number,
          firstRequestMs:
            (first.firstRequestExactMs as number | undefined) ?? (first.firstRequestMs as number),
          firstInferenceMs: (first.firstInferenceMs as number | null | undefined) ?? null,
          steadyMs: (after?.medianMs as number | null | undefined) ?? null,
          steadyInferenceMs: (after?.inferenceMedianMs as number | null | undefined) ?? null,
          requests: m.requests,
          firstTimings: (first.firstTimings as Record<string, number> | null | undefined) ?? null,
          steadyTimings: (after?.stageMediansMs as Record<string, number | null> | undefined) ?? null,
        };
        runs.push(run);
        log(
          `warm-up ${setting} ${m.id} round ${r}: init ${run.initMs} ms, first request ${run.firstRequestMs} ms (inference ${run.firstInferenceMs ?? '-'}), steady ${run.steadyMs ?? '-'} ms (inference ${run.steadyInferenceMs ?? '-'})`,
        );
      }
    }
  }
  const rows: WarmUpRow[] = models.flatMap((m) =>
    (['on', 'off'] as const).map((setting) => {
      const g = runs.filter((x) => x.model === m.id && x.warmUp === setting);
      return {
        model: m.id,
        warmUp: setting,
        rounds: g.length,
        requests: m.requests,
        spawnToFirstMs: medianOf(g.map((x) => x.spawnToFirstMs))!,
        initMs: medianOf(g.map((x) => x.initMs))!,
        firstRequestMs: medianOf(g.map((x) => x.firstRequestMs))!,
        steadyMs: medianOf(g.map((x) => x.steadyMs)),
        firstOverSteady: medianOf(g.map((x) => ratio(x.firstRequestMs, x.steadyMs))),
        firstInferenceMs: medianOf(g.map((x) => x.firstInferenceMs)),
        steadyInferenceMs: medianOf(g.map((x) => x.steadyInferenceMs)),
        firstOverSteadyInference: medianOf(g.map((x) => ratio(x.firstInferenceMs, x.steadyInferenceMs))),
      };
    }),
  );
  return { rounds, rows, runs };
}
