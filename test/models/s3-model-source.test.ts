import type { APIGatewayProxyResult } from 'aws-lambda';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../lambda/src/adapters/config';
import { createS3Client, parseS3Uri, S3ModelSource } from '../../lambda/src/adapters/s3-model-source';
import { createService } from '../../lambda/src/service/create-service';
import type { RecognitionService } from '../../lambda/src/service/recognition-service';
import { createLambdaHandler } from '../../lambda/src/transports/lambda-handler';
import {
  cleanupTempDirs,
  DOG_LABELS,
  MOBILENET_FILE,
  MOBILENET_ID,
  MOBILENET_SHA256,
  parseBody,
  partialFiles,
  proxyEvent,
  quietTelemetry,
  sha256Hex,
  FIXTURE_IMAGES,
  EMBEDDED_MODELS,
  tempDir,
  testEnv,
  type ErrorBodyJson,
} from '../support/fetch-fixtures';
import {
  startCuttingProxy,
  startLocalS3,
  useS3rverEnv,
  type CuttingProxy,
  type LocalS3,
} from '../support/s3-local';
import { deadline } from '../support/fuzz-transport';
import { rejectionOf } from '../support/rejection';

jest.setTimeout(60_000);
quietTelemetry();
useS3rverEnv();

const BUCKET = 'bucket';
const KEY = `models/${MOBILENET_FILE}`;
const MODEL_BYTES = readFileSync(path.join(EMBEDDED_MODELS, MOBILENET_FILE));
const DOG = readFileSync(path.join(FIXTURE_IMAGES, 'dog.jpg'));

function s3Config(endpoint: string, cacheDir: string, extra: Record<string, string> = {}) {
  return loadConfig(
    testEnv({
      MODEL_S3_URI: `s3://${BUCKET}/models`,
      S3_ENDPOINT: endpoint,
      MODEL_CACHE_DIR: cacheDir,
      MODEL_PATH: '',
      DEFAULT_CLASSIFIER: MOBILENET_ID,
      PRELOAD_MODELS: MOBILENET_ID,
      ...extra,
    }),
  );
}

/** What a Lambda init does: build the service, preload, wrap it in the handler. */
function start(config: ReturnType<typeof loadConfig>) {
  const service = createService(config);
  const preload = service.preload(config.preload);
  const handler = createLambdaHandler(service, config, { ready: preload });
  services.push(service);
  return { service, preload, handler };
}

const services: RecognitionService[] = [];
const closers: (() => Promise<void>)[] = [];
let s3: LocalS3;

beforeEach(async () => {
  s3 = await startLocalS3(tempDir('s3rver-data'), BUCKET);
  closers.push(() => s3.close());
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
  for (const close of closers.splice(0).reverse()) await close();
});
afterAll(() => {
  cleanupTempDirs();
});

