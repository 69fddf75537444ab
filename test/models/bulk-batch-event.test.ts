/**
 * The handler's Step Functions Distributed Map batch, end to end on real parts: a real S3 API
 * (s3rver, behind a SigV4 gate that checks and records every request), the real small models and
 * sharp, the handler as Lambda runs it. A prefix of the repository's photos, plus a corrupt file, a
 * text file, an empty object and a folder marker, becomes one result per key in order: the photos'
 * expected answers (test/fixtures/images/EXPECTED.md), every other key its own error code, keys
 * outside the prefix or bucket refused before any request to S3; a malformed batch, a missing
 * model or no time left throws an error whose name is the stable code; the answer stays under Step
 * Functions' payload limit.
 */
import { loadConfig, type Config } from '../../lambda/src/adapters/config';
import type { ClassificationResult, DetectionResult } from '../../lambda/src/core/results';
import { createService } from '../../lambda/src/service/create-service';
import type { RecognitionService } from '../../lambda/src/service/recognition-service';
import {
  BULK_ANSWER_MAX_BYTES,
  BULK_BATCH_ERRORS,
  type BulkBatchEvent,
  type BulkResult,
} from '../../lambda/src/transports/bulk-batch-event';
import {
  createLambdaHandler,
  createTelemetry,
  LAMBDA_ANSWER_MARGIN_MS,
  type LambdaHandler,
} from '../../lambda/src/transports/lambda-handler';
import { check, YOLOX } from '../support/expected-detections';
import { cleanupTempDirs, tempDir } from '../support/fetch-fixtures';
import { MALAMUTE_FAMILY, photo, smallModelEnv } from '../support/fixtures';
import { rejectionOf } from '../support/rejection';
import {
  startLocalS3,
  startSigV4Gate,
  useS3rverEnv,
  type LocalS3,
  type SigV4Gate,
} from '../support/s3-local';

jest.setTimeout(120_000);
useS3rverEnv();

const BUCKET = 'bulk-photos';
const FOLDER = 'input/holiday/';
const PHOTOS = [
  'dog.jpg',
  'dog_exif_orientation6.jpg',
  'kite.jpg',
  'person.jpg',
  'eagle.jpg',
  'cat_chelsea.png',
  'coffee_cup.webp',
  'astronaut.jpg',
] as const;
const dog = photo('dog.jpg');
const CORRUPT = dog.subarray(0, Math.floor(dog.length * 0.6));

let s3: LocalS3;
/** Every request the handler's reads make goes through it (signatures checked, requests recorded). */
let gate: SigV4Gate;
let config: Config;
let service: RecognitionService;
let handler: LambdaHandler;
const logged: { message: string; entry: Record<string, unknown> }[] = [];

beforeAll(async () => {
  s3 = await startLocalS3(tempDir('s3rver-bulk'), BUCKET);
  gate = await startSigV4Gate(s3.port);
  for (const name of PHOTOS) {
    await s3.put(`${FOLDER}${name}`, photo(name));
    await s3.put(`${FOLDER}copy/${name}`, photo(name));
  }
  await s3.put(`${FOLDER}corrupt.jpg`, CORRUPT);
  await s3.put(`${FOLDER}notes.txt`, Buffer.from('Not a photo: the list of places we went.\n'));
  await s3.put(`${FOLDER}empty.jpg`, Buffer.alloc(0));
  // A real object outside the prefix: a read that got through would succeed.
  await s3.put('secret/dog.jpg', dog);

  const env = smallModelEnv({
    BULK_BUCKET: BUCKET,
    BULK_S3_ENDPOINT: gate.endpoint,
    POWERTOOLS_LOG_LEVEL: 'INFO',
  });
  config = loadConfig(env);
  service = createService(config);
  const telemetry = createTelemetry(env);
  const record = (...args: unknown[]) => {
    logged.push({ message: String(args[0]), entry: (args[1] ?? {}) as Record<string, unknown> });
  };
  jest.spyOn(telemetry.logger, 'info').mockImplementation(record);
  jest.spyOn(telemetry.logger, 'warn').mockImplementation(record);
  handler = createLambdaHandler(service, config, { telemetry });
});
afterAll(async () => {
  await service.close();
  await gate.close();
  await s3.close();
  cleanupTempDirs();
});

