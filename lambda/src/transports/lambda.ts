import { loadConfig } from '../adapters/config';
import { createService } from '../service/create-service';
import { createLambdaHandler, createTelemetry } from './lambda-handler';

// Everything here runs in Lambda's init phase: configuration, the manifest and the default
// models' sessions (downloaded from S3 first when MODEL_S3_URI is set). The first request awaits
// `ready` rather than loading anything itself.
const config = loadConfig();
const service = createService(config);
const telemetry = createTelemetry();
const ready = service.preload(config.preload).then((outcomes) => {
  for (const o of outcomes) {
    if (o.ok) telemetry.logger.info('model loaded', { model: o.id });
    else telemetry.logger.error('model unavailable', { model: o.id, reason: o.error });
  }
  return outcomes;
});

export const handler = createLambdaHandler(service, config, { ready, telemetry });
