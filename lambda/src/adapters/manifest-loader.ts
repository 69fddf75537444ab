import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Manifest } from '../core/manifest';
import { ManifestError, mergeManifests, validateManifest } from '../core/manifest-merge';

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (e) {
    throw new ManifestError(`cannot read manifest ${file}: ${(e as Error).message}`);
  }
}

/** The built-in manifest, with the user's manifest (MODEL_MANIFEST / --manifest) applied on top. */
export function loadManifest(modelsDir: string, userManifest: string | null): Manifest {
  const base = validateManifest(readJson(path.join(modelsDir, 'manifest.json')), 'models/manifest.json');
  return userManifest ? mergeManifests(base, readJson(userManifest), userManifest) : base;
}