/** The event a Distributed Map's ItemBatcher sends, the items as its S3 item reader lists them. */
function batchEvent(
  task: string,
  keys: readonly string[],
  options: Record<string, unknown> = {},
  bucket = BUCKET,
): BulkBatchEvent {
  return {
    BatchInput: { bucket, task: task as 'classify', options },
    Items: keys.map((Key) => ({
      Key,
      Size: 1234,
      Etag: '"0123456789abcdef0123456789abcdef"',
      LastModified: '2026-01-01T00:00:00.000Z',
      StorageClass: 'STANDARD',
    })),
  };
}

const context = (requestId: string, remainingMs = 28_000) => ({
  awsRequestId: requestId,
  getRemainingTimeInMillis: () => remainingMs,
});

/** The requests the gate saw while `work` ran. */
async function requestsDuring<T>(work: () => Promise<T>): Promise<{ value: T; requests: string[] }> {
  const before = gate.requests.length;
  const value = await work();
  return {
    value,
    requests: gate.requests
      .slice(before)
      .map((r) => `${r.method} ${decodeURIComponent(r.url.split('?')[0]!)}`),
  };
}

const codeOf = (r: BulkResult) => (r.statusCode === 200 ? 'ok' : r.error);
const jsonSize = (v: unknown) => Buffer.byteLength(JSON.stringify(v));
const name = (key: string) => key.slice(key.lastIndexOf('/') + 1);

