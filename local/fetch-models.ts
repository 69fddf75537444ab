import { parseArgs } from 'node:util';
import { loadConfig } from '../lambda/src/adapters/config';
import { ensureModels } from './fetch-support';

/** `npm run models:fetch [ids…]`: downloads missing model files (default: the default models). */
async function main(): Promise<number> {
  const { values, positionals: args } = parseArgs({
    allowPositionals: true,
    options: { manifest: { type: 'string' } },
  });
  const env = { ...process.env };
  if (values.manifest) env.MODEL_MANIFEST = values.manifest;
  const config = loadConfig(env);
  const ids = args.length > 0 ? args : [config.defaultClassifier, config.defaultDetector];
  const reports = await ensureModels(config, ids, (l) => {
    process.stderr.write(`${l}\n`);
  });
  for (const r of reports) {
    process.stdout.write(
      `${r.status === 'failed' ? '✗' : '✓'} ${r.id}: ${r.status}${r.message ? ` — ${r.message}` : ''}\n`,
    );
  }
  process.stdout.write(`Model folder: ${config.cacheDir}\n`);
  return reports.some((r) => r.status === 'failed') ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`models:fetch failed: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