describe('S3 model source against s3rver on 127.0.0.1', () => {
  it('parseS3Uri splits bucket and prefix', () => {
    expect(parseS3Uri('s3://bucket/models/')).toEqual({ bucket: 'bucket', prefix: 'models' });
    expect(parseS3Uri('s3://my.bucket')).toEqual({ bucket: 'my.bucket', prefix: '' });
    expect(() => parseS3Uri('https://bucket/models')).toThrow(/s3:\/\/bucket\/prefix/);
  });

  it('first start downloads the model into the cache; a second start reuses it with S3 gone', async () => {
    await s3.put(KEY, MODEL_BYTES);
    const cacheDir = tempDir('s3-cache');
    const config = s3Config(s3.endpoint, cacheDir);

    const first = start(config);
    expect(await first.preload).toEqual([{ id: MOBILENET_ID, ok: true }]);
    const dest = path.join(cacheDir, MOBILENET_FILE);
    expect(existsSync(dest)).toBe(true);
    expect(sha256Hex(readFileSync(dest))).toBe(MOBILENET_SHA256);
    expect(partialFiles(cacheDir)).toEqual([]);

    const res = (await first.handler(proxyEvent('/classifier', DOG))) as APIGatewayProxyResult;
    expect(res.statusCode).toBe(200);
    const body = parseBody(res) as { label: string; model: string };
    expect(body.model).toBe(MOBILENET_ID);
    expect(DOG_LABELS).toContain(body.label);
    // The checksum was remembered (by size and mtime) in the cache folder.
    const ledger = JSON.parse(readFileSync(path.join(cacheDir, '.verified-sha256.json'), 'utf8')) as Record<
      string,
      { sha256: string }
    >;
    expect(ledger[path.resolve(dest)]?.sha256).toBe(MOBILENET_SHA256);
    await first.service.close();

    // Take S3 away entirely: delete the object and stop the server.
    await s3.remove(KEY);
    await s3.close();

    const second = start(config);
    expect(await second.preload).toEqual([{ id: MOBILENET_ID, ok: true }]);
    const again = (await second.handler(proxyEvent('/classifier', DOG))) as APIGatewayProxyResult;
    expect(again.statusCode).toBe(200);
    expect(DOG_LABELS).toContain((parseBody(again) as { label: string }).label);
  });

  it('a wrong object (other bytes) gives 503 MODEL_UNAVAILABLE and leaves no file under the final name', async () => {
    await s3.put(KEY, readFileSync(path.join(EMBEDDED_MODELS, 'yolox_nano.onnx')));
    const cacheDir = tempDir('s3-cache-wrong');
    const { handler, preload } = start(s3Config(s3.endpoint, cacheDir));

    const [outcome] = await preload;
    expect(outcome?.ok).toBe(false);
    const res = (await handler(
      proxyEvent('/classifier', DOG, {}, 'req-wrong-object'),
    )) as APIGatewayProxyResult;

    expect(res.statusCode).toBe(503);
    const body = parseBody(res) as ErrorBodyJson;
    expect(body.error).toBe('MODEL_UNAVAILABLE');
    expect(body.requestId).toBe('req-wrong-object');
    expect(body.message).toContain(MOBILENET_ID);
    expect(body.message).toMatch(/sha256|checksum/i);
    expect(existsSync(path.join(cacheDir, MOBILENET_FILE))).toBe(false);
    expect(partialFiles(cacheDir)).toEqual([]);
  });

  it('a missing object gives 503 MODEL_UNAVAILABLE naming the model', async () => {
    const cacheDir = tempDir('s3-cache-missing');
    const { handler } = start(s3Config(s3.endpoint, cacheDir));

    const res = (await handler(proxyEvent('/classifier', DOG))) as APIGatewayProxyResult;

    expect(res.statusCode).toBe(503);
    const body = parseBody(res) as ErrorBodyJson;
    expect(body.error).toBe('MODEL_UNAVAILABLE');
    expect(body.message).toContain(MOBILENET_ID);
    expect(readdirSync(cacheDir).filter((f) => f.endsWith('.onnx') || f.includes('.partial-'))).toEqual([]);
  });

  describe('a download cut mid-transfer', () => {
    let proxy: CuttingProxy;
    const seenAtCut: { final: boolean; partials: string[] }[] = [];
    let cacheDir: string;

    beforeEach(async () => {
      await s3.put(KEY, MODEL_BYTES);
      cacheDir = tempDir('s3-cache-cut');
      seenAtCut.length = 0;
      proxy = await startCuttingProxy(s3.port, {
        cutAfterBytes: Math.floor(MODEL_BYTES.length / 2),
        cutConnections: 1,
        onCut: () =>
          seenAtCut.push({
            final: existsSync(path.join(cacheDir, MOBILENET_FILE)),
            partials: partialFiles(cacheDir),
          }),
      });
      closers.push(() => proxy.close());
    });

    it('S3ModelSource.ensure retries and never leaves a partial file under the final name', async () => {
      const source = new S3ModelSource(
        createS3Client(proxy.endpoint),
        parseS3Uri(`s3://${BUCKET}/models`),
        cacheDir,
        {
          attempts: 4,
          baseDelayMs: 20,
        },
      );

      const dest = await source.ensure({ file: MOBILENET_FILE, sha256: MOBILENET_SHA256 } as Parameters<
        S3ModelSource['ensure']
      >[0]);

      expect(proxy.cuts).toBe(1);
      expect(proxy.connections).toBeGreaterThanOrEqual(2);
      // At the cut, the bytes so far sat under a temp name; the final name did not exist.
      expect(seenAtCut).toEqual([
        { final: false, partials: [expect.stringContaining(`${MOBILENET_FILE}.partial-`)] },
      ]);
      expect(dest).toBe(path.join(cacheDir, MOBILENET_FILE));
      expect(sha256Hex(readFileSync(dest))).toBe(MOBILENET_SHA256);
      expect(partialFiles(cacheDir)).toEqual([]);
    });

    it('through createService: the preload survives the cut and the model classifies', async () => {
      const { handler, preload } = start(s3Config(proxy.endpoint, cacheDir));

      expect(await preload).toEqual([{ id: MOBILENET_ID, ok: true }]);
      expect(proxy.cuts).toBe(1);
      expect(seenAtCut[0]?.final).toBe(false);
      expect(sha256Hex(readFileSync(path.join(cacheDir, MOBILENET_FILE)))).toBe(MOBILENET_SHA256);
      expect(partialFiles(cacheDir)).toEqual([]);

      const res = (await handler(proxyEvent('/classifier', DOG))) as APIGatewayProxyResult;
      expect(res.statusCode).toBe(200);
      expect(DOG_LABELS).toContain((parseBody(res) as { label: string }).label);
    });
  });
});

