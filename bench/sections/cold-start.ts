import path from 'node:path';
import { runEventChild } from '../lib/child-process';
import { log } from '../lib/log';
import { ROOT } from '../lib/models';
import { withAllocator } from '../lib/service-env';
import { round } from '../lib/stats';

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
