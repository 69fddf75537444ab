import { InvalidParameterError } from '../../lambda/src/core/errors';
import { parseOptions } from '../../lambda/src/core/options';

/** Asserts parseOptions throws InvalidParameterError for `parameter`, and returns its message. */
function rejection(
  raw: Record<string, unknown>,
  parameter: string,
  task: 'classification' | 'detection' = 'detection',
) {
  let error: unknown;
  try {
    parseOptions(raw, task);
  } catch (e) {
    error = e;
  }
  if (!(error instanceof InvalidParameterError)) {
    throw new Error(`expected InvalidParameterError for ${JSON.stringify(raw)}, got ${String(error)}`);
  }
  expect(error.code).toBe('INVALID_PARAMETER');
  expect(error.parameter).toBe(parameter);
  expect(error.details).toEqual({ parameter });
  expect(error.message).toContain(`'${parameter}`); // 'topK' …, or 'format=image' …
  return error.message;
}

describe('parseOptions', () => {
  it('defaults: topK 5, format json, everything else left to the model', () => {
    expect(parseOptions({}, 'classification')).toEqual({ topK: 5, format: 'json' });
    expect(parseOptions({}, 'detection')).toEqual({ topK: 5, format: 'json' });
  });

  it('treats empty strings and null as absent', () => {
    expect(parseOptions({ topK: '', minConfidence: null, model: '', format: '' }, 'detection')).toEqual({
      topK: 5,
      format: 'json',
    });
  });

  it('parses numbers given as strings (query string, form fields) and as numbers (JSON)', () => {
    expect(
      parseOptions(
        { model: 'yolov4', topK: '3', minConfidence: '0.5', iou: 0.3, maxDetections: '20' },
        'detection',
      ),
    ).toEqual({ model: 'yolov4', topK: 3, minConfidence: 0.5, iou: 0.3, maxDetections: 20, format: 'json' });
  });

  it('accepts the limits themselves', () => {
    expect(
      parseOptions({ topK: 1, minConfidence: 0, iou: 1, maxDetections: 1000 }, 'detection'),
    ).toMatchObject({
      topK: 1,
      minConfidence: 0,
      iou: 1,
      maxDetections: 1000,
    });
    expect(parseOptions({ topK: 100 }, 'classification').topK).toBe(100);
  });

  it('ignores unknown keys', () => {
    expect(parseOptions({ colour: 'blue' }, 'classification')).toEqual({ topK: 5, format: 'json' });
  });

  it.each([
    ['topK', 0],
    ['topK', 101],
    ['topK', 2.5],
    ['topK', 'abc'],
    ['topK', true],
    ['minConfidence', -0.01],
    ['minConfidence', 1.01],
    ['minConfidence', 'NaN'],
    ['iou', 2],
    ['iou', '-1'],
    ['maxDetections', 0],
    ['maxDetections', 1001],
    ['maxDetections', '1.5'],
    ['maxDetections', 'Infinity'],
  ])('rejects %s = %p with InvalidParameterError naming it', (name, value) => {
    const message = rejection({ [name]: value }, name);
    expect(message).toContain(JSON.stringify(value));
  });

  it('says which range is allowed', () => {
    expect(rejection({ topK: 0 }, 'topK')).toBe("'topK' must be an integer from 1 to 100; got 0.");
    expect(rejection({ minConfidence: 3 }, 'minConfidence')).toBe(
      "'minConfidence' must be a number from 0 to 1; got 3.",
    );
  });

  it.each(['has space', 'a/b', 'x'.repeat(101), 42])('rejects model id %p', (model) => {
    rejection({ model }, 'model');
  });

  it('rejects an unknown format', () => {
    rejection({ format: 'xml' }, 'format');
  });

  it('format=image is only for detection', () => {
    expect(parseOptions({ format: 'image' }, 'detection').format).toBe('image');
    expect(rejection({ format: 'image' }, 'format', 'classification')).toContain('/detector');
    expect(parseOptions({ format: 'json' }, 'classification').format).toBe('json');
  });

  describe('classes', () => {
    it('splits a comma-separated string, trims, lower-cases, drops empty entries and duplicates', () => {
      expect(parseOptions({ classes: ' Person, dog,,DOG ' }, 'detection').classes).toEqual(['person', 'dog']);
      expect(parseOptions({ classes: '0,16' }, 'detection').classes).toEqual(['0', '16']);
    });

    it('takes a JSON array of names and ids, and a single id as a number', () => {
      expect(parseOptions({ classes: ['person', 16, 'car,bus'] }, 'detection').classes).toEqual([
        'person',
        '16',
        'car',
        'bus',
      ]);
      expect(parseOptions({ classes: 16 }, 'detection').classes).toEqual(['16']);
    });

    it('is absent when empty, as the other options are', () => {
      expect(parseOptions({ classes: '' }, 'detection').classes).toBeUndefined();
    });

    it('rejects lists with nothing in them, other types, too many or too long entries', () => {
      expect(rejection({ classes: ' , ' }, 'classes')).toContain("'person,dog'");
      rejection({ classes: [] }, 'classes');
      rejection({ classes: { a: 1 } }, 'classes');
      rejection({ classes: [-1] }, 'classes');
      rejection({ classes: [1.5] }, 'classes');
      rejection({ classes: Array.from({ length: 101 }, (_, i) => String(i)).join(',') }, 'classes');
      rejection({ classes: 'x'.repeat(51) }, 'classes');
    });

    it('is only available on /detector', () => {
      expect(rejection({ classes: 'dog' }, 'classes', 'classification')).toContain('/detector');
    });
  });

  it('takes minConfidence on /classifier too', () => {
    expect(parseOptions({ minConfidence: '0.5' }, 'classification').minConfidence).toBe(0.5);
  });
});
