/**
 * YOLOv4 (fp32, Mish rewritten) against its convolution floor, every run:
 *
 * - wall time of full runs (median, p90) with the service's session options;
 * - onnxruntime's profiler split of the same model (each node's fastest kernel, summed): the
 *   convolutions (Conv, FusedConv, NCHWc Conv), the Mish rewrite's nodes, everything else, and the
 *   time outside any kernel (wall − kernel sum; also inside onnxruntime's own Run, per profiled run);
 * - the convolution floor: a graph of only the model's convolutions (same weights, attributes and
 *   input shapes; built from the model itself with tools/model-prep's protobuf code), timed the
 *   same way, interleaved with the full model;
 * - wall / floor.
 *
 * The standalone entry also tries session options, thread counts and Mish forms against the
 * service's settings (`--levers`), and checks other models with a lever (`--check=name,…`):
 *
 *   npx tsx bench/sections/yolov4-split.ts [--quick] [--levers [--only=a,b] [--passes=N]] [--check=a,b]
 *                                          [--no-split] [--wait-idle=S] [--threads=2] [--out=DIR]
 *     → bench/results/<date>-<host>-yolov4-split.{json,md}
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { writeAtomically } from '../../lambda/src/adapters/verified-write';
import { rewriteMish } from '../../tools/model-prep/onnx-graph-rewrite';
import {
  DataLocation,
  DataType,
  decodeModel,
  encodeModel,
  toNumber,
  type ModelMsg,
  type NodeMsg,
  type TensorMsg,
  type ValueInfoMsg,
} from '../../tools/model-prep/onnx-proto';
import { runEventChild } from '../lib/child-process';
import { log } from '../lib/log';
import { machineInfo, versions } from '../lib/machine';
import { MISH_FORMS } from '../lib/mish-forms';
import { BENCH_CACHE, ROOT, syntheticInput } from '../lib/models';
import { kernelProfiles, type KernelProfile, type NodeTime, type OpShare } from '../lib/ort-profile';
import { createSession, feedsFor, maxAbsDiff, runInterleaved } from '../lib/ort-run';
import { percentile, round, summarize, type Summary } from '../lib/stats';

type SessionOptions = ort.InferenceSession.SessionOptions;

/** Bumped when the floor graph's construction changes (cached copies are rebuilt). */
export const FLOOR_VERSION = 1;

const INPUT_DIMS = [1, 416, 416, 3];

/**
 * What lambda/src/adapters/onnx-runtime.ts sets on top of createSession's defaults (intra-op
 * threads, 1 inter-op thread, sequential, 'all'), with the service's default ORT_ALLOW_SPINNING=0.
 */
export const SERVICE_OPTIONS: SessionOptions = {
  enableMemPattern: false,
  extra: { session: { intra_op: { allow_spinning: '0' } } },
};

const loadavg = () => os.loadavg().map((v) => round(v, 2));

/** Busy ticks of all CPUs (/proc/stat: all but idle and iowait). */
function busyTicks(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return f.slice(0, 8).reduce((a, b) => a + b, 0) - (f[3] ?? 0) - (f[4] ?? 0);
  } catch {
    return NaN;
  }
}

/** Waits (up to maxS) for a 3-second window in which other processes use under 10% of the CPUs. */
export async function waitForIdle(maxS: number): Promise<number> {
  const deadline = performance.now() + maxS * 1000;
  let share: number;
  do {
    const b0 = busyTicks();
    await new Promise((r) => setTimeout(r, 3000));
    share = (busyTicks() - b0) / (300 * os.cpus().length); // 100 ticks per second
    if (share < 0.1) return share;
  } while (performance.now() < deadline);
  log(`still busy after ${maxS} s (${round(100 * share, 0)}% of the CPUs in use): measuring anyway`);
  return share;
}

/**
 * CPU taken by other processes while `fn` runs, as a share of all CPUs (/proc/stat busy time
 * minus this process's CPU time): 0 on an idle machine, 0.5 when others held one of two CPUs.
 */
async function othersCpuShare<T>(fn: () => Promise<T>): Promise<{ value: T; othersCpu: number }> {
  const busy = busyTicks;
  const ticksPerMs = 100 / 1000; // USER_HZ
  const [b0, c0, t0] = [busy(), process.cpuUsage(), performance.now()];
  const value = await fn();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const othersMs = (busy() - b0) / ticksPerMs - (c.user + c.system) / 1000;
  return { value, othersCpu: round(Math.max(0, othersMs) / (wallMs * os.cpus().length), 3) };
}

// ---------------------------------------------------------------------------------------------
// The convolution floor graph

export interface FloorModel {
  file: string;
  cached: boolean;
  buildMs: number;
  convs: number;
  /** Distinct input shapes: convolutions that read the same shape share one graph input. */
  inputs: { name: string; dims: number[] }[];
  /** Multiply-accumulates of the convolutions, in GMAC. */
  gmac: number;
}

interface ExternalTensor extends TensorMsg {
  external_data?: { key?: string; value?: string }[];
}

