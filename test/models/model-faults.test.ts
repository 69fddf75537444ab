import type { APIGatewayProxyResult } from 'aws-lambda';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, type Config } from '../../lambda/src/adapters/config';
import { loadManifest } from '../../lambda/src/adapters/manifest-loader';
import { ModelFileStore } from '../../lambda/src/adapters/model-files';
import { OnnxModelRuntime } from '../../lambda/src/adapters/onnx-runtime';
import { SharpImageDecoder } from '../../lambda/src/adapters/sharp-decoder';
import type { LoadedModel, ModelRuntime } from '../../lambda/src/core/ports';
import { createService } from '../../lambda/src/service/create-service';
import { RecognitionService } from '../../lambda/src/service/recognition-service';
import { handleApiRequest } from '../../lambda/src/transports/http/api';
import { bodyBytes } from '../../lambda/src/transports/http/api-types';
import { createLambdaHandler } from '../../lambda/src/transports/lambda-handler';
import {
  cleanupTempDirs,
  DOG_LABELS,
  MOBILENET_FILE,
  MOBILENET_ID,
  parseBody,
  proxyEvent,
  quietTelemetry,
  REPO_ROOT,
  runTsx,
  FIXTURE_IMAGES,
  EMBEDDED_MODELS,
  tempDir,
  testEnv,
  writeManifest,
  YOLOX_FILE,
  YOLOX_ID,
  type ErrorBodyJson,
} from '../support/fetch-fixtures';

jest.setTimeout(60_000);
quietTelemetry();

const DOG_PATH = path.join(FIXTURE_IMAGES, 'dog.jpg');
const DOG = readFileSync(DOG_PATH);
const MOBILENET_BYTES = readFileSync(path.join(EMBEDDED_MODELS, MOBILENET_FILE));
const CLI = path.join(REPO_ROOT, 'local/cli.ts');

type Fault = 'missing' | 'truncated' | 'wrong-sha256';

interface FaultSetup {
  env: Record<string, string>;
  /** The folder holding the broken model file (must not leak into answers). */
  modelDir: string;
  /** What the 503 message must say about the cause. */
  cause: RegExp;
}

/**
 * A model folder where mobilenet is broken in the given way and yolox-nano (a good model) sits
 * beside it. 'truncated' keeps the first half of the file and turns the checksum off, so the
 * failure comes from onnxruntime itself; 'wrong-sha256' keeps the same half with the real checksum.
 */
function setUp(fault: Fault): FaultSetup {
  const work = tempDir(`fault-${fault}`);
  const modelDir = path.join(work, 'models');
  const cacheDir = path.join(work, 'cache');
  const env: Record<string, string> = {
    MODEL_PATH: modelDir,
    MODEL_CACHE_DIR: cacheDir,
    DEFAULT_CLASSIFIER: MOBILENET_ID,
    DEFAULT_DETECTOR: YOLOX_ID,
  };
  mkdirSync(modelDir, { recursive: true });
  copyFileSync(path.join(EMBEDDED_MODELS, YOLOX_FILE), path.join(modelDir, YOLOX_FILE));
  const half = MOBILENET_BYTES.subarray(0, Math.floor(MOBILENET_BYTES.length / 2));
  if (fault === 'missing') return { env, modelDir, cause: /not installed/ };
  writeFileSync(path.join(modelDir, MOBILENET_FILE), half);
  if (fault === 'wrong-sha256') return { env, modelDir, cause: /checksum mismatch/ };
  env.MODEL_MANIFEST = writeManifest(work, [{ id: MOBILENET_ID, sha256: null }]);
  return { env, modelDir, cause: /onnxruntime could not load/ };
}

function startHandler(env: Record<string, string>, preload: string[]) {
  const config = loadConfig(testEnv({ ...env, PRELOAD_MODELS: preload.join(',') }));
  const service = createService(config);
  services.push(service);
  const ready = service.preload(config.preload);
  return { config, service, ready, handler: createLambdaHandler(service, config, { ready }) };
}

const services: RecognitionService[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
});
afterAll(() => {
  cleanupTempDirs();
});

