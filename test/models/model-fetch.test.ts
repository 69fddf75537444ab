import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../lambda/src/adapters/config';
import { loadManifest } from '../../lambda/src/adapters/manifest-loader';
import { DownloadError, downloadModel } from '../../lambda/src/adapters/model-download';
import type { ModelSpec } from '../../lambda/src/core/manifest';
import { createService } from '../../lambda/src/service/create-service';
import { ensureModels } from '../../local/fetch-support';
import {
  cleanupTempDirs,
  DOG_LABELS,
  MOBILENET_FILE,
  MOBILENET_ID,
  MOBILENET_SHA256,
  partialFiles,
  quietTelemetry,
  REPO_ROOT,
  runTsx,
  sha256Hex,
  FIXTURE_IMAGES,
  EMBEDDED_MODELS,
  tempDir,
  testEnv,
  writeManifest,
} from '../support/fetch-fixtures';
import { closedPort, firstRequests, startModelServer, type ModelServer } from '../support/fetch-model-server';
import { rejectionOf } from '../support/rejection';

jest.setTimeout(60_000);
quietTelemetry();

const MODEL_BYTES = readFileSync(path.join(EMBEDDED_MODELS, MOBILENET_FILE));
const DOG = readFileSync(path.join(FIXTURE_IMAGES, 'dog.jpg'));
const FETCH_MODELS = path.join(REPO_ROOT, 'local/fetch-models.ts');

/** The built-in mobilenet entry with the user manifest applied, as the runtime would see it. */
function specFrom(manifestFile: string, id = MOBILENET_ID): ModelSpec {
  const config = loadConfig(testEnv({ MODEL_MANIFEST: manifestFile }));
  const spec = loadManifest(config.modelsDir, config.userManifest).models.find((m) => m.id === id);
  if (!spec) throw new Error(`no ${id} in the merged manifest`);
  return spec;
}

