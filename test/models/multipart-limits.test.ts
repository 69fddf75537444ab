/**
 * Every multipart limit answers at once, on the local server and through the Lambda handler. A
 * form past a limit used to wait for a 'finish' busboy never sends (three photos: 25 s, then a 504
 * billed for all of it); a hang would show here as an answer after the 25 s request timeout. A form
 * may now carry a batch of up to MAX_BATCH_IMAGES files; one past that answers as fast.
 */
import { multipartLimits } from '../../lambda/src/transports/http/request-body';
import { createLambdaHandler } from '../../lambda/src/transports/lambda-handler';
import { startLocalServer, type LocalServer } from '../../local/server';
import { photo, smallModelEnv } from '../support/fixtures';

jest.setTimeout(60_000);

const MAX_IMAGE_BYTES = 3_000_000;
const MAX_BATCH_IMAGES = 4;
const MULTIPART_LIMITS = multipartLimits(MAX_BATCH_IMAGES);
let server: LocalServer;
beforeAll(async () => {
  server = await startLocalServer({
    port: 0,
    env: smallModelEnv({
      MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES),
      MAX_BATCH_IMAGES: String(MAX_BATCH_IMAGES),
    }),
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
  [
    `${MAX_BATCH_IMAGES + 1} photos, one past the batch limit`,
    () => form(Array.from({ length: MAX_BATCH_IMAGES + 1 }, () => dog)),
    400,
    new RegExp(`more than ${MAX_BATCH_IMAGES} files`),
  ],
  [
    'photos that together pass the byte limit',
    () => form([Buffer.alloc(MAX_IMAGE_BYTES / 2 + 10, 0xff), Buffer.alloc(MAX_IMAGE_BYTES / 2 + 10, 0xff)]),
    413,
    /limit/,
  ],
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

test('a form with the most photos a batch may hold is answered, one result per photo', async () => {
  const res = await fetch(`${server.url}/classifier`, {
    method: 'POST',
    body: form(Array.from({ length: MAX_BATCH_IMAGES }, () => dog)),
  });
  const body = (await res.json()) as { results: { label: string }[] };
  expect(res.status).toBe(200);
  expect(body.results.map((r) => r.label)).toEqual(
    Array.from({ length: MAX_BATCH_IMAGES }, () => 'Alaskan Malamute'),
  );
});
