import {
  InternalError,
  InvalidParameterError,
  ModelNotFoundError,
  ModelUnavailableError,
  RecognitionError,
} from '../core/errors';
import { maxBatchOf, type Manifest, type ModelSpec, type Task } from '../core/manifest';
import { OPTION_LIMITS, type RecognitionOptions } from '../core/options';
import type { ImageDecoder, LoadedModel, ModelFiles, ModelRuntime, PreparedImage } from '../core/ports';
import { classProbabilities, detectOutput, rankClasses } from '../core/postprocess';
import { summarise, type Summary } from '../core/hierarchy';
import type {
  ClassificationResult,
  DetectionResult,
  ImageInfo,
  Labels,
  RecognitionResult,
} from '../core/results';
import { SerialQueue } from '../core/serial-queue';
import { unlessAborted } from '../core/abortable';
import { boundedMap, splitBatch } from '../core/batch';
import { resolveClasses } from '../core/class-filter';
import { requireSupportedImage } from '../core/image-format';
import { batchInput, inputShape, modelInput } from '../core/tensor';
import type { OutputMap } from '../core/tensor-types';
import type { ImageSource } from '../core/image-source';
import type { ObjectReference, UploadTicket } from '../core/ports';
import { WARM_UP_JPEG } from './warm-up-image';
import { DefaultModels, type DefaultState, type DefaultStatus } from './default-models';
import { type ByteBudget, ImageSources } from './image-sources';
import { BULK_READS_AT_ONCE, readThenRecognize, recognizeSources } from './recognize-sources';

/**
 * Decodes of one batch request started at once. sharp runs each on libuv's pool (4 threads unless
 * UV_THREADPOOL_SIZE says otherwise), so at most that many are decoding and holding libvips
 * buffers at a time; the rest wait in the pool holding nothing but their bytes. Starting more than
 * the pool runs keeps it busy while a session run blocks the main thread (no new decode can be
 * started then). On the 2-vCPU development VM, 16-image batches went 4 → 8 at once: ResNet-50
 * 36.9 → 38.8 images/s, MobileNetV2 120.8 → 134.3 (docs/performance.md, "Several images per request").
 */
export const BATCH_DECODE_CONCURRENCY = 8;

/** One image of a batch: its answer, or its own error (one bad image never fails the others). */
export type BatchItem = { ok: true; result: RecognitionResult } | { ok: false; error: RecognitionError };

/** A failure as a batch item shows it: a RecognitionError as it is, anything else INTERNAL. */
function itemError(e: unknown): RecognitionError {
  return e instanceof RecognitionError ? e : new InternalError('unexpected failure', {}, { cause: e });
}

/** A summary as answers show probabilities: 6 decimals. */
const roundSummary = (s: Summary): Summary => ({ ...s, probability: Number(s.probability.toFixed(6)) });

const imageInfo = (p: PreparedImage): ImageInfo => ({
  width: p.original.width,
  height: p.original.height,
  format: p.format,
});

/** A batch image decoded for the model, or the error that stopped it. */
type Decoded =
  | { ok: true; index: number; prepared: PreparedImage; decodeMs: number }
  | { ok: false; index: number; error: RecognitionError };

type DecodedImage = Extract<Decoded, { ok: true }>;

/** A detection's `classes` option as class ids of the resolved model (undefined: every class). */
type ClassIds = ReadonlySet<number> | undefined;

export interface ServiceDeps {
  manifest: Manifest;
  files: ModelFiles;
  runtime: ModelRuntime;
  decoder: ImageDecoder;
  /** The configured default per task. */
  defaults: Record<Task, string>;
  /** Per task, a model that answers while the configured default is not installed. */
  fallbackDefaults?: Partial<Record<Task, string>>;
  maxQueuePerModel: number;
  /** Run each preloaded model once at start-up (default true); see {@link RecognitionService.warmUp}. */
  warmUp?: boolean;
  /** How long a failed load is remembered before it is tried again (a file may appear meanwhile). */
  retryFailedLoadAfterMs?: number;
  /** Decodes of one batch request at once (default {@link BATCH_DECODE_CONCURRENCY}). */
  batchDecodeConcurrency?: number;
  /** Images by reference (uploads, URLs). Default: neither configured. */
  sources?: ImageSources;
  now?: () => number;
}

