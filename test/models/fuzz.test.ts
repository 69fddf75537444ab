/**
 * Fuzzing the API with property-based (fast-check) and mutation-based inputs, over real HTTP to the
 * local server and straight into the Lambda handler (REST proxy and mapping-template events).
 * Every answer must be JSON with a stable error code and a 4xx status — or a 200 when the image
 * is in fact valid — never a 5xx, never a hang; afterwards the server still classifies dog.jpg.
 * Fixed seed: failures replay; fast-check prints the shrunk counterexample.
 */
import fc from 'fast-check';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import sharp from 'sharp';
import { createLambdaHandler, type LambdaHandler } from '../../lambda/src/transports/lambda-handler';
import { startLocalServer, type LocalServer } from '../../local/server';
import { MALAMUTE_FAMILY, photo, pngClaiming, smallModelEnv } from '../support/fixtures';
import {
  contentType,
  jpegClaiming,
  labelled,
  multipartBody,
  mutationOf,
  oddQuery,
  oddValue,
  OPTION_NAMES,
  pngRealClaiming,
  webpClaiming,
  type Part,
} from '../support/fuzz-inputs';
import {
  deadline,
  handlerTransport,
  httpTransport,
  judge,
  mappingTransport,
  show,
  type Answer,
  type Expectation,
  type FuzzRequest,
  type Transport,
} from '../support/fuzz-transport';

// The handler's telemetry reads process.env, not the server's env.
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

const SEED = 424242;
const REQUEST_DEADLINE_MS = 15_000;
const MAX_IMAGE_BYTES = 2_000_000;
jest.setTimeout(60_000);

const dog = photo('dog.jpg');
const cat = photo('cat_chelsea.png');
const cup = photo('coffee_cup.webp');
let smallDog: Buffer;

let server: LocalServer;
let handler: LambdaHandler;
const via: Record<'http' | 'handler' | 'mapping', Transport> = {} as never;

beforeAll(async () => {
  server = await startLocalServer({
    port: 0,
    env: smallModelEnv({ MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES), MAX_IMAGE_PIXELS: '4000000' }),
  });
  handler = createLambdaHandler(server.service, server.config);
  via.http = httpTransport(server.url, REQUEST_DEADLINE_MS);
  via.handler = handlerTransport(handler, REQUEST_DEADLINE_MS);
  via.mapping = mappingTransport(handler, REQUEST_DEADLINE_MS);
  smallDog = await sharp(dog).resize(160).jpeg().toBuffer();
  const loaded = await server.service.preload(['mobilenetv2-12-int8', 'yolox-nano']);
  expect(loaded.every((m) => m.ok)).toBe(true);
});
afterAll(() => server.close());

const IMAGE_ERRORS = [
  'UNSUPPORTED_MEDIA_TYPE',
  'UNPROCESSABLE_IMAGE',
  'PAYLOAD_TOO_LARGE',
  'INVALID_REQUEST',
];
const REQUEST_ERRORS = [...IMAGE_ERRORS, 'INVALID_PARAMETER', 'NOT_FOUND'];

/** Sends through each transport and throws with the request and answer on any problem. */
async function expectSound(
  req: FuzzRequest,
  expect: Expectation,
  transports: readonly (keyof typeof via)[] = ['http', 'handler'],
): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (const name of transports) {
    const a = await via[name](req);
    const problems = judge(a, expect);
    if (problems.length > 0) {
      throw new Error(
        `[${name}] ${problems.join('; ')}\n  request: ${show(req)}\n  answer: ${a.status} ${a.body.subarray(0, 300).toString('utf8')}`,
      );
    }
    answers.push(a);
  }
  return answers;
}

const post = (path: string, body: Buffer, type?: string, query: [string, string][] = []): FuzzRequest => ({
  method: 'POST',
  path,
  query,
  headers: type === undefined ? {} : { 'content-type': type },
  body,
});

const params = (numRuns: number) => ({ seed: SEED, numRuns });

