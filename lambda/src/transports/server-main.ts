import { parseArgs } from 'node:util';
import { loadConfig } from '../adapters/config';
import { ensureModels } from './fetch-support';
import { startLocalServer } from './server';

/** `npm start`: fetch the default models if missing, then serve the API and the page. */
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
  const config = loadConfig(env);
  const log = (l: string) => process.stderr.write(`${l}\n`);

  if (!values['no-fetch']) {
    const reports = await ensureModels(config, [config.defaultClassifier, config.defaultDetector], log);
    for (const r of reports.filter((x) => x.status === 'failed')) {
      log(`\n! Default model '${r.id}' is not available: ${r.message}`);
      log(
        `  Other models still work. To choose another default, set DEFAULT_CLASSIFIER or DEFAULT_DETECTOR,` +
          ` e.g. DEFAULT_CLASSIFIER=mobilenetv2-12-int8 MODEL_PATH=/path/to/models npm start`,
      );
    }
  }

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