interface Ready {
  model: LoadedModel;
  labels: Labels;
  queue: SerialQueue;
}

interface Slot {
  ready: Promise<Ready>;
  queue: SerialQueue;
  failedAt?: number;
  /** Why the last load failed (shown by readiness). */
  failure?: string;
  loaded: boolean;
  /** The warm-up run has finished: the first real request pays no first-run cost. */
  warmed: boolean;
  /** The warm-up run under way (concurrent callers share it). */
  warming?: Promise<void>;
  /** Why the last warm-up run failed (readiness shows it; the next preload tries again). */
  warmFailure?: string;
}

/** How long a client should wait before asking again while models load or warm up. */
export const READY_RETRY_AFTER_SECONDS = 5;

/**
 * GET /health/ready: ready, or the first default model that keeps it from being ready and why.
 * `retryAfterSeconds` is set while the reason is passing (loading, warming up).
 */
export type Readiness =
  { ready: true } | { ready: false; model: string; reason: string; retryAfterSeconds?: number };

export interface ModelStatus {
  id: string;
  task: Task;
  description: string;
  default: boolean;
  input: { width: number; height: number; layout: string };
  labels: number;
  license: string;
  source: string;
  available: boolean;
  loaded: boolean;
}

export interface AnnotatedImage {
  result: DetectionResult;
  jpeg: Uint8Array;
}

/**
 * The one facade transports call: photo bytes and options in, a typed result out. It owns model
 * loading (once per model, reused), one run queue per model, and the stage timings.
 */
export class RecognitionService {
  private readonly slots = new Map<string, Slot>();
  /** Models asked for by {@link preload}: readiness waits for these to be loaded and warmed. */
  private readonly preloaded = new Set<string>();
  private readonly now: () => number;
  private readonly defaults: DefaultModels;
  private readonly sources: ImageSources;

  constructor(private readonly deps: ServiceDeps) {
    this.now = deps.now ?? (() => performance.now());
    this.sources =
      deps.sources ?? new ImageSources({ uploads: null, urls: null, maxReferencedBytes: 25_000_000 });
    this.defaults = new DefaultModels(deps.defaults, deps.fallbackDefaults ?? {}, (id) => {
      const spec = deps.manifest.models.find((m) => m.id === id);
      return spec !== undefined && deps.files.isPresent(spec);
    });
  }

  get manifest(): Manifest {
    return this.deps.manifest;
  }

  spec(id: string): ModelSpec {
    const spec = this.deps.manifest.models.find((m) => m.id === id);
    if (!spec)
      throw new ModelNotFoundError(
        id,
        this.deps.manifest.models.map((m) => m.id),
      );
    return spec;
  }

  defaultModel(task: Task): string {
    return this.defaults.current(task);
  }

  /** Per task: the model answering by default, the configured one, and why they differ. */
  defaultsStatus(): Record<Task, DefaultStatus> {
    return this.defaults.describe();
  }

  /** Tasks answered by a fallback because their configured default is not installed yet. */
  defaultsWaiting(): Task[] {
    return this.defaults.waiting();
  }

  noteDefault(task: Task, state: Exclude<DefaultState, 'preferred'>, detail: string): void {
    this.defaults.note(task, state, detail);
  }

  /**
   * Loads the configured default of `task` (installed meanwhile, e.g. downloaded) and, once it is
   * ready, makes it answer instead of the fallback; requests in flight finish on the fallback.
   */
  async adoptDefault(task: Task): Promise<{ ok: boolean; error?: string }> {
    const { preferred } = this.defaults.describe()[task];
    const [outcome] = await this.preload([preferred]);
    if (outcome?.ok) this.defaults.adopt(task);
    else this.defaults.note(task, 'fallback', `${preferred} could not be loaded: ${outcome?.error ?? ''}`);
    return outcome ?? { ok: false };
  }

