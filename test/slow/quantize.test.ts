/**
 * int8 quantisation (lambda/src/adapters/onnx-quantize.ts, `npm run models:quantize`): the weights
 * math, the rewritten graph, and a real model that still meets EXPECTED.md after quantisation —
 * calibrated on photos the assertions below never look at.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../../lambda/src/adapters/config';
import {
  activationQuantParams,
  biasWeightScaleFloor,
  exposeConvTensors,
  outputConvolutions,
  quantizeBias,
  quantizeWeightsPerChannel,
} from '../../tools/model-prep/onnx-quantize';
import { decodeModel } from '../../tools/model-prep/onnx-proto';
import { createService } from '../../lambda/src/service/create-service';
import { quantizeModel, type QuantizeReport } from '../../tools/model-prep/quantize-model';
import type { RecognitionService } from '../../lambda/src/service/recognition-service';
import { check, describeDets, FASTEST } from '../support/expected-detections';
import { photo, FIXTURE_IMAGES, EMBEDDED_MODELS, smallModelEnv } from '../support/fixtures';

jest.setTimeout(120_000);

const CALIBRATION = ['eagle.jpg', 'cat_chelsea.png', 'coffee_cup.webp'];
const CHECKED = ['dog.jpg', 'dog_exif_orientation6.jpg', 'kite.jpg', 'person.jpg', 'astronaut.jpg'];

describe('quantisation maths', () => {
  it('int8 weights per output channel reproduce each weight within half a step of its channel', () => {
    const weights = new Float32Array([0.5, -0.25, 0.125, 0.001, -40, 20, 10, 0]);
    const { values, scales } = quantizeWeightsPerChannel(weights, 2);
    expect(Array.from(scales)).toEqual([0.5 / 127, 40 / 127].map((v) => Math.fround(v)));
    weights.forEach((w, i) => {
      const scale = scales[Math.floor(i / 4)]!;
      expect(Math.abs(values[i]! * scale - w)).toBeLessThanOrEqual(scale / 2 + 1e-9);
    });
    expect(Math.max(...Array.from(values).map(Math.abs))).toBe(127);
  });

  it('gives a channel of zero weights a scale that keeps its int32 bias in range', () => {
    const bias = new Float32Array([0.1, -3]);
    const xScale = 1e-8 / 255; // an activation that was 0 on every calibration photo
    const weights = new Float32Array([0, 0, 0, 0, 0.5, -0.5, 0.25, 0]);
    const { scales } = quantizeWeightsPerChannel(weights, 2, biasWeightScaleFloor(bias, xScale));
    const int32 = quantizeBias(bias, xScale, scales);
    int32.forEach((q, c) => {
      expect(Math.abs(q)).toBeLessThanOrEqual(2 ** 31 - 1);
      expect(q * xScale * scales[c]!).toBeCloseTo(bias[c]!, 5);
    });
  });

  it('uint8 activation parameters cover the calibrated range and map 0 exactly', () => {
    for (const range of [
      { min: -3, max: 5 },
      { min: 0, max: 6 },
      { min: -0.5, max: 0 },
    ]) {
      const { scale, zeroPoint } = activationQuantParams(range);
      expect(zeroPoint).toBeGreaterThanOrEqual(0);
      expect(zeroPoint).toBeLessThanOrEqual(255);
      expect((0 - zeroPoint) * scale).toBeLessThanOrEqual(range.min + scale);
      expect((255 - zeroPoint) * scale).toBeGreaterThanOrEqual(range.max - scale);
    }
  });
});

describe('npm run models:quantize on Yolo-Fastest (real weights)', () => {
  let report: QuantizeReport;
  let service: RecognitionService;

  beforeAll(async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'quantize-')), 'yolo-fastest-int8.onnx');
    report = await quantizeModel(
      loadConfig(smallModelEnv()),
      'yolo-fastest-1.1-xl',
      CALIBRATION.map(photo),
      out,
    );
    service = createService(loadConfig(smallModelEnv({ MODEL_MANIFEST: report.manifest })));
  });
  afterAll(() => service.close());

  it('replaces every convolution but the two heads with QLinearConv and keeps the graph inputs and outputs', () => {
    const before = decodeModel(readFileSync(path.join(EMBEDDED_MODELS, 'yolo-fastest-1.1-coco-320.onnx')));
    const after = decodeModel(readFileSync(report.file));
    const ops = (m: typeof before) => m.graph?.node?.map((n) => n.op_type) ?? [];
    const convs = ops(before).filter((o) => o === 'Conv').length;
    const heads = outputConvolutions(
      after.graph?.node ?? [],
      (after.graph?.output ?? []).map((o) => o.name ?? ''),
    );
    // The two YOLO heads (l120_conv → yolo_10x10, l129_conv → yolo_20x20) stay float.
    expect([...heads].map((n) => n.output?.[0]).sort()).toEqual(['l120_conv', 'l129_conv']);
    expect({
      quantized: report.convolutions,
      qlinear: ops(after).filter((o) => o === 'QLinearConv').length,
      float: ops(after).filter((o) => o === 'Conv').length,
    }).toEqual({ quantized: convs - 2, qlinear: convs - 2, float: 2 });
    expect(after.graph?.input?.map((i) => i.name)).toEqual(before.graph?.input?.map((i) => i.name));
    expect(after.graph?.output?.map((o) => o.name)).toEqual(before.graph?.output?.map((o) => o.name));
    expect(report.entry).toMatchObject({
      id: 'yolo-fastest-1.1-xl-int8',
      urls: [],
      bytes: expect.any(Number),
    });
  });

  it('exposes exactly the convolutions’ inputs and outputs for calibration', async () => {
    const exposed = exposeConvTensors(
      readFileSync(path.join(EMBEDDED_MODELS, 'yolo-fastest-1.1-coco-320.onnx')),
    );
    const session = await ort.InferenceSession.create(exposed.bytes);
    try {
      const original = ['yolo_10x10', 'yolo_20x20'];
      const model = decodeModel(readFileSync(path.join(EMBEDDED_MODELS, 'yolo-fastest-1.1-coco-320.onnx')));
      const convTensors = new Set(
        (model.graph?.node ?? [])
          .filter((n) => n.op_type === 'Conv')
          .flatMap((n) => [n.input?.[0], n.output?.[0]]),
      );
      expect(exposed.names.length).toBeGreaterThan(80);
      expect(exposed.names.filter((n) => !convTensors.has(n))).toEqual([]);
      expect(session.outputNames).toEqual([
        ...original,
        ...exposed.names.filter((n) => !original.includes(n)),
      ]);
    } finally {
      await session.release();
    }
  });

  it.each(CHECKED)('the int8 model still meets EXPECTED.md on %s', async (name) => {
    const r = await service.detect(photo(name), { model: 'yolo-fastest-1.1-xl-int8', minConfidence: 0.25 });
    const failures = (FASTEST[name] ?? []).map((rule) => check(rule, r.detections)).filter(Boolean);
    expect({ failures, detections: describeDets(r.detections) }).toEqual({
      failures: [],
      detections: describeDets(r.detections),
    });
  });
});

describe('the models:quantize command', () => {
  const ROOT = path.resolve(__dirname, '..', '..');
  const run = (args: string[]) =>
    spawnSync(
      process.execPath,
      ['scripts/tuned-node.mjs', 'tools/model-prep/quantize-model-cli.ts', ...args],
      {
        cwd: ROOT,
        env: smallModelEnv(),
        encoding: 'utf8',
      },
    );

  it('writes the int8 model and a manifest that serves it, and says how to use them', () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'quantize-cli-')), 'yf.onnx');
    const res = run([
      'yolo-fastest-1.1-xl',
      '--photos',
      path.join(FIXTURE_IMAGES, 'eagle.jpg'),
      '--out',
      out,
    ]);
    expect({ status: res.status, stderr: res.stderr }).toEqual({ status: 0, stderr: '' });
    expect(res.stdout).toContain('yolo-fastest-1.1-xl-int8: 82 convolutions int8, calibrated on 1 photos');
    expect(res.stdout).toContain(`MODEL_MANIFEST=${out}.manifest.json`);
    expect(existsSync(out)).toBe(true);
  });

  it('answers usage with exit code 2 when no photo is given', () => {
    const res = run(['yolo-fastest-1.1-xl']);
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/^usage: npm run models:quantize/);
  });

  it('fails with exit code 1 and a clear message for a model the manifest does not have', () => {
    const res = run(['no-such-model', '--photos', path.join(FIXTURE_IMAGES, 'eagle.jpg')]);
    expect(res.status).toBe(1);
    expect(res.stderr).toContain("models:quantize failed: no model 'no-such-model' in the manifest");
  });
});
