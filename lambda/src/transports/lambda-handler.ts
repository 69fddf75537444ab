import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import type { RecognitionService } from '../service/recognition-service';
import { InternalError } from '../core/errors';
import { createApiHandler } from './api-handler';
import {
  handleBulkBatch,
  isBulkBatchEvent,
  type BulkBatchAnswer,
  type BulkBatchEvent,
} from './bulk-batch-event';
import { errorResponse, type ApiSettings } from './http/api';
import { bodyBytes, type ApiRequest, type ApiResponse, type JsonBody } from './http/api-types';
import { createTelemetry, type Telemetry } from './telemetry';

export { createTelemetry, type Telemetry } from './telemetry';
export type { BulkBatchAnswer, BulkBatchEvent } from './bulk-batch-event';

/**
 * The event the older non-proxy deployments send: an API Gateway mapping template wraps the
 * base64 body as {"body-json": ..., "params": {...}, "context": {...}}.
 */
export interface MappingTemplateEvent {
  'body-json': string;
  params?: {
    path?: Record<string, string>;
    querystring?: Record<string, string>;
    header?: Record<string, string>;
  };
  context?: { 'resource-path'?: string; 'http-method'?: string; 'request-id'?: string };
}

export type HandlerEvent = APIGatewayProxyEvent | MappingTemplateEvent;

function isMappingTemplate(event: HandlerEvent): event is MappingTemplateEvent {
  return 'body-json' in event;
}

const lowerKeys = (h: Record<string, string | undefined> | null | undefined) =>
  Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k.toLowerCase(), v]));

/**
 * What the answer keeps for itself of the Lambda's remaining time: serialising it, the runtime
 * handing it back, and a timer that fires a little late on a busy sandbox. Answering later risks
 * Lambda's own timeout, which the client sees as a bare 502/504 with no request id.
 */
export const LAMBDA_ANSWER_MARGIN_MS = 1500;

/** The request's deadline from the context, when the invoker gave one (hand-made contexts may not). */
function deadlineOf(context: Partial<Context> | undefined): { deadlineMs?: number } {
  const remaining = context?.getRemainingTimeInMillis?.();
  return typeof remaining === 'number' && Number.isFinite(remaining)
    ? { deadlineMs: Date.now() + remaining - LAMBDA_ANSWER_MARGIN_MS }
    : {};
}

function toApiRequest(event: HandlerEvent, context: Partial<Context> | undefined): ApiRequest {
  const deadline = deadlineOf(context);
  if (isMappingTemplate(event)) {
    const headers = lowerKeys(event.params?.header);
    return {
      method: event.context?.['http-method'] ?? 'POST',
      path: event.context?.['resource-path'] ?? '/classifier',
      query: event.params?.querystring ?? {},
      // The template delivers the body base64-encoded; without a type, the bytes are sniffed.
      headers: { ...headers, 'content-type': headers['content-type'] ?? 'application/octet-stream' },
      body: Buffer.from(typeof event['body-json'] === 'string' ? event['body-json'] : '', 'base64'),
      requestId: event.context?.['request-id'] ?? context?.awsRequestId ?? randomUUID(),
      ...deadline,
    };
  }
  const body = event.body ?? '';
  return {
    method: (event.httpMethod || 'GET').toUpperCase(),
    path: event.path || '/',
    query: event.queryStringParameters ?? {},
    headers: lowerKeys(event.headers),
    body: event.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8'),
    // Hand-made events (tests, other invokers) may lack requestContext despite the type.
    requestId:
      (event.requestContext as Partial<APIGatewayProxyEvent['requestContext']> | undefined)?.requestId ||
      context?.awsRequestId ||
      randomUUID(),
    ...deadline,
  };
}

function toProxyResult(res: ApiResponse): APIGatewayProxyResult {
  const binary = Buffer.isBuffer(res.body);
  return {
    statusCode: res.statusCode,
    headers: res.headers,
    body: bodyBytes(res).toString(binary ? 'base64' : 'utf8'),
    isBase64Encoded: binary,
  };
}

/** Non-proxy integrations return the body itself; it carries its own statusCode. */
function toMappingTemplateResult(res: ApiResponse): JsonBody {
  return Buffer.isBuffer(res.body)
    ? { statusCode: res.statusCode, image: res.body.toString('base64') }
    : res.body;
}

/** The handler: a bulk batch's answer for a bulk batch, an HTTP answer in the event's form otherwise. */
export interface LambdaHandler {
  // The HTTP form first: an untyped event (`any`) keeps the answer type it always had.
  (event: HandlerEvent, context?: Partial<Context>): Promise<APIGatewayProxyResult | JsonBody>;
  (event: BulkBatchEvent, context?: Partial<Context>): Promise<BulkBatchAnswer>;
}

/**
 * The Lambda handler around a service: API Gateway proxy events and the older mapping-template
 * events become a neutral request, and the answer goes back in the event's own form; a Step
 * Functions Distributed Map batch (bulk-batch-event.ts) gets one result per S3 key, or throws when
 * the whole batch cannot run.
 */
export function createLambdaHandler(
  service: RecognitionService,
  config: ApiSettings,
  options: { ready?: Promise<unknown>; telemetry?: Telemetry } = {},
): LambdaHandler {
  const telemetry = options.telemetry ?? createTelemetry();
  const api = createApiHandler(service, config, { ...options, telemetry });
  return async function handler(
    event: HandlerEvent | BulkBatchEvent,
    context?: Partial<Context>,
  ): Promise<APIGatewayProxyResult | JsonBody | BulkBatchAnswer> {
    if (isBulkBatchEvent(event)) {
      return handleBulkBatch(service, event, {
        requestId: context?.awsRequestId ?? randomUUID(),
        ...deadlineOf(context),
        timeoutMs: config.requestTimeoutMs,
        maxItems: config.maxBatchImages,
        telemetry,
      });
    }
    let req: ApiRequest;
    try {
      req = toApiRequest(event, context);
    } catch (e) {
      // Not an event shape API Gateway sends (a hand-made invoke): still a JSON answer.
      const requestId = context?.awsRequestId ?? randomUUID();
      telemetry.logger.error('unreadable event', { requestId, error: e as Error });
      return toProxyResult(errorResponse(new InternalError('unreadable event'), requestId));
    }
    const response = await api(req);
    return isMappingTemplate(event) ? toMappingTemplateResult(response) : toProxyResult(response);
  } as LambdaHandler;
}