  /** Loads (or returns the already loaded) model; concurrent callers share one load. */
  private acquire(spec: ModelSpec): Promise<Ready> {
    const existing = this.slots.get(spec.id);
    const retryAfter = this.deps.retryFailedLoadAfterMs ?? 5000;
    if (existing && (existing.failedAt === undefined || this.now() - existing.failedAt < retryAfter)) {
      return existing.ready;
    }
    const slot: Slot = {
      loaded: false,
      warmed: false,
      ready: Promise.resolve(undefined as never),
      queue: new SerialQueue(this.deps.maxQueuePerModel, spec.id),
    };
    slot.ready = (async () => {
      const file = await this.deps.files.locate(spec);
      const labels = await this.deps.files.labels(spec);
      const model = await this.deps.runtime.load(spec, file);
      slot.loaded = true;
      return { model, labels, queue: slot.queue };
    })().catch((e: unknown) => {
      slot.failedAt = this.now();
      slot.failure =
        e instanceof ModelUnavailableError ? e.reason : e instanceof Error ? e.message : String(e);
      throw e instanceof RecognitionError ? e : new ModelUnavailableError(spec.id, String(e), { cause: e });
    });
    // A failed preload must not surface as an unhandled rejection; callers see it when they await.
    slot.ready.catch(() => undefined);
    this.slots.set(spec.id, slot);
    return slot.ready;
  }

  /**
   * Loads models now (Lambda init, server start) and warms each up with one run
   * ({@link warmUp}); reports each outcome instead of throwing. Resolves once every model is
   * loaded and warmed (or has failed), so a transport's `ready` promise built on it does too.
   */
  async preload(ids: readonly string[] | 'defaults'): Promise<{ id: string; ok: boolean; error?: string }[]> {
    const list =
      ids === 'defaults' ? [this.defaultModel('classification'), this.defaultModel('detection')] : ids;
    for (const id of list) this.preloaded.add(id);
    return Promise.all(
      list.map(async (id) => {
        try {
          await this.warmOne(this.spec(id));
          return { id, ok: true };
        } catch (e) {
          return { id, ok: false, error: (e as Error).message };
        }
      }),
    );
  }

  /**
   * Loads each model and runs it once, through its queue, on a tiny gray JPEG ({@link WARM_UP_JPEG})
   * taken through the decoder, the packing and the postprocessing, so the first-run costs of each
   * (the session's allocations and kernel selection, the decoder's set-up) are paid here rather than
   * by the first request.
   * A model already warmed is not run again; concurrent callers share one run.
   */
  async warmUp(ids: readonly string[]): Promise<{ id: string; ok: boolean; error?: string }[]> {
    return Promise.all(
      ids.map(async (id) => {
        try {
          await this.warmOne(this.spec(id));
          return { id, ok: true };
        } catch (e) {
          return { id, ok: false, error: (e as Error).message };
        }
      }),
    );
  }

  private async warmOne(spec: ModelSpec): Promise<void> {
    const ready = await this.acquire(spec);
    const slot = this.slots.get(spec.id);
    if (!slot || slot.warmed) return;
    if (this.deps.warmUp === false) {
      slot.warmed = true;
      return;
    }
    slot.warming ??= (async () => {
      // The whole path a request takes: decode, pack, run, postprocess (answer discarded).
      const prepared = await this.deps.decoder.prepare(WARM_UP_JPEG, spec);
      const { data, dims } = modelInput(prepared, spec);
      const outputs = await ready.queue.run(() => ready.model.run(data, dims));
      const image = imageInfo(prepared);
      if (spec.task === 'classification')
        this.classification(spec, outputs, ready.labels, image, { topK: 1 });
      else this.detection(spec, outputs, ready.labels, prepared, image, {}, undefined);
      slot.warmed = true;
      slot.warmFailure = undefined;
    })()
      .catch((e: unknown) => {
        slot.warmFailure = e instanceof Error ? e.message : String(e);
        throw e;
      })
      .finally(() => {
        slot.warming = undefined;
      });
    try {
      await slot.warming;
    } catch (e) {
      throw e instanceof RecognitionError
        ? e
        : new ModelUnavailableError(spec.id, `warm-up run failed: ${String(e)}`, { cause: e });
    }
  }

  /**
   * GET /health/ready. Ready when, for each task, the default model answering it:
   * - if it was preloaded (PRELOAD_MODELS, 'defaults' unless set): is loaded and warmed;
   * - otherwise (loaded on demand, e.g. PRELOAD_MODELS=''): its file is installed, or it is loaded;
   * and its last load did not fail. Never waits: a model still loading is a 503 with Retry-After.
   */
  readiness(): Readiness {
    for (const task of ['classification', 'detection'] as const) {
      const state = this.modelReadiness(this.defaultModel(task));
      if (!state.ready) return state;
    }
    return { ready: true };
  }

