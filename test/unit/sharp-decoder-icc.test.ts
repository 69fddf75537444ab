import sharp from 'sharp';
import { SharpImageDecoder } from '../../lambda/src/adapters/sharp-decoder';
import type { ModelSpec } from '../../lambda/src/core/manifest';
import { validateManifest } from '../../lambda/src/core/manifest-merge';
import builtIn from '../../models/manifest.json';
import { photo } from '../support/fixtures';

const decoder = new SharpImageDecoder({ maxPixels: 100_000_000 });

function manifestModel(id: string): ModelSpec {
  const model = validateManifest(structuredClone(builtIn)).models.find((m) => m.id === id);
  if (!model) throw new Error(`models/manifest.json has no ${id}`);
  return model;
}

const RESNET50 = manifestModel('resnet50-v1-12');

/**
 * What sharp makes of the prepared crop when it does apply the embedded profile: the decoder's
 * pipeline with sharp's default input options.
 */
async function preparedWithIccTransform(bytes: Buffer): Promise<Buffer> {
  const { plan } = await decoder.prepare(bytes, RESNET50);
  if (plan.mode !== 'center-crop') throw new Error('resnet50 centre-crops');
  return sharp(bytes)
    .autoOrient()
    .flatten({ background: '#ffffff' })
    .resize(plan.resize.width, plan.resize.height, { fit: 'fill', kernel: 'linear' })
    .extract(plan.crop)
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer();
}

/**
 * A flat PNG whose stored pixels are `rgb` in Display P3. keepIccProfile() leaves the pixels
 * untouched, so the colour is stored as given rather than converted from sRGB.
 */
async function displayP3Png(rgb: [number, number, number]): Promise<Buffer> {
  const tagged = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } })
    .withIccProfile('p3')
    .png()
    .toBuffer();
  return sharp(tagged).linear([0, 0, 0], rgb).keepIccProfile().png().toBuffer();
}

function maxAbsDifference(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return max;
}

async function firstPixel(bytes: Buffer, options: sharp.SharpOptions): Promise<number[]> {
  const raw = await sharp(bytes, options).removeAlpha().raw().toBuffer();
  return [...raw.subarray(0, 3)];
}

describe('SharpImageDecoder and embedded ICC profiles', () => {
  it('skips the transform for the sRGB profile in dog.jpg and prepares the same bytes as applying it', async () => {
    const dog = photo('dog.jpg');
    expect((await decoder.probe(dog)).applyIcc).toBe(false);
    const prepared = await decoder.prepare(dog, RESNET50);
    expect(Buffer.from(prepared.rgb).equals(await preparedWithIccTransform(dog))).toBe(true);
  });

  it('still converts a Display P3 colour outside the sRGB gamut', async () => {
    // P3 (64, 192, 64) is a green sRGB cannot hold. (Pure P3 red would not show the difference:
    // it clips to sRGB 255, 0, 0, the very bytes an ignored profile gives.)
    const png = await displayP3Png([64, 192, 64]);
    expect((await decoder.probe(png)).applyIcc).toBe(true);
    const converted = await firstPixel(png, {});
    const unconverted = await firstPixel(png, { ignoreIcc: true });
    expect(unconverted).toEqual([64, 192, 64]);
    expect(converted).not.toEqual(unconverted);

    const prepared = await decoder.prepare(png, RESNET50);
    const pixels = new Set<string>();
    for (let i = 0; i < prepared.rgb.length; i += 3) pixels.add([...prepared.rgb.subarray(i, i + 3)].join());
    expect([...pixels]).toEqual([converted.join()]);
  });

  it('prepares a 16-bit sRGB-tagged PNG like its 8-bit source', async () => {
    // sharp converts 16-bit input to a P3 working space and toColourspace('srgb') then only rescales,
    // so applying this profile shifted dog.jpg's prepared crop by up to 29 code values.
    const dog = photo('dog.jpg');
    const png16 = await sharp(dog).toColourspace('rgb16').keepIccProfile().png().toBuffer();
    expect((await decoder.probe(png16)).applyIcc).toBe(false);
    const from16 = (await decoder.prepare(png16, RESNET50)).rgb;
    const from8 = (await decoder.prepare(dog, RESNET50)).rgb;
    expect(maxAbsDifference(from16, from8)).toBeLessThanOrEqual(1);
  });
});
