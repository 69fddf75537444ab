/**
 * The pure parts of the Step Functions batch: which events are batches, how a batch is checked,
 * which keys may be read (core/bulk-input.ts), how the answer is kept under the payload limit, and
 * the bulk settings of loadConfig. The batch end to end is test/models/bulk-batch-event.test.ts.
 */
import path from 'node:path';
import { loadConfig } from '../../lambda/src/adapters/config';
import { bulkObjectKey, MAX_S3_KEY_BYTES } from '../../lambda/src/core/bulk-input';
import type { RecognitionError } from '../../lambda/src/core/errors';
import {
  BULK_ANSWER_MAX_BYTES,
  fitAnswer,
  isBulkBatchEvent,
  parseBulkBatch,
  type BulkBatchAnswer,
  type BulkResult,
} from '../../lambda/src/transports/bulk-batch-event';

const MODELS_DIR = path.resolve(__dirname, '../../models');

const thrown = (fn: () => unknown): RecognitionError => {
  try {
    fn();
  } catch (e) {
    return e as RecognitionError;
  }
  throw new Error('expected a throw');
};

describe('isBulkBatchEvent', () => {
  it('knows a Distributed Map batch (Items or BatchInput) from API Gateway events', () => {
    expect(isBulkBatchEvent({ Items: [] })).toBe(true);
    expect(isBulkBatchEvent({ BatchInput: {}, Items: [{ Key: 'a' }] })).toBe(true);
    expect(isBulkBatchEvent({ BatchInput: {} })).toBe(true);
    expect(isBulkBatchEvent({ httpMethod: 'POST', path: '/classifier', body: '' })).toBe(false);
    expect(isBulkBatchEvent({ 'body-json': '' })).toBe(false);
    for (const other of [null, undefined, 'Items', 42, [{ Items: [] }]]) {
      expect(isBulkBatchEvent(other)).toBe(false);
    }
  });
});

describe('parseBulkBatch', () => {
  const event = (input: Record<string, unknown>, keys = ['input/a.jpg', 'input/b.jpg']) => ({
    BatchInput: { bucket: 'photos', task: 'classify', ...input },
    Items: keys.map((Key) => ({ Key, Size: 10, Etag: '"x"', StorageClass: 'STANDARD' })),
  });

  it('the keys in order, the task both ways, the options through the routes’ parser', () => {
    expect(parseBulkBatch(event({ options: { topK: '3', minConfidence: 0.2 } }), 16)).toEqual({
      bucket: 'photos',
      task: 'classify',
      modelTask: 'classification',
      options: { topK: 3, minConfidence: 0.2, format: 'json' },
      keys: ['input/a.jpg', 'input/b.jpg'],
    });
    expect(
      parseBulkBatch(event({ task: 'detect', options: { classes: ['dog', 16], iou: 0.5 } }), 16),
    ).toMatchObject({
      task: 'detect',
      modelTask: 'detection',
      options: { classes: ['dog', '16'], iou: 0.5, topK: 5, format: 'json' },
    });
    // No options, null options, an empty batch: all fine.
    expect(parseBulkBatch(event({}), 16).options).toEqual({ topK: 5, format: 'json' });
    expect(parseBulkBatch(event({ options: null }), 16).options).toEqual({ topK: 5, format: 'json' });
    expect(parseBulkBatch(event({}, []), 16).keys).toEqual([]);
  });

  it.each<[string, unknown, string, string]>([
    ['not an object', 'input/a.jpg', 'INVALID_REQUEST', ''],
    ['no BatchInput', { Items: [{ Key: 'a' }] }, 'INVALID_REQUEST', ''],
    ['BatchInput an array', { BatchInput: [], Items: [] }, 'INVALID_REQUEST', ''],
    ['no bucket', { BatchInput: { task: 'classify' }, Items: [] }, 'INVALID_REQUEST', ''],
    ['an empty bucket', { BatchInput: { bucket: '', task: 'classify' }, Items: [] }, 'INVALID_REQUEST', ''],
    ['no Items', { BatchInput: { bucket: 'b', task: 'classify' } }, 'INVALID_REQUEST', ''],
    [
      'an item without Key',
      { BatchInput: { bucket: 'b', task: 'classify' }, Items: [{}] },
      'INVALID_REQUEST',
      '',
    ],
    [
      'an item a string',
      { BatchInput: { bucket: 'b', task: 'classify' }, Items: ['a'] },
      'INVALID_REQUEST',
      '',
    ],
    [
      'an empty Key',
      { BatchInput: { bucket: 'b', task: 'classify' }, Items: [{ Key: '' }] },
      'INVALID_REQUEST',
      '',
    ],
    ['no task', { BatchInput: { bucket: 'b' }, Items: [] }, 'INVALID_PARAMETER', 'task'],
    [
      'a route’s task name',
      { BatchInput: { bucket: 'b', task: 'detection' }, Items: [] },
      'INVALID_PARAMETER',
      'task',
    ],
    [
      'an inherited name',
      { BatchInput: { bucket: 'b', task: 'toString' }, Items: [] },
      'INVALID_PARAMETER',
      'task',
    ],
    [
      'options a string',
      { BatchInput: { bucket: 'b', task: 'classify', options: 'topK=3' }, Items: [] },
      'INVALID_PARAMETER',
      'options',
    ],
    [
      'topK 0',
      { BatchInput: { bucket: 'b', task: 'classify', options: { topK: 0 } }, Items: [] },
      'INVALID_PARAMETER',
      'topK',
    ],
    [
      'classes on classify',
      { BatchInput: { bucket: 'b', task: 'classify', options: { classes: 'dog' } }, Items: [] },
      'INVALID_PARAMETER',
      'classes',
    ],
    [
      'summaryThreshold on detect',
      { BatchInput: { bucket: 'b', task: 'detect', options: { summaryThreshold: 0.5 } }, Items: [] },
      'INVALID_PARAMETER',
      'summaryThreshold',
    ],
  ])('%s: %s', (_, ev, code, parameter) => {
    const e = thrown(() => parseBulkBatch(ev, 16));
    expect(e.code).toBe(code);
    if (parameter) expect(e.details.parameter).toBe(parameter);
  });

  it('at most maxItems items, and the message says what to set', () => {
    expect(parseBulkBatch(event({}, new Array<string>(16).fill('input/a.jpg')), 16).keys).toHaveLength(16);
    const e = thrown(() => parseBulkBatch(event({}, new Array<string>(17).fill('input/a.jpg')), 16));
    expect(e.code).toBe('INVALID_REQUEST');
    expect(e.message).toContain('MaxItemsPerBatch');
  });
});

