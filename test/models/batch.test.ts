/**
 * Several images per request on the real small models and photos: every answer equals the
 * single-image answer of the composition root's service, bad images get their own codes, the
 * dynamic-batch classifier runs ONE session run per chunk, the fixed-batch detector one per image.
 * Runs are counted by a LoadedModel wrapped around the real onnxruntime one (a real runtime, only
 * counted).
 */
import { loadConfig } from '../../lambda/src/adapters/config';
import { loadManifest } from '../../lambda/src/adapters/manifest-loader';
import { ModelFileStore } from '../../lambda/src/adapters/model-files';
import { OnnxModelRuntime } from '../../lambda/src/adapters/onnx-runtime';
import { SharpImageDecoder } from '../../lambda/src/adapters/sharp-decoder';
import type { ModelSpec } from '../../lambda/src/core/manifest';
import type { ModelRuntime } from '../../lambda/src/core/ports';
import type { ClassificationResult, DetectionResult, RecognitionResult } from '../../lambda/src/core/results';
import { createService } from '../../lambda/src/service/create-service';
import { type BatchItem, RecognitionService } from '../../lambda/src/service/recognition-service';
import { MALAMUTE_FAMILY, photo, pngClaiming, smallModelEnv } from '../support/fixtures';

jest.setTimeout(60_000);

const config = loadConfig(smallModelEnv({ ORT_INTRA_OP_THREADS: '2' }));
const manifest = loadManifest(config.modelsDir, config.userManifest);
const specOf = (id: string): ModelSpec => manifest.models.find((m) => m.id === id)!;

/** The real onnxruntime runtime, with every session run recorded (model id and input dims). */
function countingRuntime(runs: { model: string; dims: number[] }[]): {
  runtime: ModelRuntime;
  real: OnnxModelRuntime;
} {
  const real = new OnnxModelRuntime({ intraOpThreads: config.intraOpThreads, allowSpinning: false });
  return {
    real,
    runtime: {
      async load(spec, file) {
        const model = await real.load(spec, file);
        return {
          run(data, dims) {
            runs.push({ model: spec.id, dims: [...dims] });
            return model.run(data, dims);
          },
          dispose: () => model.dispose(),
        };
      },
    },
  };
}

const dog = photo('dog.jpg');
const cat = photo('cat_chelsea.png');
const TRUNCATED = dog.subarray(0, Math.floor(dog.length * 0.6));
const TEXT = Buffer.from('This is a text file, not a photo.\n');
const OVER_PIXELS = pngClaiming(20_000, 20_000); // 400 MP, over MAX_IMAGE_PIXELS (40 MP)

const runs: { model: string; dims: number[] }[] = [];
let counted: RecognitionService;
let reference: RecognitionService;
let real: OnnxModelRuntime;

beforeAll(() => {
  const wrapped = countingRuntime(runs);
  real = wrapped.real;
  counted = new RecognitionService({
    manifest,
    files: new ModelFileStore(config.modelPath, config.modelsDir, config.cacheDir),
    runtime: wrapped.runtime,
    decoder: new SharpImageDecoder({ maxPixels: config.maxImagePixels }),
    defaults: { classification: 'mobilenetv2-12-int8', detection: 'yolox-nano' },
    maxQueuePerModel: config.maxQueuePerModel,
  });
  // The single-image answers come from the composition root's own service.
  reference = createService(config);
});
afterAll(async () => {
  await counted.close();
  await reference.close();
});
beforeEach(() => {
  runs.length = 0;
});

const codes = (items: BatchItem[]) => items.map((i) => (i.ok ? 'ok' : i.error.code));

function expectSameClassification(item: BatchItem, single: RecognitionResult) {
  if (!item.ok) throw item.error;
  const got = item.result as ClassificationResult;
  const want = single as ClassificationResult;
  expect(got.model).toBe(want.model);
  expect(got.image).toEqual(want.image);
  expect(got.label).toBe(want.label);
  expect(got.predictions.map((p) => [p.classId, p.label, p.synset])).toEqual(
    want.predictions.map((p) => [p.classId, p.label, p.synset]),
  );
  got.predictions.forEach((p, i) => {
    expect(Math.abs(p.probability - want.predictions[i]!.probability)).toBeLessThan(1e-4);
  });
}

