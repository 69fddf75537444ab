import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { ModelUnavailableError } from '../core/errors';
import type { RequestOutcome } from './http/api';

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

/** One JSON log line per request and, when enabled, its EMF metrics. */
export function recordRequest(
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
    // The answer names the model without paths or buckets; the log keeps the full reason.
    ...(outcome.error instanceof ModelUnavailableError ? { reason: outcome.error.reason } : {}),
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
  // Powertools keeps its own cold-start state: the first call per execution environment emits it.
  metrics.captureColdStartMetric();
  if (outcome.errorCode) {
    metrics
      .singleMetric()
      .addDimension('errorCode', outcome.errorCode)
      .addMetric('Errors', MetricUnit.Count, 1);
  }
  metrics.publishStoredMetrics();
}
