import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The fields of models/manifest.json the deployment needs (the runtime reads the full manifest). */
export interface CatalogModel {
  readonly id: string;
  readonly task: 'classification' | 'detection';
  /** File name of the .onnx model (in /opt/models, the S3 prefix or .cache/models). */
  readonly file: string;
  /** Download URLs, tried in order; empty for models that only exist locally (they need modelsFromCache). */
  readonly urls: readonly string[];
  readonly bytes?: number;
}

/**
 * Reads models/manifest.json as data. The CDK app deliberately does not import lambda/src (see
 * eslint.config.mjs), so it parses the JSON itself.
 */
export class ModelCatalog {
  static fromRepo(repoRoot: string): ModelCatalog {
    const raw = JSON.parse(readFileSync(path.join(repoRoot, 'models', 'manifest.json'), 'utf8')) as {
      models: CatalogModel[];
    };
    return new ModelCatalog(raw.models);
  }

  constructor(readonly models: readonly CatalogModel[]) {}

  get(id: string): CatalogModel {
    const model = this.models.find((m) => m.id === id);
    if (!model) {
      throw new Error(`Unknown model '${id}'. Known ids: ${this.models.map((m) => m.id).join(', ')}`);
    }
    return model;
  }
}
