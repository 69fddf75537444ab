import {
  InternalError,
  InvalidParameterError,
  isRecognitionError,
  MethodNotAllowedError,
  ModelUnavailableError,
  NotFoundError,
  ResponseTooLargeError,
  TimeoutError,
  type RecognitionError,
} from '../../core/errors';
import { unlessAborted } from '../../core/abortable';
import { parseOptions } from '../../core/options';
import type { DetectionResult, RecognitionResult } from '../../core/results';
import {
  READY_RETRY_AFTER_SECONDS,
  type BatchItem,
  type RecognitionService,
} from '../../service/recognition-service';
import type { ApiRequest, ApiResponse, JsonBody } from './api-types';
import { STATUS_BY_CODE } from './error-status';
import openapi from './openapi.json';
import { readImageRequest, readUploadRequest } from './request-body';
import { matchRoute } from './routes';
import { handleInferenceProtocol, v2ErrorResponse } from './v2/inference-protocol';
import { timeLimitSignal } from '../time-limit';

export interface ApiSettings {
  maxImageBytes: number;
  maxResponseBytes: number;
  requestTimeoutMs: number;
  corsAllowedOrigins: readonly string[];
  /** The most images one request may carry (MAX_BATCH_IMAGES). */
  maxBatchImages: number;
}

/** What the transport learns about a request, for logs and metrics. */
export interface RequestOutcome {
  route: string;
  statusCode: number;
  errorCode?: string;
  error?: unknown;
  result?: RecognitionResult;
  /** A batch's items. */
  results?: BatchItem[];
}

const BASE_HEADERS = {
  'Content-Type': 'application/json; charset=utf-8',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

function json(statusCode: number, body: JsonBody, extra: Record<string, string> = {}): ApiResponse {
  return { statusCode, headers: { ...BASE_HEADERS, ...extra }, body };
}

/**
 * The one wire form of an error, for every transport: the status from the one table, the body
 * `{statusCode, error, message, requestId}` and the headers the error calls for.
 */
export function errorResponse(e: RecognitionError, requestId: string): ApiResponse {
  const extra: Record<string, string> = {};
  if (e instanceof MethodNotAllowedError) extra.Allow = e.allowed.join(', ');
  // OVERLOADED, and MODEL_UNAVAILABLE while the models are still loading: the header says it too.
  const retryAfter = e.details.retryAfterSeconds;
  if (typeof retryAfter === 'number') extra['Retry-After'] = String(retryAfter);
  const { details, ...fields } = errorFields(e, requestId);
  return json(fields.statusCode, { ...fields, requestId, ...(details ? { details } : {}) }, extra);
}

/**
 * An error as the body shows it, for a whole request or one image of a batch: the status from the
 * one table, the code, the message, and the error's own safe-to-show fields (the parameter, the
 * model, the allowed methods, when to retry). INTERNAL never repeats the underlying message (it may
 * hold paths or library internals) and shows nothing but the request id.
 */
function errorFields(e: RecognitionError, requestId: string) {
  const internal = e.code === 'INTERNAL';
  return {
    statusCode: STATUS_BY_CODE[e.code],
    error: e.code,
    message: internal ? `Internal error; quote request id ${requestId}.` : e.message,
    details: internal || Object.keys(e.details).length === 0 ? undefined : e.details,
  };
}

/** What the work of an image route ends in: one image's answer, or a batch's items. */
type Answer =
  | { kind: 'one'; result: RecognitionResult }
  | { kind: 'annotated'; result: DetectionResult; jpeg: Uint8Array }
  | { kind: 'batch'; items: BatchItem[] };

/** One image's answer body, `label` first: the same for a single request and a batch item. */
function resultBody(result: RecognitionResult): JsonBody {
  const { task, model, label, ...rest } = result;
  return { statusCode: 200, label, task, model, ...rest };
}

/**
 * A batch item: the image's answer, or its own error (the envelope carries the request id). Also
 * each line of the CLI's folder run (local/bulk), so a file's line reads as its batch item would.
 */
export function batchItemBody(item: BatchItem, requestId: string): JsonBody {
  if (item.ok) return resultBody(item.result);
  const { details, ...fields } = errorFields(item.error, requestId);
  return { ...fields, ...(details ? { details } : {}) };
}

export function normalisePath(path: string): string {
  const p = path.replace(/\/{2,}/g, '/').replace(/\/+$/, '');
  return p === '' ? '/' : p;
}

/**
 * The request's time limit as a signal that aborts with the TimeoutError the client will see:
 * REQUEST_TIMEOUT_MS, or sooner when the transport's deadline (the Lambda's remaining time) is
 * nearer. The service stops waiting on it and skips the model run if it has not started.
 */
function timeLimit(req: ApiRequest, settings: ApiSettings): { signal: AbortSignal; clear: () => void } {
  const left = req.deadlineMs === undefined ? Infinity : req.deadlineMs - Date.now();
  const ms = Math.max(0, Math.min(settings.requestTimeoutMs, left));
  return timeLimitSignal(
    ms,
    new TimeoutError(
      ms < settings.requestTimeoutMs
        ? `The request could not finish in the ${Math.round(ms)} ms left to answer it.`
        : `The request took longer than ${ms} ms.`,
    ),
  );
}

/** Routes that answer at once, without waiting for the start-up model loads (probes, metadata). */
const HEALTH_ROUTES = new Set([
  '/health',
  '/health/live',
  '/health/ready',
  '/v2',
  '/v2/health/live',
  '/v2/health/ready',
  '/v2/models/{model}',
  '/v2/models/{model}/ready',
]);

/** How long a client should wait before retrying while the start-up model loads are under way. */
const LOADING_RETRY_AFTER_SECONDS = 5;

/**
 * Waits for the start-up model loads, but only until the request's deadline: past it, the answer
 * is 503 MODEL_UNAVAILABLE with Retry-After (the loads go on) rather than no answer at all. A failed
 * load is not this wait's concern: the request then meets the model's own error.
 */
async function waitForStartupLoads(
  ready: Promise<unknown>,
  deadlineMs: number | undefined,
  service: RecognitionService,
): Promise<void> {
  const settled = ready.then(
    () => true,
    () => true,
  );
  if (deadlineMs === undefined) {
    await settled;
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(
      () => {
        resolve(false);
      },
      Math.max(0, deadlineMs - Date.now()),
    );
  });
  const inTime = await Promise.race([settled, late]).finally(() => {
    clearTimeout(timer);
  });
  if (inTime) return;
  const loading = service.loadingModels();
  throw new ModelUnavailableError(
    loading.join(', ') || 'the default models',
    `still loading; retry in ${LOADING_RETRY_AFTER_SECONDS} s.`,
    { retryAfterSeconds: LOADING_RETRY_AFTER_SECONDS },
  );
}