describe('a model download from S3 that stalls', () => {
  let cacheDir: string;
  const spec = { file: MOBILENET_FILE, sha256: MOBILENET_SHA256 } as Parameters<S3ModelSource['ensure']>[0];

  const proxies: CuttingProxy[] = [];

  beforeEach(async () => {
    await s3.put(KEY, MODEL_BYTES);
    cacheDir = tempDir('s3-cache-stall');
  });
  // Before the services close: closing the proxy ends a stalled load, which close() waits for.
  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });

  /** Every connection through it stalls after `afterBytes` of S3's answer, and stays open. */
  async function stallingProxy(afterBytes: number): Promise<CuttingProxy> {
    const proxy = await startCuttingProxy(s3.port, {
      cutAfterBytes: afterBytes,
      cutConnections: Infinity,
      stall: true,
    });
    proxies.push(proxy);
    return proxy;
  }

  function source(endpoint: string, idleTimeoutMs: number) {
    return new S3ModelSource(
      createS3Client(endpoint, { connectTimeoutMs: 1000, idleTimeoutMs }),
      parseS3Uri(`s3://${BUCKET}/models`),
      cacheDir,
      { attempts: 2, baseDelayMs: 20 },
      idleTimeoutMs,
    );
  }

  it('mid-body: each attempt is abandoned after the idle timeout with a clear error; no file is left', async () => {
    const proxy = await stallingProxy(Math.floor(MODEL_BYTES.length / 2));
    const started = performance.now();

    const err = await deadline(rejectionOf(source(proxy.endpoint, 300).ensure(spec)), 10_000, 'ensure');

    // Two attempts of 300 ms of silence each, plus the transfers and one 20 ms back-off.
    expect(performance.now() - started).toBeLessThan(2500);
    expect(proxy.cuts).toBe(2);
    expect(err.message).toBe('no bytes arrived for 300 ms: the transfer stalled and was abandoned');
    expect(existsSync(path.join(cacheDir, MOBILENET_FILE))).toBe(false);
    expect(partialFiles(cacheDir)).toEqual([]);
  });

  it('before the headers: the request timeout gives up on an answer that never starts', async () => {
    const proxy = await stallingProxy(0);
    const started = performance.now();

    const err = await deadline(rejectionOf(source(proxy.endpoint, 300).ensure(spec)), 10_000, 'ensure');

    expect(performance.now() - started).toBeLessThan(2500);
    expect(proxy.connections).toBe(2);
    expect(err.message).toMatch(/exceeded the configured 300 ms requestTimeout/);
    expect(readdirSync(cacheDir)).toEqual([]);
  });

  it('the Lambda handler answers 503 MODEL_UNAVAILABLE with Retry-After before its remaining time runs out, while the load is stalled', async () => {
    const proxy = await stallingProxy(Math.floor(MODEL_BYTES.length / 2));
    // An idle timeout far beyond the invocation: only the handler's own deadline can end the wait.
    const { handler, service } = start(
      s3Config(proxy.endpoint, cacheDir, { DOWNLOAD_IDLE_TIMEOUT_MS: '60000' }),
    );
    const context = { awsRequestId: 'req-stalled-load', getRemainingTimeInMillis: () => 3000 };
    const started = performance.now();

    const res = (await deadline(
      handler(proxyEvent('/classifier', DOG, {}, 'req-stalled-load'), context),
      3000,
      'the handler with 3000 ms remaining',
    )) as APIGatewayProxyResult;
    const elapsed = performance.now() - started;

    // It waited for the load as long as it could, keeping 1.5 s to hand the answer back.
    expect(elapsed).toBeGreaterThan(1200);
    expect(elapsed).toBeLessThan(2000);
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['Retry-After']).toBe('5');
    expect(res.headers?.['Content-Type']).toMatch(/^application\/json/);
    const body = parseBody(res) as ErrorBodyJson;
    expect(body).toEqual({
      statusCode: 503,
      error: 'MODEL_UNAVAILABLE',
      message: `Model '${MOBILENET_ID}' is unavailable: still loading; retry in 5 s.`,
      requestId: 'req-stalled-load',
      details: { model: MOBILENET_ID, retryAfterSeconds: 5 },
    });
    expect(service.loadingModels()).toEqual([MOBILENET_ID]);
    expect(existsSync(path.join(cacheDir, MOBILENET_FILE))).toBe(false);
  });
});