describe.each<Fault>(['missing', 'truncated', 'wrong-sha256'])('model file %s', (fault) => {
  it('(a) the handler answers 503 MODEL_UNAVAILABLE naming the model; a good model still answers', async () => {
    const { env, cause } = setUp(fault);
    const { handler, ready } = startHandler(env, [MOBILENET_ID, YOLOX_ID]);

    const outcomes = await ready;
    expect(outcomes.find((o) => o.id === YOLOX_ID)).toEqual({ id: YOLOX_ID, ok: true });
    expect(outcomes.find((o) => o.id === MOBILENET_ID)?.ok).toBe(false);

    const res = (await handler(proxyEvent('/classifier', DOG, {}, `req-${fault}`))) as APIGatewayProxyResult;
    expect(res.statusCode).toBe(503);
    const body = parseBody(res) as ErrorBodyJson;
    expect(body).toEqual({
      statusCode: 503,
      error: 'MODEL_UNAVAILABLE',
      message: expect.any(String),
      requestId: `req-${fault}`,
      details: { model: MOBILENET_ID },
    });
    expect(body.message).toContain(`'${MOBILENET_ID}'`);
    expect(body.message).toMatch(cause);

    // Asking again gives the same clear answer (the failure is remembered, not a crash).
    const again = (await handler(proxyEvent('/classifier', DOG))) as APIGatewayProxyResult;
    expect(again.statusCode).toBe(503);

    const good = (await handler(proxyEvent('/detector', DOG, { model: YOLOX_ID }))) as APIGatewayProxyResult;
    expect(good.statusCode).toBe(200);
    const detection = parseBody(good) as { model: string; detections: { label: string; score: number }[] };
    expect(detection.model).toBe(YOLOX_ID);
    expect(detection.detections.some((d) => d.label === 'dog' && d.score >= 0.6)).toBe(true);
  });
});

it('a 503 for a file onnxruntime cannot load does not reveal server folders', async () => {
  const { env, modelDir } = setUp('truncated');
  const { handler } = startHandler(env, []);

  const res = (await handler(proxyEvent('/classifier', DOG))) as APIGatewayProxyResult;

  expect(res.statusCode).toBe(503);
  expect((parseBody(res) as ErrorBodyJson).message).toContain(MOBILENET_FILE);
  expect(res.body).not.toContain(modelDir);
});

// The CLI cases run side by side: each is a separate process that compiles and loads a model.
it('(b) the CLI exits 3 with JSON error MODEL_UNAVAILABLE for each fault, and 0 with the model in place', async () => {
  const faults: Fault[] = ['missing', 'truncated', 'wrong-sha256'];
  const okWork = tempDir('fault-cli-ok');
  const [ok, ...broken] = await Promise.all([
    runTsx(
      CLI,
      [DOG_PATH, '--model', MOBILENET_ID],
      testEnv({ MODEL_PATH: EMBEDDED_MODELS, MODEL_CACHE_DIR: path.join(okWork, 'cache') }),
    ),
    ...faults.map((fault) => runTsx(CLI, [DOG_PATH, '--model', MOBILENET_ID], testEnv(setUp(fault).env))),
  ]);

  expect(ok.code).toBe(0);
  const answer = JSON.parse(ok.stdout) as { label: string; model: string };
  expect(answer.model).toBe(MOBILENET_ID);
  expect(DOG_LABELS).toContain(answer.label);

  broken.forEach((r, i) => {
    const body = JSON.parse(r.stdout) as ErrorBodyJson;
    expect({ fault: faults[i], code: r.code, error: body.error, statusCode: body.statusCode }).toEqual({
      fault: faults[i],
      code: 3,
      error: 'MODEL_UNAVAILABLE',
      statusCode: 503,
    });
    expect(body.message).toContain(MOBILENET_ID);
    expect(r.stderr).toContain('Failed (503 MODEL_UNAVAILABLE)');
  });
});

it('(c) a manifest input name that the file does not have gives 503 naming the mismatch', async () => {
  const work = tempDir('fault-input-name');
  const env = {
    MODEL_PATH: EMBEDDED_MODELS,
    MODEL_CACHE_DIR: path.join(work, 'cache'),
    MODEL_MANIFEST: writeManifest(work, [{ id: MOBILENET_ID, input: { name: 'nope' } }]),
    DEFAULT_CLASSIFIER: MOBILENET_ID,
    DEFAULT_DETECTOR: YOLOX_ID,
  };
  const { handler } = startHandler(env, [MOBILENET_ID]);

  const res = (await handler(proxyEvent('/classifier', DOG))) as APIGatewayProxyResult;

  expect(res.statusCode).toBe(503);
  const body = parseBody(res) as ErrorBodyJson;
  expect(body.error).toBe('MODEL_UNAVAILABLE');
  expect(body.message).toContain(MOBILENET_ID);
  expect(body.message).toContain("'nope'");
  expect(body.message).toContain('(has input)'); // what the file really has

  const good = (await handler(proxyEvent('/detector', DOG, { model: YOLOX_ID }))) as APIGatewayProxyResult;
  expect(good.statusCode).toBe(200);
});

