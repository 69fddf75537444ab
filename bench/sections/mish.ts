import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type * as ort from 'onnxruntime-node';
import { prepareModel, rewriteMish, rewriteMishParts } from '../../tools/model-prep/onnx-graph-rewrite';
import { MISH_FORMS } from '../lib/mish-forms';
import { kernelProfile, type KernelProfile } from '../lib/ort-profile';
import { log } from '../lib/log';
import { BENCH_CACHE, syntheticInput } from '../lib/models';
import { createSession, feedsFor, maxAbsDiff } from '../lib/ort-run';
import { round, summarize, timed, type Summary } from '../lib/stats';

export interface MishVariant {
  name: string;
  wall: Summary;
  cpu: Summary;
  maxAbsDiff: number;
}

export interface MishThreads {
  threads: number;
  rounds: number;
  variants: MishVariant[];
  /** before / after, from the medians (>1 means the rewrite is faster). */
  speedupWall: number;
  speedupCpu: number;
}

export interface MishResult {
  replaced: number;
  /** Parse and splice in memory (no copy of the weights). */
  rewriteMs: number;
  /** prepareModel into an empty cache: read 257 MB, rewrite, write the copy. */
  prepareColdMs: number;
  prepare: { ms: number; cached: boolean };
  /**
   * onnxruntime profiler: each node's fastest kernel time over the runs, summed per op type. The
   * fastest occurrence of a node is one that other processes did not interrupt, so the sum
   * approximates an idle machine even when wall times do not.
   */
  profile: { threads: number; before: KernelProfile; after: KernelProfile }[];
  ab: MishThreads[];
  /** Every candidate form at 1 thread (full run only). */
  forms: MishThreads | null;
  /** Loading onnxruntime's own saved optimised graph (optimizedModelFilePath) vs the .onnx file. */
  ortOptimizedLoad: {
    threads: number;
    createFromOnnxMs: number[];
    createFromOrtOptimizedMs: number[];
    maxAbsDiff: number;
  };
}

const INPUT_DIMS = [1, 416, 416, 3];

/** Runs the sessions in interleaved rounds so that load from other tenants hits all alike. */
async function interleaved(
  entries: { name: string; source: string | Uint8Array }[],
  threads: number,
  rounds: number,
): Promise<MishThreads> {
  const input = syntheticInput(
    INPUT_DIMS.reduce((a, b) => a * b, 1),
    7,
  );
  const sessions: ort.InferenceSession[] = [];
  try {
    for (const e of entries) sessions.push(await createSession(e.source, threads));
    const feeds = feedsFor(sessions[0]!, input, INPUT_DIMS);
    const reference = await sessions[0]!.run(feeds);
    const diffs: number[] = [maxAbsDiff(reference, reference)];
    for (const s of sessions.slice(1)) diffs.push(maxAbsDiff(reference, await s.run(feeds)));
    const wall: number[][] = entries.map(() => []);
    const cpu: number[][] = entries.map(() => []);
    for (let r = 0; r < rounds; r++) {
      for (const [i, s] of sessions.entries()) {
        const t = await timed(() => s.run(feeds));
        wall[i]!.push(t.wallMs);
        cpu[i]!.push(t.cpuMs);
      }
    }
    const variants = entries.map((e, i) => ({
      name: e.name,
      wall: summarize(wall[i]!),
      cpu: summarize(cpu[i]!),
      maxAbsDiff: diffs[i]!,
    }));
    const [before, after] = variants;
    return {
      threads,
      rounds,
      variants,
      speedupWall: before && after ? before.wall.median / after.wall.median : NaN,
      speedupCpu: before && after ? before.cpu.median / after.cpu.median : NaN,
    };
  } finally {
    for (const s of sessions) await s.release();
  }
}

