import { MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  InvalidParameterError,
  InvalidRequestError,
  isRecognitionError,
  ResponseTooLargeError,
  TimeoutError,
  type ErrorCode,
} from '../core/errors';
import type { Task } from '../core/manifest';
import { parseOptions, type RecognitionOptions } from '../core/options';
import type { BatchItem, RecognitionService } from '../service/recognition-service';
import { batchItemBody } from './http/api';
import type { Telemetry } from './telemetry';
import { timeLimitSignal } from './time-limit';

/**
 * A batch of a Step Functions Distributed Map over an S3 prefix: its S3 item reader lists the
 * objects (ListObjectsV2), its ItemBatcher sends them to the function a batch at a time, with the
 * run's BatchInput:
 *
 * {"BatchInput": {"bucket", "task": "classify" | "detect", "options": {...}},
 *  "Items": [{"Key", "Size", "Etag", "LastModified", "StorageClass"}, ...]}
 *
 * The function answers one result per key, in order (BulkBatchAnswer), which the map's result
 * writer stores. An item's failure is data in its result; the invocation fails (throws, so the map
 * can retry or tolerate the batch) only when the whole batch cannot run: see BULK_BATCH_ERRORS.
 */
export interface BulkBatchEvent {
  BatchInput?: BulkBatchInput;
  Items: readonly BulkBatchItem[];
}

export interface BulkBatchInput {
  /** The bucket the item reader lists: must be BULK_BUCKET (each item is refused otherwise). */
  bucket: string;
  task: BulkTask;
  /** The options of /classifier and /detector, by the same parser (model, topK, minConfidence, …). */
  options?: Readonly<Record<string, unknown>>;
}

/** One object as the S3 item reader lists it; only Key is read. */
export interface BulkBatchItem {
  Key: string;
  Size?: number;
  Etag?: string;
  LastModified?: string;
  StorageClass?: string;
}

/** The batch's tasks, as the routes (and the CLI's --task) name them. */
const TASKS = { classify: 'classification', detect: 'detection' } as const satisfies Record<string, Task>;
export type BulkTask = keyof typeof TASKS;

/** One key's result: the key, then the body an item of the HTTP batch answer has. */
export type BulkResult = Readonly<{ key: string } & Record<string, unknown>>;

export interface BulkBatchAnswer {
  bucket: string;
  task: BulkTask;
  counts: { items: number; ok: number; failed: number };
  results: BulkResult[];
  /** The invocation's request id (awsRequestId): what an INTERNAL item's message quotes. */
  requestId: string;
}

/**
 * The most bytes of JSON a batch's answer may take. Step Functions caps a state's payload at
 * 256 KiB (262,144 bytes); the Lambda task's wrapping (status code, version, headers when the state
 * does not select only the Payload) and the map's own bookkeeping take part of it, so the answer
 * keeps about 20 KB below. An answer over this fails its largest items with RESPONSE_TOO_LARGE
 * (largest first, until it fits: the others keep their answers), rather than failing the batch: a
 * retry would be as large, and the failed keys can be run again with fewer detections.
 */
export const BULK_ANSWER_MAX_BYTES = 240_000;

/**
 * The names (`errorType` in Step Functions, what a Retry's ErrorEquals matches) of the errors that
 * fail a whole batch. Every other failure is its item's result.
 */
export const BULK_BATCH_ERRORS = [
  // No BULK_BUCKET: this function runs no bulk batches (a deployment error; retrying will not help).
  'BULK_UNAVAILABLE',
  // The event is not a batch as the map sends it: BatchInput, bucket, Items, a Key; or too many items.
  'INVALID_REQUEST',
  // task is not classify/detect, or an option is invalid (as /classifier and /detector refuse it).
  'INVALID_PARAMETER',
  // options.model names no model of the manifest.
  'NOT_FOUND',
  // The model cannot be loaded, or was still loading when the time ran out: worth a retry.
  'MODEL_UNAVAILABLE',
  // The model's queue is full (MAX_QUEUE_PER_MODEL): worth a retry.
  'OVERLOADED',
  // The function's time ran out before every item was answered: worth a retry.
  'TIMEOUT',
  // Even with every item failed as too large, the answer is over BULK_ANSWER_MAX_BYTES (keys too long).
  'RESPONSE_TOO_LARGE',
  // A bug.
  'INTERNAL',
] as const;
export type BulkBatchErrorName = (typeof BULK_BATCH_ERRORS)[number];

/** Item errors that are the whole batch's: the next items would meet them too. */
const BATCH_WIDE: ReadonlySet<ErrorCode> = new Set(['MODEL_UNAVAILABLE', 'OVERLOADED']);

/**
 * What the invocation throws when the whole batch cannot run: its `name` is the stable code (the
 * Lambda runtime reports it as the errorType Step Functions' Retry and Catch match), its message
 * is safe to show (never a path, and for INTERNAL only the request id).
 */