describe('(d) onnxruntime throwing at run time', () => {
  const SECRET_PATH = '/var/task/secret-dir/mobilenetv2-12-int8.onnx';

  /** The real runtime, with the first `failures` run() calls of each loaded model throwing. */
  function flakyRuntime(real: ModelRuntime, failures: number): ModelRuntime & { runs: number } {
    const wrapper = {
      runs: 0,
      async load(...args: Parameters<ModelRuntime['load']>): Promise<LoadedModel> {
        const model = await real.load(...args);
        let left = failures;
        return {
          run: async (data, dims) => {
            wrapper.runs++;
            if (left-- > 0) {
              throw new Error(
                `[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code while running Conv node. file ${SECRET_PATH}`,
              );
            }
            return model.run(data, dims);
          },
          dispose: () => model.dispose(),
        };
      },
    };
    return wrapper;
  }

  function faultyService(): { service: RecognitionService; config: Config; runtime: { runs: number } } {
    const work = tempDir('fault-runtime');
    const config = loadConfig(
      testEnv({
        MODEL_PATH: EMBEDDED_MODELS,
        MODEL_CACHE_DIR: path.join(work, 'cache'),
        DEFAULT_CLASSIFIER: MOBILENET_ID,
      }),
    );
    const runtime = flakyRuntime(new OnnxModelRuntime({ intraOpThreads: 1 }), 1);
    const service = new RecognitionService({
      manifest: loadManifest(config.modelsDir, null),
      files: new ModelFileStore(config.modelPath, config.modelsDir, config.cacheDir),
      runtime,
      decoder: new SharpImageDecoder({ maxPixels: config.maxImagePixels }),
      defaults: { classification: config.defaultClassifier, detection: YOLOX_ID },
      maxQueuePerModel: config.maxQueuePerModel,
    });
    services.push(service);
    return { service, config, runtime };
  }

  const expectOpaque500 = (raw: string, requestId: string) => {
    const body = JSON.parse(raw) as ErrorBodyJson;
    expect(body).toEqual({
      statusCode: 500,
      error: 'INTERNAL',
      message: `Internal error; quote request id ${requestId}.`,
      requestId,
    });
    expect(raw).not.toMatch(
      /secret-dir|\/var\/task|ONNXRuntimeError|RUNTIME_EXCEPTION|\bat .*\(.*:\d+:\d+\)|\.ts:\d+/,
    );
  };

  it('via createLambdaHandler: 500 INTERNAL with the request id only, then the next request succeeds', async () => {
    const { service, config, runtime } = faultyService();
    const handler = createLambdaHandler(service, config);

    const res = (await handler(
      proxyEvent('/classifier', DOG, {}, 'req-ort-throws'),
    )) as APIGatewayProxyResult;
    expect(res.statusCode).toBe(500);
    expectOpaque500(res.body, 'req-ort-throws');

    const next = (await handler(proxyEvent('/classifier', DOG, {}, 'req-after'))) as APIGatewayProxyResult;
    expect(next.statusCode).toBe(200);
    const body = parseBody(next) as { label: string; requestId: string };
    expect(DOG_LABELS).toContain(body.label);
    expect(body.requestId).toBe('req-after');
    expect(runtime.runs).toBe(2);
  });

  it('via handleApiRequest: same answer, and the outcome keeps the real error for the logs', async () => {
    const { service, config } = faultyService();
    const request = (requestId: string) => ({
      method: 'POST',
      path: '/classifier',
      query: {},
      headers: { 'content-type': 'image/jpeg' },
      body: DOG,
      requestId,
    });

    const { response, outcome } = await handleApiRequest(service, request('req-api-1'), config, {
      coldStart: true,
    });
    expect(response.statusCode).toBe(500);
    expectOpaque500(bodyBytes(response).toString(), 'req-api-1');
    expect(outcome.errorCode).toBe('INTERNAL');
    expect(String(outcome.error)).toContain('RUNTIME_EXCEPTION');

    const second = await handleApiRequest(service, request('req-api-2'), config, { coldStart: false });
    expect(second.response.statusCode).toBe(200);
    expect(second.outcome.errorCode).toBeUndefined();
  });
});

describe('a model whose label file is missing', () => {
  it('answers 503 MODEL_UNAVAILABLE naming the file, never its folder', async () => {
    const work = tempDir('labels-missing');
    const manifest = writeManifest(work, [{ id: MOBILENET_ID, labels: { names: 'no-such-labels.txt' } }]);
    const config = loadConfig(
      testEnv({ MODEL_PATH: EMBEDDED_MODELS, MODEL_MANIFEST: manifest, PRELOAD_MODELS: '' }),
    );
    const service = createService(config);
    try {
      const res = (await createLambdaHandler(
        service,
        config,
      )(proxyEvent('/classifier', DOG, { model: MOBILENET_ID }, 'req-labels'))) as APIGatewayProxyResult;
      const body = parseBody(res) as ErrorBodyJson;
      expect({ status: res.statusCode, error: body.error }).toEqual({
        status: 503,
        error: 'MODEL_UNAVAILABLE',
      });
      expect(body.message).toContain("'no-such-labels.txt'");
      expect(body.message).not.toContain(path.sep + 'models' + path.sep);
      expect(body.message).not.toContain(REPO_ROOT);
    } finally {
      await service.close();
    }
  });
});
