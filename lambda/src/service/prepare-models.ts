import type { Config } from '../adapters/config';
import { loadManifest } from '../adapters/manifest-loader';
import { ModelFileStore } from '../adapters/model-files';
import { prepareOptimizedModel } from '../adapters/onnx-graph-rewrite';

export interface PrepareReport {
  id: string;
  status: 'rewritten' | 'unchanged' | 'missing' | 'failed';
  replaced?: number;
  message?: string;
}

/**
 * Writes the rewritten graphs (onnx-graph-rewrite.ts) of the models present on the search path
 * into the rewrite folder ahead of time: the container image does this at build time so that no
 * cold start pays for it.
 */
export async function prepareModels(config: Config, ids: readonly string[] | null): Promise<PrepareReport[]> {
  const dir = config.modelRewriteDir;
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
      const r = await prepareOptimizedModel(file, spec.sha256, dir);
      reports.push(
        r.error
          ? { id: spec.id, status: 'failed', message: r.error }
          : { id: spec.id, status: r.replaced > 0 ? 'rewritten' : 'unchanged', replaced: r.replaced },
      );
    } catch (e) {
      reports.push({ id: spec.id, status: 'failed', message: (e as Error).message });
    }
  }
  return reports;
}
