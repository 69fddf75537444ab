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

export interface KernelProfile {
  runs: number;
  /** Sum over nodes of each node's fastest kernel time: robust to preemption by other processes. */
  totalMs: number;
  byOp: OpShare[];
}

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args: { op_name?: string };
}

/** Profiles `runs` runs with onnxruntime's profiler and sums each node's fastest kernel time. */
export async function kernelProfile(
  file: string,
  threads: number,
  feeds: (s: ort.InferenceSession) => Record<string, ort.Tensor>,
  runs: number,
): Promise<KernelProfile> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ort-profile-'));
  try {
    const session = await createSession(file, threads, {
      enableProfiling: true,
      profileFilePrefix: path.join(dir, 'p'),
    });
    const f = feeds(session);
    for (let i = 0; i < runs; i++) await session.run(f);
    await session.release(); // writes the profile
    const file0 = readdirSync(dir).find((n) => n.endsWith('.json'));
    if (!file0) throw new Error('onnxruntime wrote no profile');
    const events = JSON.parse(readFileSync(path.join(dir, file0), 'utf8')) as ProfileEvent[];
    const perNode = new Map<string, { op: string; min: number }>();
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
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
    return {
      runs,
      totalMs: totalUs / 1000,
      byOp: [...byOp.entries()]
        .map(([op, o]) => ({ op, nodes: o.nodes, ms: o.us / 1000, share: o.us / totalUs }))
        .sort((a, b) => b.ms - a.ms),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
