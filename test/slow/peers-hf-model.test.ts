/**
 * The peers bench's transformers.js model folder (bench/peers/hf-model.ts): the ResNet-50 stand-in
 * with its I/O renamed to what transformers.js feeds and reads, and otherwise the same graph.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  ensureHfResnetFolder,
  graphIoNames,
  HF_IO,
  renameGraphIo,
  RESNET_IO,
} from '../../bench/peers/hf-model';
import { BENCH_MODELS_DIR, ensureBenchModels } from '../../bench/standins/make-bench-models';

const standIn = path.join(BENCH_MODELS_DIR, 'resnet50-random.onnx');
let root: string;
beforeAll(() => {
  ensureBenchModels(BENCH_MODELS_DIR, ['resnet50']);
  root = mkdtempSync(path.join(tmpdir(), 'peers-hf-'));
}, 120_000);
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

it('renames the graph input to pixel_values and the output to logits, and nothing else', () => {
  const source = readFileSync(standIn);
  expect(graphIoNames(source)).toEqual({ inputs: [RESNET_IO.input], outputs: [RESNET_IO.output] });
  const renamed = Buffer.concat(
    renameGraphIo(source, { [RESNET_IO.input]: HF_IO.input, [RESNET_IO.output]: HF_IO.output }),
  );
  expect(graphIoNames(renamed)).toEqual({ inputs: ['pixel_values'], outputs: ['logits'] });
  // Only a few names changed: the weights are copied as they are.
  expect(Math.abs(renamed.length - source.length)).toBeLessThan(64);
  expect(() => renameGraphIo(source, { nope: 'x' })).toThrow(/no input or output named nope/);
});

it('writes a folder whose model onnxruntime loads and runs with the same answer as the stand-in', async () => {
  const folder = ensureHfResnetFolder(standIn, root);
  expect(folder.cached).toBe(false);
  expect(ensureHfResnetFolder(standIn, root).cached).toBe(true);
  const config = JSON.parse(readFileSync(path.join(folder.dir, 'config.json'), 'utf8'));
  expect(config.model_type).toBe('resnet');
  expect(Object.keys(config.id2label)).toHaveLength(1000);
  const pre = JSON.parse(readFileSync(path.join(folder.dir, 'preprocessor_config.json'), 'utf8'));
  expect(pre.size).toEqual({ shortest_edge: 224 });

  const options = { intraOpNumThreads: 1 };
  const renamed = await ort.InferenceSession.create(path.join(folder.dir, 'onnx', 'model.onnx'), options);
  const original = await ort.InferenceSession.create(standIn, options);
  try {
    expect(renamed.inputNames).toEqual(['pixel_values']);
    expect(renamed.outputNames).toEqual(['logits']);
    const data = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
    const a = await renamed.run({ pixel_values: new ort.Tensor('float32', data, [1, 3, 224, 224]) });
    const b = await original.run({ [RESNET_IO.input]: new ort.Tensor('float32', data, [1, 3, 224, 224]) });
    expect(a.logits!.dims).toEqual([1, 1000]);
    expect(Array.from(a.logits!.data as Float32Array)).toEqual(
      Array.from(b[RESNET_IO.output]!.data as Float32Array),
    );
  } finally {
    await renamed.release();
    await original.release();
  }
}, 120_000);
