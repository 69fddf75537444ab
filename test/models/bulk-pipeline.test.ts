/**
 * The folder run's engine (local/bulk/pipeline.ts) on copies of the real photos in a temporary
 * folder, every chunk answered by the real service on the small embedded models (built as the CLI
 * builds it: loadConfig + createService). The batch step is the pipeline's own seam, given as a thin
 * wrapper that records what is in flight and then calls the real `recognizeBatch`: items in the
 * files' order with the photos' real labels, read errors and oversize files as their own items
 * without a batch seeing them, the bytes in flight within the budget, and a stop that starts nothing
 * more.
 */
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../lambda/src/adapters/config';
import { parseOptions } from '../../lambda/src/core/options';
import { createService } from '../../lambda/src/service/create-service';
import type { BatchItem, RecognitionService } from '../../lambda/src/service/recognition-service';
import { recognizeFiles, type FileItem } from '../../local/bulk/pipeline';
import { FIXTURE_IMAGES, MALAMUTE_FAMILY, photo, smallModelEnv } from '../support/fixtures';

jest.setTimeout(30_000);

/** The photos small enough for the byte budget below (62 KB to 240 KB). */
const SMALL = [
  'dog.jpg',
  'eagle.jpg',
  'coffee_cup.webp',
  'cat_chelsea.png',
  'person.jpg',
  'astronaut.jpg',
  'dog_exif_orientation6.jpg',
];
/** 1.4 MB: larger than the byte budget below. */
const LARGE = 'kite.jpg';
/** The options a folder run without any (`npm run classify -- <folder>`) parses to: topK 5, JSON. */
const OPTIONS = parseOptions({}, 'classification');
const sizeOf = (name: string) => statSync(path.join(FIXTURE_IMAGES, name)).size;

let service: RecognitionService;
/** Each photo's top label as the service answers it alone. */
const alone = new Map<string, string | null>();
/** Temporary folders of this file, removed at the end. */
const made: string[] = [];