/** Decodes a model and reads any external weights into raw_data (views of the weights file). */
function decodeInlined(file: string): ModelMsg {
  const model = decodeModel(readFileSync(file));
  const files = new Map<string, Buffer>();
  for (const t of (model.graph?.initializer ?? []) as ExternalTensor[]) {
    if (t.data_location !== DataLocation.EXTERNAL) continue;
    const kv = new Map((t.external_data ?? []).map((e) => [e.key, e.value]));
    const location = kv.get('location');
    if (!location) throw new Error(`initializer ${t.name} has external data without a location`);
    const data = files.get(location) ?? readFileSync(path.join(path.dirname(file), location));
    files.set(location, data);
    const offset = Number(kv.get('offset') ?? 0);
    const length = kv.has('length') ? Number(kv.get('length')) : data.length - offset;
    t.raw_data = data.subarray(offset, offset + length);
    t.external_data = [];
    t.data_location = DataLocation.DEFAULT;
  }
  return model;
}

/** A graph input's dims, symbolic ones (the batch) as 1. */
const dimsOf = (v: ValueInfoMsg): number[] =>
  (v.type?.tensor_type?.shape?.dim ?? []).map((d) => Math.max(1, toNumber(d.dim_value)));

const valueInfo = (name: string, dims: readonly number[]): ValueInfoMsg => ({
  name,
  type: {
    tensor_type: { elem_type: DataType.FLOAT, shape: { dim: dims.map((d) => ({ dim_value: d })) } },
  },
});

/**
 * The model's convolutions alone: every Conv node with its weights and attributes, reading a graph
 * input of the shape it reads in the model (found by running the model once with those tensors
 * exposed), its output reduced by GlobalAveragePool so that nothing large is copied out. The
 * layout conversions and pooling this adds are kernels of their own, subtracted from the wall time.
 */
export async function convFloorModel(modelFile: string, threads: number): Promise<FloorModel> {
  const { size, mtimeMs } = statSync(modelFile);
  const base = path.basename(modelFile, '.onnx').slice(-40);
  const file = path.join(
    BENCH_CACHE,
    `conv-floor-v${FLOOR_VERSION}-${size}-${Math.round(mtimeMs)}-${base}.onnx`,
  );
  const sidecar = `${file}.json`;
  if (existsSync(file) && existsSync(sidecar)) {
    const meta = JSON.parse(readFileSync(sidecar, 'utf8')) as Omit<FloorModel, 'file' | 'cached' | 'buildMs'>;
    return { ...meta, file, cached: true, buildMs: 0 };
  }
  const t0 = performance.now();
  const model = decodeInlined(modelFile);
  const graph = model.graph ?? {};
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const convs = (graph.node ?? []).filter(
    (n) =>
      n.op_type === 'Conv' && (n.domain ?? '') === '' && initializers.has(n.input?.[1] ?? '') && n.input?.[0],
  );
  const inputsOfConvs = [...new Set(convs.map((n) => n.input![0]!))];

  // Every convolution's input shape, from one run with those tensors as outputs.
  const outputs = new Set((graph.output ?? []).map((o) => o.name));
  const exposed: ModelMsg = {
    ...model,
    graph: {
      ...graph,
      output: [
        ...(graph.output ?? []),
        ...inputsOfConvs
          .filter((n) => !outputs.has(n))
          .map((name) => ({ name, type: { tensor_type: { elem_type: DataType.FLOAT } } })),
      ],
    },
  };
  const graphInputs = (graph.input ?? []).filter((i) => !initializers.has(i.name ?? ''));
  const shapes = new Map<string, number[]>();
  {
    const session = await createSession(encodeModel(exposed), threads);
    try {
      const feeds = Object.fromEntries(
        graphInputs.map((i, k) => {
          const dims = dimsOf(i);
          const data = syntheticInput(
            dims.reduce((a, b) => a * b, 1),
            7 + k,
          );
          return [i.name ?? '', new ort.Tensor('float32', data, dims)];
        }),
      );
      const results = await session.run(feeds, inputsOfConvs);
      for (const name of inputsOfConvs) shapes.set(name, [...results[name]!.dims]);
    } finally {
      await session.release();
    }
  }

  // One graph input per distinct shape; each Conv, then GlobalAveragePool to a small output.
  const inputByShape = new Map<string, { name: string; dims: number[] }>();
  const node: NodeMsg[] = [];
  const output: ValueInfoMsg[] = [];
  const initializer: TensorMsg[] = [];
  let macs = 0;
  for (const [i, conv] of convs.entries()) {
    const dims = shapes.get(conv.input![0]!)!;
    const key = dims.join('x');
    let input = inputByShape.get(key);
    if (!input) {
      input = { name: `floor_input_${key}`, dims };
      inputByShape.set(key, input);
    }
    const y = `floor_conv_${i}`;
    const pooled = `floor_pooled_${i}`;
    node.push({ ...conv, input: [input.name, ...conv.input!.slice(1)], output: [y] });
    node.push({ op_type: 'GlobalAveragePool', input: [y], output: [pooled], name: `floor_pool_${i}` });
    for (const name of conv.input!.slice(1)) {
      const t = initializers.get(name);
      if (t && !initializer.includes(t)) initializer.push(t);
    }
    const w = (initializers.get(conv.input![1]!)?.dims ?? []).map(toNumber);
    output.push(valueInfo(pooled, [dims[0] ?? 1, w[0] ?? 1, 1, 1]));
    // Output size from the weights and attributes: MACs = out elements × Cin/group × kH × kW.
    const attr = (n: string) => conv.attribute?.find((a) => a.name === n);
    const strides = (attr('strides')?.ints ?? []).map(toNumber);
    const pads = (attr('pads')?.ints ?? []).map(toNumber);
    const [h, wIn] = [dims[2] ?? 1, dims[3] ?? 1];
    const [kh, kw] = [w[2] ?? 1, w[3] ?? 1];
    const oh = Math.floor((h + (pads[0] ?? 0) + (pads[2] ?? 0) - kh) / (strides[0] ?? 1)) + 1;
    const ow = Math.floor((wIn + (pads[1] ?? 0) + (pads[3] ?? 0) - kw) / (strides[1] ?? 1)) + 1;
    macs += (w[0] ?? 0) * oh * ow * (w[1] ?? 0) * kh * kw;
  }
  const inputs = [...inputByShape.values()];
  const floor: ModelMsg = {
    ir_version: model.ir_version,
    opset_import: model.opset_import,
    producer_name: 'bench/sections/yolov4-split.ts',
    graph: {
      name: 'conv-floor',
      node,
      initializer,
      input: inputs.map((i) => valueInfo(i.name, i.dims)),
      output,
    },
  };
  mkdirSync(BENCH_CACHE, { recursive: true });
  const meta = { convs: convs.length, inputs, gmac: macs / 1e9 };
  await writeAtomically(file, encodeModel(floor));
  await writeAtomically(sidecar, JSON.stringify(meta));
  const buildMs = performance.now() - t0;
  log(
    `conv floor graph: ${convs.length} convolutions, ${inputs.length} input shapes, ${round(meta.gmac, 2)} GMAC, built in ${round(buildMs, 0)} ms → ${file}`,
  );
  return { ...meta, file, cached: false, buildMs };
}

