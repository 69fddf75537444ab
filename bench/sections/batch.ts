/**
 * Several images per request: one 16-image `recognizeBatch` against 16 single `recognize` calls
 * through the same service (ResNet-50 stand-in and MobileNetV2-int8, the service's threads), and
 * the numbers behind the difference: bare inference per image at batch 1–16, the memory a batch
 * size costs, and decoding 16 photos at 1–8 at a time.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../lambda/src/adapters/config';
import { loadManifest } from '../../lambda/src/adapters/manifest-loader';
import { ModelFileStore } from '../../lambda/src/adapters/model-files';
import { OnnxModelRuntime } from '../../lambda/src/adapters/onnx-runtime';
import { SharpImageDecoder } from '../../lambda/src/adapters/sharp-decoder';
import { boundedMap } from '../../lambda/src/core/batch';
import { validateManifest } from '../../lambda/src/core/manifest-merge';
import type { RecognitionOptions } from '../../lambda/src/core/options';
import type { Timings } from '../../lambda/src/core/results';
import { createService } from '../../lambda/src/service/create-service';
import { BATCH_DECODE_CONCURRENCY, RecognitionService } from '../../lambda/src/service/recognition-service';
import { runEventChild } from '../lib/child-process';
import { log } from '../lib/log';
import { BENCH_CACHE, FIXTURE_IMAGES, ROOT, syntheticInput, type BenchModel } from '../lib/models';
import { createSession, feedsFor } from '../lib/ort-run';
import { benchEnv } from '../lib/service-env';
import { round, summarize, type Summary } from '../lib/stats';

/** The photos of a batch request: the 8 fixture photos twice (JPEG, PNG, WebP; 300 px to 1352 px). */
export const BATCH_PHOTOS = [
  'dog.jpg',
  'dog_exif_orientation6.jpg',
  'kite.jpg',
  'person.jpg',
  'eagle.jpg',
  'cat_chelsea.png',
  'coffee_cup.webp',
  'astronaut.jpg',
];

export interface BatchBareRow {
  model: string;
  threads: number;
  batch: number;
  rounds: number;
  /** One session run's wall time divided by its images. */
  perImage: Summary;
  /** Batch-1 median per image / this batch's median per image. */
  speedup: number;
}

export interface BatchRssRow {
  model: string;
  batch: number;
  /** RSS with the session created, before any run. */
  loadedMb: number;
  /** Peak RSS after three runs at this batch (the arena keeps what the largest run needed). */
  peakMb: number;
  growthMb: number;
  fastestPerImageMs: number;
}

export interface BatchDecodeRow {
  concurrency: number;
  images: number;
  rounds: number;
  wall: Summary;
  imagesPerS: number;
}

export interface BatchServiceRow {
  model: string;
  /** 'batch' (recognizeBatch, the manifest's maxBatch), 'singles, in turn', 'singles, all at once'. */
  variant: string;
  /** Images per session run (1 for single requests). */
  maxBatch: number;
  /** Decodes a batch starts at once (null for single requests). */
  decodeConcurrency: number | null;
  rounds: number;
  /** Wall time for the 16 images. */
  wall: Summary;
  /** Images per second, from the median wall time. */
  imagesPerS: number;
  /** Process CPU time per image (all threads), median over rounds. */
  cpuPerImageMs: number;
  /** Medians over rounds of each stage's mean per image (the service's own timings). */
  stages: Omit<Timings, 'totalMs'>;
  /** Median over rounds of (singles in turn wall / this wall), same round. */
  ratioToSingles: number;
}

export interface BatchResult {
  images: string[];
  threads: number;
  bare: BatchBareRow[];
  rss: BatchRssRow[];
  decode: BatchDecodeRow[];
  service: BatchServiceRow[];
}

export interface BatchOptions {
  threads: number;
  /** Interleaved rounds for the service comparison. */
  rounds: number;
  bareRounds: number;
  decodeRounds: number;
  bareBatches: number[];
  /** Per model: the maxBatch values compared besides the manifest's own (service section). */
  extraMaxBatches: Record<string, number[]>;
  /** Per model: the batch sizes whose memory is measured in a fresh process. */
  rssBatches: Record<string, number[]>;
  /** Decodes at once compared besides BATCH_DECODE_CONCURRENCY (a second service, its own sessions). */
  extraDecodeConcurrency: number[];
}

