/**
 * External weights (tools/model-prep/onnx-external-data.ts): prepared models keep their large
 * initializers in a `.data` file at 64 KiB-aligned offsets, byte for byte, and onnxruntime gives
 * the same outputs from them as from the source model.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  EXTERNAL_DATA_ALIGNMENT,
  externalizeInitializers,
  MIN_EXTERNAL_BYTES,
} from '../../tools/model-prep/onnx-external-data';
import { prepareModel } from '../../tools/model-prep/onnx-graph-rewrite';
import { decodeModel, type TensorMsg, toNumber } from '../../tools/model-prep/onnx-proto';
import { EMBEDDED_MODELS } from '../support/fixtures';

jest.setTimeout(60_000);

const MODELS = [
  ['mobilenetv2-12-int8.onnx', [1, 3, 224, 224]],
  ['yolox_nano.onnx', [1, 3, 416, 416]],
  ['yolo-fastest-1.1-coco-320.onnx', [1, 3, 320, 320]],
] as const;

interface ExternalEntry {
  key?: string;
  value?: string;
}
type ExternalTensor = TensorMsg & { external_data?: ExternalEntry[] };

const entry = (t: ExternalTensor, key: string) => t.external_data?.find((e) => e.key === key)?.value;

/** A deterministic input in [0, 1): the same for both sessions. */
function input(dims: readonly number[]): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    data[i] = s / 2147483648;
  }
  return new ort.Tensor('float32', data, [...dims]);
}

async function outputsOf(file: string, dims: readonly number[]): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  try {
    const result = await session.run({ [session.inputNames[0]!]: input(dims) });
    return Object.fromEntries(
      Object.entries(result).map(([name, t]) => [name, Float32Array.from(t.data as Float32Array)]),
    );
  } finally {
    await session.release();
  }
}

describe('externalizeInitializers', () => {
  it.each(MODELS)(
    '%s: moves each initializer of at least 1 KiB to an aligned offset, byte for byte, and keeps the small ones',
    (file) => {
      const source = readFileSync(path.join(EMBEDDED_MODELS, file));
      const { modelParts, dataParts, tensors, dataBytes } = externalizeInitializers(source, 'w.data');
      const data = Buffer.concat(dataParts);
      expect(data.length).toBe(dataBytes);

      const before = new Map((decodeModel(source).graph?.initializer ?? []).map((t) => [t.name, t]));
      const after = (decodeModel(Buffer.concat(modelParts)).graph?.initializer ?? []) as ExternalTensor[];
      expect(after.map((t) => t.name)).toEqual([...before.keys()]);
      const moved = after.filter((t) => t.data_location === 1);
      expect(moved.length).toBe(tensors);
      expect(tensors).toBeGreaterThan(0);
      for (const t of moved) {
        const offset = Number(entry(t, 'offset'));
        const length = Number(entry(t, 'length'));
        const original = before.get(t.name)!.raw_data!;
        expect({
          name: t.name,
          location: entry(t, 'location'),
          aligned: offset % EXTERNAL_DATA_ALIGNMENT,
        }).toEqual({ name: t.name, location: 'w.data', aligned: 0 });
        expect(t.raw_data?.length ?? 0).toBe(0);
        expect(Buffer.compare(data.subarray(offset, offset + length), Buffer.from(original))).toBe(0);
        expect(t.dims?.map(toNumber)).toEqual(before.get(t.name)!.dims?.map(toNumber));
      }
      for (const t of after.filter((x) => x.data_location !== 1)) {
        expect(t.raw_data?.length ?? 0).toBeLessThan(MIN_EXTERNAL_BYTES);
      }
    },
  );

  it('leaves a model alone when nothing is large enough or it is already external', () => {
    const source = readFileSync(path.join(EMBEDDED_MODELS, 'yolo-fastest-1.1-coco-320.onnx'));
    const none = externalizeInitializers(source, 'w.data', Number.MAX_SAFE_INTEGER);
    expect(none).toEqual({ modelParts: [source], dataParts: [], tensors: 0, dataBytes: 0 });
    const once = Buffer.concat(externalizeInitializers(source, 'w.data').modelParts);
    expect(externalizeInitializers(once, 'w.data').tensors).toBe(0);
  });
});

describe('prepareModel with external weights', () => {
  it.each(MODELS)('%s: the prepared model gives the same outputs as the source', async (file, dims) => {
    const source = path.join(EMBEDDED_MODELS, file);
    const cache = mkdtempSync(path.join(tmpdir(), 'external-data-'));
    const prepared = await prepareModel(source, null, cache);
    expect(prepared).toMatchObject({ replaced: 0, cached: false });
    expect(prepared.error).toBeUndefined();
    expect(prepared.externalTensors).toBeGreaterThan(0);
    expect(prepared.file).not.toBe(source);
    expect(existsSync(`${prepared.file}.data`)).toBe(true);
    // The model without its weights is small; the weights file holds them.
    expect(readFileSync(prepared.file).length).toBeLessThan(readFileSync(source).length / 4);

    const [expected, actual] = [await outputsOf(source, dims), await outputsOf(prepared.file, dims)];
    expect(Object.keys(actual)).toEqual(Object.keys(expected));
    for (const name of Object.keys(expected)) {
      const a = actual[name]!;
      const e = expected[name]!;
      let maxDiff = 0;
      for (let i = 0; i < e.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - e[i]!));
      expect({ name, length: a.length, maxDiff }).toEqual({ name, length: e.length, maxDiff: 0 });
    }

    expect(await prepareModel(source, null, cache)).toEqual({ ...prepared, cached: true });
    expect(readdirSync(path.join(cache, 'prepared')).filter((f) => f.includes('.tmp'))).toEqual([]);
  });
});

describe('a model whose weights are already external', () => {
  it('is loaded as it is: a copy elsewhere would lose its weights file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'already-external-'));
    const source = path.join(dir, 'model.onnx');
    const split = externalizeInitializers(
      readFileSync(path.join(EMBEDDED_MODELS, 'yolo-fastest-1.1-coco-320.onnx')),
      'model.onnx.data',
    );
    writeFileSync(source, Buffer.concat(split.modelParts));
    writeFileSync(`${source}.data`, Buffer.concat(split.dataParts));
    const cache = path.join(dir, 'cache');
    expect(await prepareModel(source, null, cache)).toEqual({
      file: source,
      replaced: 0,
      externalTensors: 0,
      cached: false,
    });
    expect((await prepareModel(source, null, cache)).cached).toBe(true);
    const outputs = await outputsOf(source, [1, 3, 320, 320]);
    expect(Object.keys(outputs).length).toBe(2);
  });
});