describe('bulkObjectKey', () => {
  const area = { bucket: 'photos', prefix: 'input/' };
  const refusal = (bucket: string, key: string) => {
    const e = thrown(() => bulkObjectKey({ bucket, key }, area));
    return [e.code, e.details.reason];
  };

  it('keys under the prefix of the bucket, as they are', () => {
    for (const key of [
      'input/a.jpg',
      'input/holiday/2024/IMG 0001.JPG',
      'input/a..b.jpg',
      'input/.hidden.jpg',
      'input/ünïcode/写真.webp',
      `input/${'a'.repeat(MAX_S3_KEY_BYTES - 10)}`,
    ]) {
      expect(bulkObjectKey({ bucket: 'photos', key }, area)).toBe(key);
    }
    expect(bulkObjectKey({ bucket: 'photos', key: 'anything/at/all.jpg' }, { ...area, prefix: '' })).toBe(
      'anything/at/all.jpg',
    );
  });

  it('another bucket, keys outside the prefix or not plain: SOURCE_NOT_ALLOWED; folder markers: SOURCE_UNREADABLE', () => {
    expect(refusal('someone-else', 'input/a.jpg')).toEqual(['SOURCE_NOT_ALLOWED', 'bucket']);
    expect(refusal('', 'input/a.jpg')).toEqual(['SOURCE_NOT_ALLOWED', 'bucket']);
    for (const key of [
      'secret/a.jpg',
      'inputs/a.jpg',
      'input',
      '/input/a.jpg',
      '',
      'input/../secret/a.jpg',
      'input/./a.jpg',
      'input/holiday/..',
      'input/a\u0000.jpg',
      'input/a\n.jpg',
      'input/\ud800.jpg',
      `input/${'a'.repeat(MAX_S3_KEY_BYTES)}`,
    ]) {
      expect([key, ...refusal('photos', key)]).toEqual([key, 'SOURCE_NOT_ALLOWED', 'key']);
    }
    for (const key of ['input/', 'input/holiday/']) {
      expect([key, ...refusal('photos', key)]).toEqual([key, 'SOURCE_UNREADABLE', 'folder']);
    }
    // The message names neither the bucket nor the prefix, nor echoes the key.
    const e = thrown(() => bulkObjectKey({ bucket: 'photos', key: 'secret/passwords.jpg' }, area));
    expect(e.message).not.toMatch(/photos|secret|passwords/);
  });
});

