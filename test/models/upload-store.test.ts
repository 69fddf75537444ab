import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { UploadConfig } from '../../lambda/src/adapters/config';
import { MAX_UPLOAD_KEY_BYTES, S3UploadStore } from '../../lambda/src/adapters/s3-upload-store';
import type { RecognitionError } from '../../lambda/src/core/errors';
import type { UploadReference } from '../../lambda/src/core/ports';
import { cleanupTempDirs, FIXTURE_IMAGES, tempDir } from '../support/fetch-fixtures';
import { rejectionOf } from '../support/rejection';
import {
  startCuttingProxy,
  startLocalS3,
  startSigV4Gate,
  useS3rverEnv,
  type CuttingProxy,
  type LocalS3,
  type SigV4Gate,
} from '../support/s3-local';

jest.setTimeout(60_000);
useS3rverEnv();

const BUCKET = 'photo-uploads';
const PREFIX = 'uploads';
const MB = 1_000_000;
const DOG = readFileSync(path.join(FIXTURE_IMAGES, 'dog.jpg'));

let s3: LocalS3;
/** Checks every signature as S3 would, and records every request: the store talks to S3 through it. */
let gate: SigV4Gate;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  s3 = await startLocalS3(tempDir('s3rver-uploads'), BUCKET);
  gate = await startSigV4Gate(s3.port);
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
afterAll(async () => {
  await gate.close();
  await s3.close();
  cleanupTempDirs();
});

function uploadStore(
  endpoint = gate.endpoint,
  config: Partial<UploadConfig> = {},
  timeouts = { timeoutMs: 3000, connectTimeoutMs: 1000 },
): S3UploadStore {
  return new S3UploadStore(
    { bucket: BUCKET, prefix: PREFIX, endpoint, maxBytes: 25 * MB, urlTtlSeconds: 300, ...config },
    timeouts,
  );
}

async function startProxy(options: Parameters<typeof startCuttingProxy>[1]): Promise<CuttingProxy> {
  const proxy = await startCuttingProxy(s3.port, options);
  closers.push(() => proxy.close());
  return proxy;
}

/** Patterned bytes: an object's content for the size and stream tests. */
function bytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7919 + (i >> 8)) & 255;
  return b;
}

const code = (e: Error) => (e as Partial<RecognitionError>).code;
const reason = (e: Error) => (e as Partial<RecognitionError>).details?.reason;

/** The requests the gate saw while `work` ran. */
async function requestsDuring(work: () => Promise<unknown>) {
  const before = gate.requests.length;
  await work();
  return gate.requests.slice(before);
}

