/**
 * The production manifest entries (resnet50-v1-12, yolov4) load and give well-formed answers when
 * pointed at the random-weight stand-ins with the zoo files' exact I/O. Their outputs mean nothing;
 * only the plumbing (names, layouts, shapes, decoding) is under test.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BENCH_MODELS_DIR, ensureBenchModels } from '../../bench/standins/make-bench-models';
import { loadConfig } from '../../lambda/src/adapters/config';
import { createService } from '../../lambda/src/service/create-service';
import { prepareMissing } from '../../local/prepare-on-load';
import type { RecognitionService } from '../../lambda/src/service/recognition-service';
import { photo, smallModelEnv } from '../support/fixtures';

let service: RecognitionService;
beforeAll(() => {
  ensureBenchModels();
  const manifest = path.join(mkdtempSync(path.join(tmpdir(), 'standin-')), 'manifest.json');
  writeFileSync(
    manifest,
    JSON.stringify({
      models: [
        { id: 'resnet50-v1-12', file: 'resnet50-random.onnx', sha256: null },
        { id: 'resnet50-v1-12-int8', file: 'resnet50-int8-random.onnx', sha256: null },
        { id: 'yolov4', file: 'yolov4-random.onnx', sha256: null },
      ],
    }),
  );
  service = createService(
    loadConfig(
      smallModelEnv({
        MODEL_PATH: BENCH_MODELS_DIR,
        MODEL_MANIFEST: manifest,
        DEFAULT_CLASSIFIER: 'resnet50-v1-12',
        DEFAULT_DETECTOR: 'yolov4',
        // A lasting folder: the service rewrites YOLOv4's Mish chains once, not once per run.
        MODEL_PREPARED_DIR: path.resolve(__dirname, '../../.cache/bench-cache'),
      }),
    ),
    { prepareMissing },
  );
}, 60_000);
afterAll(() => service.close());

it.each(['resnet50-v1-12', 'resnet50-v1-12-int8'])(
  '%s entry loads the stand-in and returns 1000 probabilities summing to 1',
  async (model) => {
    const r = await service.classify(photo('dog.jpg'), { model, topK: 1000 });
    expect(r.predictions).toHaveLength(1000);
    expect(r.predictions.reduce((s, p) => s + p.probability, 0)).toBeCloseTo(1, 3);
    expect(new Set(r.predictions.map((p) => p.classId)).size).toBe(1000);
    expect(r.model).toBe(model);
  },
  60_000,
);

it('yolov4 entry loads the stand-in and every box lies inside the image', async () => {
  const image = photo('kite.jpg');
  const r = await service.detect(image, { model: 'yolov4', minConfidence: 0.01, maxDetections: 1000 });
  expect(r.image).toEqual({ width: 1352, height: 900, format: 'jpeg' });
  for (const d of r.detections) {
    expect(d.box.x1).toBeGreaterThanOrEqual(0);
    expect(d.box.y1).toBeGreaterThanOrEqual(0);
    expect(d.box.x2).toBeLessThanOrEqual(1352);
    expect(d.box.y2).toBeLessThanOrEqual(900);
    expect(d.box.x2).toBeGreaterThan(d.box.x1);
    expect(d.score).toBeGreaterThanOrEqual(0.01);
    expect(d.classId).toBeLessThan(80);
  }
}, 60_000);
