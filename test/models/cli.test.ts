/** `npm run classify` prints the same JSON body as the API, for the same photo and model. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { startLocalServer, type LocalServer } from '../../local/server';
import { MALAMUTE_FAMILY, photo, FIXTURE_IMAGES, smallModelEnv } from '../support/fixtures';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const env = smallModelEnv();

async function cli(args: string[]): Promise<{ code: number; body: Record<string, any> }> {
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'local/cli.ts', ...args], {
      cwd: ROOT,
      env,
    });
    return { code: 0, body: JSON.parse(stdout) as Record<string, any> };
  } catch (e) {
    const err = e as { code: number; stdout: string };
    return { code: err.code, body: JSON.parse(err.stdout || '{}') as Record<string, any> };
  }
}

let server: LocalServer;
beforeAll(async () => {
  server = await startLocalServer({ port: 0, env });
});
afterAll(() => server.close());

const strip = ({ timings: _t, requestId: _r, coldStart: _c, ...rest }: Record<string, any>) => rest;

it('classify prints the same predictions as POST /classifier', async () => {
  const [fromCli, res] = await Promise.all([
    cli([path.join(FIXTURE_IMAGES, 'dog.jpg'), '--model', 'mobilenetv2-12-int8', '--top-k', '5']),
    fetch(`${server.url}/classifier?model=mobilenetv2-12-int8&topK=5`, {
      method: 'POST',
      body: new Uint8Array(photo('dog.jpg')),
      headers: { 'Content-Type': 'image/jpeg' },
    }),
  ]);
  const fromApi = (await res.json()) as Record<string, any>;
  expect(fromCli.code).toBe(0);
  expect(MALAMUTE_FAMILY).toContain(fromCli.body.label);
  expect(strip(fromCli.body)).toEqual(strip(fromApi));
}, 60_000);

it('detect prints the same detections as POST /detector', async () => {
  const [fromCli, res] = await Promise.all([
    cli([
      path.join(FIXTURE_IMAGES, 'person.jpg'),
      '--task',
      'detect',
      '--model',
      'yolo-fastest-1.1-xl',
      '--min-confidence',
      '0.3',
    ]),
    fetch(`${server.url}/detector?model=yolo-fastest-1.1-xl&minConfidence=0.3`, {
      method: 'POST',
      body: new Uint8Array(photo('person.jpg')),
      headers: { 'Content-Type': 'image/jpeg' },
    }),
  ]);
  expect(fromCli.code).toBe(0);
  expect(strip(fromCli.body)).toEqual(strip((await res.json()) as Record<string, any>));
}, 60_000);

it('exits 4 with a JSON error for a file that is not an image, and 2 for bad usage', async () => {
  const notImage = await cli([path.join(ROOT, 'package.json'), '--model', 'mobilenetv2-12-int8']);
  expect([notImage.code, notImage.body.error]).toEqual([4, 'UNSUPPORTED_MEDIA_TYPE']);
  const usage = await cli(['--task', 'paint']);
  expect(usage.code).toBe(2);
}, 60_000);

it('several photos go as one batch and print one result per photo, in order', async () => {
  const files = ['dog.jpg', 'cat_chelsea.png', 'kite.jpg'].map((f) => path.join(FIXTURE_IMAGES, f));
  const { code, body } = await cli([...files, '--model', 'mobilenetv2-12-int8', '--top-k', '1']);
  expect(code).toBe(0);
  const results = body.results as { statusCode: number; label: string; predictions: unknown[] }[];
  expect(results.map((r) => r.statusCode)).toEqual([200, 200, 200]);
  expect(MALAMUTE_FAMILY).toContain(results[0]?.label);
  expect(results[1]?.label).toMatch(/cat|Mau/i);
  expect(results.every((r) => r.predictions.length === 1)).toBe(true);
}, 60_000);
