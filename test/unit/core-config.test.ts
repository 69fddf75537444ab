import { availableParallelism } from 'node:os';
import path from 'node:path';
import { loadConfig, threadsForLambdaMemory } from '../../lambda/src/adapters/config';

const MODELS_DIR = path.resolve(__dirname, '../../models');
const env = (vars: Record<string, string>): NodeJS.ProcessEnv => ({ MODELS_DIR, ...vars });

describe('loadConfig: intra-op threads', () => {
  it.each([
    ['128', 1],
    ['1769', 1],
    ['3008', 1],
    ['3538', 2],
    ['5307', 3],
    ['10240', 5],
    ['10614', 6],
    ['20000', 6],
  ])(
    'AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%s MB → %i thread(s) (floor(mem/1769), min 1, max 6)',
    (mem, threads) => {
      expect(loadConfig(env({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: mem })).intraOpThreads).toBe(threads);
      expect(threadsForLambdaMemory(Number(mem))).toBe(threads);
    },
  );

  it('ORT_INTRA_OP_THREADS wins over the Lambda memory size', () => {
    expect(
      loadConfig(env({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '10240', ORT_INTRA_OP_THREADS: '2' })).intraOpThreads,
    ).toBe(2);
    expect(
      loadConfig(env({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1769', ORT_INTRA_OP_THREADS: '8' })).intraOpThreads,
    ).toBe(8);
  });

  it('off Lambda, without ORT_INTRA_OP_THREADS, uses every available core', () => {
    expect(loadConfig(env({})).intraOpThreads).toBe(availableParallelism());
  });

  it.each(['abc', '0', '-2', '1.5', '4x'])('ORT_INTRA_OP_THREADS=%p throws, naming the variable', (bad) => {
    expect(() => loadConfig(env({ ORT_INTRA_OP_THREADS: bad }))).toThrow(
      `ORT_INTRA_OP_THREADS must be an integer >= 1, got '${bad}'`,
    );
  });
});

describe('loadConfig: other integers and lists', () => {
  it('defaults', () => {
    const c = loadConfig(env({}));
    expect(c).toMatchObject({
      modelsDir: MODELS_DIR,
      userManifest: null,
      defaultClassifier: 'resnet50-v1-12',
      defaultDetector: 'yolov4',
      preload: 'defaults',
      fallbackDefaults: { classification: 'mobilenetv2-12-int8', detection: 'yolox-nano' },
      maxImageBytes: 4_500_000,
      maxImagePixels: 40_000_000,
      maxQueuePerModel: 16,
      requestTimeoutMs: 25_000,
      maxInFlight: 16,
      s3ConnectTimeoutMs: 3000,
      downloadIdleTimeoutMs: 10_000,
      modelS3Uri: null,
      onLambda: false,
    });
    expect(c.modelPath.slice(-2)).toEqual([c.cacheDir, path.join(MODELS_DIR, 'embedded')]);
  });

  it.each([
    'MAX_IMAGE_BYTES',
    'MAX_IMAGE_PIXELS',
    'MAX_QUEUE_PER_MODEL',
    'REQUEST_TIMEOUT_MS',
    'MAX_IN_FLIGHT',
    'S3_CONNECT_TIMEOUT_MS',
    'DOWNLOAD_IDLE_TIMEOUT_MS',
  ])('%s=abc throws naming it', (name) => {
    expect(() => loadConfig(env({ [name]: 'abc' }))).toThrow(`${name} must be an integer >= 1, got 'abc'`);
  });

  it('MAX_IN_FLIGHT, S3_CONNECT_TIMEOUT_MS and DOWNLOAD_IDLE_TIMEOUT_MS are read from the environment', () => {
    expect(
      loadConfig(env({ MAX_IN_FLIGHT: '4', S3_CONNECT_TIMEOUT_MS: '500', DOWNLOAD_IDLE_TIMEOUT_MS: '250' })),
    ).toMatchObject({ maxInFlight: 4, s3ConnectTimeoutMs: 500, downloadIdleTimeoutMs: 250 });
  });

  it('parses MODEL_PATH (colon-separated, resolved, then the cache, then the embedded models) and PRELOAD_MODELS (empty = none)', () => {
    const c = loadConfig(env({ MODEL_PATH: '/a:/b/c', PRELOAD_MODELS: '', MODEL_CACHE_DIR: '/cache' }));
    expect(c.modelPath).toEqual(['/a', '/b/c', '/cache', path.join(MODELS_DIR, 'embedded')]);
    expect(c.preload).toEqual([]);
    expect(loadConfig(env({ PRELOAD_MODELS: ' yolov4 , yolox-nano ' })).preload).toEqual([
      'yolov4',
      'yolox-nano',
    ]);
  });

  it('on Lambda the cache defaults to /tmp/models', () => {
    expect(loadConfig(env({ AWS_LAMBDA_FUNCTION_NAME: 'fn' })).cacheDir).toBe('/tmp/models');
  });

  it('on Lambda the embedded models are neither searched nor a fallback (a missing model is a build error)', () => {
    const c = loadConfig(env({ AWS_LAMBDA_FUNCTION_NAME: 'fn', MODEL_CACHE_DIR: '/cache' }));
    expect({ modelPath: c.modelPath, fallbackDefaults: c.fallbackDefaults }).toEqual({
      modelPath: ['/cache'],
      fallbackDefaults: {},
    });
  });

  it('EMBEDDED_MODELS=off leaves the embedded models out; DEFAULT_CLASSIFIER keeps its task from falling back', () => {
    const off = loadConfig(env({ EMBEDDED_MODELS: 'off', MODEL_CACHE_DIR: '/cache' }));
    expect({ modelPath: off.modelPath, fallbackDefaults: off.fallbackDefaults }).toEqual({
      modelPath: ['/cache'],
      fallbackDefaults: {},
    });
    expect(loadConfig(env({ DEFAULT_CLASSIFIER: 'resnet50-v1-12' })).fallbackDefaults).toEqual({
      detection: 'yolox-nano',
    });
  });
});
