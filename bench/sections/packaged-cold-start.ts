import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { prepareModel } from '../../tools/model-prep/onnx-graph-rewrite';
import { packageLambda } from '../../scripts/package-lambda';
import { runEventChild } from '../lib/child-process';
import { log } from '../lib/log';
import { withAllocator } from '../lib/service-env';
import { round } from '../lib/stats';

export interface PackagedColdStartRow {
  model: string;
  /** 'prepared': Mish rewritten where present, weights in an external file; else the file as downloaded. */
  file: 'as downloaded' | 'prepared';
  allocator: 'tuned' | 'glibc defaults';
  round: number;
  /** Parent's clock: spawn() to the answer printed. */
  spawnToFirstMs: number;
  /** Child's clock: node itself, before the first line of the child script. */
  nodeStartMs: number;
  /** require('index.js'): the bundle, sharp and onnxruntime-node. */
  requireMs: number;
  /** From there to the first answer: session creation (init phase) and the request. */
  firstAnswerMs: number;
  status: number;
  peakRssMb: number | null;
  /** Peak RSS after `requestsAfter` more requests (the activations' memory reached). */
  requestsAfter?: number;
  peakRssAfterMb?: number | null;
}

/** The before/after pairs: the first is how the previous release started, the last how this one does. */
const VARIANTS = [
  { file: 'as downloaded', allocator: 'glibc defaults' },
  { file: 'as downloaded', allocator: 'tuned' },
  { file: 'prepared', allocator: 'glibc defaults' },
  { file: 'prepared', allocator: 'tuned' },
] as const;

/**
 * Cold start of what the Lambda image runs: `npm run package` into a temporary folder outside the
 * repo (so nothing resolves from the repo's node_modules), then per model and variant a new `node`
 * process there requires index.js and answers one event. Rounds alternate the variants.
 * `prepared` points MODEL_PREPARED_DIR at copies made beforehand, as the image's build does.
 */
export async function runPackagedColdStart(
  models: { id: string; file: string; route: string; detector: boolean }[],
  baseEnv: NodeJS.ProcessEnv,
  image: string,
  rounds: number,
  preparedDir: string,
  requestsAfter = 5,
): Promise<PackagedColdStartRow[]> {
  for (const m of models) await prepareModel(m.file, null, preparedDir);
  const work = mkdtempSync(path.join(tmpdir(), 'bench-package-'));
  const rows: PackagedColdStartRow[] = [];
  try {
    const pkg = path.join(work, 'task');
    await packageLambda({ outDir: pkg, log: () => undefined });
    for (let r = 1; r <= rounds; r++) {
      for (const m of models) {
        for (const { file, allocator } of VARIANTS) {
          const base = withAllocator(baseEnv, allocator);
          const env: NodeJS.ProcessEnv = {
            ...base,
            NODE_ENV: 'production',
            MODEL_PREPARED_DIR: file === 'prepared' ? preparedDir : 'off',
            PRELOAD_MODELS: m.id,
            ...(m.detector ? { DEFAULT_DETECTOR: m.id } : { DEFAULT_CLASSIFIER: m.id }),
            BENCH_MODEL: m.id,
            BENCH_ROUTE: m.route,
            BENCH_IMAGE: image,
            BENCH_REQUESTS: String(requestsAfter),
          };
          const { lines, firstAtMs: ms } = await runEventChild(
            [path.join(__dirname, '..', 'child', 'packaged-cold-start.js')],
            { cwd: pkg, env, name: 'packaged cold-start' },
          );
          const line = lines.find((l) => l.event === 'first')!;
          const after = lines.find((l) => l.event === 'after');
          const row: PackagedColdStartRow = {
            model: m.id,
            file,
            allocator,
            round: r,
            spawnToFirstMs: round(ms, 0),
            nodeStartMs: line.nodeStartMs as number,
            requireMs: line.requireMs as number,
            firstAnswerMs: line.firstAnswerMs as number,
            status: line.status as number,
            peakRssMb: line.peakRssMb as number | null,
            requestsAfter: (after?.requests as number | undefined) ?? 0,
            peakRssAfterMb: (after?.peakRssMb as number | null | undefined) ?? null,
          };
          rows.push(row);
          log(
            `packaged cold start ${m.id} (${file}, ${allocator}, round ${r}): ${row.spawnToFirstMs} ms to ${row.status} (node ${row.nodeStartMs}, require ${row.requireMs}, init + first answer ${row.firstAnswerMs}); peak RSS ${row.peakRssMb} MB, after ${row.requestsAfter} more ${row.peakRssAfterMb} MB`,
          );
        }
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return rows;
}