describe('a batch of keys: one result per key, in order', () => {
  test('classify: the photos as expected, every other key its own error; refused keys never reach S3', async () => {
    const keys = [
      ...PHOTOS.map((p) => `${FOLDER}${p}`),
      `${FOLDER}corrupt.jpg`,
      `${FOLDER}notes.txt`,
      FOLDER, // the folder marker the console makes
      `${FOLDER}empty.jpg`,
      'secret/dog.jpg', // outside the prefix
      `input/../secret/dog.jpg`, // a path trick
      `${FOLDER}missing.jpg`, // deleted after the listing
      `${FOLDER}copy/dog.jpg`,
    ];
    expect(keys).toHaveLength(16);
    const { value: answer, requests } = await requestsDuring(() =>
      handler(batchEvent('classify', keys, { topK: 5 }), context('req-classify')),
    );

    expect(answer).toMatchObject({
      bucket: BUCKET,
      task: 'classify',
      counts: { items: 16, ok: 9, failed: 7 },
      requestId: 'req-classify',
    });
    expect(answer.results.map((r) => r.key)).toEqual(keys);
    expect(answer.results.map(codeOf)).toEqual([
      ...PHOTOS.map(() => 'ok'),
      'UNPROCESSABLE_IMAGE',
      'UNSUPPORTED_MEDIA_TYPE',
      'SOURCE_UNREADABLE',
      'SOURCE_UNREADABLE',
      'SOURCE_NOT_ALLOWED',
      'SOURCE_NOT_ALLOWED',
      'SOURCE_NOT_FOUND',
      'ok',
    ]);
    const byName = new Map(
      answer.results.flatMap((r) => (r.statusCode === 200 ? [[name(r.key), r]] : [])) as [string, any][],
    );
    // The HTTP batch item's body: label first, the task and model, the image, the timings.
    const dogResult = answer.results[0]! as BulkResult & ClassificationResult & { statusCode: number };
    expect(Object.keys(dogResult).slice(0, 5)).toEqual(['key', 'statusCode', 'label', 'task', 'model']);
    expect(dogResult).toMatchObject({
      task: 'classification',
      model: 'mobilenetv2-12-int8',
      image: { width: 768, height: 576, format: 'jpeg' },
      timings: { inferenceMs: expect.any(Number) },
    });
    expect(dogResult.predictions).toHaveLength(5);
    for (const p of ['dog.jpg', 'dog_exif_orientation6.jpg']) {
      expect(MALAMUTE_FAMILY).toContain(byName.get(p).label);
    }
    expect(byName.get('dog_exif_orientation6.jpg').image).toMatchObject({ width: 768, height: 576 });
    expect(byName.get('eagle.jpg').predictions[0].classId).toBe(22);
    expect([281, 282, 285]).toContain(byName.get('cat_chelsea.png').predictions[0].classId);
    expect(byName.get('coffee_cup.webp').predictions[0].classId).toBe(967);
    expect(byName.get('kite.jpg').predictions.map((p: { classId: number }) => p.classId)).toContain(978);
    expect(answer.results[15]!.label).toBe(dogResult.label);

    // The errors: the HTTP status of their code, a message, the rule that refused them.
    const errors = answer.results.slice(8, 15);
    expect(errors.map((r) => r.statusCode)).toEqual([422, 415, 422, 422, 403, 403, 404]);
    expect(errors.map((r) => (r.details as { reason?: string } | undefined)?.reason)).toEqual([
      undefined,
      undefined,
      'folder',
      undefined,
      'key',
      'key',
      undefined,
    ]);
    for (const r of errors) {
      expect(typeof r.message).toBe('string');
      expect(r.message).not.toContain(BUCKET);
    }

    // HEAD then GET for each readable object; HEAD alone for the empty and the missing one; nothing
    // for the folder marker or the keys outside the prefix.
    const readable = [...PHOTOS.map((p) => `${FOLDER}${p}`), `${FOLDER}corrupt.jpg`, `${FOLDER}notes.txt`];
    const expected = [
      ...[...readable, `${FOLDER}copy/dog.jpg`].flatMap((k) => [
        `HEAD /${BUCKET}/${k}`,
        `GET /${BUCKET}/${k}`,
      ]),
      `HEAD /${BUCKET}/${FOLDER}empty.jpg`,
      `HEAD /${BUCKET}/${FOLDER}missing.jpg`,
    ];
    expect([...requests].sort()).toEqual([...expected].sort());
    expect(gate.requests.every((r) => r.verdict === 'ok')).toBe(true);

    // One log line for the batch: counts, errors by code, milliseconds.
    const line = logged.filter((l) => l.message === 'bulk batch').at(-1)!.entry;
    expect(line).toMatchObject({
      requestId: 'req-classify',
      task: 'classify',
      model: 'mobilenetv2-12-int8',
      items: 16,
      ok: 9,
      failed: 7,
      errors: {
        UNPROCESSABLE_IMAGE: 1,
        UNSUPPORTED_MEDIA_TYPE: 1,
        SOURCE_UNREADABLE: 2,
        SOURCE_NOT_ALLOWED: 2,
        SOURCE_NOT_FOUND: 1,
      },
      elapsedMs: expect.any(Number),
    });
  });

  test('detect: 16 photos, the expected objects in each; 16-photo answers of both tasks well under the limit', async () => {
    const keys = PHOTOS.flatMap((p) => [`${FOLDER}${p}`, `${FOLDER}copy/${p}`]);
    const answer = await handler(batchEvent('detect', keys), context('req-detect'));
    expect(answer.counts).toEqual({ items: 16, ok: 16, failed: 0 });
    expect(answer.results.map((r) => r.key)).toEqual(keys);
    const failures: string[] = [];
    for (const r of answer.results) {
      const result = r as BulkResult & DetectionResult;
      expect(result.model).toBe('yolox-nano');
      for (const rule of YOLOX[name(r.key)] ?? []) {
        const problem = check(rule, result.detections);
        if (problem) failures.push(`${r.key}: ${problem}`);
      }
    }
    expect(failures).toEqual([]);

    const sizes: Record<string, number> = { 'detect (defaults)': jsonSize(answer) };
    for (const [label, task, options] of [
      ['classify (defaults: topK 5)', 'classify', {}],
      ['classify (topK 100, the most)', 'classify', { topK: 100 }],
    ] as const) {
      const other = await handler(batchEvent(task, keys, options), context(`req-${task}`));
      expect(other.counts.ok).toBe(16);
      sizes[label] = jsonSize(other);
    }
    process.stdout.write(`bulk batch answers for 16 photos, bytes of JSON: ${JSON.stringify(sizes)}\n`);
    expect(sizes['detect (defaults)']).toBeLessThan(BULK_ANSWER_MAX_BYTES / 4);
    expect(sizes['classify (defaults: topK 5)']).toBeLessThan(BULK_ANSWER_MAX_BYTES / 4);
    expect(sizes['classify (topK 100, the most)']).toBeLessThan(BULK_ANSWER_MAX_BYTES);
  });

  test('an answer over the limit fails its largest items with RESPONSE_TOO_LARGE; the others keep theirs', async () => {
    const keys = PHOTOS.flatMap((p) => [`${FOLDER}${p}`, `${FOLDER}copy/${p}`]);
    // Every box above 0.1%, overlapping ones too: hundreds per photo, tens of kB of JSON each.
    const options = { minConfidence: 0.001, iou: 1, maxDetections: 1000 };
    const unbounded = await service.recognizeObjects(
      'detection',
      keys.map((key) => ({ bucket: BUCKET, key })),
      { topK: 5, format: 'json', ...options },
    );
    const sizes = unbounded.map((item) => (item.ok ? jsonSize(item.result) : 0));
    const total = sizes.reduce((a, b) => a + b, 0);
    process.stdout.write(
      `bulk batch: 16 photos detected (minConfidence 0.001, iou 1), ${total} bytes of results before the bound\n`,
    );
    expect(total).toBeGreaterThan(BULK_ANSWER_MAX_BYTES);

    const answer = await handler(batchEvent('detect', keys, options), context('req-large'));
    process.stdout.write(`bulk batch: bounded to ${jsonSize(answer)} bytes of JSON\n`);
    expect(jsonSize(answer)).toBeLessThanOrEqual(BULK_ANSWER_MAX_BYTES);
    const tooLarge = answer.results.filter((r) => r.error === 'RESPONSE_TOO_LARGE');
    const kept = answer.results.filter((r) => r.statusCode === 200);
    expect(tooLarge.length).toBeGreaterThan(0);
    expect(kept.length).toBeGreaterThan(0);
    expect(tooLarge.length + kept.length).toBe(16);
    expect(answer.counts).toEqual({ items: 16, ok: kept.length, failed: tooLarge.length });
    for (const r of tooLarge) {
      expect(r.statusCode).toBe(413);
      expect(r.message).toMatch(/maxDetections/);
    }
    // The refused ones are the largest: none kept is larger than any refused (sizes from the
    // unbounded run, which found the same boxes).
    const sizeOf = (key: string) => sizes[keys.indexOf(key)]!;
    const smallestRefused = Math.min(...tooLarge.map((r) => sizeOf(r.key)));
    const largestKept = Math.max(...kept.map((r) => sizeOf(r.key)));
    expect(largestKept).toBeLessThanOrEqual(smallestRefused + 200);
    // What is kept is whole: every box the unbounded run found, none trimmed away.
    const count = (item: (typeof unbounded)[number] | undefined) =>
      item?.ok ? (item.result as DetectionResult).detections.length : -1;
    expect(kept.map((r) => (r as BulkResult & DetectionResult).detections.length)).toEqual(
      kept.map((r) => count(unbounded[keys.indexOf(r.key)])),
    );
  });

  test('another bucket: every item SOURCE_NOT_ALLOWED, nothing sent to S3', async () => {
    const keys = [`${FOLDER}dog.jpg`, `${FOLDER}cat_chelsea.png`];
    const { value: answer, requests } = await requestsDuring(() =>
      handler(batchEvent('classify', keys, {}, 'someone-elses-bucket'), context('req-other')),
    );
    expect(answer.counts).toEqual({ items: 2, ok: 0, failed: 2 });
    expect(answer.results.map((r) => [r.key, r.error, (r.details as { reason: string }).reason])).toEqual(
      keys.map((k) => [k, 'SOURCE_NOT_ALLOWED', 'bucket']),
    );
    expect(requests).toEqual([]);
  });
});

