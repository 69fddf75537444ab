import type { Config } from '../lambda/src/adapters/config';
import { loadConfig } from '../lambda/src/adapters/config';
import type { Task } from '../lambda/src/core/manifest';
import { createService } from '../lambda/src/service/create-service';
import type { RecognitionService } from '../lambda/src/service/recognition-service';
import { prepareMissing } from './prepare-on-load';

/**
 * The service as the CLI runs it: the environment's configuration, but no model loaded at start
 * (only the one the photos need, on first use), quiet telemetry, and `--manifest` as the user
 * manifest.
 */
export function createCliService(manifest: string | undefined): {
  config: Config;
  service: RecognitionService;
} {
  const env: NodeJS.ProcessEnv = { ...process.env, PRELOAD_MODELS: '' };
  if (manifest) env.MODEL_MANIFEST = manifest;
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  const config = loadConfig(env);
  return { config, service: createService(config, { prepareMissing }) };
}

/** Why the default model of `task` is not the configured one (a fallback answers), if it is not. */
export function fallbackNote(service: RecognitionService, task: Task): string | undefined {
  const status = service.defaultsStatus()[task];
  return status.state === 'preferred' ? undefined : `Note: ${status.detail ?? ''}`;
}