describe('mutated photos (bit flips, overwrites, truncations, cuts, splices)', () => {
  const bases = [
    { name: 'dog.jpg', bytes: dog, type: 'image/jpeg' },
    { name: 'cat_chelsea.png', bytes: cat, type: 'image/png' },
    { name: 'coffee_cup.webp', bytes: cup, type: 'image/webp' },
  ];
  it.each(bases)('$name: 200 or a 4xx image error through HTTP, proxy and mapping events', async (base) => {
    await fc.assert(
      fc.asyncProperty(
        mutationOf(base.bytes),
        fc.constantFrom(base.type, 'application/octet-stream', 'image/jpeg'),
        fc.constantFrom('/classifier', '/detector'),
        async (m, type, path) => {
          const answers = await expectSound(post(path, m.bytes, type), { codes: IMAGE_ERRORS, ok: true }, [
            'http',
            'handler',
            'mapping',
          ]);
          // Same bytes, same verdict, whichever way they came in.
          expect(new Set(answers.map((a) => a.status)).size).toBe(1);
        },
      ),
      params(20),
    );
  });
});

describe('headers that lie about the dimensions', () => {
  it('JPEG SOF, real PNG IHDR (CRC fixed), stub PNG and WebP VP8 sizes → 200, 413 or 422', async () => {
    const u16 = fc.oneof(fc.constantFrom(0, 1, 2, 65535, 2000, 4000), fc.integer({ min: 0, max: 65535 }));
    const u32 = fc.oneof(
      fc.constantFrom(0, 1, 2 ** 31 - 1, 2 ** 32 - 1, 100_000, 2000),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    );
    const u14 = fc.oneof(fc.constantFrom(0, 1, 16383, 600), fc.integer({ min: 0, max: 16383 }));
    const liar = fc.oneof(
      fc
        .tuple(u16, u16)
        .map(([w, h]) =>
          labelled({ bytes: jpegClaiming(dog, w, h), type: 'image/jpeg' }, `dog.jpg claiming ${w}×${h}`),
        ),
      fc
        .tuple(u32, u32)
        .map(([w, h]) =>
          labelled(
            { bytes: pngRealClaiming(cat, w, h), type: 'image/png' },
            `cat_chelsea.png claiming ${w}×${h}`,
          ),
        ),
      fc
        .tuple(u32, u32)
        .map(([w, h]) =>
          labelled({ bytes: pngClaiming(w, h), type: 'image/png' }, `stub PNG claiming ${w}×${h}`),
        ),
      fc
        .tuple(u14, u14)
        .map(([w, h]) =>
          labelled(
            { bytes: webpClaiming(cup, w, h), type: 'image/webp' },
            `coffee_cup.webp claiming ${w}×${h}`,
          ),
        ),
    );
    await fc.assert(
      fc.asyncProperty(liar, fc.constantFrom('/classifier', '/detector'), async (l, path) => {
        await expectSound(post(path, l.bytes, l.type), { codes: IMAGE_ERRORS, ok: true });
      }),
      params(60),
    );
  });
});

describe('content types that lie', () => {
  it('any body kind under any content type → 200 only for a real image, else a 4xx', async () => {
    const form = multipartBody(
      [{ name: 'image', filename: 'd.jpg', type: 'image/jpeg', data: smallDog }],
      'b0undary',
    );
    const bodies = fc
      .constantFrom(
        { kind: 'jpeg', bytes: smallDog, image: true },
        { kind: 'png', bytes: cat, image: true },
        {
          kind: 'json',
          bytes: Buffer.from(JSON.stringify({ image: smallDog.toString('base64') })),
          image: true,
        },
        { kind: 'multipart', bytes: form, image: true },
        { kind: 'text', bytes: Buffer.from('hello, this is not an image'), image: false },
        { kind: 'html', bytes: Buffer.from('<html><body>hi</body></html>'), image: false },
        { kind: 'json-no-image', bytes: Buffer.from('{"topK": 3}'), image: false },
        {
          kind: 'random',
          bytes: Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 7919) % 251)),
          image: false,
        },
      )
      .map((b) => labelled(b, b.kind));
    await fc.assert(
      fc.asyncProperty(
        bodies,
        contentType,
        fc.constantFrom('/classifier', '/detector'),
        async (b, type, path) => {
          await expectSound(post(path, b.bytes, type), { codes: REQUEST_ERRORS, ok: b.image }, [
            'http',
            'handler',
            'mapping',
          ]);
        },
      ),
      params(80),
    );
  });
});

