/**
 * RecognitionService.recognizeBatch on fakes (a decoder and a runtime that record what they are
 * given): chunks of the manifest's maxBatch as one run each, one by one for a fixed-batch model,
 * one queue place at a time, per-image errors, whole-request errors, timings, the decode bound.
 */
import { OverloadedError, TimeoutError, UnprocessableImageError } from '../../lambda/src/core/errors';
import type { ModelSpec } from '../../lambda/src/core/manifest';
import type { ImageDecoder, LoadedModel, ModelRuntime, PreparedImage } from '../../lambda/src/core/ports';
import type { OutputMap } from '../../lambda/src/core/tensor-types';
import { type BatchItem, RecognitionService } from '../../lambda/src/service/recognition-service';

const CLASSES = 6;
const LABELS = Array.from({ length: CLASSES }, (_, i) => `class${i}`);

function classifier(id: string, maxBatch?: number): ModelSpec {
  return {
    id,
    task: 'classification',
    description: id,
    file: `${id}.onnx`,
    sha256: null,
    bytes: null,
    urls: [],
    license: 'MIT',
    source: 'test',
    input: { name: 'x', layout: 'NCHW', width: 2, height: 1, dtype: 'float32', maxBatch },
    preprocess: { resize: { mode: 'stretch' }, channels: 'RGB', scale: 1, mean: [0, 0, 0], std: [1, 1, 1] },
    outputs: [{ name: 'y', shape: [null, CLASSES] }],
    postprocess: { family: 'classification', outputIsProbability: false, topK: 5 },
    labels: { names: 'labels.txt' },
    numClasses: CLASSES,
  };
}

const detector: ModelSpec = {
  ...classifier('det'),
  task: 'detection',
  postprocess: {
    family: 'yolox',
    output: 'y',
    strides: [8],
    scoreThreshold: 0.3,
    iouThreshold: 0.45,
    classAgnosticNms: true,
    maxDetections: 10,
  },
};

/**
 * A test image: byte 0–2 a JPEG signature, byte 3 the image's class (the fake decoder paints every
 * pixel with it, the fake model answers it as the top class). 'corrupt' and 'crash' images fail
 * in the decoder; text is refused before it.
 */
const jpeg = (cls: number) => Uint8Array.from([0xff, 0xd8, 0xff, cls]);
const CORRUPT = Uint8Array.from([0xff, 0xd8, 0xff, 0xee]);
const CRASH = Uint8Array.from([0xff, 0xd8, 0xff, 0xdd]);
const TEXT = new TextEncoder().encode('not an image');

interface Harness {
  service: RecognitionService;
  runs: number[][];
  inFlightPeak: () => number;
  queueSeen: number[];
  clock: { t: number };
  /** Holds every run until released (null: runs at once). */
  gate: { wait: Promise<void> | null };
}

function harness(
  opts: { failLoad?: boolean; maxQueue?: number; decodeConcurrency?: number; runMs?: number } = {},
): Harness {
  const runs: number[][] = [];
  const queueSeen: number[] = [];
  const clock = { t: 0 };
  const gate: Harness['gate'] = { wait: null };
  let inFlight = 0;
  let peak = 0;
  const decoder: ImageDecoder = {
    async prepare(bytes): Promise<PreparedImage> {
      inFlight++;
      peak = Math.max(peak, inFlight);
      clock.t += 5;
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
      if (bytes[3] === 0xee) throw new UnprocessableImageError('The image could not be decoded: corrupt');
      if (bytes[3] === 0xdd) throw new Error('a bug in the decoder');
      const cls = bytes[3] ?? 0;
      return {
        rgb: new Uint8Array(6).fill(cls),
        width: 2,
        height: 1,
        original: { width: 20 + cls, height: 10 },
        format: 'jpeg',
        plan: { mode: 'stretch', resize: { width: 2, height: 1 } } as PreparedImage['plan'],
      };
    },
    annotate: () => Promise.reject(new Error('not used')),
  };
  const box: { service?: RecognitionService } = {};
  const runtime: ModelRuntime = {
    load(spec): Promise<LoadedModel> {
      if (opts.failLoad) return Promise.reject(new Error(`cannot open ${spec.file}`));
      return Promise.resolve({
        async run(data, dims): Promise<OutputMap> {
          runs.push([...dims]);
          queueSeen.push(box.service?.queueSizes()[spec.id] ?? -1);
          if (gate.wait) await gate.wait;
          clock.t += opts.runMs ?? 40;
          const n = dims[0] ?? 1;
          const per = data.length / n;
          const logits = new Float32Array(n * CLASSES);
          for (let i = 0; i < n; i++) logits[i * CLASSES + ((data[i * per] ?? 0) % CLASSES)] = 8;
          return { y: { data: logits, dims: [n, CLASSES] } };
        },
        dispose: () => Promise.resolve(),
      });
    },
  };
  const service = new RecognitionService({
    manifest: { models: [classifier('multi', 4), classifier('single'), detector] },
    files: {
      locate: (spec) => Promise.resolve(spec.file),
      isPresent: () => true,
      labels: () => Promise.resolve({ names: LABELS, synsets: null }),
    },
    runtime,
    decoder,
    defaults: { classification: 'multi', detection: 'det' },
    maxQueuePerModel: opts.maxQueue ?? 16,
    batchDecodeConcurrency: opts.decodeConcurrency,
    now: () => clock.t,
  });
  box.service = service;
  return { service, runs, inFlightPeak: () => peak, queueSeen, clock, gate };
}

