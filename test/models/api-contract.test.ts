/**
 * The API contract over real HTTP (local server) and through the Lambda handler with real API
 * Gateway event shapes, on the real small models. Responses are checked against openapi.json.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { loadConfig } from '../../lambda/src/adapters/config';
import { createLambdaHandler, type LambdaHandler } from '../../lambda/src/transports/lambda-handler';
import { startLocalServer, type LocalServer } from '../../local/server';
import { createService } from '../../lambda/src/service/create-service';
import type { RecognitionService } from '../../lambda/src/service/recognition-service';
import {
  animatedGif,
  FIXTURE_IMAGES,
  MALAMUTE_FAMILY,
  photo,
  pngClaiming,
  smallModelEnv,
  svgImage,
} from '../support/fixtures';
import { conforms } from '../support/openapi';

const dog = photo('dog.jpg');
let server: LocalServer;

beforeAll(async () => {
  server = await startLocalServer({ port: 0, env: smallModelEnv({ MAX_IMAGE_BYTES: '3000000' }) });
});
afterAll(() => server.close());

async function post(path: string, body: BodyInit | Buffer, headers: Record<string, string> = {}) {
  const payload = Buffer.isBuffer(body) ? new Uint8Array(body) : body;
  const res = await fetch(`${server.url}${path}`, { method: 'POST', body: payload, headers });
  const type = res.headers.get('content-type') ?? '';
  const json = type.startsWith('application/json') ? ((await res.json()) as Record<string, any>) : null;
  return { status: res.status, headers: res.headers, body: json, res };
}

const jpeg = { 'Content-Type': 'image/jpeg' };

describe('POST /classifier', () => {
  it('answers raw JPEG bytes (curl --data-binary) with a malamute-family label, 5 predictions and the documented shape', async () => {
    const r = await post('/classifier', dog, jpeg);
    expect(r.status).toBe(200);
    expect(conforms('ClassificationResponse', r.body)).toEqual([]);
    expect(MALAMUTE_FAMILY).toContain(r.body!.label);
    expect(r.body!.predictions).toHaveLength(5);
    expect(r.body!.model).toBe('mobilenetv2-12-int8');
    expect(r.body!.image).toEqual({ width: 768, height: 576, format: 'jpeg' });
  });

  it('answers a photo and a JSON body sent by plain curl, which labels them application/x-www-form-urlencoded', async () => {
    const curl = async (...args: string[]) => {
      const { stdout } = await promisify(execFile)('curl', ['-sS', ...args, `${server.url}/classifier`]);
      return JSON.parse(stdout) as Record<string, any>;
    };
    const raw = await post('/classifier', dog, jpeg);
    const bytes = await curl('--data-binary', `@${path.join(FIXTURE_IMAGES, 'dog.jpg')}`);
    expect(bytes.statusCode).toBe(200);
    expect(bytes.predictions).toEqual(raw.body!.predictions);
    const request = path.join(mkdtempSync(path.join(tmpdir(), 'curl-json-')), 'request.json');
    writeFileSync(request, JSON.stringify({ image: dog.toString('base64'), topK: 2 }));
    const json = await curl('-d', `@${request}`);
    expect(json.statusCode).toBe(200);
    expect(json.predictions).toEqual(raw.body!.predictions.slice(0, 2));
    const form = await curl('-d', 'name=value');
    expect(form).toMatchObject({ statusCode: 415, error: 'UNSUPPORTED_MEDIA_TYPE' });
    expect(form.message).toContain("-H 'Content-Type: image/jpeg'");
  });

  it('gives the same answer for multipart, JSON base64, a data: URL and the mapping-template event', async () => {
    const raw = await post('/classifier', dog, jpeg);
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(dog)], { type: 'image/jpeg' }), 'dog.jpg');
    form.append('topK', '5');
    const multipart = await post('/classifier', form);
    const json = await post('/classifier', JSON.stringify({ image: dog.toString('base64') }), {
      'Content-Type': 'application/json',
    });
    const dataUrl = await post(
      '/classifier',
      JSON.stringify({ image: `data:image/jpeg;base64,${dog.toString('base64')}` }),
      {
        'Content-Type': 'application/json',
      },
    );
    const handler = createLambdaHandler(server.service, server.config);
    const mapping = (await handler({
      'body-json': dog.toString('base64'),
      params: { path: {}, querystring: {}, header: {} },
      context: { 'resource-path': '/classifier', 'http-method': 'POST' },
    })) as Record<string, any>;
    expect(mapping.statusCode).toBe(200);
    for (const other of [multipart.body, json.body, dataUrl.body, mapping]) {
      expect(other!.predictions).toEqual(raw.body!.predictions);
      expect(other!.label).toBe(raw.body!.label);
    }
  });

  it('honours topK and model from the query string or the JSON body', async () => {
    const q = await post('/classifier?topK=3', dog, jpeg);
    expect(q.body!.predictions).toHaveLength(3);
    const j = await post('/classifier', JSON.stringify({ image: dog.toString('base64'), topK: 2 }), {
      'Content-Type': 'application/json',
    });
    expect(j.body!.predictions).toHaveLength(2);
  });

  it('reads an animated GIF from its first frame', async () => {
    const r = await post('/classifier', await animatedGif(), { 'Content-Type': 'image/gif' });
    expect(r.status).toBe(200);
    expect(r.body!.image.format).toBe('gif');
    expect(r.body!.image.height).toBe(64);
  });
});

describe('POST /detector', () => {
  it('finds dog, bicycle and car on dog.jpg with yolox-nano', async () => {
    const r = await post('/detector?model=yolox-nano', dog, jpeg);
    expect(r.status).toBe(200);
    expect(conforms('DetectionResponse', r.body)).toEqual([]);
    const labels = (r.body!.detections as { label: string; score: number }[])
      .filter((d) => d.score >= 0.5)
      .map((d) => d.label);
    expect(labels.sort()).toEqual(['bicycle', 'car', 'dog']);
    expect(['dog', 'car', 'bicycle']).toContain(r.body!.label);
  });

  it('applies minConfidence, maxDetections and iou', async () => {
    const all = await post('/detector?minConfidence=0.05', dog, jpeg);
    const few = await post('/detector?minConfidence=0.05&maxDetections=2', dog, jpeg);
    const high = await post('/detector?minConfidence=0.82', dog, jpeg);
    expect(all.body!.detections.length).toBeGreaterThan(3);
    expect(few.body!.detections).toHaveLength(2);
    expect(high.body!.detections.every((d: { score: number }) => d.score >= 0.82)).toBe(true);
  });

  it('returns the photo with boxes drawn as a JPEG with format=image', async () => {
    const r = await post('/detector?format=image', dog, jpeg);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/jpeg');
    const bytes = Buffer.from(await r.res.arrayBuffer());
    const meta = await sharp(bytes).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 768, 576]);
    expect(Number(r.headers.get('x-detections'))).toBe(3);
  });
});

describe('GET routes', () => {
  it('lists every manifest model with availability and the defaults', async () => {
    const res = await fetch(`${server.url}/models`);
    const body = (await res.json()) as { models: { id: string; available: boolean; default: boolean }[] };
    expect(conforms('ModelList', body)).toEqual([]);
    const byId = Object.fromEntries(body.models.map((m) => [m.id, m]));
    expect(Object.keys(byId).sort()).toEqual(
      [
        'mobilenetv2-12-int8',
        'resnet50-v1-12',
        'resnet50-v1-12-int8',
        'yolo-fastest-1.1-xl',
        'yolov4',
        'yolox-nano',
      ].sort(),
    );
    expect(byId['mobilenetv2-12-int8']).toMatchObject({ available: true, default: true });
    expect(byId['resnet50-v1-12']).toMatchObject({ available: false, default: false });
  });

  it('reports health with the loaded models, and serves the OpenAPI document', async () => {
    const health = (await (await fetch(`${server.url}/health`)).json()) as Record<string, unknown>;
    expect(conforms('Health', health)).toEqual([]);
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { openapi: string };
    expect(doc.openapi).toBe('3.1.0');
  });

  it('serves the page at / with a Content-Security-Policy', async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
  });
});

describe('errors: a stable code, a clear message, and the next request still works', () => {
  const cases: [
    string,
    () => Promise<{ status: number; body: Record<string, any> | null }>,
    number,
    string,
  ][] = [
    [
      'bad JSON',
      () => post('/classifier', '{"image": ', { 'Content-Type': 'application/json' }),
      400,
      'INVALID_REQUEST',
    ],
    [
      'invalid base64',
      () =>
        post('/classifier', JSON.stringify({ image: '@@not base64@@' }), {
          'Content-Type': 'application/json',
        }),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a URL instead of image data (the server never fetches URLs)',
      () =>
        post('/classifier', JSON.stringify({ image: 'http://127.0.0.1:9/x.jpg' }), {
          'Content-Type': 'application/json',
        }),
      400,
      'INVALID_REQUEST',
    ],
    ['empty body', () => post('/classifier', new Uint8Array(0), jpeg), 400, 'INVALID_REQUEST'],
    [
      'multipart without a file',
      () => {
        const f = new FormData();
        f.append('topK', '3');
        return post('/classifier', f);
      },
      400,
      'INVALID_REQUEST',
    ],
    ['topK out of range', () => post('/classifier?topK=0', dog, jpeg), 400, 'INVALID_PARAMETER'],
    [
      'minConfidence not a number',
      () => post('/detector?minConfidence=abc', dog, jpeg),
      400,
      'INVALID_PARAMETER',
    ],
    [
      'a detection model on /classifier',
      () => post('/classifier?model=yolox-nano', dog, jpeg),
      400,
      'INVALID_PARAMETER',
    ],
    ['unknown route', () => post('/nope', dog, jpeg), 404, 'NOT_FOUND'],
    ['unknown model', () => post('/classifier?model=nope', dog, jpeg), 404, 'NOT_FOUND'],
    [
      'GET on /classifier',
      async () => {
        const r = await fetch(`${server.url}/classifier`);
        return { status: r.status, body: (await r.json()) as Record<string, any> };
      },
      405,
      'METHOD_NOT_ALLOWED',
    ],
    [
      'body over the limit',
      () => post('/classifier', Buffer.alloc(4_200_000, 1), jpeg),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    [
      'image over the pixel limit',
      () => post('/classifier', pngClaiming(100_000, 100_000), { 'Content-Type': 'image/png' }),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    [
      'text/plain',
      () => post('/classifier', 'hello', { 'Content-Type': 'text/plain' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'a text file sent as an image',
      () => post('/classifier', 'just some text', jpeg),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'random bytes',
      () => post('/classifier', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)), jpeg),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'SVG',
      () => post('/classifier', svgImage, { 'Content-Type': 'image/svg+xml' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'truncated JPEG',
      () => post('/classifier', dog.subarray(0, Math.floor(dog.length * 0.6)), jpeg),
      422,
      'UNPROCESSABLE_IMAGE',
    ],
    ['default model file missing', () => post('/detector?model=yolov4', dog, jpeg), 503, 'MODEL_UNAVAILABLE'],
  ];
  it.each(cases)('%s → %i %s', async (_name, send, status, code) => {
    const r = await send();
    expect({ status: r.status, code: r.body?.error }).toEqual({ status, code });
    expect(conforms('Error', r.body)).toEqual([]);
    expect(r.body!.message).not.toMatch(/\/work\/|node_modules|at .*\.ts:\d+/);
    const good = await post('/classifier', dog, jpeg);
    expect(good.status).toBe(200);
  });

  it('error bodies carry their details: the refused parameter, the unknown model, the allowed methods', async () => {
    const bad = await post('/classifier?topK=0', dog, jpeg);
    expect(bad.body).toMatchObject({ error: 'INVALID_PARAMETER', details: { parameter: 'topK' } });
    const unknown = await post('/classifier?model=nope', dog, jpeg);
    expect(unknown.body).toMatchObject({ error: 'NOT_FOUND', details: { model: 'nope' } });
    const res = await fetch(`${server.url}/classifier`);
    const wrongMethod = (await res.json()) as Record<string, unknown>;
    expect(wrongMethod).toMatchObject({ error: 'METHOD_NOT_ALLOWED', details: { allowed: ['POST'] } });
    expect(res.headers.get('allow')).toBe('POST');
    for (const body of [bad.body, unknown.body, wrongMethod]) expect(conforms('Error', body)).toEqual([]);
  });

  it('says the limit in the 413 message', async () => {
    const r = await post('/classifier', Buffer.alloc(3_100_000, 1), jpeg);
    expect(r.status).toBe(413);
    expect(r.body!.message).toContain('3.0 MB');
  });

  it('accepts a 1×1 image', async () => {
    const tiny = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const r = await post('/classifier', tiny, { 'Content-Type': 'image/png' });
    expect(r.status).toBe(200);
  });
});

describe('Lambda handler with API Gateway REST proxy events', () => {
  let service: RecognitionService;
  let handler: LambdaHandler;
  beforeAll(() => {
    const config = loadConfig(smallModelEnv({ CORS_ALLOWED_ORIGINS: 'https://app.example' }));
    service = createService(config);
    handler = createLambdaHandler(service, config, { ready: service.preload(['mobilenetv2-12-int8']) });
  });
  afterAll(() => service.close());

  const event = (over: Partial<APIGatewayProxyEvent>): APIGatewayProxyEvent =>
    ({
      httpMethod: 'POST',
      path: '/classifier',
      headers: { 'Content-Type': 'image/jpeg' },
      queryStringParameters: null,
      body: dog.toString('base64'),
      isBase64Encoded: true,
      requestContext: { requestId: 'req-123' },
      ...over,
    }) as APIGatewayProxyEvent;

  it('classifies a base64 binary body and marks the first answer as a cold start', async () => {
    const first = (await handler(event({}))) as APIGatewayProxyResult;
    const second = (await handler(event({}))) as APIGatewayProxyResult;
    const a = JSON.parse(first.body) as Record<string, any>;
    const b = JSON.parse(second.body) as Record<string, any>;
    expect(first.statusCode).toBe(200);
    expect(MALAMUTE_FAMILY).toContain(a.label);
    expect([a.coldStart, b.coldStart]).toEqual([true, false]);
    expect(a.requestId).toBe('req-123');
  });

  it('answers the CORS preflight for an allowed origin only', async () => {
    const ok = (await handler(
      event({ httpMethod: 'OPTIONS', headers: { Origin: 'https://app.example' }, body: null }),
    )) as APIGatewayProxyResult;
    const no = (await handler(
      event({ httpMethod: 'OPTIONS', headers: { Origin: 'https://evil.example' }, body: null }),
    )) as APIGatewayProxyResult;
    expect(ok.statusCode).toBe(204);
    expect(ok.headers?.['Access-Control-Allow-Origin']).toBe('https://app.example');
    expect(no.headers?.['Access-Control-Allow-Origin']).toBeUndefined();
  });

  it('returns format=image as base64 with isBase64Encoded', async () => {
    const r = (await handler(
      event({ path: '/detector', queryStringParameters: { format: 'image', model: 'yolox-nano' } }),
    )) as APIGatewayProxyResult;
    expect(r.statusCode).toBe(200);
    expect(r.isBase64Encoded).toBe(true);
    expect((await sharp(Buffer.from(r.body, 'base64')).metadata()).format).toBe('jpeg');
  });
});
