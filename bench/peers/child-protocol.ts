/**
 * What the peers children (project-child.ts, transformers-child.ts, opencv_child.py) read and print:
 * settings from PEERS_* variables, one `{"event": …}` JSON line per milestone on stdout (the
 * format of bench/lib/child-process.ts).
 */

export type PeerTask = 'classification' | 'detection';

export interface ChildSettings {
  task: PeerTask;
  image: string;
  /** A model file, or for transformers.js the model folder's root (its id in PEERS_MODEL_ID). */
  model: string;
  threads: number;
  warmUp: number;
  runs: number;
}

/** The environment a parent passes to a child for `s`. */
export function childEnv(s: ChildSettings, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PEERS_TASK: s.task,
    PEERS_IMAGE: s.image,
    PEERS_MODEL: s.model,
    PEERS_THREADS: String(s.threads),
    PEERS_WARMUP: String(s.warmUp),
    PEERS_RUNS: String(s.runs),
    ...extra,
  };
}

export function childSettings(env: NodeJS.ProcessEnv = process.env): ChildSettings {
  const need = (k: string) => {
    const v = env[k];
    if (!v) throw new Error(`${k} is not set`);
    return v;
  };
  const task = need('PEERS_TASK');
  if (task !== 'classification' && task !== 'detection') throw new Error(`PEERS_TASK=${task}`);
  return {
    task,
    image: need('PEERS_IMAGE'),
    model: need('PEERS_MODEL'),
    threads: Number(need('PEERS_THREADS')),
    warmUp: Number(need('PEERS_WARMUP')),
    runs: Number(need('PEERS_RUNS')),
  };
}

export const emit = (event: string, data: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ event, ...data })}\n`);
};
