import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';

export const REPO_ROOT = path.resolve(__dirname, '../..');
/** The three small real models that ship with the repository (models/embedded/SOURCES.md). */
export const EMBEDDED_MODELS = path.join(REPO_ROOT, 'models', 'embedded');
/** The real photos the tests use (test/fixtures/images/SOURCES.md, EXPECTED.md). */
export const FIXTURE_IMAGES = path.join(REPO_ROOT, 'test', 'fixtures', 'images');

export const photo = (name: string): Buffer => readFileSync(path.join(FIXTURE_IMAGES, name));

export const MALAMUTE_FAMILY = ['Alaskan Malamute', 'husky', 'Siberian Husky'];

/** Env for a service on the real small models, quiet telemetry, nothing preloaded. */
export function smallModelEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    MODEL_PATH: EMBEDDED_MODELS,
    MODEL_CACHE_DIR: mkdtempSync(path.join(tmpdir(), 'models-cache-')),
    DEFAULT_CLASSIFIER: 'mobilenetv2-12-int8',
    DEFAULT_DETECTOR: 'yolox-nano',
    PRELOAD_MODELS: '',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    ...extra,
  };
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A valid PNG whose header claims width×height (the pixel data is a tiny stub). */
export function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(64))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A real HEIC (HEVC) file made by libheif's encoder (Debian libheif-examples). */
export async function heicPhoto(): Promise<Buffer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'heic-'));
  const png = path.join(dir, 'in.png');
  writeFileSync(png, await sharp(photo('dog.jpg')).resize(128).png().toBuffer());
  const out = path.join(dir, 'out.heic');
  execFileSync('heif-enc', [png, '-o', out], { stdio: 'ignore' });
  return readFileSync(out);
}

/** A two-frame animated GIF. */
export function animatedGif(): Promise<Buffer> {
  const frame = 64 * 64 * 3;
  const raw = Buffer.alloc(frame * 2);
  raw.fill(200, 0, frame);
  raw.fill(40, frame);
  return sharp(raw, { raw: { width: 64, height: 128, channels: 3, pageHeight: 64 } })
    .gif({ loop: 0, delay: [100, 100] })
    .toBuffer();
}

export const svgImage = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="red"/></svg>',
);