beforeAll(async () => {
  service = createService(loadConfig(smallModelEnv()));
  for (const name of [...SMALL, LARGE]) {
    const [item] = await service.recognizeBatch('classification', [photo(name)], OPTIONS);
    if (!item?.ok) throw new Error(`${name} was not answered alone`);
    alone.set(name, item.result.label);
  }
});
afterAll(async () => {
  await service.close();
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A folder of copies of the photos, named f00-<photo>, f01-<photo>, … in the given order. */
function folder(photos: readonly string[]): { root: string; files: string[] } {
  const root = mkdtempSync(path.join(tmpdir(), 'bulk-pipeline-'));
  made.push(root);
  const files = photos.map((p, i) => `f${String(i).padStart(2, '0')}-${p}`);
  files.forEach((f, i) => {
    copyFileSync(path.join(FIXTURE_IMAGES, photos[i]!), path.join(root, f));
  });
  return { root, files };
}

/** `count` photos cycling through `from`. */
const cycle = (from: readonly string[], count: number) =>
  Array.from({ length: count }, (_, i) => from[i % from.length]!);

/**
 * The pipeline's batch step: records what is in flight (each call's image sizes, the calls and
 * bytes running at once), then the real service's batched classification.
 */
function recording() {
  const calls: number[][] = [];
  const settled: Promise<unknown>[] = [];
  let running = 0;
  let bytesRunning = 0;
  const peak = { calls: 0, bytes: 0 };
  const recognize = async (images: Uint8Array[], signal: AbortSignal): Promise<BatchItem[]> => {
    const bytes = images.reduce((a, b) => a + b.length, 0);
    calls.push(images.map((b) => b.length));
    running++;
    bytesRunning += bytes;
    peak.calls = Math.max(peak.calls, running);
    peak.bytes = Math.max(peak.bytes, bytesRunning);
    const answer = service.recognizeBatch('classification', images, OPTIONS, signal);
    settled.push(answer.catch(() => undefined));
    try {
      return await answer;
    } finally {
      running--;
      bytesRunning -= bytes;
    }
  };
  return { recognize, calls, peak, settled };
}

async function all(gen: AsyncGenerator<FileItem[]>): Promise<FileItem[]> {
  const items: FileItem[] = [];
  for await (const chunk of gen) items.push(...chunk);
  return items;
}

const label = ({ item }: FileItem) => (item.ok ? item.result.label : item.error.code);

/** The photos' labels from EXPECTED.md (MobileNetV2-int8, the default classifier). */
function expectRealLabels(items: readonly FileItem[]) {
  for (const it of items) {
    if (!it.item.ok) continue;
    const l = it.item.result.label;
    if (it.path.endsWith('-dog.jpg')) expect(MALAMUTE_FAMILY).toContain(l);
    if (it.path.endsWith('-eagle.jpg')) expect(l).toBe('bald eagle');
    if (it.path.endsWith('-coffee_cup.webp')) expect(l).toBe('espresso');
    if (it.path.endsWith('-cat_chelsea.png')) expect(['tabby cat', 'tiger cat', 'Egyptian Mau']).toContain(l);
  }
}

it('answers every file once, in order, in chunks of at most chunkImages, two chunks at a time', async () => {
  const photos = cycle([...SMALL, LARGE], 19);
  const { root, files } = folder(photos);
  const { recognize, calls, peak } = recording();
  const items = await all(
    recognizeFiles(files, { root, recognize, signal: new AbortController().signal, chunkImages: 4 }),
  );
  expect(items.map((i) => i.path)).toEqual(files);
  expect(items.every((i) => i.item.ok)).toBe(true);
  expect(items.map(label)).toEqual(photos.map((p) => alone.get(p)));
  expectRealLabels(items);
  expect(calls.map((c) => c.length)).toEqual([4, 4, 4, 4, 3]);
  expect(calls.flat()).toEqual(photos.map(sizeOf));
  expect(peak.calls).toBe(2);
});

it('keeps the bytes of the chunks in flight within the budget; a larger file is PAYLOAD_TOO_LARGE, unread', async () => {
  const largest = Math.max(...SMALL.map(sizeOf));
  const budget = Math.floor(largest * 1.6); // ~385 KB: one or two photos a chunk, under kite.jpg
  expect(sizeOf(LARGE)).toBeGreaterThan(budget);
  const photos = cycle(SMALL, 14);
  photos.splice(7, 0, LARGE);
  const { root, files } = folder(photos);
  const { recognize, calls, peak } = recording();
  const items = await all(
    recognizeFiles(files, {
      root,
      recognize,
      signal: new AbortController().signal,
      chunkImages: 16,
      budgetBytes: budget,
    }),
  );
  expect(items.map((i) => i.path)).toEqual(files);
  expect(label(items[7]!)).toBe('PAYLOAD_TOO_LARGE');
  expect(items.filter((i) => i.item.ok)).toHaveLength(14);
  expect(items.map(label)).toEqual(photos.map((p) => (p === LARGE ? 'PAYLOAD_TOO_LARGE' : alone.get(p))));
  expectRealLabels(items);
  expect(calls.flat()).toEqual(photos.filter((p) => p !== LARGE).map(sizeOf));
  expect(calls.flat()).not.toContain(sizeOf(LARGE));
  // The bound bites: the chunks are cut by bytes, far below chunkImages.
  const total = SMALL.map(sizeOf).reduce((a, b) => a + b, 0) * 2;
  expect(calls.length).toBeGreaterThanOrEqual(Math.ceil(total / budget));
  expect(Math.max(...calls.map((c) => c.length))).toBeLessThan(16);
  expect(Math.max(...calls.map((c) => c.reduce((a, b) => a + b, 0)))).toBeLessThanOrEqual(budget);
  expect(peak.bytes).toBeLessThanOrEqual(budget);
});

it('a file gone since the walk is its own SOURCE_NOT_FOUND; the others are answered', async () => {
  const photos = ['dog.jpg', 'eagle.jpg', 'cat_chelsea.png', 'coffee_cup.webp', 'person.jpg'];
  const { root, files } = folder(photos);
  rmSync(path.join(root, files[2]!));
  const { recognize, calls } = recording();
  const items = await all(recognizeFiles(files, { root, recognize, signal: new AbortController().signal }));
  expect(items.map(label)).toEqual([
    alone.get('dog.jpg'),
    'bald eagle',
    'SOURCE_NOT_FOUND',
    'espresso',
    alone.get('person.jpg'),
  ]);
  expectRealLabels(items);
  expect(calls).toEqual([['dog.jpg', 'eagle.jpg', 'coffee_cup.webp', 'person.jpg'].map(sizeOf)]);
});

it('once the signal aborts no chunk starts, and the run ends with the signal’s reason', async () => {
  const photos = cycle(SMALL, 32);
  const { root, files } = folder(photos);
  const { recognize, calls, settled } = recording();
  const controller = new AbortController();
  const gen = recognizeFiles(files, { root, recognize, signal: controller.signal, chunkImages: 4 });
  const first = await gen.next();
  const chunk = first.value as FileItem[];
  expect(chunk.map((i) => i.path)).toEqual(files.slice(0, 4));
  expect(chunk.map(label)).toEqual(photos.slice(0, 4).map((p) => alone.get(p)));
  expectRealLabels(chunk);
  const started = calls.length;
  controller.abort(new Error('stopped by SIGINT'));
  await expect(all(gen)).rejects.toThrow('stopped by SIGINT');
  await Promise.all(settled);
  expect(calls.length).toBe(started);
  expect(started).toBeLessThanOrEqual(3);
});
