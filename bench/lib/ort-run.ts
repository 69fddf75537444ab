import * as ort from 'onnxruntime-node';
import { summarize, timed, type Summary } from './stats';

export interface SessionTiming {
  createMs: number;
  firstRunMs: number;
  wall: Summary;
  /** Process CPU time per run (all threads). Less sensitive than wall time to other tenants. */
  cpu: Summary;
}

export function createSession(
  file: string | Uint8Array,
  threads: number,
  extra: ort.InferenceSession.SessionOptions = {},
): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    ...extra,
  };
  return typeof file === 'string'
    ? ort.InferenceSession.create(file, options)
    : ort.InferenceSession.create(file, options);
}

export function feedsFor(session: ort.InferenceSession, data: Float32Array, dims: number[]) {
  const name = session.inputNames[0];
  if (!name) throw new Error('model has no inputs');
  return { [name]: new ort.Tensor('float32', data, dims) };
}

/** Runs `n` times after the first run (which is reported separately as the warm-up). */
export async function measureRuns(
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
  n: number,
): Promise<{ firstRunMs: number; wall: Summary; cpu: Summary }> {
  const first = await timed(() => session.run(feeds));
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await timed(() => session.run(feeds));
    wall.push(r.wallMs);
    cpu.push(r.cpuMs);
  }
  return { firstRunMs: first.wallMs, wall: summarize(wall), cpu: summarize(cpu) };
}

/** Session creation, first run and n timed runs of one model file. */
export async function benchSession(
  file: string,
  threads: number,
  data: Float32Array,
  dims: number[],
  n: number,
): Promise<SessionTiming> {
  const created = await timed(() => createSession(file, threads));
  const session = created.value;
  try {
    const r = await measureRuns(session, feedsFor(session, data, dims), n);
    return { createMs: created.wallMs, ...r };
  } finally {
    await session.release();
  }
}

/** Largest absolute difference between two runs' outputs (Infinity if their shapes differ). */
export function maxAbsDiff(
  a: ort.InferenceSession.OnnxValueMapType,
  b: ort.InferenceSession.OnnxValueMapType,
): number {
  let max = 0;
  for (const [k, t] of Object.entries(a)) {
    const x = t.data as Float32Array;
    const y = b[k]?.data as Float32Array | undefined;
    if (!y || y.length !== x.length) return Infinity;
    for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]! - y[i]!));
  }
  return max;
}

/**
 * Runs several sessions in turn, one run each per round (the order reversed every other round),
 * after `warmUp` untimed runs each, so that load from other processes hits all of them alike.
 * Returns each one's wall and CPU times.
 */
export async function runInterleaved(
  runs: readonly (() => Promise<unknown>)[],
  rounds: number,
  warmUp = 1,
): Promise<{ wall: number[][]; cpu: number[][] }> {
  for (const run of runs) for (let i = 0; i < warmUp; i++) await run();
  const wall: number[][] = runs.map(() => []);
  const cpu: number[][] = runs.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const order = runs.map((_, i) => (r % 2 === 0 ? i : runs.length - 1 - i));
    for (const i of order) {
      const t = await timed(runs[i]!);
      wall[i]!.push(t.wallMs);
      cpu[i]!.push(t.cpuMs);
    }
  }
  return { wall, cpu };
}
