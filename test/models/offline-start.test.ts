/**
 * `npm start` on a fresh clone: nothing downloaded, and the default models' hosts unreachable.
 * The embedded models answer at once, /health and /models say so, and a default that finishes
 * downloading later (from a real HTTP server on 127.0.0.1) takes over without a restart.
 *
 * The configured defaults are pointed at 127.0.0.1 through a user manifest: ResNet-50's entry
 * serves MobileNetV2's bytes (the same ImageNet preprocessing and labels), so a real model is
 * downloaded, verified and loaded under the default's id; YOLOv4's address refuses connections.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  cleanupTempDirs,
  DOG_LABELS,
  EMBEDDED_MODELS,
  MOBILENET_FILE,
  MOBILENET_SHA256,
  REPO_ROOT,
  tempDir,
  writeManifest,
} from '../support/fetch-fixtures';
import { closedPort, firstRequests, startModelServer, type ModelServer } from '../support/fetch-model-server';
import { photo } from '../support/fixtures';

jest.setTimeout(120_000);

interface Started {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stderr: () => string;
}

/** Runs exactly what `npm start` runs and waits for the line with its address. */
function npmStart(env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(
    process.execPath,
    [path.join(REPO_ROOT, 'scripts/tuned-node.mjs'), 'local/server-main.ts', '--port', '0'],
    { cwd: REPO_ROOT, env },
  );
  let stderr = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`npm start did not come up:\n${stderr}`));
    }, 60_000);
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      const m = /Image recognition API on (http:\/\/\S+)/.exec(stderr);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ child, url: m[1], stderr: () => stderr });
      }
    });
    child.on('exit', (code) => {
      reject(new Error(`npm start exited ${code}:\n${stderr}`));
    });
  });
}

interface DefaultStatus {
  model: string;
  preferred: string;
  state: string;
  detail?: string;
}
const getJson = async <T>(url: string) => (await (await fetch(url)).json()) as T;
const health = (s: Started) => getJson<{ defaults: Record<string, DefaultStatus> }>(`${s.url}/health`);
const post = async (s: Started, route: string) => {
  const res = await fetch(`${s.url}${route}`, {
    method: 'POST',
    body: new Uint8Array(photo('dog.jpg')),
    headers: { 'Content-Type': 'image/jpeg' },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let modelServer: ModelServer;
let started: Started;

beforeAll(async () => {
  // The first request (ResNet-50's first URL) is a 404; the second URL gets the file.
  modelServer = await startModelServer(readFileSync(path.join(EMBEDDED_MODELS, MOBILENET_FILE)), {
    behave: firstRequests(1, { kind: 'status', status: 404 }),
  });
  const dead = `http://127.0.0.1:${await closedPort()}/yolov4.onnx`;
  const work = tempDir('offline-start');
  const manifest = writeManifest(work, [
    {
      id: 'resnet50-v1-12',
      file: 'resnet50-from-test-server.onnx',
      sha256: MOBILENET_SHA256,
      urls: [`${modelServer.url}?first`, `${modelServer.url}?second`],
      input: { name: 'input' },
      outputs: [{ name: 'output', shape: [null, 1000] }],
    },
    { id: 'yolov4', urls: [dead] },
  ]);
  started = await npmStart({
    ...process.env,
    MODEL_MANIFEST: manifest,
    MODEL_CACHE_DIR: path.join(work, 'cache'),
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    ORT_INTRA_OP_THREADS: '1',
    DEFAULT_CLASSIFIER: '',
    DEFAULT_DETECTOR: '',
    PRELOAD_MODELS: '',
  });
});

afterAll(async () => {
  started.child.kill('SIGTERM');
  await modelServer.close();
  cleanupTempDirs();
});

test('with YOLOv4 unreachable, /detector answers at once with the embedded YOLOX-nano and finds the dog', async () => {
  const r = await post(started, '/detector');
  expect(r.status).toBe(200);
  expect(r.body.model).toBe('yolox-nano');
  expect((r.body.detections as { label: string }[]).map((d) => d.label)).toContain('dog');
});

test('start-up output, /health and /models say which embedded model stands in for which default', async () => {
  expect(started.stderr()).toMatch(/yolov4 is not installed.*yolox-nano answers instead/);
  const h = await until(
    'the yolov4 download to fail',
    () => health(started),
    // 'fallback' from the start ("not installed"); the detail changes once the download has failed.
    (v) => /could not be downloaded/.test(v.defaults.detection?.detail ?? ''),
  );
  expect(h.defaults.detection).toMatchObject({ model: 'yolox-nano', preferred: 'yolov4', state: 'fallback' });
  expect(h.defaults.detection?.detail).toMatch(/yolov4 could not be downloaded.*127\.0\.0\.1.*offline/);
  const models = await getJson<{ models: { id: string; default: boolean }[]; defaults: unknown }>(
    `${started.url}/models`,
  );
  expect(models.models.find((m) => m.id === 'yolox-nano')?.default).toBe(true);
  expect(models.models.find((m) => m.id === 'yolov4')?.default).toBe(false);
  expect(models.defaults).toEqual(h.defaults);
});

test('a default that finishes downloading (second URL, after a 404 on the first) takes over /classifier', async () => {
  const h = await until(
    'resnet50-v1-12 to be adopted',
    () => health(started),
    (v) => v.defaults.classification?.state === 'preferred',
  );
  expect(h.defaults.classification).toEqual({
    model: 'resnet50-v1-12',
    preferred: 'resnet50-v1-12',
    state: 'preferred',
  });
  expect(modelServer.requests).toBe(2);
  const r = await post(started, '/classifier');
  expect(r.status).toBe(200);
  expect(r.body.model).toBe('resnet50-v1-12');
  expect(DOG_LABELS).toContain(r.body.label);
  expect(started.stderr()).toMatch(
    /resnet50-v1-12 is ready and now answers classification \(was mobilenetv2-12-int8\)/,
  );
});