describe('createUpload', () => {
  test('presigns a PUT that binds Content-Type and Content-Length; a 12 MB photo PUT with fetch reads back byte for byte', async () => {
    // dog.jpg upscaled and sharpened, at quality 100 without chroma subsampling: about 12.8 MB.
    const photo = await sharp(DOG)
      .resize(4400, 3300, { fit: 'fill' })
      .sharpen({ sigma: 2, m1: 10, m2: 20 })
      .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
      .toBuffer();
    expect(photo.length).toBeGreaterThan(12 * MB);
    expect(photo.length).toBeLessThan(25 * MB);

    const store = uploadStore();
    const before = Date.now();
    const ticket = await store.createUpload({ contentType: 'image/jpeg', size: photo.length });
    expect(ticket).toMatchObject({
      method: 'PUT',
      headers: { 'Content-Type': 'image/jpeg', 'Content-Length': String(photo.length) },
      s3: { bucket: BUCKET },
      maxBytes: 25 * MB,
    });
    const today = new Date().toISOString().slice(0, 10);
    expect(ticket.s3.key).toMatch(
      new RegExp(`^${PREFIX}/${today}/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\\.jpg$`),
    );
    // Valid for urlTtlSeconds from the signature's own timestamp (whole seconds).
    const expires = Date.parse(ticket.expiresAt);
    expect(expires).toBeGreaterThan(before + 298_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 300_000);

    const url = new URL(ticket.url);
    expect(`${url.origin}${url.pathname}`).toBe(`${gate.endpoint}/${BUCKET}/${ticket.s3.key}`);
    expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toEqual([
      'content-length',
      'content-type',
      'host',
    ]);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
    // No checksum of the empty presigned body: S3 would refuse the real photo with BadDigest.
    expect([...url.searchParams.keys()].filter((k) => /checksum/i.test(k))).toEqual([]);

    const put = await fetch(ticket.url, {
      method: 'PUT',
      headers: ticket.headers,
      body: new Uint8Array(photo),
    });
    expect(put.status).toBe(200);
    expect(gate.requests.at(-1)).toMatchObject({ method: 'PUT', auth: 'presigned', verdict: 'ok' });

    const requests = await requestsDuring(async () => {
      const back = await store.read({ key: ticket.s3.key }, { maxBytes: 25 * MB });
      expect(back.length).toBe(photo.length);
      expect(back.equals(photo)).toBe(true);
      // Naming the bucket is allowed when it is the upload bucket.
      expect((await store.read(ticket.s3, { maxBytes: 25 * MB })).equals(photo)).toBe(true);
    });
    // HEAD then GET, each signed by the SDK and accepted by the gate's own SigV4 check.
    expect(requests.map((r) => `${r.method} ${r.auth} ${r.verdict}`)).toEqual([
      'HEAD header ok',
      'GET header ok',
      'HEAD header ok',
      'GET header ok',
    ]);
  });

  test('S3 refuses a PUT whose size or type is not the signed one, or that comes after the URL expired (s3rver alone would take them)', async () => {
    const store = uploadStore();
    const photo = DOG;
    const ticket = await store.createUpload({ contentType: 'image/jpeg', size: photo.length });
    const put = (url: string, headers: Record<string, string>, body: Buffer) =>
      fetch(url, { method: 'PUT', headers, body: new Uint8Array(body) });

    const longer = Buffer.concat([photo, Buffer.alloc(1000)]);
    const tries = [
      put(ticket.url, { ...ticket.headers, 'Content-Length': String(longer.length) }, longer),
      put(ticket.url, { ...ticket.headers, 'Content-Length': '100' }, photo.subarray(0, 100)),
      put(ticket.url, { ...ticket.headers, 'Content-Type': 'image/png' }, photo),
      // One hex digit of the signature changed.
      put(
        ticket.url.replace(
          /X-Amz-Signature=([0-9a-f])/,
          (_, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`,
        ),
        ticket.headers,
        photo,
      ),
    ];
    for (const answer of await Promise.all(tries)) {
      expect(answer.status).toBe(403);
      expect(await answer.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    }
    // None of them reached the store: the key is still free.
    expect(code(await rejectionOf(store.read({ key: ticket.s3.key }, { maxBytes: 25 * MB })))).toBe(
      'SOURCE_NOT_FOUND',
    );

    // s3rver on its own does not check V4 signatures: the oversized PUT goes straight in. This is
    // why the tests sign-check through the gate, and why the signed-headers list is asserted above.
    const direct = ticket.url.replace(gate.endpoint, s3.endpoint);
    const accepted = await put(
      direct,
      { ...ticket.headers, 'Content-Length': String(longer.length) },
      longer,
    );
    expect(accepted.status).toBe(200);
    await s3.remove(ticket.s3.key);

    const shortLived = uploadStore(gate.endpoint, { urlTtlSeconds: 1 });
    const brief = await shortLived.createUpload({ contentType: 'image/jpeg', size: photo.length });
    await new Promise((r) => setTimeout(r, Date.parse(brief.expiresAt) - Date.now() + 1100));
    const late = await put(brief.url, brief.headers, photo);
    expect(late.status).toBe(403);
    expect(await late.text()).toContain('<Code>AccessDenied</Code>');
  });

  test('takes the six photo types, each with its extension, and refuses other types and sizes before signing anything', async () => {
    const store = uploadStore(gate.endpoint, { maxBytes: 5 * MB });
    const extensions: Record<string, string> = {
      'image/jpeg': 'jpg',
      'image/png': 'png',
      'image/webp': 'webp',
      'image/gif': 'gif',
      'image/avif': 'avif',
      'IMAGE/TIFF': 'tiff',
    };
    const requests = await requestsDuring(async () => {
      for (const [type, ext] of Object.entries(extensions)) {
        const ticket = await store.createUpload({ contentType: type, size: 1000 });
        expect(ticket.s3.key.endsWith(`.${ext}`)).toBe(true);
        expect(ticket.headers['Content-Type']).toBe(type.toLowerCase());
      }
      expect(
        (await store.createUpload({ contentType: 'image/png', size: 5 * MB })).headers['Content-Length'],
      ).toBe(String(5 * MB));
      for (const contentType of [
        'image/heic',
        'image/svg+xml',
        'application/pdf',
        'text/plain',
        '',
        'image/*',
      ]) {
        expect(code(await rejectionOf(store.createUpload({ contentType, size: 1000 })))).toBe(
          'UNSUPPORTED_MEDIA_TYPE',
        );
      }
      for (const size of [0, -1, 1.5, Number.NaN, Infinity, '1000', null]) {
        const e = await rejectionOf(store.createUpload({ contentType: 'image/jpeg', size: size as number }));
        expect([size, code(e)]).toEqual([size, 'INVALID_REQUEST']);
      }
      const tooLarge = await rejectionOf(store.createUpload({ contentType: 'image/jpeg', size: 5 * MB + 1 }));
      expect(code(tooLarge)).toBe('PAYLOAD_TOO_LARGE');
      expect(tooLarge.message).toContain(String(5 * MB));
    });
    // Presigning is local: nothing went to S3.
    expect(requests).toEqual([]);
  });
});

describe('read', () => {
  test('refuses another bucket, keys outside the prefix and path tricks, without a request to S3', async () => {
    const store = uploadStore();
    // Real objects, so a read that got through would succeed instead of failing for another reason.
    await s3.put('secret/dog.jpg', DOG);
    await s3.put(`${PREFIX}/dog.jpg`, DOG);
    const refused: [UploadReference, string][] = [
      [{ bucket: 'someone-elses-bucket', key: `${PREFIX}/dog.jpg` }, 'bucket'],
      [{ bucket: '', key: `${PREFIX}/dog.jpg` }, 'bucket'],
      [{ key: 'secret/dog.jpg' }, 'key'],
      [{ key: `${PREFIX}/../secret/dog.jpg` }, 'key'],
      [{ key: `${PREFIX}/2026-01-01/..` }, 'key'],
      [{ key: `${PREFIX}//dog.jpg` }, 'key'],
      [{ key: `/${PREFIX}/dog.jpg` }, 'key'],
      [{ key: `${PREFIX}x/dog.jpg` }, 'key'],
      [{ key: `${PREFIX}/` }, 'key'],
      [{ key: PREFIX }, 'key'],
      [{ key: `${PREFIX}/dog.jpg\u0000` }, 'key'],
      [{ key: `${PREFIX}/dog\n.jpg` }, 'key'],
      [{ key: `${PREFIX}/${'a'.repeat(MAX_UPLOAD_KEY_BYTES)}.jpg` }, 'key'],
      [{ key: `${PREFIX}/\ud800.jpg` }, 'key'],
    ];
    const requests = await requestsDuring(async () => {
      for (const [ref, why] of refused) {
        const e = await rejectionOf(store.read(ref, { maxBytes: 25 * MB }));
        expect([ref, code(e), reason(e)]).toEqual([ref, 'SOURCE_NOT_ALLOWED', why]);
        // The message names neither the upload bucket nor the prefix, nor echoes what was sent.
        expect(e.message).not.toContain(BUCKET);
        expect(e.message).not.toContain('secret');
        expect(e.message).not.toContain('someone-elses');
        expect(e.stack ?? '').not.toContain(BUCKET);
      }
      // Not even a reference: 400, nothing fetched.
      for (const ref of [{ key: '' }, { key: 42 }, {}, null]) {
        expect(code(await rejectionOf(store.read(ref as unknown as UploadReference, { maxBytes: MB })))).toBe(
          'INVALID_REQUEST',
        );
      }
    });
    expect(requests).toEqual([]);
    // The control: the same store reads a key inside the area.
    expect((await store.read({ key: `${PREFIX}/dog.jpg` }, { maxBytes: MB })).equals(DOG)).toBe(true);
  });

  test('a key nobody uploaded (or that expired) is SOURCE_NOT_FOUND after one HEAD', async () => {
    const store = uploadStore();
    const key = `${PREFIX}/2026-01-01/00000000-0000-4000-8000-000000000000.jpg`;
    let e: Error | undefined;
    const requests = await requestsDuring(async () => {
      e = await rejectionOf(store.read({ key }, { maxBytes: MB }));
    });
    expect(code(e!)).toBe('SOURCE_NOT_FOUND');
    expect(e!.message).not.toContain(key);
    expect(requests.map((r) => r.method)).toEqual(['HEAD']);
  });

  test('an object larger than the limit is PAYLOAD_TOO_LARGE from its HEAD, before any body is read', async () => {
    const key = `${PREFIX}/2026-01-01/big.jpg`;
    await s3.put(key, bytes(2 * MB));
    // The caller's limit, and the upload area's own maximum, whichever is smaller.
    for (const [config, maxBytes] of [
      [{}, 2 * MB - 1],
      [{ maxBytes: MB }, 25 * MB],
    ] as const) {
      const store = uploadStore(gate.endpoint, config);
      let e: Error | undefined;
      const requests = await requestsDuring(async () => {
        e = await rejectionOf(store.read({ key }, { maxBytes }));
      });
      expect(code(e!)).toBe('PAYLOAD_TOO_LARGE');
      expect(e!.message).toContain(String(2 * MB));
      expect(requests.map((r) => r.method)).toEqual(['HEAD']);
    }
    // At the limit exactly, it is read.
    expect((await uploadStore().read({ key }, { maxBytes: 2 * MB })).length).toBe(2 * MB);
  });

  test('an object cut short (fewer bytes than its Content-Length, then the connection closes) is SOURCE_UNREADABLE', async () => {
    const key = `${PREFIX}/2026-01-01/cut.jpg`;
    await s3.put(key, bytes(MB));
    // Every connection is cut after 200 kB of answer, whichever one carries the GET.
    const proxy = await startProxy({ cutAfterBytes: 200_000, cutConnections: 100 });
    const e = await rejectionOf(uploadStore(proxy.endpoint).read({ key }, { maxBytes: 25 * MB }));
    expect(code(e)).toBe('SOURCE_UNREADABLE');
    expect(e.message).toMatch(/ended after \d+ of 1000000 bytes/);
    expect(proxy.cuts).toBeGreaterThanOrEqual(1);
  });

  test('an object that stops arriving mid-body is SOURCE_TIMEOUT after about timeoutMs, and so is a HEAD that never answers', async () => {
    const key = `${PREFIX}/2026-01-01/stall.jpg`;
    await s3.put(key, bytes(MB));
    const timeouts = { timeoutMs: 600, connectTimeoutMs: 1000 };
    for (const cutAfterBytes of [200_000, 0]) {
      const proxy = await startProxy({ cutAfterBytes, cutConnections: 100, stall: true });
      const started = Date.now();
      const e = await rejectionOf(
        uploadStore(proxy.endpoint, {}, timeouts).read({ key }, { maxBytes: 25 * MB }),
      );
      const took = Date.now() - started;
      expect([cutAfterBytes, code(e)]).toEqual([cutAfterBytes, 'SOURCE_TIMEOUT']);
      expect(took).toBeGreaterThanOrEqual(550);
      expect(took).toBeLessThan(2500);
      expect(proxy.cuts).toBeGreaterThanOrEqual(1);
    }
  });

  test("the caller's signal stops a read at once, with the signal's reason", async () => {
    const key = `${PREFIX}/2026-01-01/abort.jpg`;
    await s3.put(key, bytes(MB));
    const proxy = await startProxy({ cutAfterBytes: 200_000, cutConnections: 100, stall: true });
    const controller = new AbortController();
    const reasonError = new Error('request timed out');
    setTimeout(() => {
      controller.abort(reasonError);
    }, 300);
    const started = Date.now();
    const e = await rejectionOf(
      uploadStore(proxy.endpoint, {}, { timeoutMs: 10_000, connectTimeoutMs: 1000 }).read(
        { key },
        { maxBytes: 25 * MB, signal: controller.signal },
      ),
    );
    expect(e).toBe(reasonError);
    expect(Date.now() - started).toBeLessThan(2000);
    // Already aborted: nothing is sent.
    const requests = await requestsDuring(async () => {
      expect(
        await rejectionOf(uploadStore().read({ key }, { maxBytes: MB, signal: controller.signal })),
      ).toBe(reasonError);
    });
    expect(requests).toEqual([]);
  });
});