describe('reads are bounded', () => {
  test('an object over MAX_UPLOAD_BYTES is PAYLOAD_TOO_LARGE from its HEAD alone; the smaller ones are read', async () => {
    const env = smallModelEnv({
      BULK_BUCKET: BUCKET,
      BULK_S3_ENDPOINT: gate.endpoint,
      BULK_INPUT_PREFIX: 'input/holiday',
      MAX_UPLOAD_BYTES: '1000000',
    });
    const smallConfig = loadConfig(env);
    expect(smallConfig.bulk).toMatchObject({ prefix: 'input/holiday/', maxBytes: 1_000_000 });
    const small = createService(smallConfig);
    try {
      const keys = [`${FOLDER}kite.jpg`, `${FOLDER}eagle.jpg`, 'input/other/dog.jpg'];
      const { value: answer, requests } = await requestsDuring(() =>
        createLambdaHandler(small, smallConfig)(batchEvent('detect', keys), context('req-small')),
      );
      expect(answer.results.map((r) => [r.key, codeOf(r)])).toEqual([
        [keys[0], 'PAYLOAD_TOO_LARGE'],
        [keys[1], 'ok'],
        [keys[2], 'SOURCE_NOT_ALLOWED'],
      ]);
      expect(answer.results[0]!.message).toContain('1415684');
      expect(requests.sort()).toEqual(
        [
          `HEAD /${BUCKET}/${FOLDER}kite.jpg`,
          `HEAD /${BUCKET}/${FOLDER}eagle.jpg`,
          `GET /${BUCKET}/${FOLDER}eagle.jpg`,
        ].sort(),
      );
    } finally {
      await small.close();
    }
  });
});

