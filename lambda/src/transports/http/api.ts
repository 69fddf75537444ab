import {
  InternalError,
  isRecognitionError,
  MethodNotAllowedError,
  NotFoundError,
  OverloadedError,
  ResponseTooLargeError,
  TimeoutError,
  type RecognitionError,
} from '../../core/errors';
import { parseOptions } from '../../core/options';
import type { RecognitionResult } from '../../core/results';
import type { RecognitionService } from '../../service/recognition-service';
import type { ApiRequest, ApiResponse, JsonBody } from './api-types';
import { STATUS_BY_CODE } from './error-status';
import openapi from './openapi.json';
import { readImageRequest } from './request-body';
import { ROUTES } from './routes';

export interface ApiSettings {
  maxImageBytes: number;
  maxResponseBytes: number;
  requestTimeoutMs: number;
  corsAllowedOrigins: readonly string[];
}

/** What the transport learns about a request, for logs and metrics. */
export interface RequestOutcome {
  route: string;
  statusCode: number;
  errorCode?: string;
  error?: unknown;
  result?: RecognitionResult;
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
  const statusCode = STATUS_BY_CODE[e.code];
  // INTERNAL never repeats the underlying message: it may hold paths or library internals.
  const message = e.code === 'INTERNAL' ? `Internal error; quote request id ${requestId}.` : e.message;
  const extra: Record<string, string> = {};
  if (e instanceof MethodNotAllowedError) extra.Allow = e.allowed.join(', ');
  if (e instanceof OverloadedError) extra['Retry-After'] = String(e.retryAfterSeconds);
  // The error's own safe-to-show fields (the parameter, the model, the allowed methods, when to
  // retry); INTERNAL shows nothing but its request id.
  const details = e.code === 'INTERNAL' || Object.keys(e.details).length === 0 ? {} : { details: e.details };
  return json(statusCode, { statusCode, error: e.code, message, requestId, ...details }, extra);
}

export function normalisePath(path: string): string {
  const p = path.replace(/\/{2,}/g, '/').replace(/\/+$/, '');
  return p === '' ? '/' : p;
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new TimeoutError(`The request took longer than ${ms} ms.`));
    }, ms);
  });
  return Promise.race([work, timeout]).finally(() => {
    clearTimeout(timer);
  });
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
  envelope: { coldStart: boolean },
): Promise<{ response: ApiResponse; outcome: RequestOutcome }> {
  const path = normalisePath(req.path);
  const route = ROUTES.get(path);
  const cors = corsHeaders(req, settings.corsAllowedOrigins);
  const done = (response: ApiResponse, outcome: Omit<RequestOutcome, 'route' | 'statusCode'> = {}) => {
    Object.assign(response.headers, cors);
    return { response, outcome: { route: path, statusCode: response.statusCode, ...outcome } };
  };
  try {
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

    if (path === '/models') {
      return done(json(200, { models: service.models(), defaults: service.defaultsStatus() }));
    }
    if (path === '/health') {
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

    const task = route.task;
    if (!task) throw new Error(`route ${path} has no handler`);
    const work = (async () => {
      const { image, fields } = await readImageRequest(
        req.body,
        req.headers['content-type'],
        settings.maxImageBytes,
      );
      // Query parameters win over body fields, like most HTTP APIs.
      const options = parseOptions({ ...fields, ...req.query }, task);
      if (options.format === 'image') {
        const { result, jpeg } = await service.annotate(image, options);
        return { result, jpeg };
      }
      return { result: await service.recognize(task, image, options), jpeg: null };
    })();
    const { result, jpeg } = await withTimeout(work, settings.requestTimeoutMs);
    if (jpeg && jpeg.length > settings.maxResponseBytes) {
      throw new ResponseTooLargeError(
        `The annotated image is ${jpeg.length} bytes; answers are limited to ${settings.maxResponseBytes} bytes. Lower ANNOTATED_MAX_SIDE or ask for JSON.`,
      );
    }
    if (jpeg) {
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
    const { task: kind, model, label, ...rest } = result;
    return done(
      json(200, {
        statusCode: 200,
        label,
        task: kind,
        model,
        ...rest,
        coldStart: envelope.coldStart,
        requestId: req.requestId,
      }),
      { result },
    );
  } catch (e) {
    const error = isRecognitionError(e) ? e : new InternalError('unexpected failure', {}, { cause: e });
    return done(errorResponse(error, req.requestId), { errorCode: error.code, error: e });
  }
}
