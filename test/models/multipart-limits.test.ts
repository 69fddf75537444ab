/**
 * Every multipart limit answers at once, on the local server and through the Lambda handler. A
 * form past a limit used to wait for a 'finish' busboy never sends (three photos: 25 s, then a 504
 * billed for all of it); a hang would show here as an answer after the 25 s request timeout.
 */
import { MULTIPART_LIMITS } from '../../lambda/src/transports/http/request-body';
import { createLambdaHandler } from '../../lambda/src/transports/lambda-handler';
import { startLocalServer, type LocalServer } from '../../local/server';
import { photo, smallModelEnv } from '../support/fixtures';

jest.setTimeout(60_000);

const MAX_IMAGE_BYTES = 3_000_000;
let server: LocalServer;
beforeAll(async () => {
  server = await startLocalServer({
    port: 0,
    env: smallModelEnv({ MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES) }),
  });
});
afterAll(() => server.close());

const dog = photo('dog.jpg');
const file = (bytes: Buffer) => new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' });

function form(files: Buffer[], fields: [string, string][] = []): FormData {
  const f = new FormData();
  files.forEach((bytes, i) => {
    f.append('image', file(bytes), `photo-${i}.jpg`);
  });
  for (const [k, v] of fields) f.append(k, v);
  return f;
}

const manyFields = (n: number): [string, string][] => Array.from({ length: n }, (_, i) => [`f${i}`, 'x']);

const cases: [string, () => FormData, number, RegExp][] = [
  ['three photos (the reported case)', () => form([dog, dog, dog]), 400, /exactly one file/],
  ['two photos', () => form([dog, dog]), 400, /exactly one file/],
  [
    `${MULTIPART_LIMITS.fields + 1} fields`,
    () => form([dog], manyFields(MULTIPART_LIMITS.fields + 1)),
    400,
    /more than \d+ (fields|parts)/,
  ],
  [
    `${MULTIPART_LIMITS.parts + 1} parts`,
    () => form([dog], manyFields(MULTIPART_LIMITS.parts)),
    400,
    /more than \d+ (fields|parts)/,
  ],
  [
    'a field longer than the field size',
    () => form([dog], [['topK', '5'.repeat(MULTIPART_LIMITS.fieldSize + 1)]]),
    400,
    /longer than 1024 bytes/,
  ],
  ['a file over the image limit', () => form([Buffer.alloc(MAX_IMAGE_BYTES + 10, 0xff)]), 413, /limit/],
];

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work;
  return { value, ms: performance.now() - started };
}

describe.each(cases)('%s', (_name, make, status, message) => {
  it(`local server: ${status} at once, and the next request is served`, async () => {
    const { value: res, ms } = await timed(
      fetch(`${server.url}/classifier`, { method: 'POST', body: make() }),
    );
    const body = (await res.json()) as { error: string; message: string };
    expect({ status: res.status, message: body.message }).toEqual({
      status,
      message: expect.stringMatching(message),
    });
    expect(ms).toBeLessThan(1000);
    const next = await fetch(`${server.url}/classifier`, { method: 'POST', body: form([dog]) });
    expect(next.status).toBe(200);
  });

  it(`Lambda handler: ${status} at once`, async () => {
    const request = new Request('http://x/', { method: 'POST', body: make() });
    const bytes = Buffer.from(await request.arrayBuffer());
    const handler = createLambdaHandler(server.service, server.config);
    const { value: res, ms } = await timed(
      handler({
        httpMethod: 'POST',
        path: '/classifier',
        headers: { 'Content-Type': request.headers.get('content-type') ?? '' },
        body: bytes.toString('base64'),
        isBase64Encoded: true,
        requestContext: { requestId: 'multipart-limit' },
      } as never) as Promise<{ statusCode: number; body: string }>,
    );
    expect({
      status: res.statusCode,
      message: (JSON.parse(res.body) as { message: string }).message,
    }).toEqual({
      status,
      message: expect.stringMatching(message),
    });
    expect(ms).toBeLessThan(1000);
  });
});
