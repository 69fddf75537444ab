import { parseArgs } from 'node:util';
import { loadConfig } from '../../lambda/src/adapters/config';
import { prepareModels } from './prepare-models';

/** `npm run models:prepare [ids…]`: pre-builds the prepared model copies into MODEL_PREPARED_DIR. */
async function main(): Promise<number> {
  const { positionals: ids } = parseArgs({ allowPositionals: true, options: {} });
  const config = loadConfig();
  if (!config.preparedDir) {
    process.stdout.write('MODEL_PREPARED_DIR is off (or unset on Lambda): nothing to prepare.\n');
    return 0;
  }
  const reports = await prepareModels(config, ids.length > 0 ? ids : null);
  for (const r of reports) {
    const detail =
      r.status === 'prepared'
        ? ` (${r.replaced ?? 0} Mish chains rewritten, ${r.externalTensors ?? 0} weight tensors in an external file)`
        : r.message
          ? ` — ${r.message}`
          : '';
    process.stdout.write(`${r.id}: ${r.status}${detail}\n`);
  }
  process.stdout.write(`Prepared copies in ${config.preparedDir}\n`);
  return reports.some((r) => r.status === 'failed') ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`models:prepare failed: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