describe('mobilenetv2-12-int8 (input batch_size dynamic, manifest maxBatch 4)', () => {
  const OPTS = { model: 'mobilenetv2-12-int8', topK: 5, format: 'json' as const };

  it('[dog, cat, truncated JPEG, text, eagle]: the photos as alone, the bad items their own codes, ONE run for the chunk', async () => {
    const images = [dog, cat, TRUNCATED, TEXT, photo('eagle.jpg')];
    const items = await counted.recognizeBatch('classification', images, OPTS);
    expect(codes(items)).toEqual(['ok', 'ok', 'UNPROCESSABLE_IMAGE', 'UNSUPPORTED_MEDIA_TYPE', 'ok']);
    expect(runs).toEqual([{ model: 'mobilenetv2-12-int8', dims: [3, 3, 224, 224] }]);

    for (const i of [0, 1, 4]) {
      expectSameClassification(items[i]!, await reference.recognize('classification', images[i]!, OPTS));
    }
    const [d, c, , , e] = items.map((i) => (i.ok ? (i.result as ClassificationResult) : null));
    expect(MALAMUTE_FAMILY).toContain(d!.label);
    expect([281, 282, 285]).toContain(c!.predictions[0]!.classId);
    expect(e!.predictions[0]!.classId).toBe(22);
  });

  it('9 images, 7 good: chunks of 4 and 3, one run each; an over-pixel PNG is PAYLOAD_TOO_LARGE', async () => {
    const names = [
      'dog.jpg',
      'coffee_cup.webp',
      'kite.jpg',
      'person.jpg',
      'astronaut.jpg',
      'dog_exif_orientation6.jpg',
    ];
    const images = [photo(names[0]!), OVER_PIXELS, ...names.slice(1).map(photo), TRUNCATED, cat];
    const items = await counted.recognizeBatch('classification', images, OPTS);
    expect(codes(items)).toEqual([
      'ok',
      'PAYLOAD_TOO_LARGE',
      'ok',
      'ok',
      'ok',
      'ok',
      'ok',
      'UNPROCESSABLE_IMAGE',
      'ok',
    ]);
    expect(runs.map((r) => r.dims)).toEqual([
      [4, 3, 224, 224],
      [3, 3, 224, 224],
    ]);
    for (const [i, item] of items.entries()) {
      if (item.ok)
        expectSameClassification(item, await reference.recognize('classification', images[i]!, OPTS));
    }
    const timings = items.flatMap((i) => (i.ok ? [i.result.timings] : []));
    for (const t of timings) {
      expect(t.decodeMs).toBeGreaterThan(0);
      expect(t.inferenceMs).toBeGreaterThan(0);
      expect(t.totalMs).toBeGreaterThanOrEqual(t.decodeMs);
    }
    // Four images share the first run: their inference shares are equal.
    expect(new Set(timings.slice(0, 4).map((t) => t.inferenceMs)).size).toBe(1);
  });
});

describe('yolox-nano (input fixed at batch 1)', () => {
  const OPTS = { model: 'yolox-nano', topK: 5, format: 'json' as const };

  it('[dog, cat, truncated JPEG, text, person]: runs one by one, detections as alone', async () => {
    const images = [dog, cat, TRUNCATED, TEXT, photo('person.jpg')];
    const items = await counted.recognizeBatch('detection', images, OPTS);
    expect(codes(items)).toEqual(['ok', 'ok', 'UNPROCESSABLE_IMAGE', 'UNSUPPORTED_MEDIA_TYPE', 'ok']);
    expect(runs).toEqual(Array.from({ length: 3 }, () => ({ model: 'yolox-nano', dims: [1, 3, 416, 416] })));
    for (const i of [0, 1, 4]) {
      const item = items[i]!;
      if (!item.ok) throw item.error;
      const got = item.result as DetectionResult;
      const want = (await reference.recognize('detection', images[i]!, OPTS)) as DetectionResult;
      expect(got.image).toEqual(want.image);
      expect(got.detections.map((x) => [x.label, x.box])).toEqual(
        want.detections.map((x) => [x.label, x.box]),
      );
      got.detections.forEach((x, k) => {
        expect(Math.abs(x.score - want.detections[k]!.score)).toBeLessThan(1e-4);
      });
    }
    const labels = (i: number) =>
      items[i]!.ok ? (items[i]!.result as DetectionResult).detections.map((x) => x.label) : [];
    expect(labels(0)).toEqual(expect.arrayContaining(['dog', 'bicycle']));
    expect(labels(1)).toContain('cat');
    expect(labels(4)).toEqual(expect.arrayContaining(['person', 'dog', 'horse']));
  });
});

describe('loading checks input.maxBatch against the graph', () => {
  const file = (spec: ModelSpec) => `${config.modelsDir}/embedded/${spec.file}`;

  it('maxBatch over 1 on a graph fixed at batch 1 is a named mismatch (MODEL_UNAVAILABLE)', async () => {
    const yolox = specOf('yolox-nano');
    await expect(
      real.load({ ...yolox, input: { ...yolox.input, maxBatch: 4 } }, file(yolox)),
    ).rejects.toMatchObject({
      code: 'MODEL_UNAVAILABLE',
      message: expect.stringMatching(
        /input 'images' has a fixed batch of 1 .*manifest says input.maxBatch 4/,
      ),
    });
  });

  it('a maxBatch that is not a whole number of images is named', async () => {
    const mobilenet = specOf('mobilenetv2-12-int8');
    await expect(
      real.load({ ...mobilenet, input: { ...mobilenet.input, maxBatch: 2.5 } }, file(mobilenet)),
    ).rejects.toMatchObject({ message: expect.stringMatching(/input.maxBatch must be a whole number/) });
  });

  it('the shipped manifest declares batches only where the graph allows them, and loads', async () => {
    expect(specOf('mobilenetv2-12-int8').input.maxBatch).toBe(4);
    expect(specOf('yolox-nano').input.maxBatch ?? 1).toBe(1);
    expect(specOf('yolo-fastest-1.1-xl').input.maxBatch ?? 1).toBe(1);
    for (const id of ['mobilenetv2-12-int8', 'yolox-nano', 'yolo-fastest-1.1-xl']) {
      const model = await real.load(specOf(id), file(specOf(id)));
      await model.dispose();
    }
  });
});
