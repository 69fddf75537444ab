import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import type { Config } from '../adapters/config';
import type { RecognitionService } from '../service/recognition-service';
import { errorBody, handleApiRequest, type RequestOutcome } from './http/api';
import type { ApiRequest, ApiResponse } from './http/api-types';
import { InternalError } from '../core/errors';

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

function toApiRequest(event: HandlerEvent, context: Partial<Context> | undefined): ApiRequest {
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
  };
}

function toProxyResult(res: ApiResponse): APIGatewayProxyResult {
  return Buffer.isBuffer(res.body)
    ? {
        statusCode: res.statusCode,
        headers: res.headers,
        body: res.body.toString('base64'),
        isBase64Encoded: true,
      }
    : { statusCode: res.statusCode, headers: res.headers, body: res.body, isBase64Encoded: false };
}

export interface Telemetry {
  logger: Logger;
  metrics: Metrics;
  metricsEnabled: boolean;
}

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Powertools logger and metrics, configured from the given environment. (Metrics also reads its
 * own POWERTOOLS_METRICS_DISABLED from process.env; `metricsEnabled` follows the given env.)
 */
export function createTelemetry(env: NodeJS.ProcessEnv = process.env): Telemetry {
  const serviceName = env.POWERTOOLS_SERVICE_NAME ?? 'image-recognition';
  const level = (env.POWERTOOLS_LOG_LEVEL ?? 'INFO').toUpperCase();
  return {
    logger: new Logger({
      serviceName,
      logLevel: LOG_LEVELS.includes(level as LogLevel) ? (level as LogLevel) : 'INFO',
    }),
    metrics: new Metrics({ namespace: env.POWERTOOLS_METRICS_NAMESPACE ?? 'ImageRecognition', serviceName }),
    metricsEnabled: env.POWERTOOLS_METRICS_DISABLED !== 'true',
  };
}

function record(
  t: Telemetry,
  outcome: RequestOutcome,
  requestId: string,
  coldStart: boolean,
  elapsedMs: number,
) {
  const { logger, metrics } = t;
  const timings = outcome.result?.timings;
  const entry = {
    requestId,
    route: outcome.route,
    statusCode: outcome.statusCode,
    coldStart,
    model: outcome.result?.model,
    timings,
    elapsedMs: Math.round(elapsedMs * 100) / 100,
    ...(outcome.errorCode ? { errorCode: outcome.errorCode } : {}),
  };
  if (outcome.errorCode === 'INTERNAL')
    logger.error('request failed', { ...entry, error: outcome.error as Error });
  else logger.info('request', entry);
  if (!t.metricsEnabled) return;
  metrics.addMetric('Latency', MetricUnit.Milliseconds, elapsedMs);
  if (timings) {
    metrics.addMetric('DecodeLatency', MetricUnit.Milliseconds, timings.decodeMs);
    metrics.addMetric('PreprocessLatency', MetricUnit.Milliseconds, timings.preprocessMs);
    metrics.addMetric('InferenceLatency', MetricUnit.Milliseconds, timings.inferenceMs);
    metrics.addMetric('PostprocessLatency', MetricUnit.Milliseconds, timings.postprocessMs);
  }
  if (coldStart) metrics.addMetric('ColdStart', MetricUnit.Count, 1);
  if (outcome.errorCode) {
    metrics
      .singleMetric()
      .addDimension('errorCode', outcome.errorCode)
      .addMetric('Errors', MetricUnit.Count, 1);
  }
  metrics.publishStoredMetrics();
}

/**
 * Builds the Lambda handler around a service. The same function serves API Gateway proxy events,
 * the older mapping-template events and (through an adapter) the local HTTP server.
 */
export function createLambdaHandler(
  service: RecognitionService,
  config: Pick<Config, 'maxImageBytes' | 'requestTimeoutMs' | 'corsAllowedOrigins'>,
  options: { ready?: Promise<unknown>; telemetry?: Telemetry } = {},
) {
  const telemetry = options.telemetry ?? createTelemetry();
  let coldStart = true;
  return async function handler(
    event: HandlerEvent,
    context?: Partial<Context>,
  ): Promise<APIGatewayProxyResult | Record<string, unknown>> {
    const started = performance.now();
    const wasCold = coldStart;
    coldStart = false;
    let req: ApiRequest | undefined;
    try {
      // Models load during init; the first request waits for them instead of loading twice.
      await options.ready?.catch(() => undefined);
      req = toApiRequest(event, context);
      const { response, outcome } = await handleApiRequest(service, req, config, { coldStart: wasCold });
      try {
        record(telemetry, outcome, req.requestId, wasCold, performance.now() - started);
      } catch {
        // Telemetry must never turn a good answer into a failure.
      }
      if (isMappingTemplate(event)) {
        // Non-proxy integrations return the body itself; it carries its own statusCode.
        return Buffer.isBuffer(response.body)
          ? { statusCode: response.statusCode, image: response.body.toString('base64') }
          : (JSON.parse(response.body) as Record<string, unknown>);
      }
      return toProxyResult(response);
    } catch (e) {
      const requestId = req?.requestId ?? context?.awsRequestId ?? randomUUID();
      telemetry.logger.error('unhandled failure', { requestId, error: e as Error });
      const body = errorBody(new InternalError('unhandled'), requestId);
      return {
        statusCode: 500,
        headers: { 'Content-Type': 'application/json; charset=utf-8' },
        body: JSON.stringify(body),
        isBase64Encoded: false,
      };
    }
  };
}

export type LambdaHandler = ReturnType<typeof createLambdaHandler>;
