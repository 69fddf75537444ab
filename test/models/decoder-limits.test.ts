/**
 * The decoder's limits on the formats that hold more than one picture or an odd shape: only the
 * first page or frame is read (a 2-page TIFF, an animated GIF or WebP decodes as its first frame),
 * AVIF decodes, and an extreme aspect ratio or a header over the pixel limit is refused before the
 * pixels are decoded. Real sharp, real photos; the frames differ so the first one can be told apart.
 */
import sharp from 'sharp';
import { SharpImageDecoder } from '../../lambda/src/adapters/sharp-decoder';
import type { ModelSpec } from '../../lambda/src/core/manifest';
import { photo } from '../support/fixtures';

const decoder = new SharpImageDecoder({ maxPixels: 40_000_000 });
const stretch64: Pick<ModelSpec, 'input' | 'preprocess'> = {
  input: { name: 'x', layout: 'NCHW', width: 64, height: 64, dtype: 'float32' },
  preprocess: {
    resize: { mode: 'stretch' },
    channels: 'RGB',
    scale: 1,
    mean: [0, 0, 0],
    std: [1, 1, 1],
  },
};

/** Two 64×64 frames stacked: the first white, the second black. */
const twoFrames = () => {
  const frame = 64 * 64 * 3;
  const raw = Buffer.alloc(frame * 2);
  raw.fill(255, 0, frame);
  return sharp(raw, { raw: { width: 64, height: 128, channels: 3, pageHeight: 64 } });
};

const mean = (rgb: Uint8Array) => rgb.reduce((s, v) => s + v, 0) / rgb.length;

it.each([
  ['2-page TIFF', () => twoFrames().tiff().toBuffer(), 'tiff'],
  [
    'animated GIF',
    () =>
      twoFrames()
        .gif({ loop: 0, delay: [100, 100] })
        .toBuffer(),
    'gif',
  ],
  [
    'animated WebP',
    () =>
      twoFrames()
        .webp({ loop: 0, delay: [100, 100], lossless: true })
        .toBuffer(),
    'webp',
  ],
])('%s: only its first (white) frame is decoded, 64×64', async (_name, make, format) => {
  const bytes = await make();
  const meta = await sharp(bytes).metadata();
  expect(meta.pages).toBe(2);
  const prepared = await decoder.prepare(bytes, stretch64);
  expect({ original: prepared.original, format: prepared.format }).toEqual({
    original: { width: 64, height: 64 },
    format,
  });
  expect(mean(prepared.rgb)).toBeGreaterThan(250);
});

it('an AVIF photo decodes at its size', async () => {
  const avif = await sharp(photo('dog.jpg')).avif({ quality: 60 }).toBuffer();
  const prepared = await decoder.prepare(avif, stretch64);
  expect({ original: prepared.original, format: prepared.format }).toEqual({
    original: { width: 768, height: 576 },
    format: 'avif',
  });
});

it('an image over 50:1 is refused (422); 49:1 is decoded', async () => {
  const strip = await sharp({ create: { width: 5100, height: 100, channels: 3, background: '#888' } })
    .png()
    .toBuffer();
  await expect(decoder.prepare(strip, stretch64)).rejects.toMatchObject({
    code: 'UNPROCESSABLE_IMAGE',
    message: expect.stringMatching(/aspect ratio over 50:1/),
  });
  const fine = await sharp({ create: { width: 4900, height: 100, channels: 3, background: '#888' } })
    .png()
    .toBuffer();
  await expect(decoder.prepare(fine, stretch64)).resolves.toMatchObject({ width: 64, height: 64 });
});

it('a header over the pixel limit is refused (413) from the header alone', async () => {
  const small = new SharpImageDecoder({ maxPixels: 1_000_000 });
  const big = await sharp({ create: { width: 1200, height: 1000, channels: 3, background: '#888' } })
    .jpeg()
    .toBuffer();
  await expect(small.prepare(big, stretch64)).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
});