/** One synthetic tensor per floor-graph input. */
const floorFeeds = (floor: FloorModel): Record<string, ort.Tensor> => {
  const out: Record<string, ort.Tensor> = {};
  for (const [k, i] of floor.inputs.entries()) {
    const data = syntheticInput(
      i.dims.reduce((a, b) => a * b, 1),
      11 + k,
    );
    out[i.name] = new ort.Tensor('float32', data, i.dims);
  }
  return out;
};

// ---------------------------------------------------------------------------------------------
// The split

export interface PartTime {
  nodes: number;
  ms: number;
}

export interface Yolov4Split {
  date: string;
  quick: boolean;
  threads: number;
  model: string;
  /** Session options on top of createSession's defaults (the service's). */
  sessionOptions: string;
  rounds: number;
  profileRuns: number;
  load: { start: number[]; end: number[] };
  /** Share of all CPUs other processes used during the interleaved rounds (0: idle machine). */
  othersCpu: number;
  /** The same during the profiled runs. */
  othersCpuProfiled: number;
  wall: Summary;
  cpu: Summary;
  /** Per-node fastest kernel times of the full model, summed. */
  kernels: {
    totalMs: number;
    conv: PartTime;
    mish: PartTime;
    rest: PartTime & { byOp: OpShare[] };
    /** Part of rest: NCHWc layout conversions (ReorderInput/ReorderOutput) around unblocked ops. */
    layout: PartTime;
    /** Mish-rewrite nodes in the source graph, and how many still run as kernels of their own. */
    mishNodesInGraph: number;
  };
  /** wall median − kernel sum. */
  outsideKernelsMs: number;
  /** Inside onnxruntime's Run (profiled runs, medians): its own time, and that minus its kernels. */
  profiledRun: { runMs: number; kernelMs: number; betweenKernelsMs: number };
  floor: {
    convs: number;
    inputShapes: number;
    gmac: number;
    cached: boolean;
    buildMs: number;
    wall: Summary;
    cpu: Summary;
    /** Fastest convolution kernels of the floor graph, summed. */
    convKernelMs: number;
    /** Its layout conversions and GlobalAveragePools (fastest, summed): not part of the floor. */
    otherKernelMs: number;
    /** The floor: floor-graph wall median − otherKernelMs. */
    ms: number;
  };
  /** Full-model wall median / floor.ms. */
  ratio: number;
  /** The same from process CPU time per run (less sensitive to other processes than wall time). */
  cpuRatio: number;
  /** Full-model conv kernels / floor-graph conv kernels (1: the same convolutions cost the same). */
  convInSitu: number;
  /** The goal for ratio (issue 18): 1.25. */
  target: number;
}

const isConv = (op: string) => /conv/i.test(op);
const isMish = (n: NodeTime) => /mish/i.test(n.name) || ['Softplus', 'Tanh', 'Log', 'Mish'].includes(n.op);

function split(p: KernelProfile): Yolov4Split['kernels'] {
  const nodes = p.byNode ?? [];
  const part = (ns: NodeTime[]): PartTime => ({ nodes: ns.length, ms: ns.reduce((s, n) => s + n.ms, 0) });
  const conv = nodes.filter((n) => isConv(n.op));
  const mish = nodes.filter((n) => !isConv(n.op) && isMish(n));
  const rest = nodes.filter((n) => !isConv(n.op) && !isMish(n));
  const byOp = new Map<string, PartTime>();
  for (const n of rest) {
    const o = byOp.get(n.op) ?? { nodes: 0, ms: 0 };
    o.nodes++;
    o.ms += n.ms;
    byOp.set(n.op, o);
  }
  const restPart = part(rest);
  const layout = part(rest.filter((n) => /^Reorder/.test(n.op)));
  return {
    layout,
    totalMs: p.totalMs,
    conv: part(conv),
    mish: part(mish),
    rest: {
      ...restPart,
      byOp: [...byOp.entries()]
        .map(([op, o]) => ({ op, ...o, share: o.ms / restPart.ms }))
        .sort((a, b) => b.ms - a.ms),
    },
    mishNodesInGraph: 0,
  };
}