describe('JSON bodies', () => {
  it('image field (valid, data URL, invalid base64, random bytes, any JSON) with odd options and unknown fields', async () => {
    const good = smallDog.toString('base64');
    const imageField = fc.oneof(
      fc.constant({ value: good, valid: true }),
      fc.constant({ value: `data:image/jpeg;base64,${good}` as unknown, valid: true }),
      fc.constant({ value: good.replace(/(.{76})/g, '$1\n'), valid: true }),
      fc
        .constantFrom<unknown>(
          '',
          '@@not base64@@',
          'A',
          'AAAAA',
          '====',
          'AA===',
          'data:image/jpeg,abc',
          'data:;base64,',
          'data:image/jpeg;charset=utf-8;base64,' + good.slice(0, 64),
          good.slice(0, 101),
          good + '=',
          '\u0000',
        )
        .map((value) => ({ value, valid: false })),
      fc
        .uint8Array({ maxLength: 512 })
        .map((u) => ({ value: Buffer.from(u).toString('base64'), valid: false })),
      fc.jsonValue({ maxDepth: 3 }).map((value) => ({ value: value, valid: false })),
    );
    const options = fc.dictionary(
      fc.constantFrom(...OPTION_NAMES),
      fc.oneof(oddValue as fc.Arbitrary<unknown>, fc.jsonValue({ maxDepth: 2 })),
      { maxKeys: 3 },
    );
    const unknown = fc.dictionary(
      fc
        .string({ maxLength: 10 })
        .filter((k) => k !== 'image' && !(OPTION_NAMES as readonly string[]).includes(k)),
      fc.jsonValue({ maxDepth: 2 }),
      { maxKeys: 4 },
    );
    await fc.assert(
      fc.asyncProperty(
        imageField,
        options,
        unknown,
        fc.constantFrom('/classifier', '/detector'),
        fc.constantFrom('application/json', undefined),
        async (image, opts, extra, path, type) => {
          const body = Buffer.from(JSON.stringify({ ...extra, ...opts, image: image.value }));
          await expectSound(post(path, body, type), {
            codes: REQUEST_ERRORS,
            ok: image.valid,
            jpegOk: path === '/detector',
          });
        },
      ),
      params(80),
    );
  });
});

describe('odd query values', () => {
  it('topK=1e309, minConfidence=-0, NaN, duplicates, unicode, unknown keys → 200 or 400/404', async () => {
    await fc.assert(
      fc.asyncProperty(oddQuery, fc.constantFrom('/classifier', '/detector'), async (query, path) => {
        await expectSound(
          post(path, smallDog, 'image/jpeg', query),
          { codes: ['INVALID_PARAMETER', 'NOT_FOUND'], ok: true, jpegOk: path === '/detector' },
          ['http', 'handler', 'mapping'],
        );
      }),
      params(40),
    );
  });

  const fixed: { name: string; query: [string, string][]; status: number; code: string | null }[] = [
    { name: 'topK=1e309', query: [['topK', '1e309']], status: 400, code: 'INVALID_PARAMETER' },
    { name: 'topK=NaN', query: [['topK', 'NaN']], status: 400, code: 'INVALID_PARAMETER' },
    { name: 'topK=Infinity', query: [['topK', 'Infinity']], status: 400, code: 'INVALID_PARAMETER' },
    { name: 'topK=٣ (Arabic-Indic digit)', query: [['topK', '٣']], status: 400, code: 'INVALID_PARAMETER' },
    { name: 'topK=😀', query: [['topK', '😀']], status: 400, code: 'INVALID_PARAMETER' },
    { name: 'minConfidence=-0', query: [['minConfidence', '-0']], status: 200, code: null },
    { name: 'minConfidence=NaN', query: [['minConfidence', 'NaN']], status: 400, code: 'INVALID_PARAMETER' },
    { name: 'model=ü', query: [['model', 'ü']], status: 400, code: 'INVALID_PARAMETER' },
    {
      name: '?topK=1&topK=2 (the last wins)',
      query: [
        ['topK', '1'],
        ['topK', '2'],
      ],
      status: 200,
      code: null,
    },
  ];
  it.each(fixed)('$name → $status', async ({ query, status, code }) => {
    for (const a of await expectSound(post('/classifier', smallDog, 'image/jpeg', query), {
      codes: code ? [code] : [],
      ok: code === null,
    })) {
      expect(a.status).toBe(status);
      const body = JSON.parse(a.body.toString('utf8')) as { error?: string; predictions?: unknown[] };
      if (code) expect(body.error).toBe(code);
      if (query.length === 2) expect(body.predictions).toHaveLength(2);
    }
  });
});

