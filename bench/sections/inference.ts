import { log } from '../lib/log';
import { syntheticInput, type BenchModel } from '../lib/models';
import { benchSession } from '../lib/ort-run';
import { round, type Summary } from '../lib/stats';

export interface InferenceRow {
  model: string;
  label: string;
  threads: number;
  batch: number;
  createMs: number;
  firstRunMs: number;
  wall: Summary;
  cpu: Summary;
  /** Median wall time divided by the batch size. */
  perImageMs: number;
}

export interface InferenceOptions {
  threads: number[];
  runs: number;
  /** Fewer runs for the models slower than about 100 ms. */
  slowRuns: number;
}

const SLOW = new Set(['yolov4', 'yolov4-mish', 'yolov4-int8']);

/** (1) Bare onnxruntime-node inference per model: creation, first run, median/p90 of n runs. */
export async function runInference(models: BenchModel[], opts: InferenceOptions): Promise<InferenceRow[]> {
  const rows: InferenceRow[] = [];
  for (const m of models) {
    const batches = m.key === 'resnet50' ? [1, 4] : [1];
    for (const threads of opts.threads) {
      for (const batch of batches) {
        const dims = m.dims(batch);
        const n = SLOW.has(m.key) ? opts.slowRuns : opts.runs;
        const input = syntheticInput(dims.reduce((a, b) => a * b, 1));
        const r = await benchSession(m.file, threads, input, dims, n);
        rows.push({
          model: m.key,
          label: m.label,
          threads,
          batch,
          createMs: r.createMs,
          firstRunMs: r.firstRunMs,
          wall: r.wall,
          cpu: r.cpu,
          perImageMs: r.wall.median / batch,
        });
        log(
          `inference ${m.key} t=${threads} b=${batch}: create ${round(r.createMs, 0)} ms, first ${round(r.firstRunMs, 0)} ms, median ${round(r.wall.median)} ms (cpu ${round(r.cpu.median)} ms), p90 ${round(r.wall.p90)} ms`,
        );
      }
    }
  }
  return rows;
}

/** The median wall time of a model at batch 1 and the given threads, from the rows. */
export function bareMedian(rows: InferenceRow[], model: string, threads: number): number | null {
  return rows.find((r) => r.model === model && r.threads === threads && r.batch === 1)?.wall.median ?? null;
}
