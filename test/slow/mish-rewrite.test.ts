/**
 * The Mish rewrite (lambda/src/adapters/onnx-graph-rewrite.ts): it finds tf2onnx's
 * Exp→Add(1)→Log→Tanh→Mul chain by pattern, replaces it with an exact Log-free equivalent, leaves
 * everything else byte for byte, and the outputs stay equal.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { BENCH_MODELS_DIR, ensureBenchModels } from '../../bench/standins/make-bench-models';
import { PREPARED_VERSION } from '../../lambda/src/adapters/prepared-models';
import { prepareModel, rewriteMish } from '../../tools/model-prep/onnx-graph-rewrite';
import { EXP, MISH_OP, SIGMOID, SOFTPLUS } from '../../bench/lib/mish-forms';
import {
  DataType,
  decodeModel,
  encodeModel,
  type GraphMsg,
  type NodeMsg,
  type TensorMsg,
  toNumber,
} from '../../tools/model-prep/onnx-proto';
import { photo, EMBEDDED_MODELS } from '../support/fixtures';

const YOLOV4 = path.join(BENCH_MODELS_DIR, 'yolov4-random.onnx');

const floatTensor = (name: string, values: number[], dims: number[]): TensorMsg => ({
  name,
  data_type: DataType.FLOAT,
  dims,
  raw_data: Buffer.from(new Float32Array(values).buffer),
});
const int64Tensor = (name: string, values: number[]): TensorMsg => {
  const raw = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => raw.writeBigInt64LE(BigInt(v), i * 8));
  return { name, data_type: DataType.INT64, dims: [values.length], raw_data: raw };
};
const tensorInfo = (name: string, dims: number[]) => ({
  name,
  type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: dims.map((d) => ({ dim_value: d })) } } },
});
const node = (op: string, input: string[], output: string, name = `${op}_${output}`): NodeMsg => ({
  op_type: op,
  input,
  output: [output],
  name,
});

const SHAPE = [1, 4, 3, 3];

type OneSource = 'initializer-right' | 'initializer-left' | 'constant-node' | 'reshape-shared';

/**
 * X → Mish → Mish → Y (two chains, every name different from tf2onnx's), with the constant 1
 * supplied in the given way; `extraOutput` also exposes the first chain's Exp as a graph output.
 */
function mishModel(one: OneSource, options: { extraOutput?: boolean; oneValue?: number } = {}) {
  const nodes: NodeMsg[] = [];
  const initializer: TensorMsg[] = [];
  const value = options.oneValue ?? 1;
  let oneName = 'k_one';
  if (one === 'constant-node') {
    nodes.push({
      op_type: 'Constant',
      output: ['k_one'],
      name: 'make_one',
      attribute: [{ name: 'value', type: 4, t: floatTensor('', [value], []) }],
    });
  } else if (one === 'reshape-shared') {
    initializer.push(floatTensor('raw_one', [value], [1, 1, 1, 1]), int64Tensor('shape4', [1, 1, 1, 1]));
    nodes.push(node('Reshape', ['raw_one', 'shape4'], 'shared_one', 'reshape_one'));
    oneName = 'shared_one';
  } else {
    initializer.push(floatTensor('k_one', [value], []));
  }
  const chain = (x: string, out: string, tag: string) => {
    const addInputs = one === 'initializer-left' ? [oneName, `${tag}_e`] : [`${tag}_e`, oneName];
    nodes.push(
      node('Exp', [x], `${tag}_e`, `${tag}/alpha`),
      node('Add', addInputs, `${tag}_a`, `${tag}/beta`),
      node('Log', [`${tag}_a`], `${tag}_l`, `${tag}/gamma`),
      node('Tanh', [`${tag}_l`], `${tag}_t`, `${tag}/delta`),
      // tf2onnx writes Mul(x, tanh); the other order must match too.
      node('Mul', tag === 'first' ? [x, `${tag}_t`] : [`${tag}_t`, x], out, `${tag}/epsilon`),
    );
  };
  chain('X', 'mid', 'first');
  chain('mid', 'Y', 'second');
  const graph: GraphMsg = {
    name: 'synthetic',
    node: nodes,
    initializer,
    input: [tensorInfo('X', SHAPE)],
    output: [tensorInfo('Y', SHAPE), ...(options.extraOutput ? [tensorInfo('first_e', SHAPE)] : [])],
    value_info: [tensorInfo('first_l', SHAPE), tensorInfo('mid', SHAPE)],
  };
  return Buffer.from(
    encodeModel({
      ir_version: 7,
      opset_import: [{ domain: '', version: 11 }],
      producer_name: 'mish-rewrite.test',
      graph,
    }),
  );
}