describe('multipart forms', () => {
  const filePart = fc.record({
    name: fc.constantFrom('image', 'file', 'photo', ''),
    filename: fc.constantFrom('d.jpg', 'x', '', '../../etc/passwd', 'ü.png'),
    type: fc.constantFrom('image/jpeg', 'text/plain', 'application/octet-stream', undefined),
    data: fc.constantFrom(
      labelled({ bytes: Buffer.alloc(0), image: false }, 'empty'),
      labelled({ bytes: Buffer.from('not an image'), image: false }, 'text'),
      labelled(
        { bytes: Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 31) % 256)), image: false },
        '3000 bytes of junk',
      ),
    ),
  });
  const goodFile = fc.constant({
    name: 'image',
    filename: 'd.jpg',
    type: 'image/jpeg',
    data: labelled({ bytes: Buffer.alloc(0), image: true }, 'the dog photo'),
  });
  const field = fc.record({
    name: fc.oneof(
      fc.constantFrom(...OPTION_NAMES),
      fc.string({ maxLength: 8 }).filter((s) => !/["\r\n]/.test(s)),
    ),
    value: fc.oneof(oddValue, fc.constant('x'.repeat(2000))),
  });
  const boundary = fc.oneof(
    fc.constantFrom('b0undary', 'x', "'()+_,-./:=?", 'a'.repeat(70)),
    fc.stringMatching(/^[A-Za-z0-9]{1,40}$/),
  );

  it('0, 1 or several files, fields, unknown fields, odd boundaries, truncated bodies → 200 or a 4xx', async () => {
    const parts = fc.array(fc.oneof(filePart, goodFile, field), { maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(
        parts,
        boundary,
        fc.oneof(fc.constant(null), fc.nat()),
        fc.boolean(),
        fc.constantFrom('/classifier', '/detector'),
        async (ps, b, cutAt, wrongBoundary, path) => {
          const built: Part[] = ps.map((p) =>
            'value' in p
              ? { name: p.name, data: Buffer.from(p.value) }
              : {
                  name: p.name,
                  filename: p.filename,
                  ...(p.type !== undefined ? { type: p.type } : {}),
                  data: p.data.image ? smallDog : p.data.bytes,
                },
          );
          let body = multipartBody(built, b);
          if (cutAt !== null) body = body.subarray(0, cutAt % (body.length + 1));
          const files = ps.filter((p) => !('value' in p));
          // One file: valid only if it is the photo. Several: a batch, answered 200 with each
          // file's own answer or error.
          const couldBeValid =
            !wrongBoundary &&
            (files.length > 1 || (files.length === 1 && files.every((f) => !('value' in f) && f.data.image)));
          await expectSound(
            post(path, body, `multipart/form-data; boundary=${wrongBoundary ? 'other' : b}`),
            { codes: REQUEST_ERRORS, ok: couldBeValid, jpegOk: path === '/detector' },
          );
        },
      ),
      params(60),
    );
  });

  const form = (parts: Part[]) =>
    post('/classifier', multipartBody(parts, 'B'), 'multipart/form-data; boundary=B');
  const image = (): Part => ({ name: 'image', filename: 'd.jpg', type: 'image/jpeg', data: smallDog });
  it.each([
    { name: 'no file', parts: () => [{ name: 'topK', data: Buffer.from('3') }], status: 400 },
    { name: 'two files (a batch)', parts: () => [image(), { ...image(), name: 'second' }], status: 200 },
    {
      name: 'a batch with an empty file',
      parts: () => [image(), { ...image(), data: Buffer.alloc(0) }],
      status: 200,
    },
    {
      name: '17 files (one past the batch limit)',
      parts: () => Array.from({ length: 17 }, image),
      status: 400,
    },
    {
      name: 'one file and unknown fields',
      parts: () => [{ name: 'colour', data: Buffer.from('blue') }, image()],
      status: 200,
    },
    { name: 'an empty file', parts: () => [{ ...image(), data: Buffer.alloc(0) }], status: 400 },
  ] as { name: string; parts: () => Part[]; status: number }[])(
    '$name → $status',
    async ({ parts, status }) => {
      for (const a of await expectSound(form(parts()), { codes: REQUEST_ERRORS, ok: status === 200 })) {
        expect(a.status).toBe(status);
      }
    },
  );
});

describe('zero-length bodies, giant base64, deep and huge JSON', () => {
  it.each([undefined, 'image/jpeg', 'application/json', 'multipart/form-data; boundary=x', 'text/plain'])(
    'an empty body with content type %s → 400 INVALID_REQUEST',
    async (type) => {
      for (const a of await expectSound(post('/classifier', Buffer.alloc(0), type), {
        codes: ['INVALID_REQUEST'],
        ok: false,
      })) {
        expect(a.status).toBe(400);
      }
    },
  );

  it('giant base64 in the JSON image field → 413 (HTTP body limit and the handler alike)', async () => {
    const giant = Buffer.alloc(MAX_IMAGE_BYTES + 100_000, 7).toString('base64');
    for (const body of [{ image: giant }, { image: `data:image/jpeg;base64,${giant}` }]) {
      for (const a of await expectSound(
        post('/detector', Buffer.from(JSON.stringify(body)), 'application/json'),
        {
          codes: ['PAYLOAD_TOO_LARGE'],
          ok: false,
        },
      )) {
        expect(a.status).toBe(413);
      }
    }
  });

  it('giant invalid base64 (over the limit, not base64) → 413 or 400', async () => {
    const junk = '!'.repeat(MAX_IMAGE_BYTES * 2);
    await expectSound(post('/classifier', Buffer.from(JSON.stringify({ image: junk })), 'application/json'), {
      codes: ['PAYLOAD_TOO_LARGE', 'INVALID_REQUEST'],
      ok: false,
    });
  });

  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  const deepObject = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
  const b64 = () => JSON.stringify(smallDog.toString('base64'));
  it.each([
    { where: 'the whole body', make: () => deep, path: '/classifier', status: 400, code: 'INVALID_REQUEST' },
    {
      where: 'the image field',
      make: () => `{"image":${deep}}`,
      path: '/classifier',
      status: 400,
      code: 'INVALID_REQUEST',
    },
    {
      where: 'an unknown field (ignored)',
      make: () => `{"image":${b64()},"extra":${deep}}`,
      path: '/classifier',
      status: 200,
      code: null,
    },
    {
      where: 'topK',
      make: () => `{"image":${b64()},"topK":${deep}}`,
      path: '/classifier',
      status: 400,
      code: 'INVALID_PARAMETER',
    },
    {
      where: 'minConfidence (nested objects)',
      make: () => `{"image":${b64()},"minConfidence":${deepObject}}`,
      path: '/detector',
      status: 400,
      code: 'INVALID_PARAMETER',
    },
    {
      where: 'iou',
      make: () => `{"image":${b64()},"iou":${deep}}`,
      path: '/detector',
      status: 400,
      code: 'INVALID_PARAMETER',
    },
    {
      where: 'model',
      make: () => `{"image":${b64()},"model":${deep}}`,
      path: '/classifier',
      status: 400,
      code: 'INVALID_PARAMETER',
    },
    {
      where: 'format',
      make: () => `{"image":${b64()},"format":${deep}}`,
      path: '/detector',
      status: 400,
      code: 'INVALID_PARAMETER',
    },
  ] as { where: string; make: () => string; path: string; status: number; code: string | null }[])(
    '10^5 nested arrays in $where → $status $code',
    async ({ make, path, status, code }) => {
      for (const a of await expectSound(post(path, Buffer.from(make()), 'application/json'), {
        codes: code ? [code] : [],
        ok: code === null,
      })) {
        expect(a.status).toBe(status);
      }
    },
  );

  it('huge JSON: many unknown keys and a long padding field within the limit → 200', async () => {
    const keys = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, i]));
    const body = JSON.stringify({ ...keys, pad: 'x'.repeat(1_500_000), image: smallDog.toString('base64') });
    for (const a of await expectSound(post('/classifier', Buffer.from(body), 'application/json'), {
      codes: [],
      ok: true,
    })) {
      expect(a.status).toBe(200);
    }
  });

  it('huge JSON over the body limit → 413 over HTTP (the handler, with no body cap, may classify it)', async () => {
    const body = Buffer.from(
      JSON.stringify({ pad: 'x'.repeat(5_000_000), image: smallDog.toString('base64') }),
    );
    const [http] = await expectSound(
      post('/classifier', body, 'application/json'),
      {
        codes: ['PAYLOAD_TOO_LARGE'],
        ok: false,
      },
      ['http'],
    );
    expect(http!.status).toBe(413);
    await expectSound(
      post('/classifier', body, 'application/json'),
      { codes: ['PAYLOAD_TOO_LARGE'], ok: true },
      ['handler'],
    );
  });
});

