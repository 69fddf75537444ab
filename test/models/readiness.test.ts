/**
 * Readiness and warm-up on the real small models: GET /health/live answers while the models load,
 * GET /health/ready (and its alias /health) answers 503 MODEL_UNAVAILABLE with the model and why
 * until the preloaded defaults are loaded and warmed, the warm-up is ONE real onnxruntime run per
 * preloaded model before `ready` resolves, and the first real request then pays no first-run cost.
 * Runs are counted by a LoadedModel wrapped around the real onnxruntime one (as batch.test.ts does).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../lambda/src/adapters/config';
import { loadManifest } from '../../lambda/src/adapters/manifest-loader';
import { ModelFileStore } from '../../lambda/src/adapters/model-files';
import { OnnxModelRuntime } from '../../lambda/src/adapters/onnx-runtime';
import { SharpImageDecoder } from '../../lambda/src/adapters/sharp-decoder';
import type { ModelRuntime } from '../../lambda/src/core/ports';
import { RecognitionService } from '../../lambda/src/service/recognition-service';
import { createApiHandler, type ApiHandler } from '../../lambda/src/transports/api-handler';
import type { ApiResponse } from '../../lambda/src/transports/http/api-types';
import { createTelemetry } from '../../lambda/src/transports/telemetry';
import { startLocalServer } from '../../local/server';
import { photo, smallModelEnv } from '../support/fixtures';

jest.setTimeout(60_000);

const env = smallModelEnv({ ORT_INTRA_OP_THREADS: '2' });
const config = loadConfig(env);
const manifest = loadManifest(config.modelsDir, config.userManifest);
const SMALL = { classification: 'mobilenetv2-12-int8', detection: 'yolox-nano' };

interface Run {
  model: string;
  dims: number[];
}

/** The real runtime, every session run recorded; loads wait for `gate` when one is given. */
function countingRuntime(runs: Run[], gate?: Promise<void>): ModelRuntime {
  const real = new OnnxModelRuntime({ intraOpThreads: config.intraOpThreads, allowSpinning: false });
  return {
    async load(spec, file) {
      await gate;
      const model = await real.load(spec, file);
      return {
        run(data, dims) {
          runs.push({ model: spec.id, dims: [...dims] });
          return model.run(data, dims);
        },
        dispose: () => model.dispose(),
      };
    },
  };
}

function service(
  runtime: ModelRuntime,
  defaults: { classification: string; detection: string },
  extra: { modelPath?: string[]; warmUp?: boolean } = {},
) {
  return new RecognitionService({
    manifest,
    files: new ModelFileStore(extra.modelPath ?? config.modelPath, config.modelsDir, config.cacheDir),
    runtime,
    decoder: new SharpImageDecoder({ maxPixels: config.maxImagePixels }),
    defaults,
    maxQueuePerModel: config.maxQueuePerModel,
    warmUp: extra.warmUp,
  });
}

let n = 0;
async function call(api: ApiHandler, method: string, path: string, body?: Buffer) {
  const res = await api({
    method,
    path,
    query: {},
    headers: body ? { 'content-type': 'image/jpeg' } : {},
    body: body ?? Buffer.alloc(0),
    requestId: `req-${++n}`,
  });
  return { status: res.statusCode, headers: res.headers, json: parse(res) };
}
const parse = (res: ApiResponse) =>
  (Buffer.isBuffer(res.body) ? {} : res.body) as Record<string, unknown> & {
    details?: Record<string, unknown>;
    timings?: { inferenceMs: number };
  };
const withoutId = ({ requestId: _, ...rest }: Record<string, unknown>) => rest;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