  /**
   * One model's readiness, by the rule of {@link readiness}: a preloaded model once loaded and
   * warmed, any other once its file is installed or it is loaded; never after a failed load.
   */
  modelReadiness(id: string): Readiness {
    const spec = this.deps.manifest.models.find((m) => m.id === id);
    if (!spec) return { ready: false, model: id, reason: 'not in the model manifest' };
    const slot = this.slots.get(id);
    if (slot?.failedAt !== undefined) {
      return { ready: false, model: id, reason: `could not be loaded: ${slot.failure ?? 'unknown error'}` };
    }
    if (slot?.loaded !== true && !this.deps.files.isPresent(spec)) {
      return { ready: false, model: id, reason: 'its model file is not installed' };
    }
    if (!this.preloaded.has(id)) return { ready: true };
    if (slot?.loaded !== true) {
      return {
        ready: false,
        model: id,
        reason: 'still loading',
        retryAfterSeconds: READY_RETRY_AFTER_SECONDS,
      };
    }
    if (slot.warmFailure !== undefined && slot.warming === undefined) {
      return { ready: false, model: id, reason: `its warm-up run failed: ${slot.warmFailure}` };
    }
    if (!slot.warmed) {
      return { ready: false, model: id, reason: 'warming up', retryAfterSeconds: READY_RETRY_AFTER_SECONDS };
    }
    return { ready: true };
  }

  private resolveModel(task: Task, requested: string | undefined): ModelSpec {
    const spec = this.spec(requested ?? this.defaultModel(task));
    if (spec.task !== task) {
      throw new InvalidParameterError('model', `Model '${spec.id}' does ${spec.task}, not ${task}.`);
    }
    return spec;
  }

  /**
   * `signal` ends the request's claim on the work: once it aborts, the caller gets its reason at
   * once, a run still waiting in the model's queue is skipped, and a decode under way finishes
   * unobserved.
   */
  async recognize(
    task: Task,
    bytes: Uint8Array,
    opts: RecognitionOptions,
    signal?: AbortSignal,
  ): Promise<RecognitionResult> {
    return task === 'classification' ? this.classify(bytes, opts, signal) : this.detect(bytes, opts, signal);
  }

  /** A new byte budget for one request's referenced images. */
  sourceBudget(): ByteBudget {
    return this.sources.budget();
  }

  /** One image's bytes: from the body as they are, or read from an upload or a URL within `budget`. */
  readImage(source: ImageSource, budget: ByteBudget, signal?: AbortSignal): Promise<Buffer> {
    return this.sources.read(source, budget, signal);
  }

  /** POST /uploads: where to PUT a photo too large for a body (UPLOADS_UNAVAILABLE without a bucket). */
  createUpload(request: { contentType: string; size: number }): Promise<UploadTicket> {
    return this.sources.createUpload(request);
  }

  /**
   * A batch of images from any sources: each read (a failed read is that image's error), then the
   * readable ones through {@link recognizeBatch}; answers in the request's order.
   */
  recognizeSources(
    task: Task,
    images: readonly ImageSource[],
    opts: RecognitionOptions,
    signal?: AbortSignal,
  ): Promise<BatchItem[]> {
    return recognizeSources(
      this.sources,
      (bytes) => this.recognizeBatch(task, bytes, opts, signal),
      images,
      signal,
    );
  }

  /** Whether a bulk input bucket is configured (BULK_BUCKET): {@link recognizeObjects} needs one. */
  get bulkEnabled(): boolean {
    return this.sources.bulkEnabled;
  }