describe('methods and paths', () => {
  const STATIC = /\.(html|js|css|json|svg|png|ico)$/;
  const segment = fc.oneof(
    fc.constantFrom(
      'classifier',
      'detector',
      'models',
      'health',
      '',
      '.',
      '..',
      '%2F',
      '%00',
      '%zz',
      '%',
      '%E0%A4%A',
    ),
    fc.constantFrom('%C3%BC', '~', '[', ']', '@', ':', ';', '!', '$', "'", '(', ')', '*', '+', ',', '='),
    fc.stringMatching(/^[A-Za-z0-9._~-]{1,10}$/),
  );
  const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => '/' + s.join('/'));
  const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'TRACE', 'PROPFIND', 'LOCK');

  it('any method on any path → JSON 4xx (or 200 for a valid POST), never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(method, path, async (m, p) => {
        const known = ['/', '/models', '/health', '/health/live', '/health/ready', '/openapi.json'];
        let resolved = p;
        try {
          resolved = new URL(p, 'http://localhost').pathname; // dot segments, as the server sees them
        } catch {
          // the server cannot parse it either; it must still answer 4xx
        }
        const norm = resolved.replace(/\/{2,}/g, '/').replace(/\/+$/, '') || '/';
        fc.pre(!(m === 'GET' && (known.includes(norm) || STATIC.test(resolved))));
        await expectSound(
          {
            method: m,
            path: p,
            query: [],
            headers: { 'content-type': 'image/jpeg' },
            body: m === 'GET' ? Buffer.alloc(0) : smallDog,
          },
          { codes: ['NOT_FOUND', 'METHOD_NOT_ALLOWED'], ok: m === 'POST' },
        );
      }),
      params(80),
    );
  });

  it.each([
    ['GET', '/%'],
    ['GET', '/%zz'],
    ['GET', '/%E0%A4%A.html'],
    ['GET', '//['],
    ['POST', '//['],
    ['GET', '//%2F'],
  ])('%s %s over HTTP → 404 JSON, not 500', async (m, p) => {
    const [a] = await expectSound(
      { method: m, path: p, query: [], headers: {}, body: Buffer.alloc(0) },
      { codes: ['NOT_FOUND', 'INVALID_REQUEST'], ok: false },
      ['http'],
    );
    expect(a!.status).toBeLessThan(500);
  });
  it('an unknown method token (FOO) over HTTP → a JSON 4xx', async () => {
    const [a] = await expectSound(
      { method: 'FOO', path: '/classifier', query: [], headers: {}, body: Buffer.alloc(0) },
      { codes: ['METHOD_NOT_ALLOWED', 'INVALID_REQUEST', 'NOT_FOUND'], ok: false },
      ['http'],
    );
    expect(a!.status).toBeLessThan(500);
  });
});