const servers: ModelServer[] = [];
async function serve(...args: Parameters<typeof startModelServer>): Promise<ModelServer> {
  const s = await startModelServer(...args);
  servers.push(s);
  return s;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(() => {
  cleanupTempDirs();
});

describe('downloadModel against a real HTTP server on 127.0.0.1', () => {
  it('(a) downloads, verifies sha256, stores under the final name, and the model then classifies dog.jpg', async () => {
    const server = await serve(MODEL_BYTES);
    const work = tempDir('fetch-a');
    const cacheDir = path.join(work, 'cache');
    const manifest = writeManifest(work, [{ id: MOBILENET_ID, url: server.url }]);
    const env = testEnv({
      MODEL_MANIFEST: manifest,
      MODEL_CACHE_DIR: cacheDir,
      MODEL_PATH: '',
      DEFAULT_CLASSIFIER: MOBILENET_ID,
      PRELOAD_MODELS: '',
    });
    const config = loadConfig(env);
    const log: string[] = [];
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let reports;
    try {
      reports = await ensureModels(config, [MOBILENET_ID], (l) => log.push(l), { baseDelayMs: 10 });
    } finally {
      stderr.mockRestore();
    }
    expect(reports).toEqual([{ id: MOBILENET_ID, status: 'downloaded' }]);
    expect(server.requests).toBe(1);

    const dest = path.join(cacheDir, MOBILENET_FILE);
    expect(existsSync(dest)).toBe(true);
    expect(sha256Hex(readFileSync(dest))).toBe(MOBILENET_SHA256);
    expect(readdirSync(cacheDir).filter((f) => f.endsWith('.onnx'))).toEqual([MOBILENET_FILE]);
    expect(partialFiles(cacheDir)).toEqual([]);

    // A second run finds the file and checks it instead of downloading again.
    const again = await ensureModels(config, [MOBILENET_ID], () => undefined, { baseDelayMs: 10 });
    expect(again).toEqual([{ id: MOBILENET_ID, status: 'present' }]);
    expect(server.requests).toBe(1);

    const service = createService(config);
    try {
      const result = await service.classify(DOG, { topK: 5 });
      expect(result.model).toBe(MOBILENET_ID);
      expect(DOG_LABELS).toContain(result.label);
    } finally {
      await service.close();
    }
  });

  it('(b) retries an interrupted transfer and never leaves a partial or final file from the cut attempt', async () => {
    const work = tempDir('fetch-b');
    const dest = path.join(work, MOBILENET_FILE);
    const seenAtCut: { final: boolean; partials: string[] }[] = [];
    const server = await serve(MODEL_BYTES, {
      behave: firstRequests(1, { kind: 'cut' }),
      onCut: () => seenAtCut.push({ final: existsSync(dest), partials: partialFiles(work) }),
    });
    const spec = specFrom(writeManifest(work, [{ id: MOBILENET_ID, url: server.url }]));
    const log: string[] = [];

    const out = await downloadModel(spec, work, { baseDelayMs: 20, log: (l) => log.push(l) });

    expect(out).toBe(dest);
    expect(server.cuts).toBe(1);
    expect(server.requests).toBe(2);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(/attempt 1 failed/);
    // While the first transfer was in flight, bytes went to a temp name, not the final one.
    expect(seenAtCut).toEqual([
      { final: false, partials: [expect.stringContaining(`${MOBILENET_FILE}.partial-`)] },
    ]);
    expect(sha256Hex(readFileSync(dest))).toBe(MOBILENET_SHA256);
    expect(partialFiles(work)).toEqual([]);
    expect(readdirSync(work).sort()).toEqual([MOBILENET_FILE, 'user-manifest.json']);
  });

  it('(b2) gives up after the configured attempts when every transfer is cut, leaving nothing behind', async () => {
    const work = tempDir('fetch-b2');
    const server = await serve(MODEL_BYTES, { behave: () => ({ kind: 'cut' }) });
    const spec = specFrom(writeManifest(work, [{ id: MOBILENET_ID, url: server.url }]));

    const err = await rejectionOf(downloadModel(spec, work, { attempts: 3, baseDelayMs: 10 }));

    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toContain(server.url);
    expect(server.requests).toBe(3);
    expect(existsSync(path.join(work, MOBILENET_FILE))).toBe(false);
    expect(partialFiles(work)).toEqual([]);
  });

  it('(b3) a transfer that stalls is aborted after idleTimeoutMs and retried', async () => {
    const work = tempDir('fetch-b3');
    const server = await serve(MODEL_BYTES, {
      behave: firstRequests(1, { kind: 'stall', afterBytes: 100_000 }),
    });
    const spec = specFrom(writeManifest(work, [{ id: MOBILENET_ID, url: server.url }]));
    const log: string[] = [];

    const started = performance.now();
    const dest = await downloadModel(spec, work, {
      baseDelayMs: 10,
      idleTimeoutMs: 300,
      log: (l) => log.push(l),
    });

    expect(performance.now() - started).toBeLessThan(5000);
    expect(server.requests).toBe(2);
    expect(log[0]).toMatch(/stalled/);
    expect(sha256Hex(readFileSync(dest))).toBe(MOBILENET_SHA256);
    expect(partialFiles(work)).toEqual([]);
  });

  it('(b5) tries the URLs in order: a 404 first, then a host that serves wrong bytes, then the right file', async () => {
    const work = tempDir('fetch-b5');
    const gone = await serve(MODEL_BYTES, { behave: () => ({ kind: 'status', status: 404 }) });
    const wrong = await serve(Buffer.from('not the model'));
    const good = await serve(MODEL_BYTES);
    const log: string[] = [];
    const spec = specFrom(writeManifest(work, [{ id: MOBILENET_ID, urls: [gone.url, wrong.url, good.url] }]));
    const dest = await downloadModel(spec, work, { baseDelayMs: 10, log: (l) => log.push(l) });
    expect([gone.requests, wrong.requests, good.requests]).toEqual([1, 1, 1]);
    expect(sha256Hex(readFileSync(dest))).toBe(MOBILENET_SHA256);
    expect(log.join('\n')).toMatch(/HTTP 404[\s\S]*checksum mismatch/);
    expect(partialFiles(work)).toEqual([]);
  });

  it('(b6) when every URL fails, the error names each URL and why, and leaves no file', async () => {
    const work = tempDir('fetch-b6');
    const gone = await serve(MODEL_BYTES, { behave: () => ({ kind: 'status', status: 404 }) });
    const refused = `http://127.0.0.1:${await closedPort()}/model.onnx`;
    const spec = specFrom(writeManifest(work, [{ id: MOBILENET_ID, urls: [gone.url, refused] }]));
    const err = await rejectionOf(downloadModel(spec, work, { baseDelayMs: 10 }));
    expect(err.message).toContain(`HTTP 404 Not Found from ${gone.url}`);
    expect(err.message).toContain(`${refused}: cannot reach 127.0.0.1`);
    expect(existsSync(path.join(work, MOBILENET_FILE))).toBe(false);
    expect(partialFiles(work)).toEqual([]);
  });

  it('(b4) HTTP 5xx is retried; HTTP 4xx fails at once with the status', async () => {
    const work = tempDir('fetch-b4');
    const flaky = await serve(MODEL_BYTES, { behave: firstRequests(2, { kind: 'status', status: 503 }) });
    const spec = specFrom(writeManifest(work, [{ id: MOBILENET_ID, url: flaky.url }]));
    const dest = await downloadModel(spec, work, { baseDelayMs: 10 });
    expect(flaky.requests).toBe(3);
    expect(sha256Hex(readFileSync(dest))).toBe(MOBILENET_SHA256);

    const work404 = tempDir('fetch-b4-404');
    const gone = await serve(MODEL_BYTES, { behave: () => ({ kind: 'status', status: 404 }) });
    const spec404 = specFrom(writeManifest(work404, [{ id: MOBILENET_ID, url: gone.url }]));
    const err = await rejectionOf(downloadModel(spec404, work404, { baseDelayMs: 10 }));
    expect(err.message).toContain('HTTP 404');
    expect(err.message).toContain(gone.url);
    expect(gone.requests).toBe(1);
    expect(existsSync(path.join(work404, MOBILENET_FILE))).toBe(false);
    expect(partialFiles(work404)).toEqual([]);
  });

  it('a connection cut right after the headers is retried without an uncaught error', async () => {
    const r = await runTsx(
      path.join(REPO_ROOT, 'test/support/fetch-early-cut-driver.ts'),
      [path.join(EMBEDDED_MODELS, MOBILENET_FILE), MOBILENET_SHA256, '10'],
      testEnv({}),
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { runs: number; ok: number; uncaught: number; messages: string[] };
    expect(out).toEqual({ runs: 10, ok: 10, uncaught: 0, messages: [] });
  });

  it('a gzip-encoded response downloads like a plain one', async () => {
    const work = tempDir('fetch-gzip');
    const server = await serve(MODEL_BYTES, { behave: () => ({ kind: 'gzip' }) });
    const spec = specFrom(writeManifest(work, [{ id: MOBILENET_ID, url: server.url }]));

    const dest = await downloadModel(spec, work, { attempts: 2, baseDelayMs: 10 });

    expect(sha256Hex(readFileSync(dest))).toBe(MOBILENET_SHA256);
    expect(server.requests).toBe(1);
  });

  it('(c) a wrong checksum fails at once with a checksum message and leaves no file under the final name', async () => {
    const work = tempDir('fetch-c');
    const server = await serve(MODEL_BYTES);
    const wrong = sha256Hex(Buffer.from('some other bytes'));
    const spec = specFrom(writeManifest(work, [{ id: MOBILENET_ID, url: server.url, sha256: wrong }]));

    const err = await rejectionOf(downloadModel(spec, work, { baseDelayMs: 10 }));

    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toMatch(/checksum|sha256/i);
    expect(err.message).toContain(wrong);
    expect(err.message).toContain(MOBILENET_SHA256); // what was actually received
    // A checksum mismatch is not transient: one request, no retries.
    expect(server.requests).toBe(1);
    expect(existsSync(path.join(work, MOBILENET_FILE))).toBe(false);
    expect(partialFiles(work)).toEqual([]);
  });

  it('(d) offline (connection refused) fails fast, naming the URL and where to put the file by hand', async () => {
    const work = tempDir('fetch-d');
    const url = `http://127.0.0.1:${await closedPort()}/models/${MOBILENET_FILE}`;
    const spec = specFrom(writeManifest(work, [{ id: MOBILENET_ID, url }]));
    const destDir = path.join(work, 'cache');

    const started = performance.now();
    // Default attempts and backoff: "fast" must not depend on the caller shortening them.
    const err = await rejectionOf(downloadModel(spec, destDir));
    const elapsed = performance.now() - started;

    expect(elapsed).toBeLessThan(3000);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toContain(url);
    expect(err.message).toMatch(/offline/i);
    expect(err.message).toContain(path.join(destDir, MOBILENET_FILE));
    expect(err.message).toContain('MODEL_PATH');
    expect(err.message).toContain(MOBILENET_SHA256);
    expect(existsSync(path.join(destDir, MOBILENET_FILE))).toBe(false);
    expect(partialFiles(destDir)).toEqual([]);
  });

  it('(d2) a model without a URL fails with advice instead of a request', async () => {
    const work = tempDir('fetch-d2');
    const spec = specFrom(writeManifest(work, [{ id: MOBILENET_ID, url: null }]));

    const err = await rejectionOf(downloadModel(spec, work));

    expect(err).toBeInstanceOf(DownloadError);
    expect(err.message).toContain('no download URL');
    expect(err.message).toContain(path.join(work, MOBILENET_FILE));
  });
});

describe('npm run models:fetch (child process)', () => {
  it('(e) exits 0 after downloading from the server', async () => {
    const server = await serve(MODEL_BYTES);
    const work = tempDir('fetch-e');
    const cacheDir = path.join(work, 'cache');
    const manifest = writeManifest(work, [{ id: MOBILENET_ID, url: server.url }]);

    const r = await runTsx(
      FETCH_MODELS,
      [MOBILENET_ID],
      testEnv({ MODEL_MANIFEST: manifest, MODEL_CACHE_DIR: cacheDir, MODEL_PATH: '' }),
    );

    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(r.stdout).toContain(`✓ ${MOBILENET_ID}: downloaded`);
    expect(r.stdout).toContain(`Model folder: ${cacheDir}`);
    expect(sha256Hex(readFileSync(path.join(cacheDir, MOBILENET_FILE)))).toBe(MOBILENET_SHA256);
    expect(partialFiles(cacheDir)).toEqual([]);
    expect(server.requests).toBe(1);
  });

  it('(e) exits 1 with the by-hand advice when offline', async () => {
    const work = tempDir('fetch-e-offline');
    const cacheDir = path.join(work, 'cache');
    const url = `http://127.0.0.1:${await closedPort()}/${MOBILENET_FILE}`;
    const manifest = writeManifest(work, [{ id: MOBILENET_ID, url }]);

    const r = await runTsx(
      FETCH_MODELS,
      [MOBILENET_ID],
      testEnv({ MODEL_MANIFEST: manifest, MODEL_CACHE_DIR: cacheDir, MODEL_PATH: '' }),
    );

    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`✗ ${MOBILENET_ID}: failed`);
    expect(r.stdout).toContain(url);
    expect(r.stdout).toContain(path.join(cacheDir, MOBILENET_FILE));
    expect(r.stdout).toContain('MODEL_PATH');
    expect(existsSync(path.join(cacheDir, MOBILENET_FILE))).toBe(false);
  });

  it('(e) exits 1 for an unknown model id, listing the known ones', async () => {
    const work = tempDir('fetch-e-unknown');
    const r = await runTsx(
      FETCH_MODELS,
      ['no-such-model'],
      testEnv({ MODEL_CACHE_DIR: path.join(work, 'cache'), MODEL_PATH: '' }),
    );

    expect(r.code).toBe(1);
    expect(r.stdout).toContain('no-such-model');
    expect(r.stdout).toContain(MOBILENET_ID);
  });
});