/** A JSON answer over MAX_RESPONSE_BYTES (e.g. a detector's raw v2 outputs) is RESPONSE_TOO_LARGE. */
function responseWithinLimit(response: ApiResponse, maxResponseBytes: number): ApiResponse {
  if (Buffer.isBuffer(response.body)) return response;
  const serialized = JSON.stringify(response.body);
  const size = Buffer.byteLength(serialized);
  if (size <= maxResponseBytes) return { ...response, serialized };
  throw new ResponseTooLargeError(
    `The answer is ${size} bytes of JSON; answers are limited to ${maxResponseBytes} bytes. Ask for fewer outputs or send the photo (BYTES) instead of a tensor.`,
  );
}

function corsHeaders(req: ApiRequest, allowed: readonly string[]): Record<string, string> {
  const origin = req.headers.origin;
  if (!origin || !(allowed.includes(origin) || allowed.includes('*'))) return {};
  return {
    'Access-Control-Allow-Origin': allowed.includes('*') ? '*' : origin,
    Vary: 'Origin',
  };
}

/**
 * The API, independent of transport: the Lambda handler and the local server both end here.
 * Every outcome is a JSON answer with a stable shape; nothing escapes as an exception.
 */
export async function handleApiRequest(
  service: RecognitionService,
  req: ApiRequest,
  settings: ApiSettings,
  envelope: { coldStart: boolean; ready?: Promise<unknown> },
): Promise<{ response: ApiResponse; outcome: RequestOutcome }> {
  const path = normalisePath(req.path);
  const match = matchRoute(path);
  const route = match?.route;
  const cors = corsHeaders(req, settings.corsAllowedOrigins);
  const done = (response: ApiResponse, outcome: Omit<RequestOutcome, 'route' | 'statusCode'> = {}) => {
    Object.assign(response.headers, cors);
    return { response, outcome: { route: path, statusCode: response.statusCode, ...outcome } };
  };
  try {
    // Models load during init; the first requests wait for them instead of loading twice. The
    // health routes never wait: while the models load, ready answers 503 at once.
    if (envelope.ready && !HEALTH_ROUTES.has(route?.path ?? path))
      await waitForStartupLoads(envelope.ready, req.deadlineMs, service);
    if (!route)
      throw new NotFoundError(`No route ${path}. Try POST /classifier, POST /detector or GET /models.`);
    if (req.method === 'OPTIONS') {
      const preflight: Record<string, string> =
        Object.keys(cors).length > 0
          ? {
              'Access-Control-Allow-Methods': `${route.method}, OPTIONS`,
              'Access-Control-Allow-Headers': 'Content-Type, X-Api-Key',
              'Access-Control-Max-Age': '600',
            }
          : {};
      return done({ statusCode: 204, headers: preflight, body: Buffer.alloc(0) });
    }
    if (req.method !== route.method) throw new MethodNotAllowedError(req.method, [route.method]);

    if (match.route.protocol === 'v2') {
      const limit = timeLimit(req, settings);
      const work = handleInferenceProtocol(
        service,
        match,
        req,
        { maxImageBytes: settings.maxImageBytes, maxImages: settings.maxBatchImages },
        limit.signal,
      );
      const response = await unlessAborted(work, limit.signal).finally(limit.clear);
      return done(responseWithinLimit(response, settings.maxResponseBytes));
    }

    if (path === '/models') {
      return done(json(200, { models: service.models(), defaults: service.defaultsStatus() }));
    }
    if (path === '/health/live') return done(json(200, { status: 'live', requestId: req.requestId }));
    if (path === '/health' || path === '/health/ready') {
      const readiness = service.readiness();
      if (!readiness.ready) {
        const { model, reason, retryAfterSeconds } = readiness;
        throw new ModelUnavailableError(model, `${reason}; not ready.`, {
          retryAfterSeconds: retryAfterSeconds ?? READY_RETRY_AFTER_SECONDS,
        });
      }
      return done(
        json(200, {
          status: 'ok',
          loadedModels: service.loadedModels(),
          defaults: service.defaultsStatus(),
          requestId: req.requestId,
        }),
      );
    }
    if (path === '/openapi.json') return done(json(200, openapi));

    if (path === '/uploads') {
      const request = readUploadRequest(req.body, req.headers['content-type']);
      const ticket = await service.createUpload(request);
      return done(json(200, { statusCode: 200, ...ticket, requestId: req.requestId }));
    }

    const task = route.task;
    if (!task) throw new Error(`route ${path} has no handler`);
    const limit = timeLimit(req, settings);
    const { signal } = limit;
    const work = (async (): Promise<Answer> => {
      const request = await readImageRequest(req.body, req.headers['content-type'], {
        maxImageBytes: settings.maxImageBytes,
        maxImages: settings.maxBatchImages,
      });
      // Query parameters win over body fields, like most HTTP APIs.
      const options = parseOptions({ ...request.fields, ...req.query }, task);
      if (request.batch) {
        if (options.format === 'image') {
          throw new InvalidParameterError(
            'format',
            'format=image answers with one annotated photo: send one image, or ask for JSON.',
          );
        }
        return {
          kind: 'batch',
          items: await service.recognizeSources(task, request.images, options, signal),
        };
      }
      const [source] = request.images;
      if (!source) throw new Error('a request without images');
      const image = await service.readImage(source, service.sourceBudget(), signal);
      if (options.format === 'image') {
        const { result, jpeg } = await service.annotate(image, options, signal);
        return { kind: 'annotated', result, jpeg };
      }
      return { kind: 'one', result: await service.recognize(task, image, options, signal) };
    })();
    const answer = await unlessAborted(work, signal).finally(limit.clear);
    if (answer.kind === 'batch') {
      return done(
        json(200, {
          statusCode: 200,
          task,
          results: answer.items.map((item) => batchItemBody(item, req.requestId)),
          coldStart: envelope.coldStart,
          requestId: req.requestId,
        }),
        { results: answer.items },
      );
    }
    if (answer.kind === 'annotated') {
      const { result, jpeg } = answer;
      if (jpeg.length > settings.maxResponseBytes) {
        throw new ResponseTooLargeError(
          `The annotated image is ${jpeg.length} bytes; answers are limited to ${settings.maxResponseBytes} bytes. Lower ANNOTATED_MAX_SIDE or ask for JSON.`,
        );
      }
      return done(
        {
          statusCode: 200,
          headers: {
            'Content-Type': 'image/jpeg',
            'Cache-Control': 'no-store',
            'X-Detections': String(result.detections.length),
          },
          body: Buffer.from(jpeg),
        },
        { result },
      );
    }
    const { result } = answer;
    return done(
      json(200, { ...resultBody(result), coldStart: envelope.coldStart, requestId: req.requestId }),
      { result },
    );
  } catch (e) {
    const error = isRecognitionError(e) ? e : new InternalError('unexpected failure', {}, { cause: e });
    const response =
      route?.protocol === 'v2' || path.startsWith('/v2/')
        ? v2ErrorResponse(error, req.requestId)
        : errorResponse(error, req.requestId);
    return done(response, { errorCode: error.code, error: e });
  }
}
