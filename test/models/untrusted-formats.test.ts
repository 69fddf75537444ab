/**
 * Only the accepted formats reach the decoder: the service checks a body's magic bytes first, so
 * SVG, PDF, PSD, ICO, BMP and HEIC are refused with 415 before sharp (and its SVG, PDF or HEIF
 * loaders) parse anything. The decoder port is spied on, not replaced: accepted photos go through it.
 */
import sharp from 'sharp';
import { loadConfig } from '../../lambda/src/adapters/config';
import { SharpImageDecoder } from '../../lambda/src/adapters/sharp-decoder';
import { sniffImageFormat } from '../../lambda/src/core/image-format';
import { parseOptions } from '../../lambda/src/core/options';
import { createService } from '../../lambda/src/service/create-service';
import type { RecognitionService } from '../../lambda/src/service/recognition-service';
import { startLocalServer, type LocalServer } from '../../local/server';
import { photo, smallModelEnv, svgImage } from '../support/fixtures';

/** An ISO-BMFF file type box with `brands`, as HEIF files open with. */
function ftyp(...brands: string[]): Buffer {
  const body = Buffer.from(['ftyp', brands[0] ?? '', '\0\0\0\0', ...brands.slice(1)].join(''), 'latin1');
  const size = Buffer.alloc(4);
  size.writeUInt32BE(body.length + 4);
  return Buffer.concat([size, body, Buffer.alloc(64)]);
}

const jpegHeader = photo('dog.jpg').subarray(0, 20);

const REFUSED: [string, Buffer][] = [
  ['SVG', svgImage],
  [
    'SVG behind whitespace and an XML declaration',
    Buffer.from(`  <?xml version="1.0"?>\n${svgImage.toString()}`),
  ],
  ['PDF', Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n')],
  ['PSD', Buffer.concat([Buffer.from('8BPS'), Buffer.alloc(60)])],
  ['ICO', Buffer.concat([Buffer.from([0, 0, 1, 0, 1, 0]), Buffer.alloc(60)])],
  ['BMP', Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)])],
  ['HEIC (ftyp heic)', ftyp('heic', 'mif1', 'heic')],
  ['HEIF (ftyp mif1)', ftyp('mif1', 'mif1')],
];

describe('sniffImageFormat', () => {
  it('recognises the real photos and the formats sharp writes', async () => {
    const base = sharp(photo('dog.jpg')).resize(64);
    const found = {
      jpeg: sniffImageFormat(photo('dog.jpg')),
      png: sniffImageFormat(photo('cat_chelsea.png')),
      webp: sniffImageFormat(photo('coffee_cup.webp')),
      gif: sniffImageFormat(await base.clone().gif().toBuffer()),
      tiff: sniffImageFormat(await base.clone().tiff().toBuffer()),
      avif: sniffImageFormat(await base.clone().avif().toBuffer()),
    };
    expect(found).toEqual({ jpeg: 'jpeg', png: 'png', webp: 'webp', gif: 'gif', tiff: 'tiff', avif: 'avif' });
  });

  it.each(REFUSED)('%s is not an accepted format', (_name, bytes) => {
    expect(['heif', null]).toContain(sniffImageFormat(bytes));
  });
});

describe('the service refuses other formats before the decoder sees them', () => {
  let service: RecognitionService;
  let prepare: jest.SpyInstance;
  beforeAll(() => {
    prepare = jest.spyOn(SharpImageDecoder.prototype, 'prepare');
    service = createService(loadConfig(smallModelEnv()));
  });
  afterAll(async () => {
    prepare.mockRestore();
    await service.close();
  });
  beforeEach(() => {
    prepare.mockClear();
  });

  it.each(REFUSED)('%s: 415 UNSUPPORTED_MEDIA_TYPE, decoder never called', async (_name, bytes) => {
    await expect(
      service.recognize('classification', bytes, parseOptions({}, 'classification')),
    ).rejects.toMatchObject({
      code: 'UNSUPPORTED_MEDIA_TYPE',
    });
    await expect(
      service.annotate(bytes, parseOptions({ format: 'image' }, 'detection')),
    ).rejects.toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    expect(prepare).not.toHaveBeenCalled();
  });

  it('a JPEG header glued to an SVG body goes to the JPEG decoder only, which refuses it (422)', async () => {
    await expect(
      service.recognize(
        'classification',
        Buffer.concat([jpegHeader, svgImage]),
        parseOptions({}, 'classification'),
      ),
    ).rejects.toMatchObject({ code: 'UNPROCESSABLE_IMAGE' });
    expect(prepare).toHaveBeenCalledTimes(1);
  });

  it('a real photo still goes through the decoder', async () => {
    const r = await service.recognize('classification', photo('dog.jpg'), parseOptions({}, 'classification'));
    expect(r.model).toBe('mobilenetv2-12-int8');
    expect(prepare).toHaveBeenCalledTimes(1);
  });
});

describe('over HTTP', () => {
  let server: LocalServer;
  beforeAll(async () => {
    server = await startLocalServer({ port: 0, env: smallModelEnv() });
  });
  afterAll(() => server.close());

  it('format=image still draws its own SVG overlay on an accepted photo', async () => {
    const res = await fetch(`${server.url}/detector?format=image`, {
      method: 'POST',
      body: new Uint8Array(photo('dog.jpg')),
      headers: { 'Content-Type': 'image/jpeg' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(Number(res.headers.get('x-detections'))).toBeGreaterThan(0);
  });

  it.each(REFUSED)('%s sent as image/jpeg: 415 in the API error shape', async (_name, bytes) => {
    const res = await fetch(`${server.url}/classifier`, {
      method: 'POST',
      body: new Uint8Array(bytes),
      headers: { 'Content-Type': 'image/jpeg' },
    });
    const body = (await res.json()) as { error: string; message: string };
    expect({ status: res.status, error: body.error }).toEqual({
      status: 415,
      error: 'UNSUPPORTED_MEDIA_TYPE',
    });
    expect(body.message).toMatch(/JPEG, PNG/);
  });
});
