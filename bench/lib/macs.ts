import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import {
  decodeModel,
  encodeModel,
  toNumber,
  type NodeMsg,
  type TensorMsg,
} from '../../tools/model-prep/onnx-proto';
import { syntheticInput } from './models';

const COUNTED = new Set([
  'Conv',
  'QLinearConv',
  'ConvInteger',
  'Gemm',
  'MatMul',
  'QLinearMatMul',
  'MatMulInteger',
]);

/** Index of the weight input per op type. */
const WEIGHT_INPUT: Record<string, number> = { Conv: 1, ConvInteger: 1, QLinearConv: 3, Gemm: 1, MatMul: 1 };

/**
 * Multiply-accumulates per image of a (small) model: every Conv/Gemm/MatMul output is exposed as a
 * graph output, the model runs once at batch 1, and MACs are output elements × the reduction size
 * taken from the weight initializer (Conv: C/group·kh·kw; Gemm/MatMul: K).
 */
export async function countMacs(file: string, dims: number[]): Promise<{ gmac: number; counted: number }> {
  const model = decodeModel(readFileSync(file));
  const graph = model.graph;
  if (!graph?.node) throw new Error(`${file}: no graph`);
  const inits = new Map<string, TensorMsg>((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const targets: { node: NodeMsg; output: string }[] = [];
  for (const node of graph.node) {
    const output = node.output?.[0];
    if (!output || !COUNTED.has(node.op_type ?? '')) continue;
    targets.push({ node, output });
  }
  const existing = new Set((graph.output ?? []).map((o) => o.name));
  graph.output = [
    ...(graph.output ?? []),
    ...targets.filter((t) => !existing.has(t.output)).map((t) => ({ name: t.output })),
  ];
  const session = await ort.InferenceSession.create(encodeModel(model), {
    graphOptimizationLevel: 'disabled',
  });
  try {
    const name = session.inputNames[0]!;
    const input = new ort.Tensor('float32', syntheticInput(dims.reduce((a, b) => a * b, 1)), dims);
    const out = await session.run({ [name]: input });
    let macs = 0;
    for (const { node, output } of targets) {
      const t = out[output];
      if (!t) continue;
      const elements = t.dims.reduce((a, b) => a * b, 1);
      const op = node.op_type ?? '';
      const weightName = node.input?.[WEIGHT_INPUT[op] ?? 1] ?? '';
      const w = inits.get(weightName);
      const wDims = (w?.dims ?? []).map(toNumber);
      let k: number;
      if (op.includes('Conv')) {
        k = wDims.slice(1).reduce((a, b) => a * b, 1);
      } else if (op === 'Gemm') {
        const transB = node.attribute?.find((a) => a.name === 'transB');
        k = toNumber(transB?.i) === 1 ? (wDims[1] ?? 0) : (wDims[0] ?? 0);
      } else {
        k = wDims[0] ?? 0;
      }
      macs += elements * k;
    }
    return { gmac: macs / 1e9, counted: targets.length };
  } finally {
    await session.release();
  }
}
