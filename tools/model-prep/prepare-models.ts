import type { Config } from '../../lambda/src/adapters/config';
import { loadManifest } from '../../lambda/src/adapters/manifest-loader';
import path from 'node:path';
import { LEDGER_NAME, ModelFileStore } from '../../lambda/src/adapters/model-files';
import { prepareModel } from './onnx-graph-rewrite';

export interface PrepareReport {
  id: string;
  status: 'prepared' | 'unchanged' | 'missing' | 'failed';
  /** Mish chains rewritten. */
  replaced?: number;
  /** Initializers moved to the external weights file. */
  externalTensors?: number;
  message?: string;
}

/**
 * Writes the prepared copies (onnx-graph-rewrite.ts: Mish rewritten, weights in an external file)
 * of the models present on the search path into the prepared-copies folder ahead of time, with a ledger of
 * the checksums verified: the container image does this at build time so that no cold start pays
 * for preparing or hashing.
 */
export async function prepareModels(config: Config, ids: readonly string[] | null): Promise<PrepareReport[]> {
  const dir = config.preparedDir;
  if (!dir) return [];
  const manifest = loadManifest(config.modelsDir, config.userManifest);
  const store = new ModelFileStore(config.modelPath, config.modelsDir, config.cacheDir);
  const specs = ids ? manifest.models.filter((m) => ids.includes(m.id)) : manifest.models;
  const reports: PrepareReport[] = [];
  for (const spec of specs) {
    if (!store.isPresent(spec)) {
      reports.push({ id: spec.id, status: 'missing' });
      continue;
    }
    try {
      const file = await store.locate(spec);
      const r = await prepareModel(file, spec.sha256, dir);
      // The ledger vouches for the copies too, so a cold start verifies them without hashing.
      if (!r.error && r.file !== file) {
        await store.sha256(r.file);
        if (r.externalTensors > 0) await store.sha256(`${r.file}.data`);
      }
      reports.push(
        r.error
          ? { id: spec.id, status: 'failed', message: r.error }
          : {
              id: spec.id,
              status: r.replaced > 0 || r.externalTensors > 0 ? 'prepared' : 'unchanged',
              replaced: r.replaced,
              externalTensors: r.externalTensors,
            },
      );
    } catch (e) {
      reports.push({ id: spec.id, status: 'failed', message: (e as Error).message });
    }
  }
  store.exportLedger(path.join(dir, LEDGER_NAME));
  return reports;
}