  /**
   * A bulk batch (the S3 keys of a Step Functions Distributed Map batch): one item per object, in
   * order, each what {@link recognizeBatch} answers for it, or its own error (not allowed, not
   * found, too large, unreadable, not a photo). Objects are read {@link BULK_READS_AT_ONCE} at a
   * time, each up to MAX_UPLOAD_BYTES.
   *
   * Before any object is read, what concerns the whole batch is settled, and rejects the call: the
   * options (an unknown model, one of another task, `format=image`, an unknown class) and the model
   * itself, loaded (or its load awaited) now: MODEL_UNAVAILABLE when it cannot be, or when `signal`
   * aborts while it is still loading (with a retryAfterSeconds). Then `signal` ends the call at once
   * with its reason, as in {@link recognizeBatch}.
   */
  async recognizeObjects(
    task: Task,
    refs: readonly ObjectReference[],
    opts: RecognitionOptions,
    signal?: AbortSignal,
  ): Promise<BatchItem[]> {
    signal?.throwIfAborted();
    if (!this.sources.bulkEnabled) throw new Error('no bulk input bucket is configured (BULK_BUCKET)');
    if (opts.format === 'image') {
      throw new InvalidParameterError(
        'format',
        'format=image answers with one annotated photo; a bulk batch answers JSON.',
      );
    }
    const spec = this.resolveModel(task, opts.model);
    await unlessAborted(this.classIds(spec, opts), signal);
    try {
      await unlessAborted(this.acquire(spec), signal);
    } catch (e) {
      if (!signal?.aborted || this.slots.get(spec.id)?.loaded === true) throw e;
      throw new ModelUnavailableError(spec.id, 'still loading when the time to answer ran out', {
        cause: e,
        retryAfterSeconds: READY_RETRY_AFTER_SECONDS,
      });
    }
    return readThenRecognize(
      (ref) => this.sources.readObject(ref, signal),
      BULK_READS_AT_ONCE,
      (bytes) => this.recognizeBatch(task, bytes, opts, signal),
      refs,
      signal,
    );
  }

  /**
   * Several images with the same task and options: one item per image, in order, each what
   * `recognize` would answer for that image alone (same format check, decoder, model, defaults and
   * postprocessing) or that image's own error. One bad image (not an accepted format, corrupt,
   * over the pixel limit) never fails the others; a failure that is not a RecognitionError becomes
   * that item's INTERNAL error.
   *
   * The call itself rejects only for what concerns the whole request: the options (an unknown
   * model, a model of another task, `format=image`) and `signal` (its reason, at once, as
   * `recognize` does). A model that cannot be loaded or a full queue is the error of each image
   * that needed it.
   *
   * Decoding starts {@link BATCH_DECODE_CONCURRENCY} images at a time. Images go to the model in
   * chunks of the manifest's `input.maxBatch` (1 when absent): a chunk of several is packed into
   * one tensor and runs as ONE session run, one job of the model's queue (with `signal`); a model
   * fed one image at a time gets one job per image, in order. A request holds at most one place in
   * the queue at a time, so single requests interleave with its chunks.
   *
   * Timings per item: `decodeMs` and `postprocessMs` are the image's own; `preprocessMs` and
   * `inferenceMs` are its share of its chunk's packing and session run (the chunk's time divided by
   * its images), so they add up over the items to the time spent; `totalMs` runs from the call's
   * start to this item's answer.
   */
  async recognizeBatch(
    task: Task,
    images: readonly Uint8Array[],
    opts: RecognitionOptions,
    signal?: AbortSignal,
  ): Promise<BatchItem[]> {
    const start = this.now();
    signal?.throwIfAborted();
    if (opts.format === 'image') {
      throw new InvalidParameterError(
        'format',
        'format=image answers with one annotated photo: send one image, or ask for JSON.',
      );
    }
    const spec = this.resolveModel(task, opts.model);
    // An unknown class rejects the whole request; labels that cannot be read are each image's error,
    // as a model that cannot be loaded is.
    let classIds: ClassIds | { error: unknown };
    try {
      classIds = await this.classIds(spec, opts);
    } catch (e) {
      if (e instanceof InvalidParameterError) throw e;
      classIds = { error: e };
    }
    const items: BatchItem[] = new Array<BatchItem>(images.length);
    const decodes = boundedMap(
      images,
      this.deps.batchDecodeConcurrency ?? BATCH_DECODE_CONCURRENCY,
      (bytes, index) => this.decodeForBatch(spec, bytes, index, signal),
      { stopped: () => signal?.aborted === true, reason: (): unknown => signal?.reason },
    );
    const size = maxBatchOf(spec.input);
    let chunk: DecodedImage[] = [];
    for (const pending of decodes) {
      // Rejects only when the signal aborts: that ends the whole call at once (one listener for
      // the whole batch; decodes under way finish unobserved, none starts after).
      const decoded = await unlessAborted(pending, signal);
      if (!decoded.ok) {
        items[decoded.index] = { ok: false, error: decoded.error };
        continue;
      }
      chunk.push(decoded);
      if (chunk.length === size) {
        await this.runChunk(spec, chunk, opts, classIds, items, start, signal);
        chunk = [];
      }
    }
    if (chunk.length > 0) await this.runChunk(spec, chunk, opts, classIds, items, start, signal);
    return items;
  }

