/**
 * Photos of any size and several per call, end to end over real HTTP on the real small models: a
 * 12 MB photo through POST /uploads, a presigned PUT to a real S3-compatible server and {"s3":
 * {"key"}}; an image by URL from a local host the server allows; JSON batches mixing bytes,
 * uploads and URLs, each image answered or refused on its own; and the answers checked against
 * openapi.json.
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startLocalServer, type LocalServer } from '../../local/server';
import { MALAMUTE_FAMILY, photo, smallModelEnv } from '../support/fixtures';
import { startLocalS3, useS3rverEnv, type LocalS3 } from '../support/s3-local';
import { conforms } from '../support/openapi';

jest.setTimeout(120_000);
useS3rverEnv();

const BUCKET = 'photo-uploads';
const dog = photo('dog.jpg');
let s3: LocalS3;
let imageHost: Server;
let hostOrigin: string;
let server: LocalServer;
let bare: LocalServer;

beforeAll(async () => {
  s3 = await startLocalS3(mkdtempSync(path.join(tmpdir(), 'uploads-')), BUCKET);
  imageHost = createServer((req, res) => {
    if (req.url === '/dog.jpg') {
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': dog.length });
      res.end(dog);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => imageHost.listen(0, '127.0.0.1', resolve));
  hostOrigin = `http://127.0.0.1:${(imageHost.address() as AddressInfo).port}`;
  [server, bare] = await Promise.all([
    startLocalServer({
      port: 0,
      env: smallModelEnv({
        UPLOAD_BUCKET: BUCKET,
        UPLOAD_S3_ENDPOINT: s3.endpoint,
        IMAGE_URL_ALLOWED_HOSTS: hostOrigin,
        // Test only: the allowed host is on loopback, which every real deployment refuses.
        IMAGE_URL_ALLOWED_ADDRESSES: '127.0.0.1',
        MAX_BATCH_IMAGES: '6',
      }),
    }),
    startLocalServer({ port: 0, env: smallModelEnv() }),
  ]);
});
afterAll(async () => {
  await Promise.all([server.close(), bare.close(), s3.close()]);
  await new Promise<void>((resolve) =>
    imageHost.close(() => {
      resolve();
    }),
  );
});

async function postJson(base: LocalServer, route: string, body: unknown) {
  const res = await fetch(`${base.url}${route}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

type Item = { statusCode: number; label?: string; error?: string; details?: { reason?: string } };

async function upload(bytes: Buffer): Promise<string> {
  const ticket = await postJson(server, '/uploads', { contentType: 'image/jpeg', size: bytes.length });
  expect(ticket.status).toBe(200);
  expect(conforms('UploadTicket', ticket.body)).toEqual([]);
  const t = ticket.body as { url: string; headers: Record<string, string>; s3: { key: string } };
  const put = await fetch(t.url, { method: 'PUT', headers: t.headers, body: new Uint8Array(bytes) });
  expect(put.status).toBe(200);
  return t.s3.key;
}

describe('POST /uploads, then {"s3": {"key"}}', () => {
  test('a 12 MB photo, over the body limit, is classified end to end', async () => {
    const big = await sharp(dog)
      .resize(4800, 3600)
      .sharpen({ sigma: 2 })
      .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
      .toBuffer();
    expect(big.length).toBeGreaterThan(10_000_000);
    const direct = await fetch(`${server.url}/classifier`, {
      method: 'POST',
      headers: { 'Content-Type': 'image/jpeg' },
      body: new Uint8Array(big),
    });
    expect(direct.status).toBe(413);
    const key = await upload(big);
    const answer = await postJson(server, '/classifier', { s3: { key } });
    expect(answer.status).toBe(200);
    expect(MALAMUTE_FAMILY).toContain(answer.body.label);
    expect(conforms('ClassificationResponse', answer.body)).toEqual([]);
  });

  test('without an upload bucket, /uploads and {"s3": …} answer 501 UPLOADS_UNAVAILABLE', async () => {
    const ticket = await postJson(bare, '/uploads', { contentType: 'image/jpeg', size: 1000 });
    expect([ticket.status, ticket.body.error]).toEqual([501, 'UPLOADS_UNAVAILABLE']);
    expect(conforms('Error', ticket.body)).toEqual([]);
    const read = await postJson(bare, '/classifier', { s3: { key: 'uploads/x.jpg' } });
    expect([read.status, read.body.error]).toEqual([501, 'UPLOADS_UNAVAILABLE']);
  });

  test('a key outside the upload prefix is refused (403), a missing one is 404', async () => {
    const outside = await postJson(server, '/classifier', { s3: { key: 'models/yolov4.onnx' } });
    expect([outside.status, outside.body.error]).toEqual([403, 'SOURCE_NOT_ALLOWED']);
    const other = await postJson(server, '/classifier', {
      s3: { bucket: 'someone-else', key: 'uploads/a.jpg' },
    });
    expect([other.status, other.body.error]).toEqual([403, 'SOURCE_NOT_ALLOWED']);
    const missing = await postJson(server, '/classifier', { s3: { key: 'uploads/2026-01-01/none.jpg' } });
    expect([missing.status, missing.body.error]).toEqual([404, 'SOURCE_NOT_FOUND']);
  });

  test('an announced photo over MAX_UPLOAD_BYTES or of another type gets no ticket', async () => {
    const big = await postJson(server, '/uploads', { contentType: 'image/jpeg', size: 26_000_000 });
    expect([big.status, big.body.error]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const svg = await postJson(server, '/uploads', { contentType: 'image/svg+xml', size: 1000 });
    expect([svg.status, svg.body.error]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
  });
});

describe('{"url": …}', () => {
  test('an allowed host is fetched and classified', async () => {
    const answer = await postJson(server, '/classifier', { url: `${hostOrigin}/dog.jpg` });
    expect(answer.status).toBe(200);
    expect(MALAMUTE_FAMILY).toContain(answer.body.label);
  });

  test('off by default: refused with reason "disabled", nothing fetched', async () => {
    const answer = await postJson(bare, '/classifier', { url: `${hostOrigin}/dog.jpg` });
    expect([answer.status, answer.body.error]).toEqual([403, 'SOURCE_NOT_ALLOWED']);
    expect((answer.body.details as { reason: string }).reason).toBe('disabled');
  });
});

describe('several images per request', () => {
  test('a JSON batch of bytes, an upload, a URL and two bad references: each answered or refused on its own, in order', async () => {
    const key = await upload(dog);
    const answer = await postJson(server, '/classifier', {
      images: [
        { image: photo('cat_chelsea.png').toString('base64') },
        { s3: { key } },
        { url: `${hostOrigin}/dog.jpg` },
        { url: 'https://not-allowed.example.com/cat.jpg' },
        { s3: { key: 'uploads/2026-01-01/gone.jpg' } },
        { image: Buffer.from('not an image').toString('base64') },
      ],
      topK: 2,
    });
    expect(answer.status).toBe(200);
    expect(conforms('BatchResponse', answer.body)).toEqual([]);
    const results = answer.body.results as Item[];
    expect(results.map((r) => r.error ?? r.statusCode)).toEqual([
      200,
      200,
      200,
      'SOURCE_NOT_ALLOWED',
      'SOURCE_NOT_FOUND',
      'UNSUPPORTED_MEDIA_TYPE',
    ]);
    expect(results[0]?.label).toMatch(/cat|Mau/i);
    expect(MALAMUTE_FAMILY).toContain(results[1]?.label);
    expect(MALAMUTE_FAMILY).toContain(results[2]?.label);
    expect(results[3]?.details?.reason).toBe('host-not-allowed');
    expect(results.map((r) => r.statusCode)).toEqual([200, 200, 200, 403, 404, 415]);
  });

  test('each batch answer equals the single-image answer for the same photo', async () => {
    const single = await postJson(server, '/detector', { image: photo('kite.jpg').toString('base64') });
    const batch = await postJson(server, '/detector', {
      images: [{ image: photo('kite.jpg').toString('base64') }, { image: dog.toString('base64') }],
    });
    const [first] = batch.body.results as { detections: unknown[]; label: string }[];
    expect(first?.label).toBe(single.body.label);
    expect(first?.detections).toEqual(single.body.detections);
  });

  test('one past MAX_BATCH_IMAGES, or format=image with several, is a 400 at once', async () => {
    const many = await postJson(server, '/classifier', {
      images: Array.from({ length: 7 }, () => ({ image: dog.toString('base64') })),
    });
    expect([many.status, many.body.error]).toEqual([400, 'INVALID_REQUEST']);
    const annotated = await postJson(server, '/detector?format=image', {
      images: [{ image: dog.toString('base64') }, { image: dog.toString('base64') }],
    });
    expect([annotated.status, annotated.body.error]).toEqual([400, 'INVALID_PARAMETER']);
  });
});