describe('preloaded defaults: 503 while loading, one warm-up run each, then 200', () => {
  const runs: Run[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const svc = service(countingRuntime(runs, gate), SMALL);
  let runsWhenReady = -1;
  const ready = svc.preload('defaults').then((outcomes) => {
    runsWhenReady = runs.length;
    return outcomes;
  });
  const api = createApiHandler(svc, config, { ready, telemetry: createTelemetry(env) });
  afterAll(() => svc.close());

  it('answers live 200 and ready 503 MODEL_UNAVAILABLE at once while the models load', async () => {
    const live = await call(api, 'GET', '/health/live');
    expect(live.status).toBe(200);
    expect(live.json).toMatchObject({ status: 'live' });
    for (const path of ['/health/ready', '/health']) {
      const r = await call(api, 'GET', path);
      expect(r.status).toBe(503);
      expect(r.json.error).toBe('MODEL_UNAVAILABLE');
      expect(r.json.message).toMatch(/mobilenetv2-12-int8.*still loading/);
      expect(r.json.details).toMatchObject({ model: 'mobilenetv2-12-int8', retryAfterSeconds: 5 });
      expect(r.headers['Retry-After']).toBe('5');
    }
    expect(runs).toEqual([]);
  });

  it('warms each preloaded model up with exactly one run at its input shape before ready resolves', async () => {
    release();
    const outcomes = await ready;
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(runsWhenReady).toBe(2);
    expect([...runs].sort((a, b) => a.model.localeCompare(b.model))).toEqual([
      { model: 'mobilenetv2-12-int8', dims: [1, 3, 224, 224] },
      { model: 'yolox-nano', dims: [1, 3, 416, 416] },
    ]);
    // Warming again (another caller, a later adoption) runs nothing more.
    await svc.warmUp(['mobilenetv2-12-int8', 'yolox-nano']);
    expect(runs).toHaveLength(2);
  });

  it('answers ready 200, and /health the same body', async () => {
    const ready200 = await call(api, 'GET', '/health/ready');
    const health = await call(api, 'GET', '/health');
    expect(ready200.status).toBe(200);
    expect(health.status).toBe(200);
    expect(ready200.json).toMatchObject({
      status: 'ok',
      loadedModels: expect.arrayContaining(Object.values(SMALL)),
    });
    expect(withoutId(health.json)).toEqual(withoutId(ready200.json));
  });

  it('the first real request pays no first-run cost (inferenceMs within 3x of the next runs)', async () => {
    // Measured on this VM without the warm-up, MobileNetV2's first run took 3.2-4.9x the next ones
    // (10-16 ms vs 3.2-3.4 ms); with it, at most 2x. YOLOX-nano's first-run cost (about 2.5x) is too
    // close to its run-to-run noise for a 3x bound, so only the classifier's is asserted.
    const dog = photo('dog.jpg');
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await call(api, 'POST', '/classifier', dog);
      expect(r.status).toBe(200);
      times.push(r.json.timings?.inferenceMs ?? NaN);
    }
    const [first, ...rest] = times as [number, ...number[]];
    expect(first).toBeLessThanOrEqual(3 * median(rest));
    expect(runs.filter((r) => r.model === 'mobilenetv2-12-int8')).toHaveLength(1 + 4);
  });
});

it('a default whose model file is missing: ready 503 naming it and why, live 200', async () => {
  const runs: Run[] = [];
  const svc = service(countingRuntime(runs), { classification: 'resnet50-v1-12', detection: 'yolox-nano' });
  const ready = svc.preload('defaults');
  const api = createApiHandler(svc, config, { ready, telemetry: createTelemetry(env) });
  try {
    const outcomes = await ready;
    expect(outcomes.find((o) => o.id === 'resnet50-v1-12')?.ok).toBe(false);
    const r = await call(api, 'GET', '/health/ready');
    expect(r.status).toBe(503);
    expect(r.json).toMatchObject({ error: 'MODEL_UNAVAILABLE', details: { model: 'resnet50-v1-12' } });
    expect(r.json.message).toMatch(/resnet50-v1-12.*could not be loaded/);
    expect(r.headers['Retry-After']).toBeDefined();
    expect((await call(api, 'GET', '/health')).status).toBe(503);
    expect((await call(api, 'GET', '/health/live')).status).toBe(200);
    // The detector that did load was warmed; the missing one never ran.
    expect(runs.map((x) => x.model)).toEqual(['yolox-nano']);
  } finally {
    await svc.close();
  }
});