  /** One batch image through the same checks and decoder as `infer`; its failure is its own. */
  private async decodeForBatch(
    spec: ModelSpec,
    bytes: Uint8Array,
    index: number,
    signal: AbortSignal | undefined,
  ): Promise<Decoded> {
    const t = this.now();
    try {
      signal?.throwIfAborted();
      requireSupportedImage(bytes);
      const prepared = await this.deps.decoder.prepare(bytes, spec);
      return { ok: true, index, prepared, decodeMs: this.now() - t };
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      return { ok: false, index, error: itemError(e) };
    }
  }

  /**
   * Runs one chunk of decoded batch images (one session run when there are several) and writes
   * each image's item. Only the signal's abort escapes; every other failure is the chunk's items'.
   */
  private async runChunk(
    spec: ModelSpec,
    chunk: readonly DecodedImage[],
    opts: RecognitionOptions,
    classIds: ClassIds | { error: unknown },
    items: BatchItem[],
    start: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const n = chunk.length;
    const failAll = (e: unknown) => {
      if (signal?.aborted) throw signal.reason;
      for (const d of chunk) items[d.index] = { ok: false, error: itemError(e) };
    };
    if (classIds !== undefined && 'error' in classIds) {
      failAll(classIds.error);
      return;
    }
    let ready: Ready;
    let input: { data: Float32Array; dims: number[] };
    const packStart = this.now();
    try {
      input =
        n === 1
          ? modelInput((chunk[0] as DecodedImage).prepared, spec)
          : batchInput(
              chunk.map((d) => d.prepared),
              spec,
            );
    } catch (e) {
      failAll(e);
      return;
    }
    const packMs = this.now() - packStart;
    try {
      ready = await unlessAborted(this.acquire(spec), signal);
    } catch (e) {
      failAll(e);
      return;
    }
    let runMs = 0;
    let perImage: OutputMap[];
    try {
      const outputs = await ready.queue.run(async () => {
        const t = this.now();
        const out = await ready.model.run(input.data, input.dims);
        runMs = this.now() - t;
        return out;
      }, signal);
      perImage = n === 1 ? [outputs] : splitBatch(outputs, n);
    } catch (e) {
      failAll(e);
      return;
    }
    chunk.forEach((d, i) => {
      const t = this.now();
      try {
        const outputs = perImage[i] as OutputMap;
        const image = imageInfo(d.prepared);
        const answer =
          spec.task === 'classification'
            ? this.classification(spec, outputs, ready.labels, image, opts)
            : this.detection(spec, outputs, ready.labels, d.prepared, image, opts, classIds);
        const timings = this.timings(
          { start, decodeMs: d.decodeMs, preprocessMs: packMs / n, inferenceMs: runMs / n },
          this.now() - t,
        );
        items[d.index] = { ok: true, result: { ...answer, timings } };
      } catch (e) {
        items[d.index] = { ok: false, error: itemError(e) };
      }
    });
  }

  async classify(
    bytes: Uint8Array,
    opts: Pick<RecognitionOptions, 'model' | 'topK' | 'minConfidence' | 'summaryThreshold'>,
    signal?: AbortSignal,
  ): Promise<ClassificationResult> {
    const spec = this.resolveModel('classification', opts.model);
    const r = await this.infer(spec, bytes, signal);
    const t = this.now();
    const answer = this.classification(spec, r.outputs, r.labels, r.image, opts);
    const postprocessMs = this.now() - t;
    return { ...answer, timings: this.timings(r, postprocessMs) };
  }

  async detect(
    bytes: Uint8Array,
    opts: Pick<RecognitionOptions, 'model' | 'minConfidence' | 'iou' | 'maxDetections' | 'classes'>,
    signal?: AbortSignal,
  ): Promise<DetectionResult> {
    const spec = this.resolveModel('detection', opts.model);
    // Before the image is decoded or the model run: an unknown class costs no inference.
    const classIds = await unlessAborted(this.classIds(spec, opts), signal);
    const r = await this.infer(spec, bytes, signal);
    const t = this.now();
    const answer = this.detection(spec, r.outputs, r.labels, r, r.image, opts, classIds);
    const postprocessMs = this.now() - t;
    return { ...answer, timings: this.timings(r, postprocessMs) };
  }