export class BulkBatchError extends Error {
  constructor(
    readonly code: BulkBatchErrorName,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = code;
  }
}

/** A parsed batch: the objects to read and what to do with them. */
export interface BulkBatch {
  bucket: string;
  task: BulkTask;
  modelTask: Task;
  options: RecognitionOptions;
  keys: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A Distributed Map batch rather than an API Gateway event: it has Items or BatchInput. */
export function isBulkBatchEvent(event: unknown): event is BulkBatchEvent {
  return isObject(event) && ('Items' in event || 'BatchInput' in event);
}

/**
 * The batch an event carries, checked whole before anything is read: INVALID_REQUEST for its shape
 * (at most `maxItems` items, each with a Key), INVALID_PARAMETER for the task and the options (the
 * one option parser of the HTTP routes).
 */
export function parseBulkBatch(event: unknown, maxItems: number): BulkBatch {
  if (!isObject(event)) throw new InvalidRequestError('A bulk batch must be a JSON object.');
  const input = event.BatchInput;
  if (!isObject(input)) {
    throw new InvalidRequestError(
      'A bulk batch needs its BatchInput: {"bucket", "task": "classify" | "detect", "options"}.',
    );
  }
  const { bucket, task, options } = input;
  if (typeof bucket !== 'string' || bucket === '') {
    throw new InvalidRequestError('BatchInput.bucket must be the name of the bucket the items are in.');
  }
  if (typeof task !== 'string' || !Object.hasOwn(TASKS, task)) {
    throw new InvalidParameterError('task', `BatchInput.task must be 'classify' or 'detect'.`);
  }
  const bulkTask = task as BulkTask;
  const modelTask = TASKS[bulkTask];
  if (options !== undefined && options !== null && !isObject(options)) {
    throw new InvalidParameterError('options', 'BatchInput.options must be an object of options.');
  }
  const parsed = parseOptions(options ?? {}, modelTask);
  const items = event.Items;
  if (!Array.isArray(items)) {
    throw new InvalidRequestError('A bulk batch needs its Items: the objects the S3 item reader listed.');
  }
  if (items.length > maxItems) {
    throw new InvalidRequestError(
      `A bulk batch holds at most ${maxItems} items (MAX_BATCH_IMAGES); this one has ${items.length}. Set the ItemBatcher's MaxItemsPerBatch to ${maxItems} or fewer.`,
    );
  }
  const keys = items.map((item: unknown, i) => {
    const key = isObject(item) ? item.Key : undefined;
    if (typeof key !== 'string' || key === '') {
      throw new InvalidRequestError(`Items[${i}] has no Key: each item must be an object as S3 lists it.`);
    }
    return key;
  });
  return { bucket, task: bulkTask, modelTask, options: parsed, keys };
}

const jsonBytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

/**
 * The answer within `maxBytes` of JSON: as it is when it fits; otherwise its largest results, one
 * by one, become RESPONSE_TOO_LARGE (a small body saying how large the answer was and what to ask
 * for instead) until it fits, the counts following. Throws RESPONSE_TOO_LARGE only if even that
 * cannot make it fit.
 */
export function fitAnswer(answer: BulkBatchAnswer, maxBytes: number): BulkBatchAnswer {
  let total = jsonBytes(answer);
  if (total <= maxBytes) return answer;
  const results = [...answer.results];
  let { ok, failed } = answer.counts;
  const bySize = results.map((r, i) => ({ i, bytes: jsonBytes(r) })).sort((a, b) => b.bytes - a.bytes);
  for (const { i, bytes } of bySize) {
    if (total <= maxBytes) break;
    const result = results[i] as BulkResult;
    const error = new ResponseTooLargeError(
      `This photo's answer is ${bytes} bytes of JSON: too large for the batch's answer, which Step Functions limits (${maxBytes} bytes for all its items). Ask for fewer detections (maxDetections, minConfidence) or predictions (topK).`,
    );
    const replacement: BulkResult = {
      key: result.key,
      ...batchItemBody({ ok: false, error }, answer.requestId),
    };
    total += jsonBytes(replacement) - bytes;
    if (result.statusCode === 200) {
      ok--;
      failed++;
    }
    results[i] = replacement;
  }
  const fitted = { ...answer, counts: { ...answer.counts, ok, failed }, results };
  const size = jsonBytes(fitted);
  if (size > maxBytes) {
    throw new ResponseTooLargeError(
      `Even with every item refused, the answer is ${size} bytes of JSON (at most ${maxBytes}): the keys are too long for a batch this size.`,
    );
  }
  return fitted;
}

export interface BulkBatchContext {
  requestId: string;
  /** When the answer must be ready (epoch ms): the Lambda's deadline, less the answer's margin. */
  deadlineMs?: number;
  /** The batch's time limit when there is no deadline (REQUEST_TIMEOUT_MS). */
  timeoutMs: number;
  /** The most items a batch may have (MAX_BATCH_IMAGES). */
  maxItems: number;
  telemetry: Telemetry;
  /** Default BULK_ANSWER_MAX_BYTES. */
  maxAnswerBytes?: number;
}

/** A signal that aborts with TIMEOUT at the deadline (at once if it has passed). */
function timeLimit(context: BulkBatchContext): { signal: AbortSignal; clear: () => void } {
  const ms = Math.max(
    0,
    context.deadlineMs === undefined ? context.timeoutMs : context.deadlineMs - Date.now(),
  );
  return timeLimitSignal(
    ms,
    new TimeoutError(`The batch could not finish in the ${Math.round(ms)} ms left to answer it.`),
  );
}

/** Any failure as what the invocation throws. */
function batchError(e: unknown, requestId: string): BulkBatchError {
  if (e instanceof BulkBatchError) return e;
  if (
    isRecognitionError(e) &&
    e.code !== 'INTERNAL' &&
    (BULK_BATCH_ERRORS as readonly string[]).includes(e.code)
  ) {
    return new BulkBatchError(e.code as BulkBatchErrorName, e.message, { cause: e });
  }
  return new BulkBatchError('INTERNAL', `Internal error; quote request id ${requestId}.`, { cause: e });
}

/** Per error code, how many items failed with it. */
function errorCounts(items: readonly BulkResult[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of items) {
    if (typeof r.error === 'string') counts[r.error] = (counts[r.error] ?? 0) + 1;
  }
  return counts;
}

/**
 * Runs one Distributed Map batch: the event checked, every object read (bounded, from the bulk
 * bucket's prefix only) and recognized through the service's batched path, one result per key in
 * order, the answer kept within BULK_ANSWER_MAX_BYTES, and one log line (counts, errors by code,
 * milliseconds). Throws a BulkBatchError when the whole batch cannot run.
 */
export async function handleBulkBatch(
  service: RecognitionService,
  event: unknown,
  context: BulkBatchContext,
): Promise<BulkBatchAnswer> {
  const started = performance.now();
  const { requestId, telemetry } = context;
  const elapsed = () => Math.round((performance.now() - started) * 100) / 100;
  let batch: BulkBatch | undefined;
  try {
    if (!service.bulkEnabled) {
      throw new BulkBatchError(
        'BULK_UNAVAILABLE',
        'This function has no bulk input bucket (BULK_BUCKET): it runs no bulk batches.',
      );
    }
    batch = parseBulkBatch(event, context.maxItems);
    const { bucket, keys } = batch;
    const limit = timeLimit(context);
    let items: BatchItem[];
    try {
      items = await service.recognizeObjects(
        batch.modelTask,
        keys.map((key) => ({ bucket, key })),
        batch.options,
        limit.signal,
      );
    } finally {
      limit.clear();
    }
    const wide = items.find((item) => !item.ok && BATCH_WIDE.has(item.error.code));
    if (wide && !wide.ok) throw wide.error;
    const ok = items.filter((item) => item.ok).length;
    const answer = fitAnswer(
      {
        bucket,
        task: batch.task,
        counts: { items: items.length, ok, failed: items.length - ok },
        results: items.map((item, i) => ({ key: keys[i] ?? '', ...batchItemBody(item, requestId) })),
        requestId,
      },
      context.maxAnswerBytes ?? BULK_ANSWER_MAX_BYTES,
    );
    recordBatch(telemetry, {
      requestId,
      task: batch.task,
      model: batch.options.model ?? service.defaultModel(batch.modelTask),
      ...answer.counts,
      errors: errorCounts(answer.results),
      elapsedMs: elapsed(),
    });
    return answer;
  } catch (e) {
    const error = batchError(e, requestId);
    const entry = {
      requestId,
      ...(batch ? { task: batch.task, items: batch.keys.length } : {}),
      errorCode: error.code,
      elapsedMs: elapsed(),
    };
    if (error.code === 'INTERNAL')
      telemetry.logger.error('bulk batch failed', { ...entry, error: e as Error });
    else telemetry.logger.warn('bulk batch failed', { ...entry, message: error.message });
    throw error;
  }
}

/** One log line per batch and, when enabled, its EMF metrics. */
function recordBatch(
  t: Telemetry,
  entry: {
    requestId: string;
    task: BulkTask;
    model: string;
    items: number;
    ok: number;
    failed: number;
    errors: Record<string, number>;
    elapsedMs: number;
  },
): void {
  try {
    t.logger.info('bulk batch', entry);
    if (!t.metricsEnabled) return;
    t.metrics.addMetric('BulkItems', MetricUnit.Count, entry.items);
    t.metrics.addMetric('BulkItemErrors', MetricUnit.Count, entry.failed);
    t.metrics.addMetric('BulkBatchLatency', MetricUnit.Milliseconds, entry.elapsedMs);
    t.metrics.publishStoredMetrics();
  } catch {
    // Telemetry must never turn a good answer into a failure.
  }
}
