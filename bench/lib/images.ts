import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { BENCH_CACHE, FIXTURE_IMAGES } from './models';

export interface BenchImage {
  name: string;
  bytes: Buffer;
  width: number;
  height: number;
}

export async function dogJpeg(): Promise<BenchImage> {
  const bytes = readFileSync(path.join(FIXTURE_IMAGES, 'dog.jpg'));
  const { width, height } = await sharp(bytes).metadata();
  return { name: 'dog.jpg', bytes, width, height };
}

/**
 * A 4000×3000 (12 MP) JPEG like a phone photo: dog.jpg upscaled with film-grain noise so it
 * compresses like real detail (about 3–4 MB at quality 88, under the 4.5 MB API limit). Cached.
 */
export async function twelveMegapixelJpeg(): Promise<BenchImage> {
  const file = path.join(BENCH_CACHE, 'photo-4000x3000.jpg');
  if (!existsSync(file)) {
    const width = 4000;
    const height = 3000;
    const noise = await sharp({
      create: {
        width,
        height,
        channels: 3,
        background: '#808080',
        noise: { type: 'gaussian', mean: 128, sigma: 18 },
      },
    })
      .png()
      .toBuffer();
    const jpeg = await sharp(readFileSync(path.join(FIXTURE_IMAGES, 'dog.jpg')))
      .resize(width, height, { fit: 'cover' })
      .composite([{ input: noise, blend: 'overlay' }])
      .jpeg({ quality: 88 })
      .toBuffer();
    mkdirSync(BENCH_CACHE, { recursive: true });
    writeFileSync(file, jpeg);
  }
  return { name: '12MP 4000×3000 JPEG', bytes: readFileSync(file), width: 4000, height: 3000 };
}
