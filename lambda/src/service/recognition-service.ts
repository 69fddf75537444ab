import {
  InvalidParameterError,
  ModelNotFoundError,
  ModelUnavailableError,
  RecognitionError,
} from '../core/errors';
import type { Manifest, ModelSpec, Task } from '../core/manifest';
import type { RecognitionOptions } from '../core/options';
import type { ImageDecoder, LoadedModel, ModelFiles, ModelRuntime } from '../core/ports';
import { classifyOutput, detectOutput } from '../core/postprocess';
import type { ClassificationResult, DetectionResult, Labels, RecognitionResult } from '../core/results';
import { SerialQueue } from '../core/serial-queue';
import { unlessAborted } from '../core/abortable';
import { requireSupportedImage } from '../core/image-format';
import { modelInput } from '../core/tensor';
import { DefaultModels, type DefaultState, type DefaultStatus } from './default-models';

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
  /** How long a failed load is remembered before it is tried again (a file may appear meanwhile). */
  retryFailedLoadAfterMs?: number;
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
  loaded: boolean;
}

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
  private readonly now: () => number;
  private readonly defaults: DefaultModels;

  constructor(private readonly deps: ServiceDeps) {
    this.now = deps.now ?? (() => performance.now());
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
      throw e instanceof RecognitionError ? e : new ModelUnavailableError(spec.id, String(e), { cause: e });
    });
    // A failed preload must not surface as an unhandled rejection; callers see it when they await.
    slot.ready.catch(() => undefined);
    this.slots.set(spec.id, slot);
    return slot.ready;
  }

  /** Loads models now (Lambda init, server start); reports each outcome instead of throwing. */
  async preload(ids: readonly string[] | 'defaults'): Promise<{ id: string; ok: boolean; error?: string }[]> {
    const list =
      ids === 'defaults' ? [this.defaultModel('classification'), this.defaultModel('detection')] : ids;
    return Promise.all(
      list.map(async (id) => {
        try {
          await this.acquire(this.spec(id));
          return { id, ok: true };
        } catch (e) {
          return { id, ok: false, error: (e as Error).message };
        }
      }),
    );
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

  async classify(
    bytes: Uint8Array,
    opts: Pick<RecognitionOptions, 'model' | 'topK'>,
    signal?: AbortSignal,
  ): Promise<ClassificationResult> {
    const spec = this.resolveModel('classification', opts.model);
    if (spec.postprocess.family !== 'classification') throw new Error('unreachable: validated manifest');
    const post = spec.postprocess;
    const r = await this.infer(spec, bytes, signal);
    const t = this.now();
    const output = r.outputs[spec.outputs[0]?.name ?? ''];
    if (!output) throw new Error(`model '${spec.id}' returned no '${spec.outputs[0]?.name}'`);
    const predictions = classifyOutput(output, post, r.labels, opts.topK);
    const postprocessMs = this.now() - t;
    return {
      task: 'classification',
      model: spec.id,
      label: predictions[0]?.label ?? '',
      predictions,
      image: r.image,
      timings: this.timings(r, postprocessMs),
    };
  }

  async detect(
    bytes: Uint8Array,
    opts: Pick<RecognitionOptions, 'model' | 'minConfidence' | 'iou' | 'maxDetections'>,
    signal?: AbortSignal,
  ): Promise<DetectionResult> {
    const spec = this.resolveModel('detection', opts.model);
    if (spec.postprocess.family === 'classification') throw new Error('unreachable: validated manifest');
    const post = spec.postprocess;
    const r = await this.infer(spec, bytes, signal);
    const t = this.now();
    const detections = detectOutput(r.outputs, post, spec.input, r.plan, r.original, r.labels, {
      scoreThreshold: opts.minConfidence ?? post.scoreThreshold,
      iouThreshold: opts.iou ?? post.iouThreshold,
      maxDetections: opts.maxDetections ?? post.maxDetections,
    });
    const postprocessMs = this.now() - t;
    return {
      task: 'detection',
      model: spec.id,
      label: detections[0]?.label ?? null,
      detections,
      image: r.image,
      timings: this.timings(r, postprocessMs),
    };
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
      image: { width: prepared.original.width, height: prepared.original.height, format: prepared.format },
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