const INPUT = new Float32Array(SHAPE.reduce((a, b) => a * b, 1)).map((_, i) =>
  // Extremes included: exp overflows above 88.7 and underflows below -103.
  i < 9 ? [-1e4, -120, -50, -20, 0, 20, 50, 100, 1e4][i]! : Math.sin(i * 1.7) * 6,
);

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, threads = 1) {
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    graphOptimizationLevel: 'all',
  });
  try {
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.data as Float32Array]));
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: Record<string, Float32Array>, b: Record<string, Float32Array>): number {
  let max = 0;
  for (const [name, values] of Object.entries(a)) {
    const other = b[name];
    if (!other || other.length !== values.length) return Infinity;
    for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]! - other[i]!));
  }
  return max;
}

const opHistogram = (bytes: Uint8Array) => {
  const h: Record<string, number> = {};
  for (const n of decodeModel(bytes).graph?.node ?? []) h[n.op_type ?? ''] = (h[n.op_type ?? ''] ?? 0) + 1;
  return h;
};

const mish = (x: number) => x * Math.tanh(Math.log1p(Math.exp(x)));

describe('synthetic graphs', () => {
  const feeds = () => ({ X: new ort.Tensor('float32', INPUT, SHAPE) });

  it.each<OneSource>(['initializer-right', 'initializer-left', 'constant-node', 'reshape-shared'])(
    'finds both chains with the 1 as %s and keeps the outputs',
    async (one) => {
      const original = mishModel(one);
      const { bytes, replaced } = rewriteMish(original);
      expect(replaced).toBe(2);
      const ops = opHistogram(bytes);
      expect(ops.Log).toBeUndefined();
      expect(ops.Tanh).toBeUndefined();
      // The constant-making nodes that only fed the chains are gone too.
      expect(ops.Constant).toBeUndefined();
      expect(ops.Reshape).toBeUndefined();
      const model = decodeModel(bytes);
      expect(model.graph?.initializer?.map((t) => t.name)).not.toContain('raw_one');
      // Stale value_info for removed tensors is dropped; the rest stays.
      expect(model.graph?.value_info?.map((v) => v.name)).toEqual(['mid']);
      expect(model.metadata_props).toContainEqual({
        key: 'mish_rewrite',
        value: `form=exp-div;replaced=2;version=${PREPARED_VERSION}`,
      });

      const before = await run(original, feeds());
      const after = await run(bytes, feeds());
      expect(maxAbsDiff(before, after)).toBeLessThan(1e-3);
      // And both are Mish(Mish(x)) (relative error for the ±1e4 entries).
      const y = after.Y!;
      INPUT.forEach((x, i) => {
        const want = mish(mish(x));
        expect(Math.abs(y[i]! - want)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want)));
      });
    },
    30_000,
  );

  it.each([EXP, SIGMOID, SOFTPLUS, MISH_OP].map((f) => [f.name, f] as const))(
    'the %s form (bench/lib/mish-forms.ts) is exact as well',
    async (_name, form) => {
      const original = mishModel('reshape-shared');
      const { bytes, replaced } = rewriteMish(original, form);
      expect(replaced).toBe(2);
      if (form === MISH_OP) {
        const opsets = decodeModel(bytes).opset_import ?? [];
        expect(opsets.map((o) => toNumber(o.version))).toEqual([18]);
      }
      expect(maxAbsDiff(await run(original, feeds()), await run(bytes, feeds()))).toBeLessThan(1e-3);
    },
    30_000,
  );

  it('leaves chains alone when an intermediate has a second reader or the constant is not 1', () => {
    const shared = rewriteMish(mishModel('initializer-right', { extraOutput: true }));
    expect(shared.replaced).toBe(1); // only the second chain
    expect(opHistogram(shared.bytes).Log).toBe(1);

    const notOne = mishModel('initializer-right', { oneValue: 2 });
    const result = rewriteMish(notOne);
    expect(result.replaced).toBe(0);
    expect(result.bytes).toBe(notOne);
  });

  it('copies fields it does not know through unchanged', () => {
    const unknown = Buffer.from([0xf8, 0x06, 0x2a]); // field 111, varint 42
    const original = Buffer.concat([mishModel('initializer-right'), unknown]);
    const { bytes } = rewriteMish(original);
    expect(Buffer.from(bytes).includes(unknown)).toBe(true);
    expect(Buffer.from(bytes).subarray(0, 2)).toEqual(original.subarray(0, 2));
  });

  it('prepareModel writes the rewrite once, keyed by checksum, and marks Mish-free models', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mish-prepare-'));
    const source = path.join(dir, 'synthetic.onnx');
    writeFileSync(source, mishModel('constant-node'));
    const first = await prepareModel(source, 'ab'.repeat(32), path.join(dir, 'cache'));
    expect(first).toMatchObject({ replaced: 2, cached: false });
    expect(first.file).toMatch(/prepared[/\\]abababababababab-v2-exp-div-synthetic\.onnx$/);
    expect(rewriteMish(readFileSync(first.file)).replaced).toBe(0);
    expect(await prepareModel(source, 'ab'.repeat(32), path.join(dir, 'cache'))).toEqual({
      ...first,
      cached: true,
    });

    const plain = path.join(dir, 'plain.onnx');
    writeFileSync(plain, mishModel('initializer-right', { oneValue: 3 }));
    expect(await prepareModel(plain, null, path.join(dir, 'cache'))).toEqual({
      file: plain,
      replaced: 0,
      externalTensors: 0,
      cached: false,
    });
    expect((await prepareModel(plain, null, path.join(dir, 'cache'))).cached).toBe(true);
    expect(readdirSync(path.join(dir, 'cache', 'prepared')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('real models', () => {
  it.each([
    ['mobilenetv2-12-int8.onnx', [1, 3, 224, 224]],
    ['yolox_nano.onnx', [1, 3, 416, 416]],
    ['yolo-fastest-1.1-coco-320.onnx', [1, 3, 320, 320]],
  ] as const)(
    '%s has no Mish: same bytes, same outputs',
    async (file, dims) => {
      const original = readFileSync(path.join(EMBEDDED_MODELS, file));
      const { bytes, replaced } = rewriteMish(original);
      expect(replaced).toBe(0);
      expect(Buffer.compare(Buffer.from(bytes), original)).toBe(0);
      const probe = await ort.InferenceSession.create(bytes);
      const name = probe.inputNames[0]!;
      await probe.release();
      const data = new Float32Array((dims as readonly number[]).reduce((a, b) => a * b, 1)).map(
        (_, i) => (i % 255) / 255,
      );
      const feeds = { [name]: new ort.Tensor('float32', data, [...dims]) };
      expect(maxAbsDiff(await run(original, feeds), await run(bytes, feeds))).toBe(0);
    },
    60_000,
  );

  it('YOLOv4 stand-in: 72 chains replaced, outputs within 1e-3 on a real photo', async () => {
    ensureBenchModels(BENCH_MODELS_DIR, ['yolov4']);
    const original = readFileSync(YOLOV4);
    const { bytes, replaced } = rewriteMish(original);
    expect(replaced).toBe(72);
    const before = opHistogram(original);
    const after = opHistogram(bytes);
    expect(before).toMatchObject({ Exp: 72, Log: 72, Tanh: 72, Mul: 72, Add: 95 });
    expect(after.Log).toBeUndefined();
    expect(after.Tanh).toBeUndefined();
    expect(after).toMatchObject({ Exp: 72, Div: 144, Mul: 72, Add: 23 + 144, Conv: 110 });
    expect(after.Reshape).toBe(before.Reshape! - 1); // the shared Reshape(1) is gone

    // The zoo preprocessing: RGB, 416×416 (plain resize here), /255, NHWC.
    const rgb = await sharp(photo('dog.jpg'))
      .resize(416, 416, { fit: 'fill' })
      .removeAlpha()
      .raw()
      .toBuffer();
    const input = Float32Array.from(rgb, (v) => v / 255);
    const feeds = { 'input_1:0': new ort.Tensor('float32', input, [1, 416, 416, 3]) };
    const a = await run(original, feeds, 2);
    const b = await run(bytes, feeds, 2);
    expect(Object.keys(b).sort()).toEqual(['Identity:0', 'Identity_1:0', 'Identity_2:0']);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-3);
  }, 180_000);
});