it('a warm-up run that fails: ready 503 says so (not "warming up" for ever), live 200', async () => {
  const real = new OnnxModelRuntime({ intraOpThreads: config.intraOpThreads, allowSpinning: false });
  const failingFirstRun: ModelRuntime = {
    async load(spec, file) {
      const model = await real.load(spec, file);
      let runs = 0;
      return {
        run: (data, dims) =>
          ++runs === 1 ? Promise.reject(new Error('session run failed')) : model.run(data, dims),
        dispose: () => model.dispose(),
      };
    },
  };
  const svc = service(failingFirstRun, SMALL);
  const ready = svc.preload('defaults');
  const api = createApiHandler(svc, config, { ready, telemetry: createTelemetry(env) });
  try {
    const outcomes = await ready;
    expect(outcomes.map((o) => o.ok)).toEqual([false, false]);
    const r = await call(api, 'GET', '/health/ready');
    expect(r.status).toBe(503);
    expect(r.json).toMatchObject({ error: 'MODEL_UNAVAILABLE', details: { model: 'mobilenetv2-12-int8' } });
    expect(r.json.message).toMatch(/warm-up run failed: session run failed/);
    expect((await call(api, 'GET', '/health/live')).status).toBe(200);
    // Warming again (a later preload) runs once more and, now that runs succeed, makes it ready.
    expect((await svc.warmUp(Object.values(SMALL))).every((o) => o.ok)).toBe(true);
    expect((await call(api, 'GET', '/health/ready')).status).toBe(200);
  } finally {
    await svc.close();
  }
});

it('WARM_UP=0: ready once the preloaded models are loaded, without a warm-up run', async () => {
  expect(loadConfig({ ...env, WARM_UP: '0' }).warmUp).toBe(false);
  expect(config.warmUp).toBe(true);
  const runs: Run[] = [];
  const svc = service(countingRuntime(runs), SMALL, { warmUp: false });
  const api = createApiHandler(svc, config, {
    ready: svc.preload('defaults'),
    telemetry: createTelemetry(env),
  });
  try {
    expect((await svc.preload('defaults')).every((o) => o.ok)).toBe(true);
    expect((await call(api, 'GET', '/health/ready')).status).toBe(200);
    expect(runs).toEqual([]);
  } finally {
    await svc.close();
  }
});

it('ready, then a default that loads on demand loses its model file: ready 503 again', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'readiness-models-'));
  const [embedded] = config.modelPath;
  for (const spec of manifest.models.filter((m) => Object.values(SMALL).includes(m.id))) {
    copyFileSync(path.join(embedded ?? '', spec.file), path.join(dir, spec.file));
  }
  const svc = service(countingRuntime([]), SMALL, { modelPath: [dir] });
  const api = createApiHandler(svc, config, { telemetry: createTelemetry(env) });
  try {
    expect((await call(api, 'GET', '/health/ready')).status).toBe(200);
    rmSync(path.join(dir, svc.spec('yolox-nano').file));
    const r = await call(api, 'GET', '/health/ready');
    expect(r.status).toBe(503);
    expect(r.json).toMatchObject({ error: 'MODEL_UNAVAILABLE', details: { model: 'yolox-nano' } });
    expect(r.json.message).toMatch(/model file is not installed/);
  } finally {
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('the local server (npm start)', () => {
  it('with nothing preloaded, ready means the installed defaults can load on demand: 200 at once', async () => {
    const server = await startLocalServer({ port: 0, env: smallModelEnv() });
    try {
      const r = await fetch(`${server.url}/health/ready`);
      expect(r.status).toBe(200);
      expect(server.service.loadedModels()).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('with the defaults preloaded, ready and /health answer 200 once the preload (with warm-up) is done', async () => {
    const server = await startLocalServer({
      port: 0,
      env: smallModelEnv({ PRELOAD_MODELS: 'mobilenetv2-12-int8,yolox-nano' }),
    });
    try {
      const outcomes = await server.preload;
      expect(outcomes.every((o) => o.ok)).toBe(true);
      for (const path of ['/health/ready', '/health', '/health/live']) {
        const r = await fetch(`${server.url}${path}`);
        expect(r.status).toBe(200);
      }
      const body = (await (await fetch(`${server.url}/health/ready`)).json()) as { loadedModels: string[] };
      expect(body.loadedModels.sort()).toEqual(['mobilenetv2-12-int8', 'yolox-nano']);
    } finally {
      await server.close();
    }
  });
});
