import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { listFiles, REPO_ROOT } from './synth';

jest.setTimeout(300_000);

const SHARED = path.resolve(REPO_ROOT, '../shared');
const MALAMUTE_FAMILY = ['Alaskan Malamute', 'husky', 'Siberian Husky'];

// The folder lives outside the repo: Node resolves packages upwards, so inside the repo a package
// missing from the folder would silently load from the repo's node_modules.
let work: string;
let pkg: string;
let output: string;

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'lambda-package-'));
  pkg = path.join(work, 'task');
  const res = spawnSync('npm', ['run', '--silent', 'package', '--', '--out', pkg], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`npm run package failed:\n${res.stdout}\n${res.stderr}`);
  output = res.stdout;
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('npm run package (the image’s /var/task)', () => {
  test('prints the folder size', () => {
    expect(output).toMatch(/total\s+\d+\.\d MB/);
  });

  test('holds exactly index.js, models/, package.json and node_modules/', () => {
    expect(readdirSync(pkg).sort()).toEqual(['index.js', 'models', 'node_modules', 'package.json']);
  });

  test('package.json depends only on onnxruntime-node and sharp, at the root package.json versions', () => {
    const root = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const own = JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(own.dependencies).toEqual({
      'onnxruntime-node': root.dependencies['onnxruntime-node'],
      sharp: root.dependencies.sharp,
    });
  });

  test('node_modules holds only onnxruntime-node, sharp and their run-time dependencies, for linux/x64', () => {
    const names = readdirSync(path.join(pkg, 'node_modules')).flatMap((n) =>
      n.startsWith('@') ? readdirSync(path.join(pkg, 'node_modules', n)).map((s) => `${n}/${s}`) : [n],
    );
    expect(names.sort()).toEqual(
      [
        '@img/colour',
        '@img/sharp-libvips-linux-x64',
        '@img/sharp-linux-x64',
        'detect-libc',
        'onnxruntime-common',
        'onnxruntime-node',
        'semver',
        'sharp',
      ].sort(),
    );
  });

  test('onnxruntime-node keeps only its linux/x64 binaries', () => {
    const bins = listFiles(path.join(pkg, 'node_modules', 'onnxruntime-node', 'bin'));
    expect(bins.length).toBeGreaterThan(0);
    expect(bins.filter((f) => !f.startsWith('napi-v6/linux/x64/'))).toEqual([]);
    expect(bins).toContain('napi-v6/linux/x64/onnxruntime_binding.node');
  });

  test('models/ has the manifest and label files but no model weights', () => {
    const files = readdirSync(path.join(pkg, 'models'));
    expect(files).toContain('manifest.json');
    expect(files.filter((f) => !f.endsWith('.txt') && f !== 'manifest.json')).toEqual([]);
  });

  test('a fresh node process in the folder classifies dog.jpg as a malamute or husky through the Lambda handler', () => {
    for (let dir = pkg; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
      expect(existsSync(path.join(path.dirname(dir), 'node_modules'))).toBe(false);
    }
    const event = {
      resource: '/classifier',
      path: '/classifier',
      httpMethod: 'POST',
      headers: { 'Content-Type': 'image/jpeg' },
      queryStringParameters: { model: 'mobilenetv2-12-int8' },
      requestContext: { requestId: 'package-test', stage: 'prod' },
      isBase64Encoded: true,
      body: readFileSync(path.join(SHARED, 'images', 'dog.jpg')).toString('base64'),
    };
    const script = `
      const { handler } = require('./index.js');
      let input = '';
      process.stdin.on('data', (d) => { input += d; }).on('end', async () => {
        const context = { awsRequestId: 'package-test', functionName: 'image-recognition', getRemainingTimeInMillis: () => 28000 };
        const res = await handler(JSON.parse(input), context);
        const where = { ort: require.resolve('onnxruntime-node'), sharp: require.resolve('sharp') };
        process.stdout.write('\\n@@RESULT@@' + JSON.stringify({ res, where }) + '\\n');
      });`;
    // A Lambda-like environment and nothing from this process: no NODE_PATH, no repo paths.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: work,
      LAMBDA_TASK_ROOT: pkg,
      AWS_LAMBDA_FUNCTION_NAME: 'image-recognition',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '3008',
      AWS_REGION: 'us-east-1',
      MODEL_PATH: path.join(SHARED, 'models'),
      MODEL_CACHE_DIR: path.join(work, 'model-cache'),
      PRELOAD_MODELS: '',
      POWERTOOLS_SERVICE_NAME: 'image-recognition',
      POWERTOOLS_METRICS_NAMESPACE: 'ImageRecognition',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    const res = spawnSync(process.execPath, ['-e', script], {
      cwd: pkg,
      env,
      input: JSON.stringify(event),
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const marker = res.stdout.lastIndexOf('@@RESULT@@');
    if (res.status !== 0 || marker < 0)
      throw new Error(`handler process failed (${res.status}):\n${res.stderr}\n${res.stdout}`);
    const { res: result, where } = JSON.parse(res.stdout.slice(marker + '@@RESULT@@'.length)) as {
      res: { statusCode: number; body: string };
      where: { ort: string; sharp: string };
    };
    expect(where.ort.startsWith(pkg + path.sep)).toBe(true);
    expect(where.sharp.startsWith(pkg + path.sep)).toBe(true);
    expect(result.statusCode).toBe(200);
    const body = JSON.parse(result.body) as { label: string; model: string };
    expect(body.model).toBe('mobilenetv2-12-int8');
    expect(MALAMUTE_FAMILY).toContain(body.label);
  });
});
