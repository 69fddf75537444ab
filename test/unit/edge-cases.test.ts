import { topK } from '../../lambda/src/core/classification';
import { InvalidParameterError, ModelUnavailableError, withoutLocations } from '../../lambda/src/core/errors';
import { planResize, toOriginalBox } from '../../lambda/src/core/geometry';
import { validateManifest } from '../../lambda/src/core/manifest-merge';
import { parseOptions } from '../../lambda/src/core/options';

it('rejects hexadecimal, exponent and Infinity spellings of numeric options', () => {
  for (const topK of ['0x10', '1e1', 'Infinity', ' ']) {
    expect(() => parseOptions({ topK }, 'classification')).toThrow(InvalidParameterError);
  }
  expect(parseOptions({ topK: ' 7 ' }, 'classification').topK).toBe(7);
  expect(parseOptions({ minConfidence: '0.25' }, 'detection').minConfidence).toBe(0.25);
});

it('topK of zero is an empty ranking, not a crash', () => {
  expect(topK([0.2, 0.8], 0)).toEqual([]);
});

it('letterbox undo maps the far edge exactly even when floor() shrinks the resize (720 px wide)', () => {
  const original = { width: 720, height: 540 };
  const plan = planResize(
    original,
    { mode: 'letterbox', align: 'center', padValue: 128 },
    { width: 416, height: 416 },
  );
  expect(plan.resize).toEqual({ width: 415, height: 311 });
  if (plan.mode !== 'letterbox') throw new Error('letterbox expected');
  const right = plan.pad.left + plan.resize.width;
  const bottom = plan.pad.top + plan.resize.height;
  const box = toOriginalBox({ x1: plan.pad.left, y1: plan.pad.top, x2: right, y2: bottom }, plan, original);
  expect(box).toEqual({ x1: 0, y1: 0, x2: 720, y2: 540 });
});

it('the built-in manifest must give every model an id', () => {
  expect(() => validateManifest({ models: [{ task: 'classification' }] })).toThrow(
    /id must be a non-empty string/,
  );
});

describe('withoutLocations: answers name files, never folders or buckets', () => {
  it.each([
    [
      "ENOENT: no such file or directory, open '/srv/app/models/labels.txt'",
      "ENOENT: no such file or directory, open 'labels.txt'",
    ],
    ['NoSuchKey reading s3://private-bucket/onnx/yolov4.onnx', 'NoSuchKey reading yolov4.onnx'],
    ['AccessDenied for s3://private-bucket', 'AccessDenied for the S3 bucket'],
    ['Load model from /tmp/cache/prepared/abc-yolov4.onnx failed', 'Load model from abc-yolov4.onnx failed'],
    [
      'see https://huggingface.co/onnxmodelzoo/m/resolve/main/m.onnx',
      'see https://huggingface.co/onnxmodelzoo/m/resolve/main/m.onnx',
    ],
  ])('%s', (reason, shown) => {
    expect(withoutLocations(reason)).toBe(shown);
    expect(new ModelUnavailableError('m', reason).message).toBe(`Model 'm' is unavailable: ${shown}`);
  });
});