const OPTS = { topK: 1, format: 'json' as const };
const top = (item: BatchItem | undefined) =>
  item?.ok && item.result.task === 'classification'
    ? item.result.label
    : `error ${item?.ok ? '' : item?.error.code}`;

describe('recognizeBatch on a model with input.maxBatch 4', () => {
  it('answers every image in order; bad ones get their own codes; the good ones run as chunks of 4 in ONE run each', async () => {
    const h = harness();
    const images = [
      jpeg(1),
      TEXT,
      jpeg(2),
      jpeg(3),
      CORRUPT,
      jpeg(4),
      jpeg(5),
      CRASH,
      jpeg(0),
      jpeg(1),
      jpeg(2),
    ];
    const items = await h.service.recognizeBatch('classification', images, OPTS);
    expect(items.map(top)).toEqual([
      'class1',
      'error UNSUPPORTED_MEDIA_TYPE',
      'class2',
      'class3',
      'error UNPROCESSABLE_IMAGE',
      'class4',
      'class5',
      'error INTERNAL',
      'class0',
      'class1',
      'class2',
    ]);
    // 8 good images: two runs of 4, no more.
    expect(h.runs).toEqual([
      [4, 3, 1, 2],
      [4, 3, 1, 2],
    ]);
    // The INTERNAL item keeps its cause for the log, never in its message.
    const internal = items[7]!;
    expect(!internal.ok && internal.error.message).toBe('unexpected failure');
    expect(!internal.ok && (internal.error.cause as Error).message).toBe('a bug in the decoder');
  });

  it('each item is what recognize answers for that image alone (apart from timings)', async () => {
    const h = harness();
    const images = [jpeg(3), jpeg(5), jpeg(1)];
    const items = await h.service.recognizeBatch('classification', images, { ...OPTS, topK: 3 });
    for (const [i, item] of items.entries()) {
      const alone = await h.service.recognize('classification', images[i]!, { ...OPTS, topK: 3 });
      if (!item.ok) throw item.error;
      const { timings: _a, ...batched } = item.result;
      const { timings: _b, ...single } = alone;
      expect(batched).toEqual(single);
    }
    expect(h.runs.map((d) => d[0])).toEqual([3, 1, 1, 1]);
  });

  it('holds one place in the model queue at a time', async () => {
    const h = harness();
    await h.service.recognizeBatch(
      'classification',
      Array.from({ length: 10 }, (_, i) => jpeg(i)),
      OPTS,
    );
    expect(h.runs.map((d) => d[0])).toEqual([4, 4, 2]);
    expect(h.queueSeen).toEqual([1, 1, 1]);
  });

  it('timings: own decode, a share of the chunk run, total from the call start', async () => {
    const h = harness({ decodeConcurrency: 1, runMs: 40 });
    const items = await h.service.recognizeBatch(
      'classification',
      [jpeg(1), jpeg(2), jpeg(3), jpeg(4), jpeg(5)],
      OPTS,
    );
    const t = items.map((i) => (i.ok ? i.result.timings : null));
    // The fifth image decodes while the first chunk runs (its decode spans that 40 ms run).
    expect(t.map((x) => x?.decodeMs)).toEqual([5, 5, 5, 5, 45]);
    // 40 ms runs: four images share one, the fifth has its own.
    expect(t.map((x) => x?.inferenceMs)).toEqual([10, 10, 10, 10, 40]);
    expect(t[4]?.totalMs).toBe(h.clock.t);
  });

  it('never decodes more than the bound at once', async () => {
    const h = harness({ decodeConcurrency: 2 });
    await h.service.recognizeBatch(
      'classification',
      Array.from({ length: 9 }, (_, i) => jpeg(i)),
      OPTS,
    );
    expect(h.inFlightPeak()).toBe(2);
  });
});

