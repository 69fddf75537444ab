import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type * as ort from 'onnxruntime-node';
import { createSession } from './ort-run';

export interface OpShare {
  op: string;
  nodes: number;
  ms: number;
  share: number;
}

/** One node of the optimised graph: its fastest kernel time over the runs. */
export interface NodeTime {
  /** The node's name in onnxruntime's optimised graph (fused and layout nodes keep or derive it). */
  name: string;
  op: string;
  ms: number;
}

/** One profiled run: onnxruntime's own run time and the kernels inside it. */
export interface RunTime {
  /** `model_run`: from entering onnxruntime's Run to leaving it (feeds and fetches included). */
  runMs: number;
  /** Sum of this run's kernel times. */
  kernelMs: number;
}

export interface KernelProfile {
  runs: number;
  /** Sum over nodes of each node's fastest kernel time: robust to preemption by other processes. */
  totalMs: number;
  byOp: OpShare[];
  /** Every node, slowest first (only with `nodes: true`). */
  byNode?: NodeTime[];
  /** Each run's `model_run` time and kernel sum (only with `nodes: true`). */
  perRun?: RunTime[];
}

export interface KernelProfileOptions {
  /** Session options on top of createSession's (e.g. the service's). */
  session?: ort.InferenceSession.SessionOptions;
  /** Also return byNode and perRun. */
  nodes?: boolean;
}

interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args: { op_name?: string };
}

const KERNEL = '_kernel_time';

/** Profiles `runs` runs with onnxruntime's profiler and sums each node's fastest kernel time. */
export async function kernelProfile(
  file: string | Uint8Array,
  threads: number,
  feeds: (s: ort.InferenceSession) => Record<string, ort.Tensor>,
  runs: number,
  options: KernelProfileOptions = {},
): Promise<KernelProfile> {
  const [profile] = await kernelProfiles([{ file, feeds }], threads, runs, options);
  return profile!;
}

/**
 * kernelProfile for several models at once: their runs alternate (one run each per round), so
 * that other processes' load falls on all of them alike.
 */
export async function kernelProfiles(
  models: readonly {
    file: string | Uint8Array;
    feeds: (s: ort.InferenceSession) => Record<string, ort.Tensor>;
  }[],
  threads: number,
  runs: number,
  options: KernelProfileOptions = {},
): Promise<KernelProfile[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ort-profile-'));
  const sessions: ort.InferenceSession[] = [];
  try {
    for (const [i, m] of models.entries()) {
      sessions.push(
        await createSession(m.file, threads, {
          ...options.session,
          enableProfiling: true,
          profileFilePrefix: path.join(dir, `p${i}`),
        }),
      );
    }
    const feeds = sessions.map((s, i) => models[i]!.feeds(s));
    for (let r = 0; r < runs; r++) {
      for (const [i, s] of sessions.entries()) await s.run(feeds[i]!);
    }
    const profiles: KernelProfile[] = [];
    for (const [i, s] of sessions.entries()) {
      await s.release(); // writes the profile
      const file = readdirSync(dir).find((n) => n.startsWith(`p${i}_`) && n.endsWith('.json'));
      if (!file) throw new Error('onnxruntime wrote no profile');
      const events = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as ProfileEvent[];
      profiles.push(summarizeProfile(events, runs, options.nodes ?? false));
    }
    sessions.length = 0;
    return profiles;
  } finally {
    for (const s of sessions) await s.release().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

function summarizeProfile(events: readonly ProfileEvent[], runs: number, nodes: boolean): KernelProfile {
  const perNode = new Map<string, { op: string; min: number }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith(KERNEL)) continue;
    const n = perNode.get(e.name);
    if (n) n.min = Math.min(n.min, e.dur);
    else perNode.set(e.name, { op: e.args.op_name ?? '?', min: e.dur });
  }
  const byOp = new Map<string, { nodes: number; us: number }>();
  for (const n of perNode.values()) {
    const o = byOp.get(n.op) ?? { nodes: 0, us: 0 };
    o.nodes++;
    o.us += n.min;
    byOp.set(n.op, o);
  }
  const totalUs = [...byOp.values()].reduce((s, o) => s + o.us, 0);
  const profile: KernelProfile = {
    runs,
    totalMs: totalUs / 1000,
    byOp: [...byOp.entries()]
      .map(([op, o]) => ({ op, nodes: o.nodes, ms: o.us / 1000, share: o.us / totalUs }))
      .sort((a, b) => b.ms - a.ms),
  };
  if (nodes) {
    profile.byNode = [...perNode.entries()]
      .map(([name, n]) => ({ name: name.slice(0, -KERNEL.length), op: n.op, ms: n.min / 1000 }))
      .sort((a, b) => b.ms - a.ms);
    profile.perRun = perRunTimes(events);
  }
  return profile;
}

/** Each `model_run` event with the kernels that fall inside it (profiler times are in µs). */
function perRunTimes(events: readonly ProfileEvent[]): RunTime[] {
  const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith(KERNEL));
  return events
    .filter((e) => e.cat === 'Session' && e.name === 'model_run')
    .map((run) => {
      const end = run.ts + run.dur;
      const us = kernels.filter((k) => k.ts >= run.ts && k.ts < end).reduce((s, k) => s + k.dur, 0);
      return { runMs: run.dur / 1000, kernelMs: us / 1000 };
    });
}