/** The service models of this section: bench key → manifest id. */
const MODELS = [
  { key: 'resnet50', id: 'resnet50-v1-12' },
  { key: 'mobilenetv2-int8', id: 'mobilenetv2-12-int8' },
];

const variantId = (id: string, n: number) => `${id}-maxbatch${n}`;

/**
 * The bench manifest (stand-ins) plus, per model and extra maxBatch, a copy of its entry under
 * another id with that maxBatch (its own session), so one service compares chunk sizes.
 */
function writeBatchManifest(benchManifest: string, extra: Record<string, number[]>): string {
  const bench = JSON.parse(readFileSync(benchManifest, 'utf8')) as { models: { id: string }[] };
  const base = validateManifest(
    JSON.parse(readFileSync(path.join(ROOT, 'models', 'manifest.json'), 'utf8')),
    'models/manifest.json',
  );
  const variants = MODELS.flatMap(({ id }) => {
    const entry = base.models.find((m) => m.id === id);
    if (!entry) throw new Error(`models/manifest.json has no ${id}`);
    const override = bench.models.find((m) => m.id === id) ?? {};
    return (extra[id] ?? []).map((n) => ({
      ...entry,
      ...override,
      id: variantId(id, n),
      input: { ...entry.input, maxBatch: n },
    }));
  });
  mkdirSync(BENCH_CACHE, { recursive: true });
  const file = path.join(BENCH_CACHE, 'batch-manifest.json');
  writeFileSync(file, JSON.stringify({ models: [...bench.models, ...variants] }, null, 1));
  return file;
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

/** Bare onnxruntime: per-image time at each batch size, rounds interleaved (order rotated). */
async function bareSweep(models: BenchModel[], opts: BatchOptions): Promise<BatchBareRow[]> {
  const rows: BatchBareRow[] = [];
  for (const m of models) {
    const session = await createSession(m.file, opts.threads, {
      enableMemPattern: false,
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    try {
      const feeds = new Map(
        opts.bareBatches.map((b) => {
          const dims = m.dims(b);
          return [b, feedsFor(session, syntheticInput(dims.reduce((x, y) => x * y, 1)), dims)] as const;
        }),
      );
      for (const f of feeds.values()) await session.run(f); // warm-up: the arena grows to the largest batch
      const samples = new Map(opts.bareBatches.map((b) => [b, [] as number[]]));
      for (let r = 0; r < opts.bareRounds; r++) {
        for (let k = 0; k < opts.bareBatches.length; k++) {
          const b = opts.bareBatches[(r + k) % opts.bareBatches.length]!;
          const t = performance.now();
          await session.run(feeds.get(b)!);
          samples.get(b)!.push((performance.now() - t) / b);
        }
      }
      const one = summarize(samples.get(1) ?? []).median;
      for (const b of opts.bareBatches) {
        const perImage = summarize(samples.get(b)!);
        rows.push({
          model: m.key,
          threads: opts.threads,
          batch: b,
          rounds: opts.bareRounds,
          perImage,
          speedup: one / perImage.median,
        });
        log(
          `batch bare ${m.key} t=${opts.threads} b=${b}: ${round(perImage.median, 2)} ms/image (min ${round(perImage.min, 2)}), ×${round(one / perImage.median, 3)} vs batch 1`,
        );
      }
    } finally {
      await session.release();
    }
  }
  return rows;
}

/** Memory per batch size: a fresh process per (model, batch), the service's session options. */
async function rssSweep(models: BenchModel[], opts: BatchOptions): Promise<BatchRssRow[]> {
  const rows: BatchRssRow[] = [];
  for (const m of models) {
    for (const batch of opts.rssBatches[m.key] ?? []) {
      const { lines } = await runEventChild([path.join(__dirname, '..', 'child', 'batch-rss.js')], {
        cwd: ROOT,
        env: {
          ...process.env,
          BENCH_MODEL_FILE: m.file,
          BENCH_BATCH: String(batch),
          BENCH_DIMS: JSON.stringify(m.dims(1)),
          BENCH_THREADS: String(opts.threads),
        },
        name: `batch-rss ${m.key} b=${batch}`,
      });
      const line = lines.find((l) => l.event === 'first') as unknown as Omit<
        BatchRssRow,
        'model' | 'growthMb'
      >;
      const row = { ...line, model: m.key, growthMb: line.peakMb - line.loadedMb };
      rows.push({
        model: row.model,
        batch: row.batch,
        loadedMb: row.loadedMb,
        peakMb: row.peakMb,
        growthMb: round(row.growthMb, 1),
        fastestPerImageMs: round(row.fastestPerImageMs, 2),
      });
      log(
        `batch rss ${m.key} b=${batch}: loaded ${row.loadedMb} MB, peak ${row.peakMb} MB (+${round(row.growthMb, 1)}), fastest ${round(row.fastestPerImageMs, 2)} ms/image`,
      );
    }
  }
  return rows;
}

/** Decoding the 16 photos for ResNet-50's input through the service's decoder, k at a time. */
async function decodeSweep(
  images: Buffer[],
  service: RecognitionService,
  opts: BatchOptions,
): Promise<BatchDecodeRow[]> {
  const config = loadConfig(process.env);
  const decoder = new SharpImageDecoder({ maxPixels: config.maxImagePixels });
  const spec = service.spec('resnet50-v1-12');
  const levels = [1, 2, 3, 4, 8];
  const decodeAll = (k: number) =>
    Promise.all(boundedMap(images, k, (bytes) => decoder.prepare(bytes, spec)));
  for (const k of levels) await decodeAll(k);
  const samples = new Map(levels.map((k) => [k, [] as number[]]));
  for (let r = 0; r < opts.decodeRounds; r++) {
    for (let i = 0; i < levels.length; i++) {
      const k = levels[(r + i) % levels.length]!;
      const t = performance.now();
      await decodeAll(k);
      samples.get(k)!.push(performance.now() - t);
    }
  }
  return levels.map((k) => {
    const wall = summarize(samples.get(k)!);
    const row = {
      concurrency: k,
      images: images.length,
      rounds: opts.decodeRounds,
      wall,
      imagesPerS: (images.length * 1000) / wall.median,
    };
    log(
      `batch decode ${images.length} photos, ${k} at a time: ${round(wall.median)} ms (min ${round(wall.min)})`,
    );
    return row;
  });
}

interface Variant {
  name: string;
  maxBatch: number;
  decodeConcurrency: number | null;
  run: () => Promise<Timings[]>;
}

/** The 16-image request against 16 single requests, rounds interleaved with the order rotated. */
async function serviceComparison(
  service: RecognitionService,
  others: { decodeConcurrency: number; service: RecognitionService }[],
  images: Buffer[],
  opts: BatchOptions,
): Promise<BatchServiceRow[]> {
  const rows: BatchServiceRow[] = [];
  for (const { key, id } of MODELS) {
    const shipped = service.spec(id).input.maxBatch ?? 1;
    const options = (model: string): RecognitionOptions => ({ model, topK: 5, format: 'json' });
    const batchOf =
      (model: string, via = service) =>
      async () => {
        const items = await via.recognizeBatch('classification', images, options(model));
        return items.map((i) => {
          if (!i.ok) throw i.error;
          return i.result.timings;
        });
      };
    const variants: Variant[] = [
      { name: 'batch', maxBatch: shipped, decodeConcurrency: BATCH_DECODE_CONCURRENCY, run: batchOf(id) },
      {
        name: 'singles, in turn',
        maxBatch: 1,
        decodeConcurrency: null,
        run: async () => {
          const out: Timings[] = [];
          for (const bytes of images)
            out.push((await service.recognize('classification', bytes, options(id))).timings);
          return out;
        },
      },
      {
        name: 'singles, all at once',
        maxBatch: 1,
        decodeConcurrency: null,
        run: async () =>
          (
            await Promise.all(images.map((bytes) => service.recognize('classification', bytes, options(id))))
          ).map((r) => r.timings),
      },
      ...(opts.extraMaxBatches[id] ?? []).map((n) => ({
        name: `batch, maxBatch ${n}`,
        maxBatch: n,
        decodeConcurrency: BATCH_DECODE_CONCURRENCY,
        run: batchOf(variantId(id, n)),
      })),
      ...others.map((o) => ({
        name: `batch, ${o.decodeConcurrency} decodes at once`,
        maxBatch: shipped,
        decodeConcurrency: o.decodeConcurrency,
        run: batchOf(id, o.service),
      })),
    ];
    for (const v of variants) await v.run(); // loads the sessions, warms the arenas
    const samples = variants.map(() => ({
      wall: [] as number[],
      cpu: [] as number[],
      stages: [] as Timings[],
    }));
    const ratios = variants.map(() => [] as number[]);
    for (let r = 0; r < opts.rounds; r++) {
      const wall: number[] = new Array<number>(variants.length);
      for (let k = 0; k < variants.length; k++) {
        const i = (r + k) % variants.length;
        const v = variants[i]!;
        const cpu = process.cpuUsage();
        const t = performance.now();
        const timings = await v.run();
        wall[i] = performance.now() - t;
        samples[i]!.wall.push(wall[i]);
        samples[i]!.cpu.push(cpuMs(cpu) / images.length);
        const mean = (k2: keyof Timings) => timings.reduce((s, x) => s + x[k2], 0) / timings.length;
        samples[i]!.stages.push({
          decodeMs: mean('decodeMs'),
          preprocessMs: mean('preprocessMs'),
          inferenceMs: mean('inferenceMs'),
          postprocessMs: mean('postprocessMs'),
          totalMs: mean('totalMs'),
        });
      }
      variants.forEach((_, i) => ratios[i]!.push(wall[1]! / wall[i]!));
    }
    variants.forEach((v, i) => {
      const s = samples[i]!;
      const wall = summarize(s.wall);
      const stage = (k2: keyof Timings) => summarize(s.stages.map((x) => x[k2])).median;
      const row: BatchServiceRow = {
        model: key,
        variant: v.name,
        maxBatch: v.maxBatch,
        decodeConcurrency: v.decodeConcurrency,
        rounds: opts.rounds,
        wall,
        imagesPerS: (images.length * 1000) / wall.median,
        cpuPerImageMs: summarize(s.cpu).median,
        stages: {
          decodeMs: stage('decodeMs'),
          preprocessMs: stage('preprocessMs'),
          inferenceMs: stage('inferenceMs'),
          postprocessMs: stage('postprocessMs'),
        },
        ratioToSingles: summarize(ratios[i]!).median,
      };
      rows.push(row);
      log(
        `batch service ${key} ${v.name} (maxBatch ${v.maxBatch}): ${round(wall.median)} ms for ${images.length} (${round(row.imagesPerS)} images/s), ×${round(row.ratioToSingles, 2)} vs singles in turn; per image decode ${round(row.stages.decodeMs)} infer ${round(row.stages.inferenceMs)} ms`,
      );
    });
  }
  return rows;
}

export async function runBatch(
  benchManifest: string,
  models: BenchModel[],
  opts: BatchOptions,
): Promise<BatchResult> {
  const images = Array.from({ length: 16 }, (_, i) =>
    readFileSync(path.join(FIXTURE_IMAGES, BATCH_PHOTOS[i % BATCH_PHOTOS.length]!)),
  );
  const bareModels = MODELS.map(({ key }) => {
    const m = models.find((x) => x.key === key);
    if (!m) throw new Error(`no bench model ${key}`);
    return m;
  });
  const bare = await bareSweep(bareModels, opts);
  const rss = await rssSweep(bareModels, opts);

  const manifest = writeBatchManifest(benchManifest, opts.extraMaxBatches);
  const config = loadConfig(
    benchEnv(manifest, {
      PRELOAD_MODELS: '',
      ORT_INTRA_OP_THREADS: String(opts.threads),
      // Room for 16 single requests at once plus the batch's chunk.
      MAX_QUEUE_PER_MODEL: '64',
    }),
  );
  const service = createService(config);
  // The same service with another decode bound (createService takes the default): real adapters.
  const others = opts.extraDecodeConcurrency.map((decodeConcurrency) => ({
    decodeConcurrency,
    service: new RecognitionService({
      manifest: loadManifest(config.modelsDir, config.userManifest),
      files: new ModelFileStore(config.modelPath, config.modelsDir, config.cacheDir),
      runtime: new OnnxModelRuntime({
        intraOpThreads: config.intraOpThreads,
        allowSpinning: config.allowSpinning,
      }),
      decoder: new SharpImageDecoder({ maxPixels: config.maxImagePixels }),
      defaults: { classification: config.defaultClassifier, detection: config.defaultDetector },
      maxQueuePerModel: config.maxQueuePerModel,
      batchDecodeConcurrency: decodeConcurrency,
    }),
  }));
  try {
    const decode = await decodeSweep(images, service, opts);
    const rows = await serviceComparison(service, others, images, opts);
    return {
      images: images.map((_, i) => BATCH_PHOTOS[i % BATCH_PHOTOS.length]!),
      threads: opts.threads,
      bare,
      rss,
      decode,
      service: rows,
    };
  } finally {
    await Promise.all([service, ...others.map((o) => o.service)].map((s) => s.close()));
  }
}