describe('recognizeBatch on a fixed-batch model (no maxBatch)', () => {
  it('runs the images one by one, each its own queue job, in order', async () => {
    const h = harness();
    const items = await h.service.recognizeBatch('classification', [jpeg(1), jpeg(2), CORRUPT, jpeg(3)], {
      ...OPTS,
      model: 'single',
    });
    expect(items.map(top)).toEqual(['class1', 'class2', 'error UNPROCESSABLE_IMAGE', 'class3']);
    expect(h.runs).toEqual([
      [1, 3, 1, 2],
      [1, 3, 1, 2],
      [1, 3, 1, 2],
    ]);
    expect(h.queueSeen).toEqual([1, 1, 1]);
  });
});

describe('what fails an image, and what fails the request', () => {
  it('a model that cannot load is each image’s MODEL_UNAVAILABLE; bad images keep their own codes', async () => {
    const h = harness({ failLoad: true });
    const items = await h.service.recognizeBatch('classification', [jpeg(1), TEXT, jpeg(2)], OPTS);
    expect(items.map(top)).toEqual([
      'error MODEL_UNAVAILABLE',
      'error UNSUPPORTED_MEDIA_TYPE',
      'error MODEL_UNAVAILABLE',
    ]);
  });

  it('a full queue is OVERLOADED for the chunk that found it full, not for the request', async () => {
    const h = harness({ maxQueue: 1 });
    let release!: () => void;
    h.gate.wait = new Promise((r) => (release = r));
    const blocker = h.service.recognize('classification', jpeg(0), OPTS);
    while (h.runs.length === 0) await new Promise((r) => setTimeout(r, 1));
    const items = await h.service.recognizeBatch('classification', [jpeg(1), jpeg(2)], OPTS);
    expect(items.map((i) => !i.ok && i.error)).toEqual([
      expect.any(OverloadedError),
      expect.any(OverloadedError),
    ]);
    release();
    await blocker;
  });

  it('the signal aborting rejects the call with its reason, and the chunk waiting in the queue never runs', async () => {
    const h = harness();
    let release!: () => void;
    h.gate.wait = new Promise((r) => (release = r));
    const blocker = h.service.recognize('classification', jpeg(0), OPTS);
    while (h.runs.length === 0) await new Promise((r) => setTimeout(r, 1));
    const controller = new AbortController();
    const call = h.service.recognizeBatch(
      'classification',
      [jpeg(1), jpeg(2), jpeg(3)],
      OPTS,
      controller.signal,
    );
    while (h.service.queueSizes().multi !== 2) await new Promise((r) => setTimeout(r, 1));
    controller.abort(new TimeoutError('too slow'));
    await expect(call).rejects.toThrow('too slow');
    expect(h.service.queueSizes().multi).toBe(1);
    release();
    await blocker;
    expect(h.runs).toHaveLength(1);
  });

  it('an already aborted signal: nothing is decoded', async () => {
    const h = harness();
    const controller = new AbortController();
    controller.abort(new TimeoutError('no time'));
    await expect(
      h.service.recognizeBatch('classification', [jpeg(1)], OPTS, controller.signal),
    ).rejects.toThrow('no time');
    expect(h.inFlightPeak()).toBe(0);
  });

  it('the options are the request’s: an unknown model, a detector on classification, format=image', async () => {
    const h = harness();
    await expect(
      h.service.recognizeBatch('classification', [jpeg(1)], { ...OPTS, model: 'nope' }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(
      h.service.recognizeBatch('classification', [jpeg(1)], { ...OPTS, model: 'det' }),
    ).rejects.toMatchObject({
      code: 'INVALID_PARAMETER',
    });
    await expect(
      h.service.recognizeBatch('detection', [jpeg(1)], { ...OPTS, format: 'image' }),
    ).rejects.toMatchObject({
      code: 'INVALID_PARAMETER',
      details: { parameter: 'format' },
    });
    expect(h.inFlightPeak()).toBe(0);
  });

  it('a 16-image batch holds a few abort listeners on the signal, not one per image (Node warns past 10)', async () => {
    const h = harness({ decodeConcurrency: 16 });
    const controller = new AbortController();
    const { signal } = controller;
    let live = 0;
    let peak = 0;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((...args: Parameters<typeof add>) => {
      live++;
      peak = Math.max(peak, live);
      add(...args);
    }) as typeof add;
    signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
      live--;
      remove(...args);
    }) as typeof remove;
    const images = Array.from({ length: 16 }, (_, i) => jpeg(i));
    const items = await h.service.recognizeBatch('classification', images, OPTS, signal);
    expect(items.every((i) => i.ok)).toBe(true);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(3);
  });

  it('no images: no items, no work', async () => {
    const h = harness();
    expect(await h.service.recognizeBatch('classification', [], OPTS)).toEqual([]);
    expect(h.runs).toEqual([]);
  });
});