/** YOLOv4 before/after the Mish rewrite, interleaved, plus the alternatives and ORT's saved graph. */
export async function runMish(
  original: string,
  rewritten: string,
  prepare: { ms: number; cached: boolean },
  opts: { threads: number[]; rounds: number; forms: boolean; loadRepeats: number; profileRuns: number },
): Promise<MishResult> {
  const bytes = readFileSync(original);
  const t = performance.now();
  const { replaced } = rewriteMishParts(bytes);
  const rewriteMs = performance.now() - t;
  const scratch = mkdtempSync(path.join(BENCH_CACHE, 'prepare-'));
  const cold = await timed(() => prepareModel(original, null, scratch));
  rmSync(scratch, { recursive: true, force: true });
  log(
    `mish rewrite: ${replaced} chains, in memory ${round(rewriteMs, 0)} ms, prepare (read + write) ${round(cold.wallMs, 0)} ms`,
  );

  const profileFeeds = (s: ort.InferenceSession) => feedsFor(s, syntheticInput(416 * 416 * 3, 7), INPUT_DIMS);
  const profile: MishResult['profile'] = [];
  for (const threads of opts.threads) {
    const p = {
      threads,
      before: await kernelProfile(original, threads, profileFeeds, opts.profileRuns),
      after: await kernelProfile(rewritten, threads, profileFeeds, opts.profileRuns),
    };
    profile.push(p);
    log(
      `mish profile t=${threads} (per-node fastest kernels): before ${round(p.before.totalMs)} ms, after ${round(p.after.totalMs)} ms (×${round(p.before.totalMs / p.after.totalMs, 3)})`,
    );
  }

  const ab: MishThreads[] = [];
  for (const threads of opts.threads) {
    const r = await interleaved(
      [
        { name: 'zoo Mish (Exp-Add-Log-Tanh-Mul)', source: original },
        { name: 'rewritten (exp-div)', source: rewritten },
      ],
      threads,
      opts.rounds,
    );
    ab.push(r);
    log(
      `mish t=${threads}: before ${round(r.variants[0]!.wall.median)} ms (cpu ${round(r.variants[0]!.cpu.median)}), after ${round(r.variants[1]!.wall.median)} ms (cpu ${round(r.variants[1]!.cpu.median)}), speedup wall ×${round(r.speedupWall, 3)} cpu ×${round(r.speedupCpu, 3)}, max |diff| ${r.variants[1]!.maxAbsDiff.toExponential(2)}`,
    );
  }

  let forms: MishThreads | null = null;
  if (opts.forms) {
    forms = await interleaved(
      [
        { name: 'zoo', source: original },
        ...MISH_FORMS.map((form) => ({ name: form.name, source: rewriteMish(bytes, form).bytes })),
      ],
      1,
      Math.max(3, Math.round(opts.rounds / 2)),
    );
    for (const v of forms.variants) {
      log(
        `mish form ${v.name}: wall ${round(v.wall.median)} ms, cpu ${round(v.cpu.median)} ms, max |diff| ${v.maxAbsDiff.toExponential(2)}`,
      );
    }
  }

  // onnxruntime can save the graph it optimised (NCHWc layout, fused Conv+activation) and load it
  // with optimisation off. The saved file is specific to this CPU's instruction set.
  const threads = opts.threads.at(-1) ?? 2;
  // Beside the rewritten file: the saved graph refers to its external weights file by a relative path.
  const ortFile = path.join(path.dirname(rewritten), 'ort-optimized-yolov4-mish.onnx');
  const fromOnnx: number[] = [];
  const fromOrt: number[] = [];
  const save = await createSession(rewritten, threads, {
    optimizedModelFilePath: ortFile,
    logSeverityLevel: 3,
  });
  await save.release();
  let diff = NaN;
  for (let i = 0; i < opts.loadRepeats; i++) {
    const a = await timed(() => createSession(rewritten, threads));
    fromOnnx.push(a.wallMs);
    const b = await timed(() => createSession(ortFile, threads, { graphOptimizationLevel: 'disabled' }));
    fromOrt.push(b.wallMs);
    if (i === 0) {
      const feeds = feedsFor(a.value, syntheticInput(416 * 416 * 3, 3), INPUT_DIMS);
      diff = maxAbsDiff(await a.value.run(feeds), await b.value.run(feeds));
    }
    await a.value.release();
    await b.value.release();
  }
  rmSync(ortFile, { force: true });
  log(
    `mish ORT-optimised file: create ${fromOrt.map((v) => round(v, 0)).join('/')} ms vs .onnx ${fromOnnx.map((v) => round(v, 0)).join('/')} ms`,
  );
  return {
    replaced,
    rewriteMs,
    prepareColdMs: cold.wallMs,
    prepare,
    profile,
    ab,
    forms,
    ortOptimizedLoad: {
      threads,
      createFromOnnxMs: fromOnnx,
      createFromOrtOptimizedMs: fromOrt,
      maxAbsDiff: diff,
    },
  };
}