  /** A classifier's outputs for one image as its answer (without timings). */
  private classification(
    spec: ModelSpec,
    outputs: OutputMap,
    labels: Labels,
    image: ImageInfo,
    opts: Pick<RecognitionOptions, 'topK' | 'minConfidence' | 'summaryThreshold'>,
  ): Omit<ClassificationResult, 'timings'> {
    if (spec.postprocess.family !== 'classification') throw new Error('unreachable: validated manifest');
    const output = outputs[spec.outputs[0]?.name ?? ''];
    if (!output) throw new Error(`model '${spec.id}' returned no '${spec.outputs[0]?.name}'`);
    const probabilities = classProbabilities(output, spec.postprocess);
    const predictions = rankClasses(probabilities, labels, opts.topK, opts.minConfidence);
    const threshold = opts.summaryThreshold ?? OPTION_LIMITS.summaryThreshold.default;
    const summary = labels.hierarchy && summarise(labels.hierarchy, probabilities, threshold);
    return {
      task: 'classification',
      model: spec.id,
      label: predictions[0]?.label ?? null,
      predictions,
      ...(summary === undefined ? {} : { summary: summary && roundSummary(summary) }),
      image,
    };
  }

  /** A detector's outputs for one image as its answer (without timings). */
  private detection(
    spec: ModelSpec,
    outputs: OutputMap,
    labels: Labels,
    prepared: Pick<PreparedImage, 'plan' | 'original'>,
    image: ImageInfo,
    opts: Pick<RecognitionOptions, 'minConfidence' | 'iou' | 'maxDetections'>,
    classIds: ClassIds,
  ): Omit<DetectionResult, 'timings'> {
    if (spec.postprocess.family === 'classification') throw new Error('unreachable: validated manifest');
    const post = spec.postprocess;
    const detections = detectOutput(outputs, post, spec.input, prepared.plan, prepared.original, labels, {
      scoreThreshold: opts.minConfidence ?? post.scoreThreshold,
      iouThreshold: opts.iou ?? post.iouThreshold,
      maxDetections: opts.maxDetections ?? post.maxDetections,
      classes: classIds,
    });
    return {
      task: 'detection',
      model: spec.id,
      label: detections[0]?.label ?? null,
      detections,
      image,
    };
  }

  /**
   * The class ids `opts.classes` selects among the model's labels (read from its label file, so
   * before the model is loaded or run); INVALID_PARAMETER 'classes' for an unknown one.
   */
  private async classIds(spec: ModelSpec, opts: Pick<RecognitionOptions, 'classes'>): Promise<ClassIds> {
    if (opts.classes === undefined) return undefined;
    if (spec.task !== 'detection') {
      throw new InvalidParameterError('classes', `'classes' is only available on /detector.`);
    }
    return resolveClasses(opts.classes, (await this.labels(spec.id)).names);
  }

  /** A model's class names (and synsets): the loaded model's, else read from its label files. */
  async labels(id: string): Promise<Labels> {
    const spec = this.spec(id);
    const loaded = this.slots.get(spec.id);
    return loaded?.loaded ? (await loaded.ready).labels : this.deps.files.labels(spec);
  }

  /** Detection drawn on the photo (format=image). */
  async annotate(bytes: Uint8Array, opts: RecognitionOptions, signal?: AbortSignal): Promise<AnnotatedImage> {
    const result = await this.detect(bytes, opts, signal);
    signal?.throwIfAborted();
    return {
      result,
      jpeg: await unlessAborted(this.deps.decoder.annotate(bytes, result.detections), signal),
    };
  }

