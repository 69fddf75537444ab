import { randomUUID } from 'node:crypto';
import { InternalError } from '../core/errors';
import type { RecognitionService } from '../service/recognition-service';
import { errorResponse, handleApiRequest, type ApiSettings } from './http/api';
import type { ApiRequest, ApiResponse } from './http/api-types';
import { createTelemetry, recordRequest, type Telemetry } from './telemetry';

export type ApiHandler = (req: ApiRequest) => Promise<ApiResponse>;

/**
 * The API as one function of a neutral request, with what every transport adds around it: waiting
 * for the start-up model loads (no longer than the request's deadline), the cold-start flag, a log
 * line and metrics per request, and a JSON 500 if anything escapes. The Lambda handler, the local
 * server and the CLI all call this.
 */
export function createApiHandler(
  service: RecognitionService,
  config: ApiSettings,
  options: { ready?: Promise<unknown>; telemetry?: Telemetry } = {},
): ApiHandler {
  const telemetry = options.telemetry ?? createTelemetry();
  let coldStart = true;
  return async (req) => {
    const started = performance.now();
    const wasCold = coldStart;
    coldStart = false;
    try {
      const { response, outcome } = await handleApiRequest(service, req, config, {
        coldStart: wasCold,
        ready: options.ready,
      });
      try {
        recordRequest(telemetry, outcome, req.requestId, wasCold, performance.now() - started);
      } catch {
        // Telemetry must never turn a good answer into a failure.
      }
      return response;
    } catch (e) {
      const requestId = req.requestId || randomUUID();
      telemetry.logger.error('unhandled failure', { requestId, error: e as Error });
      return errorResponse(new InternalError('unhandled'), requestId);
    }
  };
}