const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

function mishNodesInGraph(file: string): number {
  // Node names only: the graph without weights is small once external (the prepared copy).
  const bytes = readFileSync(file);
  if (bytes.length > 50e6) return NaN;
  return (decodeModel(bytes).graph?.node ?? []).filter((n) => /mish_rewrite/.test(n.name ?? '')).length;
}

/** The split and the floor for one model file (the Mish-rewritten YOLOv4). */
export async function runYolov4Split(opts: {
  quick: boolean;
  threads: number;
  model: string;
}): Promise<Yolov4Split> {
  const start = loadavg();
  const { threads, model } = opts;
  const rounds = opts.quick ? 8 : 30;
  const profileRuns = opts.quick ? 4 : 12;
  const floor = await convFloorModel(model, threads);
  const input = syntheticInput(
    INPUT_DIMS.reduce((a, b) => a * b, 1),
    7,
  );
  const modelFeeds = (s: ort.InferenceSession) => feedsFor(s, input, INPUT_DIMS);
  const ffeeds = floorFeeds(floor);

  const full = await createSession(model, threads, SERVICE_OPTIONS);
  const floorSession = await createSession(floor.file, threads, SERVICE_OPTIONS);
  let wall: number[][];
  let cpu: number[][];
  let othersCpu: number;
  try {
    const f = modelFeeds(full);
    const measured = await othersCpuShare(() =>
      runInterleaved([() => full.run(f), () => floorSession.run(ffeeds)], rounds, 2),
    );
    ({ wall, cpu } = measured.value);
    othersCpu = measured.othersCpu;
  } finally {
    await full.release();
    await floorSession.release();
  }
  const profiled = await othersCpuShare(() =>
    kernelProfiles(
      [
        { file: model, feeds: modelFeeds },
        { file: floor.file, feeds: () => ffeeds },
      ],
      threads,
      profileRuns,
      { session: SERVICE_OPTIONS, nodes: true },
    ),
  );
  const [fullProfile, floorProfile] = profiled.value as [KernelProfile, KernelProfile];
  const kernels = { ...split(fullProfile), mishNodesInGraph: mishNodesInGraph(model) };
  const floorNodes = floorProfile.byNode ?? [];
  const convKernelMs = floorNodes.filter((n) => isConv(n.op)).reduce((s, n) => s + n.ms, 0);
  const otherKernelMs = floorNodes.filter((n) => !isConv(n.op)).reduce((s, n) => s + n.ms, 0);
  const fullWall = summarize(wall[0]!);
  const floorWall = summarize(wall[1]!);
  const floorMs = floorWall.median - otherKernelMs;
  const runs = fullProfile.perRun ?? [];
  const result: Yolov4Split = {
    date: new Date().toISOString(),
    quick: opts.quick,
    threads,
    model: path.relative(ROOT, model),
    sessionOptions: 'service: enableMemPattern false, allow_spinning 0 (graph level all, sequential)',
    rounds,
    profileRuns,
    load: { start, end: loadavg() },
    othersCpu,
    othersCpuProfiled: profiled.othersCpu,
    wall: fullWall,
    cpu: summarize(cpu[0]!),
    kernels,
    outsideKernelsMs: fullWall.median - kernels.totalMs,
    profiledRun: {
      runMs: median(runs.map((r) => r.runMs)),
      kernelMs: median(runs.map((r) => r.kernelMs)),
      betweenKernelsMs: median(runs.map((r) => r.runMs - r.kernelMs)),
    },
    floor: {
      convs: floor.convs,
      inputShapes: floor.inputs.length,
      gmac: floor.gmac,
      cached: floor.cached,
      buildMs: floor.buildMs,
      wall: floorWall,
      cpu: summarize(cpu[1]!),
      convKernelMs,
      otherKernelMs,
      ms: floorMs,
    },
    ratio: fullWall.median / floorMs,
    cpuRatio: summarize(cpu[0]!).median / summarize(cpu[1]!).median,
    convInSitu: kernels.conv.ms / convKernelMs,
    target: 1.25,
  };
  log(
    `yolov4 split t=${threads}: wall ${round(fullWall.median)} ms (p90 ${round(fullWall.p90)}), kernels ${round(kernels.totalMs)} (conv ${round(kernels.conv.ms)}, mish ${round(kernels.mish.ms)}, rest ${round(kernels.rest.ms)}), outside ${round(result.outsideKernelsMs)}; floor ${round(floorMs)} ms (graph wall ${round(floorWall.median)}, conv kernels ${round(convKernelMs)}, other ${round(otherKernelMs)}); ratio ×${round(result.ratio, 2)} (cpu ×${round(result.cpuRatio, 2)}); load ${result.load.end.join(' ')}, others ${round(100 * othersCpu, 0)}% CPU`,
  );
  return result;
}

const ms = (v: number) => `${round(v, 1)}`;
const pct = (v: number, of: number) => `${round((100 * v) / of, 0)}%`;