  /**
   * The model run on a tensor the caller packed (the Open Inference Protocol's FP32 input): its raw
   * outputs, through the model's queue like any request. `dims` must be the model's input shape
   * with a batch of 1 to the manifest's `input.maxBatch`, and `data` exactly that many values;
   * INVALID_PARAMETER 'inputs' otherwise.
   */
  async runTensor(
    id: string,
    data: Float32Array,
    dims: readonly number[],
    signal?: AbortSignal,
  ): Promise<{ outputs: OutputMap; inferenceMs: number }> {
    const spec = this.spec(id);
    const expected = inputShape(spec);
    const maxBatch = maxBatchOf(spec.input);
    const shapeOk =
      dims.length === expected.length &&
      dims.every((d, i) => (i === 0 ? Number.isInteger(d) && d >= 1 && d <= maxBatch : d === expected[i]));
    if (!shapeOk) {
      const want = [`1..${maxBatch}`, ...expected.slice(1)].join(', ');
      throw new InvalidParameterError(
        'inputs',
        `Model '${id}' takes ${spec.input.name} of shape [${want}]; got [${dims.join(', ')}].`,
      );
    }
    const size = dims.reduce((a, d) => a * d, 1);
    if (data.length !== size) {
      throw new InvalidParameterError(
        'inputs',
        `Shape [${dims.join(', ')}] holds ${size} values; ${spec.input.name} has ${data.length}.`,
      );
    }
    signal?.throwIfAborted();
    const ready = await unlessAborted(this.acquire(spec), signal);
    let inferenceMs = 0;
    const outputs = await ready.queue.run(async () => {
      const t = this.now();
      const out = await ready.model.run(data, [...dims]);
      inferenceMs = this.now() - t;
      return out;
    }, signal);
    return { outputs, inferenceMs };
  }

  private async infer(spec: ModelSpec, bytes: Uint8Array, signal: AbortSignal | undefined) {
    const start = this.now();
    signal?.throwIfAborted();
    // Only the accepted formats reach a decoder: its other loaders (SVG, PDF, …) never see the bytes.
    requireSupportedImage(bytes);
    // Decode before waiting for the model, so a bad image fails fast even while the model loads.
    const prepared = await unlessAborted(this.deps.decoder.prepare(bytes, spec), signal);
    const decoded = this.now();
    const { data: tensor, dims } = modelInput(prepared, spec);
    const preprocessed = this.now();
    const ready = await unlessAborted(this.acquire(spec), signal);
    let inferenceMs = 0;
    const outputs = await ready.queue.run(async () => {
      const t = this.now();
      const out = await ready.model.run(tensor, dims);
      inferenceMs = this.now() - t;
      return out;
    }, signal);
    return {
      outputs,
      labels: ready.labels,
      plan: prepared.plan,
      original: prepared.original,
      image: imageInfo(prepared),
      start,
      decodeMs: decoded - start,
      preprocessMs: preprocessed - decoded,
      inferenceMs,
    };
  }

  private timings(
    r: { start: number; decodeMs: number; preprocessMs: number; inferenceMs: number },
    postprocessMs: number,
  ) {
    const ms = (v: number) => Math.round(v * 100) / 100;
    return {
      decodeMs: ms(r.decodeMs),
      preprocessMs: ms(r.preprocessMs),
      inferenceMs: ms(r.inferenceMs),
      postprocessMs: ms(postprocessMs),
      totalMs: ms(this.now() - r.start),
    };
  }

  models(): ModelStatus[] {
    return this.deps.manifest.models.map((m) => ({
      id: m.id,
      task: m.task,
      description: m.description,
      default: this.defaultModel(m.task) === m.id,
      input: { width: m.input.width, height: m.input.height, layout: m.input.layout },
      labels: m.numClasses,
      license: m.license,
      source: m.source,
      available: this.deps.files.isPresent(m),
      loaded: this.slots.get(m.id)?.loaded === true,
    }));
  }

  loadedModels(): string[] {
    return [...this.slots.entries()].filter(([, s]) => s.loaded).map(([id]) => id);
  }

  /** Models whose load has started and neither finished nor failed yet. */
  loadingModels(): string[] {
    return [...this.slots.entries()]
      .filter(([, s]) => !s.loaded && s.failedAt === undefined)
      .map(([id]) => id);
  }

  /** Per model with a queue: the runs waiting or running. */
  queueSizes(): Record<string, number> {
    return Object.fromEntries([...this.slots.entries()].map(([id, s]) => [id, s.queue.size]));
  }

  async close(): Promise<void> {
    const slots = [...this.slots.values()];
    this.slots.clear();
    await Promise.all(slots.map(async (s) => (await s.ready.catch(() => null))?.model.dispose()));
  }
}