describe('a server in its own process survives the nastiest inputs', () => {
  interface Child {
    proc: ChildProcess;
    url: string;
    stderr: string[];
  }
  async function spawnServer(): Promise<Child> {
    const proc = spawn(
      process.execPath,
      [require.resolve('tsx/cli'), path.join(__dirname, '../support/fuzz-server.ts')],
      { env: smallModelEnv({ MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES) }), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const stderr: string[] = [];
    proc.stderr.on('data', (c: Buffer) => stderr.push(c.toString()));
    const url = await deadline(
      new Promise<string>((resolve, reject) => {
        proc.stdout.once('data', (c: Buffer) => {
          resolve((JSON.parse(c.toString()) as { url: string }).url);
        });
        proc.once('exit', (code) => {
          reject(new Error(`server exited with ${code}: ${stderr.join('')}`));
        });
      }),
      30_000,
      'the child server to listen',
    );
    return { proc, url, stderr };
  }
  const alive = (c: Child) => c.proc.exitCode === null && c.proc.signalCode === null;
  let child: Child | undefined;
  afterAll(() => {
    if (child && alive(child)) child.proc.kill('SIGTERM');
  });

  it('truncated multipart, deep JSON options, bad paths: each answered, the process still serves', async () => {
    const truncatedForm = () =>
      multipartBody([{ name: 'image', filename: 'd.jpg', type: 'image/jpeg', data: dog }], 'B').subarray(
        0,
        1000,
      );
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const inputs: { name: string; req: () => FuzzRequest }[] = [
      {
        name: 'multipart cut inside the file part',
        req: () => post('/classifier', truncatedForm(), 'multipart/form-data; boundary=B'),
      },
      {
        name: 'deep topK in JSON',
        req: () =>
          post(
            '/classifier',
            Buffer.from(`{"image":"${smallDog.toString('base64')}","topK":${deep}}`),
            'application/json',
          ),
      },
      {
        name: 'GET /%',
        req: () => ({ method: 'GET', path: '/%', query: [], headers: {}, body: Buffer.alloc(0) }),
      },
      {
        name: 'POST //[',
        req: () => ({ method: 'POST', path: '//[', query: [], headers: {}, body: smallDog }),
      },
    ];
    const crashes: string[] = [];
    for (const input of inputs) {
      if (!child || !alive(child)) child = await spawnServer();
      const c = child;
      await httpTransport(c.url, REQUEST_DEADLINE_MS)(input.req()).catch(() => undefined);
      // Give a dying process a moment to go, then ask it something easy.
      await new Promise((r) => setTimeout(r, 300));
      const health = await fetch(`${c.url}/health/live`, { signal: AbortSignal.timeout(5000) }).catch(
        () => null,
      );
      if (!alive(c) || health?.status !== 200) {
        const why =
          c.stderr
            .join('')
            .split('\n')
            .find((l) => /Error/.test(l)) ?? 'no stderr';
        crashes.push(`${input.name}: exit ${String(c.proc.exitCode ?? c.proc.signalCode)} — ${why.trim()}`);
      }
    }
    expect(crashes).toEqual([]);
  });
});

describe('afterwards', () => {
  it('the server still classifies dog.jpg on /classifier with the default model', async () => {
    const res = await fetch(`${server.url}/classifier`, {
      method: 'POST',
      body: new Uint8Array(dog),
      headers: { 'Content-Type': 'image/jpeg' },
      signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { label: string; model: string };
    expect(body.model).toBe('mobilenetv2-12-int8');
    expect(MALAMUTE_FAMILY).toContain(body.label);
  });
});
