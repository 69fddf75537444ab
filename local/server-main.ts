import { parseArgs } from 'node:util';
import type { Config } from '../lambda/src/adapters/config';
import type { RecognitionService } from '../lambda/src/service/recognition-service';
import { ensureModels } from './fetch-support';
import { startLocalServer } from './server';

/**
 * Downloads the configured defaults that are not installed while the embedded models answer, and
 * switches to each once it is verified and loaded. Offline, it says so once and keeps the fallback.
 */
async function fetchDefaultsInBackground(
  service: RecognitionService,
  config: Config,
  log: (line: string) => void,
): Promise<void> {
  for (const task of service.defaultsWaiting()) {
    const { preferred, model } = service.defaultsStatus()[task];
    service.noteDefault(task, 'downloading', `${preferred} is downloading; ${model} answers meanwhile`);
    const [report] = await ensureModels(config, [preferred], log);
    if (report?.status === 'failed') {
      service.noteDefault(task, 'fallback', `${preferred} could not be downloaded: ${report.message ?? ''}`);
      log(
        `\n! ${preferred} could not be downloaded; ${model} keeps answering ${task}. ${report.message ?? ''}`,
      );
      continue;
    }
    const adopted = await service.adoptDefault(task);
    log(
      adopted.ok
        ? `\n✓ ${preferred} is ready and now answers ${task} (was ${model})`
        : `\n! ${preferred} was downloaded but could not be loaded (${adopted.error ?? ''}); ${model} keeps answering`,
    );
  }
}

/** `npm start`: serve the API and the page at once; missing default models download in the background. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      manifest: { type: 'string' },
      'no-fetch': { type: 'boolean' },
    },
  });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  if (values.manifest) env.MODEL_MANIFEST = values.manifest;
  Object.assign(process.env, env);
  const log = (l: string) => process.stderr.write(`${l}\n`);

  const port = Number(values.port ?? env.PORT ?? 3000);
  const host = values.host ?? env.HOST ?? '127.0.0.1';
  const server = await startLocalServer({ port, host, env });
  const loaded = await server.preload;
  const models = server.service.models();
  log(`\nImage recognition API on ${server.url}`);
  log(`  page:     ${server.url}/  (classifier.html)`);
  log(`  classify: curl -s -H 'Content-Type: image/jpeg' --data-binary @photo.jpg ${server.url}/classifier`);
  log(`  detect:   curl -s -F image=@photo.jpg ${server.url}/detector`);
  log('  models:');
  for (const m of models) {
    const failed = loaded.find((l) => l.id === m.id && !l.ok);
    const state = m.loaded ? 'loaded' : m.available ? 'available' : 'missing';
    log(
      `    ${m.default ? '*' : ' '} ${m.id.padEnd(22)} ${m.task.padEnd(15)} ${failed ? `unavailable: ${failed.error ?? ''}` : state}`,
    );
  }
  for (const status of Object.values(server.service.defaultsStatus())) {
    if (status.state !== 'preferred') log(`  ! ${status.detail ?? ''}`);
  }
  if (!values['no-fetch']) {
    void fetchDefaultsInBackground(server.service, server.config, log).catch((e: unknown) => {
      log(`\n! background download stopped: ${(e as Error).message}`);
    });
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`\n${signal}: finishing open requests…`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => {
    stop('SIGINT');
  });
  process.on('SIGTERM', () => {
    stop('SIGTERM');
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`Could not start: ${(e as Error).message}\n`);
  process.exit(1);
});