describe('what fails the whole batch: thrown, its name the stable code', () => {
  const throwsName = async (event: unknown, ctx = context('req-bad')) => {
    const { value: e, requests } = await requestsDuring(() =>
      rejectionOf(handler(event as BulkBatchEvent, ctx)),
    );
    expect(requests).toEqual([]);
    expect(e).toBeInstanceOf(Error);
    expect(BULK_BATCH_ERRORS).toContain(e.name);
    expect(e.message).not.toContain(BUCKET);
    return e.name;
  };
  const one = [`${FOLDER}dog.jpg`];

  test('a malformed batch: INVALID_REQUEST for its shape, INVALID_PARAMETER for its task and options', async () => {
    const good = batchEvent('detect', one);
    const cases: [unknown, string][] = [
      [{ Items: good.Items }, 'INVALID_REQUEST'],
      [{ BatchInput: good.BatchInput }, 'INVALID_REQUEST'],
      [{ ...good, BatchInput: { task: 'detect' } }, 'INVALID_REQUEST'],
      [{ ...good, Items: [{ Size: 12 }] }, 'INVALID_REQUEST'],
      [{ ...good, Items: 'input/holiday/dog.jpg' }, 'INVALID_REQUEST'],
      [batchEvent('detect', new Array<string>(17).fill(`${FOLDER}dog.jpg`)), 'INVALID_REQUEST'],
      [batchEvent('segment', one), 'INVALID_PARAMETER'],
      [batchEvent('classification', one), 'INVALID_PARAMETER'],
      [{ ...good, BatchInput: { ...good.BatchInput, options: [1] } }, 'INVALID_PARAMETER'],
      [batchEvent('classify', one, { topK: 0 }), 'INVALID_PARAMETER'],
      [batchEvent('classify', one, { model: 'yolox-nano' }), 'INVALID_PARAMETER'],
      [batchEvent('detect', one, { format: 'image' }), 'INVALID_PARAMETER'],
      [batchEvent('detect', one, { classes: 'unicorn' }), 'INVALID_PARAMETER'],
      [batchEvent('detect', one, { iou: 2 }), 'INVALID_PARAMETER'],
      [batchEvent('detect', one, { model: 'no-such-model' }), 'NOT_FOUND'],
    ];
    const got: [unknown, string][] = [];
    for (const [event] of cases) got.push([event, await throwsName(event)]);
    expect(got).toEqual(cases);
  });

  test('a model that cannot be loaded: MODEL_UNAVAILABLE, before any object is read', async () => {
    // In the manifest, not installed here (only the small embedded models are).
    expect(await throwsName(batchEvent('classify', one, { model: 'resnet50-v1-12' }))).toBe(
      'MODEL_UNAVAILABLE',
    );
  });

  test('no time left before the Lambda deadline: TIMEOUT', async () => {
    expect(await throwsName(batchEvent('classify', one), context('req-late', LAMBDA_ANSWER_MARGIN_MS))).toBe(
      'TIMEOUT',
    );
    const line = logged.filter((l) => l.message === 'bulk batch failed').at(-1)!.entry;
    expect(line).toMatchObject({ requestId: 'req-late', errorCode: 'TIMEOUT', items: 1 });
  });

  test('a function without BULK_BUCKET refuses every batch: BULK_UNAVAILABLE', async () => {
    const bareConfig = loadConfig(smallModelEnv());
    expect(bareConfig.bulk).toBeNull();
    const bare = createService(bareConfig);
    try {
      const e = await rejectionOf(
        createLambdaHandler(bare, bareConfig)(batchEvent('classify', one), context('req-bare')),
      );
      expect(e.name).toBe('BULK_UNAVAILABLE');
    } finally {
      await bare.close();
    }
  });

  test('the same handler still answers API Gateway events', async () => {
    const res = (await handler(
      {
        httpMethod: 'POST',
        path: '/classifier',
        headers: { 'Content-Type': 'image/jpeg' },
        queryStringParameters: null,
        body: dog.toString('base64'),
        isBase64Encoded: true,
        requestContext: { requestId: 'req-http' },
      } as never,
      context('req-http'),
    )) as { statusCode: number; body: string };
    expect(res.statusCode).toBe(200);
    expect(MALAMUTE_FAMILY).toContain((JSON.parse(res.body) as { label: string }).label);
  });
});