export function renderYolov4Split(r: Yolov4Split): string {
  const k = r.kernels;
  const top = k.rest.byOp
    .slice(0, 5)
    .map((o) => `${o.op} ${ms(o.ms)}`)
    .join(', ');
  const w = r.wall.median;
  const out = [
    `### YOLOv4 against its convolution floor (${r.threads} threads)`,
    '',
    `\`${r.model}\`; ${r.sessionOptions}. ${r.rounds} interleaved rounds (full model, floor graph), profiler ${r.profileRuns} runs (each node's fastest kernel). Load average ${r.load.start.join(' ')} → ${r.load.end.join(' ')}; other processes used ${round(100 * r.othersCpu, 0)}% of the CPUs during the timed rounds, ${round(100 * r.othersCpuProfiled, 0)}% during the profiled ones (interleaved too).`,
    '',
    '| part | ms | of wall |',
    '| --- | ---: | ---: |',
    `| wall, full run: median (p90); CPU time per run | ${ms(w)} (${ms(r.wall.p90)}); CPU ${ms(r.cpu.median)} | 100% |`,
    `| kernels: convolutions (${k.conv.nodes} nodes) | ${ms(k.conv.ms)} | ${pct(k.conv.ms, w)} |`,
    `| kernels: Mish rewrite (${k.mish.nodes} nodes${Number.isFinite(k.mishNodesInGraph) ? ` of ${k.mishNodesInGraph} in the graph` : ''}) | ${ms(k.mish.ms)} | ${pct(k.mish.ms, w)} |`,
    `| kernels: everything else (${k.rest.nodes} nodes: ${top}) | ${ms(k.rest.ms)} | ${pct(k.rest.ms, w)} |`,
    `| … of which NCHWc layout conversions (${k.layout.nodes} Reorder nodes) | ${ms(k.layout.ms)} | ${pct(k.layout.ms, w)} |`,
    `| outside kernels (wall − kernel sum ${ms(k.totalMs)}) | ${ms(r.outsideKernelsMs)} | ${pct(r.outsideKernelsMs, w)} |`,
    `| … of which inside onnxruntime's Run, between kernels (profiled runs, median) | ${ms(r.profiledRun.betweenKernelsMs)} | ${pct(r.profiledRun.betweenKernelsMs, w)} |`,
    `| **convolution floor** (${r.floor.convs} convolutions alone, ${round(r.floor.gmac, 2)} GMAC: graph wall ${ms(r.floor.wall.median)} − layout/pooling kernels ${ms(r.floor.otherKernelMs)}) | **${ms(r.floor.ms)}** | ${pct(r.floor.ms, w)} |`,
    `| floor graph's convolution kernels alone; its CPU time per run | ${ms(r.floor.convKernelMs)}; CPU ${ms(r.floor.cpu.median)} | ${pct(r.floor.convKernelMs, w)} |`,
    '',
    `**wall / floor = ×${round(r.ratio, 2)}** (target ×${r.target}: ${ms(r.target * r.floor.ms)} ms); by CPU time per run ×${round(r.cpuRatio, 2)}; by kernel sums ×${round(k.totalMs / r.floor.convKernelMs, 2)}. The model's convolution kernels take ×${round(r.convInSitu, 2)} their time in the floor graph.`,
    '',
  ];
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Levers (standalone only)

export interface LeverSpec {
  name: string;
  /** Threads of the variant (default: the baseline's). */
  threads?: number;
  /** Session options replacing the baseline's (SERVICE_OPTIONS) where given. */
  options?: SessionOptions;
  /** A Mish form of bench/lib/mish-forms.ts instead of the prepared (exp-div) model. */
  form?: string;
  /** Fresh processes, alternated (for settings that stay with the process, such as flush-to-zero). */
  process?: boolean;
}

export interface LeverResult {
  name: string;
  model: string;
  rounds: number;
  base: Summary;
  variant: Summary;
  baseCpu: Summary | null;
  variantCpu: Summary | null;
  /** variant / base, medians (below 1: the lever is faster). */
  ratio: number;
  /** Median of the per-round variant/base ratios. */
  pairedRatio: number;
  /** Share of rounds in which the variant was faster. */
  wins: number;
  maxAbsDiff: number;
  load: number[];
  /** Share of all CPUs other processes used during the rounds. */
  othersCpu: number;
  /** Fresh-process levers: each process's peak RSS (median). */
  peakRssMb?: { base: number; variant: number };
  error?: string;
}

const SPIN_ON: SessionOptions = { extra: { session: { intra_op: { allow_spinning: '1' } } } };

export const LEVERS: LeverSpec[] = [
  { name: 'A/A control (baseline twice)' },
  { name: 'A/A control, fresh processes', process: true },
  // Idle spinning threads of one session would take CPU from the other's runs: fresh processes.
  { name: 'allow_spinning 1', options: SPIN_ON, process: true },
  { name: "graph level 'extended' (no NCHWc layout)", options: { graphOptimizationLevel: 'extended' } },
  { name: 'enableMemPattern true', options: { enableMemPattern: true } },
  { name: 'enableCpuMemArena false', options: { enableCpuMemArena: false } },
  { name: 'executionMode parallel, interOp 2', options: { executionMode: 'parallel', interOpNumThreads: 2 } },
  {
    name: 'dynamic_block_base 4',
    options: { extra: { session: { intra_op: { allow_spinning: '0' }, dynamic_block_base: '4' } } },
  },
  {
    name: 'worker thread pinned to CPU 2 (intra_op_thread_affinities)',
    options: { extra: { session: { intra_op: { allow_spinning: '0' }, intra_op_thread_affinities: '2' } } },
  },
  { name: 'threads 1', threads: 1 },
  { name: 'threads 3', threads: 3 },
  { name: 'threads 4', threads: 4 },
  ...MISH_FORMS.slice(1).map((f) => ({ name: `Mish form ${f.name}`, form: f.name })),
  {
    name: 'allow_spinning 1 + force_spinning_stop 1 (spin only inside a run)',
    process: true,
    options: { extra: { session: { intra_op: { allow_spinning: '1' }, force_spinning_stop: '1' } } },
  },
  {
    name: 'allow_spinning 1 + spin_duration_us 200 + force_spinning_stop 1',
    process: true,
    options: {
      extra: {
        session: { intra_op: { allow_spinning: '1', spin_duration_us: '200' }, force_spinning_stop: '1' },
      },
    },
  },
  {
    name: 'enableCpuMemArena false (fresh processes, peak RSS)',
    process: true,
    options: { enableCpuMemArena: false },
  },
  {
    name: 'allow_spinning 1 + force_spinning_stop 1 + enableCpuMemArena false',
    process: true,
    options: {
      enableCpuMemArena: false,
      extra: { session: { intra_op: { allow_spinning: '1' }, force_spinning_stop: '1' } },
    },
  },
  {
    name: 'set_denormal_as_zero 1',
    process: true,
    options: { extra: { session: { intra_op: { allow_spinning: '0' }, set_denormal_as_zero: '1' } } },
  },
];

export interface CheckModel {
  key: string;
  file: string | Uint8Array;
  dims: number[];
}

const mergeOptions = (base: SessionOptions, over: SessionOptions = {}): SessionOptions => {
  const extra = (o: SessionOptions) => (o.extra ?? {}) as { session?: Record<string, unknown> };
  const session = { ...extra(base).session, ...extra(over).session };
  return { ...base, ...over, extra: { ...extra(base), ...extra(over), session } };
};

/** One lever against the baseline on one model: interleaved runs in this process. */
async function leverInProcess(
  m: CheckModel,
  variantSource: string | Uint8Array,
  lever: LeverSpec,
  threads: number,
  rounds: number,
): Promise<LeverResult> {
  const input = syntheticInput(
    m.dims.reduce((a, b) => a * b, 1),
    7,
  );
  const base = await createSession(m.file, threads, SERVICE_OPTIONS);
  let variant: ort.InferenceSession | null = null;
  try {
    variant = await createSession(
      variantSource,
      lever.threads ?? threads,
      mergeOptions(SERVICE_OPTIONS, lever.options),
    );
    const fb = feedsFor(base, input, m.dims);
    const fv = feedsFor(variant, input, m.dims);
    const diff = maxAbsDiff(await base.run(fb), await variant.run(fv));
    const v = variant;
    const { value, othersCpu } = await othersCpuShare(() =>
      runInterleaved([() => base.run(fb), () => v.run(fv)], rounds, 1),
    );
    return leverResult(lever.name, m.key, value.wall, value.cpu, diff, othersCpu);
  } finally {
    await base.release();
    await variant?.release();
  }
}

function leverResult(
  name: string,
  model: string,
  wall: number[][],
  cpu: number[][] | null,
  diff: number,
  othersCpu: number,
): LeverResult {
  const [b, v] = [wall[0]!, wall[1]!];
  const pairs = b.map((x, i) => v[i]! / x);
  const base = summarize(b);
  const variant = summarize(v);
  const r: LeverResult = {
    name,
    model,
    rounds: b.length,
    base,
    variant,
    baseCpu: cpu ? summarize(cpu[0]!) : null,
    variantCpu: cpu ? summarize(cpu[1]!) : null,
    ratio: variant.median / base.median,
    pairedRatio: median(pairs),
    wins: pairs.filter((p) => p < 1).length / pairs.length,
    maxAbsDiff: diff,
    load: loadavg(),
    othersCpu,
  };
  log(
    `lever [${model}] ${name}: base ${round(base.median)} ms, variant ${round(variant.median)} ms, ×${round(r.ratio, 3)} (paired ×${round(r.pairedRatio, 3)}, faster in ${round(100 * r.wins, 0)}% of ${r.rounds}), max |diff| ${diff.toExponential(2)}, load ${r.load.join(' ')}, others ${round(100 * othersCpu, 0)}% CPU`,
  );
  return r;
}

interface ChildSpec {
  file: string;
  threads: number;
  options: SessionOptions;
  dims: number[];
  runs: number;
  outFile: string;
}

/** A fresh process: create, one warm-up run (its outputs saved), `runs` timed runs. */
async function childMain(spec: ChildSpec): Promise<void> {
  const session = await createSession(spec.file, spec.threads, spec.options);
  const input = syntheticInput(
    spec.dims.reduce((a, b) => a * b, 1),
    7,
  );
  const feeds = feedsFor(session, input, spec.dims);
  process.stdout.write(`${JSON.stringify({ event: 'first' })}\n`);
  const first = await session.run(feeds);
  const parts = session.outputNames.map((n) => {
    const d = first[n]!.data as Float32Array;
    return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  });
  writeFileSync(spec.outFile, Buffer.concat(parts));
  const { wall, cpu } = await runInterleaved([() => session.run(feeds)], spec.runs, 1);
  // VmHWM, not getrusage's maxRSS: that one keeps the parent's peak across fork and exec.
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  const rssMb = hwm ? Number(hwm[1]) / 1024 : NaN;
  const used = process.cpuUsage();
  const totalCpuMs = (used.user + used.system) / 1000;
  process.stdout.write(
    `${JSON.stringify({ event: 'result', wall: wall[0], cpu: cpu[0], rssMb, totalCpuMs })}\n`,
  );
  await session.release();
}

/** One lever against the baseline in fresh processes, alternated A B B A …. */
async function leverInProcesses(
  m: { key: string; file: string; dims: number[] },
  lever: LeverSpec,
  threads: number,
  rounds: number,
  runsPerChild: number,
): Promise<LeverResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'yolov4-lever-'));
  try {
    const specs: ChildSpec[] = [
      { file: m.file, threads, options: SERVICE_OPTIONS, dims: m.dims, runs: runsPerChild, outFile: '' },
      {
        file: m.file,
        threads: lever.threads ?? threads,
        options: mergeOptions(SERVICE_OPTIONS, lever.options),
        dims: m.dims,
        runs: runsPerChild,
        outFile: '',
      },
    ];
    const wall: number[][] = [[], []];
    const cpu: number[][] = [[], []];
    const rss: number[][] = [[], []];
    let childrenCpuMs = 0;
    const started = { busy: busyTicks(), cpu: process.cpuUsage(), at: performance.now() };
    for (let r = 0; r < rounds; r++) {
      for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) {
        const spec = { ...specs[i]!, outFile: path.join(dir, `out-${i}.bin`) };
        const { lines } = await runEventChild(
          ['--import', 'tsx', __filename, '--child', JSON.stringify(spec)],
          {
            cwd: ROOT,
            env: process.env,
            name: `lever ${lever.name}`,
          },
        );
        const res = lines.find((l) => l.event === 'result') as
          { wall: number[]; cpu: number[]; rssMb: number; totalCpuMs: number } | undefined;
        if (!res) throw new Error('lever child printed no result');
        // Each process's median: a process is one sample of the setting.
        wall[i]!.push(median(res.wall));
        cpu[i]!.push(median(res.cpu));
        rss[i]!.push(res.rssMb);
        childrenCpuMs += res.totalCpuMs;
      }
    }
    const read = (i: number) => {
      const b = readFileSync(path.join(dir, `out-${i}.bin`));
      return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
    };
    const [a, b] = [read(0), read(1)];
    let diff = a.length === b.length ? 0 : Infinity;
    for (let i = 0; i < a.length && diff !== Infinity; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    // Children's CPU is not this process's: only the load average describes the others here.
    // Others' CPU: all busy time minus this process's and the children's.
    const own = process.cpuUsage(started.cpu);
    const othersMs = (busyTicks() - started.busy) * 10 - (own.user + own.system) / 1000 - childrenCpuMs;
    const othersCpu = round(Math.max(0, othersMs) / ((performance.now() - started.at) * os.cpus().length), 3);
    const result = leverResult(lever.name, m.key, wall, cpu, diff, othersCpu);
    result.peakRssMb = { base: round(median(rss[0]!), 0), variant: round(median(rss[1]!), 0) };
    log(
      `  peak RSS (median per process): base ${result.peakRssMb.base} MB, variant ${result.peakRssMb.variant} MB`,
    );
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every lever against the service's settings on YOLOv4; `passes` repeats the list. */
export async function runYolov4Levers(opts: {
  quick: boolean;
  threads: number;
  model: string;
  original: string;
  levers?: LeverSpec[];
  passes?: number;
  /** Seconds to wait for an idle machine before each lever (0: do not wait). */
  waitIdleS?: number;
}): Promise<LeverResult[]> {
  const levers = opts.levers ?? LEVERS;
  const rounds = opts.quick ? 6 : 16;
  const out: LeverResult[] = [];
  let originalBytes: Buffer | null = null;
  const m = { key: 'yolov4-mish', file: opts.model, dims: INPUT_DIMS };
  for (let pass = 0; pass < (opts.passes ?? 1); pass++) {
    for (const lever of levers) {
      if (opts.waitIdleS) await waitForIdle(opts.waitIdleS);
      try {
        if (lever.process) {
          out.push(await leverInProcesses(m, lever, opts.threads, opts.quick ? 2 : 6, opts.quick ? 4 : 10));
          continue;
        }
        let source: string | Uint8Array = opts.model;
        if (lever.form) {
          const form = MISH_FORMS.find((f) => f.name === lever.form);
          if (!form) throw new Error(`no Mish form ${lever.form}`);
          originalBytes ??= readFileSync(opts.original);
          source = rewriteMish(originalBytes, form).bytes;
        }
        out.push(await leverInProcess(m, source, lever, opts.threads, rounds));
      } catch (e) {
        log(`lever ${lever.name} failed: ${(e as Error).message}`);
        out.push({
          name: lever.name,
          model: m.key,
          rounds: 0,
          base: summarize([]),
          variant: summarize([]),
          baseCpu: null,
          variantCpu: null,
          ratio: NaN,
          pairedRatio: NaN,
          wins: NaN,
          maxAbsDiff: NaN,
          load: loadavg(),
          othersCpu: NaN,
          error: (e as Error).message.slice(0, 300),
        });
      }
    }
  }
  return out;
}

/** Levers on other models (does a setting that helps YOLOv4 slow them down?). */
export async function runLeverChecks(
  models: CheckModel[],
  levers: LeverSpec[],
  threads: number,
  rounds: number,
): Promise<LeverResult[]> {
  const out: LeverResult[] = [];
  for (const lever of levers) {
    for (const m of models) {
      out.push(
        lever.process && typeof m.file === 'string'
          ? await leverInProcesses(
              { ...m, file: m.file },
              lever,
              threads,
              4,
              m.key.includes('yolov4') ? 8 : 30,
            )
          : await leverInProcess(m, m.file, lever, threads, rounds),
      );
    }
  }
  return out;
}

export function renderLevers(rows: LeverResult[], title: string): string {
  const out = [
    `### ${title}`,
    '',
    'Baseline: the service’s settings (SERVICE_OPTIONS). Ratio = variant / baseline, medians; paired = median of per-round ratios; below 1 is faster.',
    '',
    '| model | lever | rounds | baseline ms | variant ms | ratio | paired | variant faster | max abs diff | peak RSS MB | others’ CPU | load (1/5/15 min) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |',
  ];
  for (const r of rows) {
    out.push(
      r.error
        ? `| ${r.model} | ${r.name} | – | – | – | – | – | – | – | – | – | failed: ${r.error.replace(/\|/g, '/')} |`
        : `| ${r.model} | ${r.name} | ${r.rounds} | ${ms(r.base.median)} | ${ms(r.variant.median)} | ×${round(r.ratio, 3)} | ×${round(r.pairedRatio, 3)} | ${round(100 * r.wins, 0)}% | ${r.maxAbsDiff.toExponential(1)} | ${r.peakRssMb ? `${r.peakRssMb.base} → ${r.peakRssMb.variant}` : '–'} | ${Number.isFinite(r.othersCpu) ? `${round(100 * r.othersCpu, 0)}%` : '–'} | ${r.load.join(' ')} |`,
    );
  }
  out.push('');
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Standalone entry

async function main() {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      quick: { type: 'boolean', default: false },
      levers: { type: 'boolean', default: false },
      only: { type: 'string', default: '' },
      check: { type: 'string', default: '' },
      passes: { type: 'string', default: '1' },
      'no-split': { type: 'boolean', default: false },
      threads: { type: 'string', default: '2' },
      'wait-idle': { type: 'string', default: '0' },
      out: { type: 'string', default: path.join(__dirname, '..', 'results') },
      child: { type: 'string' },
    },
  });
  if (values.child) {
    await childMain(JSON.parse(values.child) as ChildSpec);
    return;
  }
  const t0 = performance.now();
  const threads = Number(values.threads);
  const { BENCH_MODELS_DIR, ensureBenchModels } = await import('../standins/make-bench-models');
  for (const m of ensureBenchModels(BENCH_MODELS_DIR, ['resnet50', 'yolov4']))
    log(`stand-in written: ${m.file} (${m.bytes} bytes)`);
  const { rewrittenYolov4, benchModels } = await import('../lib/models');
  const { file: model } = await rewrittenYolov4();
  const original = path.join(BENCH_MODELS_DIR, 'yolov4-random.onnx');
  const machine = machineInfo();

  const result: {
    date: string;
    durationS: number;
    machine: typeof machine;
    versions: ReturnType<typeof versions>;
    split: Yolov4Split | null;
    levers: LeverResult[];
    checks: LeverResult[];
  } = {
    date: new Date().toISOString(),
    durationS: 0,
    machine,
    versions: versions(),
    split: null,
    levers: [],
    checks: [],
  };
  const waitIdleS = Number(values['wait-idle']);
  if (!values['no-split']) {
    if (waitIdleS) await waitForIdle(waitIdleS);
    result.split = await runYolov4Split({ quick: values.quick, threads, model });
  }
  const pick = (names: string) =>
    names
      ? LEVERS.filter((l) => names.split(',').some((n) => l.name.toLowerCase().includes(n.toLowerCase())))
      : LEVERS;
  if (values.levers) {
    result.levers = await runYolov4Levers({
      quick: values.quick,
      threads,
      model,
      original,
      levers: pick(values.only),
      passes: Number(values.passes),
      waitIdleS,
    });
  }
  if (values.check) {
    const models = benchModels('', '')
      .filter((m) => ['resnet50', 'mobilenetv2-int8', 'yolox-nano', 'yolo-fastest'].includes(m.key))
      .map((m) => ({ key: m.key, file: m.file, dims: m.dims(1) }));
    models.push({ key: 'yolov4-mish', file: model, dims: INPUT_DIMS });
    result.checks = await runLeverChecks(models, pick(values.check), threads, values.quick ? 10 : 30);
  }
  result.durationS = (performance.now() - t0) / 1000;

  const outDir = path.resolve(values.out);
  mkdirSync(outDir, { recursive: true });
  const base = path.join(outDir, `${result.date.slice(0, 10)}-${machine.host}-yolov4-split`);
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 1)}\n`);
  const md = [
    `# YOLOv4 split ${result.date} on ${machine.host}`,
    '',
    `${machine.cpuModel}, ${machine.logicalCpus} CPUs; onnxruntime-node ${result.versions.onnxruntimeNode}; ${values.quick ? 'quick' : 'full'} run, ${Math.round(result.durationS)} s.`,
    '',
    ...(result.split ? [renderYolov4Split(result.split)] : []),
    ...(result.levers.length ? [renderLevers(result.levers, 'Levers on YOLOv4')] : []),
    ...(result.checks.length ? [renderLevers(result.checks, 'Levers on other models')] : []),
  ].join('\n');
  writeFileSync(`${base}.md`, md);
  log(`yolov4-split done in ${Math.round(result.durationS)} s → ${base}.json, ${base}.md`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`yolov4-split: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
