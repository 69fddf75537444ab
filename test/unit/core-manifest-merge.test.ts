import type { Manifest, ModelSpec } from '../../lambda/src/core/manifest';
import { ManifestError, mergeManifests, validateManifest } from '../../lambda/src/core/manifest-merge';
import builtIn from '../../models/manifest.json';

const base = (): Manifest => validateManifest(structuredClone(builtIn), 'models/manifest.json');
const model = (m: Manifest, id: string): ModelSpec => {
  const found = m.models.find((x) => x.id === id);
  if (!found) throw new Error(`model '${id}' missing from ${m.models.map((x) => x.id).join(', ')}`);
  return found;
};
const expectManifestError = (fn: () => unknown, ...fragments: string[]) => {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ManifestError);
  for (const f of fragments) expect((error as Error).message).toContain(f);
};

describe('validateManifest', () => {
  it('accepts the built-in models/manifest.json', () => {
    expect(base().models.map((m) => m.id)).toEqual([
      'resnet50-v1-12',
      'resnet50-v1-12-int8',
      'yolov4',
      'mobilenetv2-12-int8',
      'yolox-nano',
      'yolo-fastest-1.1-xl',
    ]);
  });

  it('rejects duplicate ids', () => {
    const m = base();
    expectManifestError(
      () => validateManifest({ models: [...m.models, model(m, 'yolov4')] }, 'dup.json'),
      "model 'yolov4'",
      'id must be unique',
    );
  });

  it('rejects a document without a models array', () => {
    expectManifestError(
      () => validateManifest({ model: [] }, 'x.json'),
      'x.json: expected {"models": [...]}',
    );
  });
});

describe('mergeManifests', () => {
  it('overriding file and sha256 (null) of resnet50-v1-12 keeps every other field and model', () => {
    const before = base();
    const merged = mergeManifests(before, {
      models: [{ id: 'resnet50-v1-12', file: 'my-resnet.onnx', sha256: null }],
    });
    expect(model(merged, 'resnet50-v1-12')).toEqual({
      ...model(before, 'resnet50-v1-12'),
      file: 'my-resnet.onnx',
      sha256: null,
    });
    expect(merged.models.map((m) => m.id)).toEqual(before.models.map((m) => m.id));
    for (const id of ['resnet50-v1-12-int8', 'yolov4', 'yolox-nano'])
      expect(model(merged, id)).toEqual(model(before, id));
  });

  it('merges nested objects key by key (shorterSide changes, mode stays)', () => {
    const merged = mergeManifests(base(), {
      models: [{ id: 'resnet50-v1-12', preprocess: { resize: { shorterSide: 232 } } }],
    });
    expect(model(merged, 'resnet50-v1-12').preprocess).toEqual({
      ...model(base(), 'resnet50-v1-12').preprocess,
      resize: { mode: 'center-crop', shorterSide: 232 },
    });
  });

  it('replaces arrays whole (mean is not merged element-wise)', () => {
    const merged = mergeManifests(base(), { models: [{ id: 'yolov4', preprocess: { mean: [1, 2, 3] } }] });
    expect(model(merged, 'yolov4').preprocess.mean).toEqual([1, 2, 3]);
  });

  it('adds a model with a new id whole, after the built-in ones', () => {
    const mine: ModelSpec = {
      ...structuredClone(model(base(), 'yolov4')),
      id: 'my-detector',
      file: '/models/mine.onnx',
      sha256: null,
    };
    const merged = mergeManifests(base(), { models: [mine] });
    expect(merged.models).toHaveLength(base().models.length + 1);
    expect(merged.models.at(-1)).toEqual(mine);
  });

  it('does not mutate the built-in manifest', () => {
    const before = base();
    const snapshot = structuredClone(before);
    mergeManifests(before, {
      models: [{ id: 'yolov4', file: 'x.onnx', preprocess: { resize: { padValue: 0 } } }],
    });
    expect(before).toEqual(snapshot);
  });

  it('fails naming the field when an override is invalid (preprocess.resize.mode)', () => {
    expectManifestError(
      () =>
        mergeManifests(
          base(),
          { models: [{ id: 'yolov4', preprocess: { resize: { mode: 'zoom' } } }] },
          'user.json',
        ),
      "user.json: model 'yolov4'",
      'preprocess.resize.mode must be one of center-crop | letterbox | stretch',
    );
  });

  it.each([
    ['sha256', { sha256: 'ABC' }, 'sha256 must be null or 64 lowercase hex digits'],
    ['input.layout', { input: { layout: 'HWC' } }, 'input.layout must be one of NCHW | NHWC'],
    ['input.width', { input: { width: 0 } }, 'input.width must be a number >= 1'],
    ['preprocess.std', { preprocess: { std: [1, 2] } }, 'preprocess.std must be three numbers'],
    [
      'postprocess.family',
      { postprocess: { family: 'classification' } },
      'postprocess.family must be a detection family',
    ],
    [
      'postprocess.headLayout',
      { postprocess: { headLayout: 'nchw' } },
      'postprocess.headLayout must be one of',
    ],
    ['labels.names', { labels: { names: '' } }, 'labels.names must be a non-empty string'],
    ['numClasses', { numClasses: 0 }, 'numClasses must be a number >= 1'],
  ])('fails naming %s', (_, patch, message) => {
    expectManifestError(
      () => mergeManifests(base(), { models: [{ id: 'yolov4', ...patch }] }),
      "model 'yolov4'",
      message,
    );
  });

  it('a new model missing most fields fails on the first one checked (task)', () => {
    expectManifestError(
      () => mergeManifests(base(), { models: [{ id: 'half-done', file: 'x.onnx' }] }),
      "model 'half-done'",
      'task must be one of',
    );
  });

  it('a letterbox override needs align and padValue', () => {
    expectManifestError(
      () =>
        mergeManifests(base(), {
          models: [{ id: 'resnet50-v1-12', preprocess: { resize: { mode: 'letterbox' } } }],
        }),
      'preprocess.resize.align',
    );
  });

  it('rejects entries without a string id, naming their index', () => {
    expectManifestError(
      () => mergeManifests(base(), { models: [{ id: 'yolov4' }, { file: 'x.onnx' }] }, 'u.json'),
      'u.json: models[1] needs a string "id"',
    );
    expectManifestError(
      () => mergeManifests(base(), { models: [{ id: '' }] }),
      'models[0] needs a string "id"',
    );
  });

  it('rejects a user document that is not {"models": [...]}', () => {
    expectManifestError(() => mergeManifests(base(), [], 'u.json'), 'u.json: expected {"models": [...]}');
    expectManifestError(
      () => mergeManifests(base(), { models: {} }, 'u.json'),
      'u.json: expected {"models": [...]}',
    );
  });
});