describe('fitAnswer', () => {
  const ok = (key: string, bytes: number): BulkResult => ({
    key,
    statusCode: 200,
    label: 'dog',
    padding: 'x'.repeat(bytes),
  });
  const failed = (key: string): BulkResult => ({
    key,
    statusCode: 404,
    error: 'SOURCE_NOT_FOUND',
    message: 'No object has this key.',
  });
  const answer = (results: BulkResult[]): BulkBatchAnswer => {
    const good = results.filter((r) => r.statusCode === 200).length;
    return {
      bucket: 'photos',
      task: 'detect',
      counts: { items: results.length, ok: good, failed: results.length - good },
      results,
      requestId: 'req-1',
    };
  };
  const size = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

  it('an answer within the limit is returned as it is', () => {
    const a = answer([ok('a', 1000), failed('b')]);
    expect(fitAnswer(a, 10_000)).toBe(a);
    expect(fitAnswer(a, size(a))).toBe(a);
  });

  it('over it, the largest results become RESPONSE_TOO_LARGE, largest first, just until it fits', () => {
    const a = answer([
      ok('a', 3000),
      failed('b'),
      ok('c', 9000),
      ok('d', 1000),
      ok('e', 6000),
      ok('f', 2000),
    ]);
    expect(size(a)).toBeGreaterThan(20_000);
    const fitted = fitAnswer(a, 12_000);
    expect(size(fitted)).toBeLessThanOrEqual(12_000);
    // c (9,000) alone is not enough, c and e are.
    expect(fitted.results.map((r) => [r.key, r.statusCode])).toEqual([
      ['a', 200],
      ['b', 404],
      ['c', 413],
      ['d', 200],
      ['e', 413],
      ['f', 200],
    ]);
    expect(fitted.counts).toEqual({ items: 6, ok: 3, failed: 3 });
    expect(fitted.results[2]).toEqual({
      key: 'c',
      statusCode: 413,
      error: 'RESPONSE_TOO_LARGE',
      message: expect.stringMatching(/^This photo's answer is 90\d\d bytes of JSON.*maxDetections.*topK/),
    });
    // The others are untouched, the input too.
    expect(fitted.results[0]).toBe(a.results[0]);
    expect(a.results[2]!.statusCode).toBe(200);
    expect(a.counts.ok).toBe(5);
  });

  it('when nothing can make it fit, throws RESPONSE_TOO_LARGE', () => {
    const longKey = 'k'.repeat(900);
    const a = answer(Array.from({ length: 16 }, (_, i) => ok(`${longKey}${i}`, 100)));
    const e = thrown(() => fitAnswer(a, 5000));
    expect(e.code).toBe('RESPONSE_TOO_LARGE');
  });

  it('the limit leaves room under Step Functions’ 256 KiB', () => {
    expect(BULK_ANSWER_MAX_BYTES).toBeLessThanOrEqual(256 * 1024 - 20_000);
  });
});

describe('loadConfig: the bulk input area', () => {
  const env = (vars: Record<string, string>): NodeJS.ProcessEnv => ({ MODELS_DIR, ...vars });

  it('off without BULK_BUCKET; the prefix defaults to input/ and is a folder; MAX_UPLOAD_BYTES bounds each object', () => {
    expect(loadConfig(env({})).bulk).toBeNull();
    expect(loadConfig(env({ BULK_BUCKET: 'my-photos' })).bulk).toEqual({
      bucket: 'my-photos',
      prefix: 'input/',
      endpoint: null,
      maxBytes: 25_000_000,
    });
    for (const [raw, prefix] of [
      ['photos', 'photos/'],
      ['photos/', 'photos/'],
      ['/photos/2024//', 'photos/2024/'],
      ['', ''],
      ['/', ''],
    ]) {
      expect([raw, loadConfig(env({ BULK_BUCKET: 'b-1', BULK_INPUT_PREFIX: raw! })).bulk?.prefix]).toEqual([
        raw,
        prefix,
      ]);
    }
    expect(
      loadConfig(
        env({
          BULK_BUCKET: 'b.example-1',
          BULK_S3_ENDPOINT: 'http://127.0.0.1:4569',
          MAX_UPLOAD_BYTES: '1000',
        }),
      ).bulk,
    ).toMatchObject({ endpoint: 'http://127.0.0.1:4569', maxBytes: 1000 });
  });

  it.each([
    [{ BULK_BUCKET: 'My_Bucket' }, /^BULK_BUCKET must be an S3 bucket name .* got 'My_Bucket'$/],
    [{ BULK_BUCKET: 'ab' }, /^BULK_BUCKET must be an S3 bucket name/],
    [{ BULK_BUCKET: 'a..b' }, /^BULK_BUCKET must be an S3 bucket name/],
    [{ BULK_BUCKET: '192.168.1.1' }, /^BULK_BUCKET must be an S3 bucket name/],
    [
      { BULK_BUCKET: 'photos', BULK_INPUT_PREFIX: 'input/../secret' },
      /^BULK_INPUT_PREFIX must be a key prefix/,
    ],
    [{ BULK_BUCKET: 'photos', BULK_INPUT_PREFIX: 'a//b' }, /^BULK_INPUT_PREFIX must be a key prefix/],
    [{ BULK_BUCKET: 'photos', BULK_INPUT_PREFIX: 'in\nput' }, /^BULK_INPUT_PREFIX must be a key prefix/],
    [
      { BULK_BUCKET: 'photos', BULK_S3_ENDPOINT: 'localhost:4569' },
      /^BULK_S3_ENDPOINT must be an http\(s\) URL/,
    ],
    [{ BULK_INPUT_PREFIX: 'input/' }, /^BULK_INPUT_PREFIX set without BULK_BUCKET$/],
  ])('%p is refused at start, naming the variable', (vars, message) => {
    expect(() => loadConfig(env(vars))).toThrow(message);
  });
});
