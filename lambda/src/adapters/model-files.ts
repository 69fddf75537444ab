import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelUnavailableError } from '../core/errors';
import type { ModelSpec } from '../core/manifest';
import type { ModelFiles } from '../core/ports';
import { compileHierarchy, type HierarchyData } from '../core/hierarchy';
import type { Labels } from '../core/results';
import { sha256File } from './sha256';

interface VerifiedEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** File name of a verification ledger: absolute path → size, mtime and the sha256 found. */
export const LEDGER_NAME = '.verified-sha256.json';

function readLedger(file: string): [string, VerifiedEntry][] {
  try {
    return Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, VerifiedEntry>);
  } catch {
    return []; // no ledger yet, or unreadable: hash again
  }
}

/**
 * Finds model files on a search path and verifies each one's sha256 once: the result is
 * remembered by size and mtime (in memory and in the cache folder), so a 250 MB model is hashed
 * once per change, not once per start. `trustedLedgers` are read-only ledgers written where the
 * files were verified earlier (the image build: hashing ResNet-50 and YOLOv4 again would lengthen
 * every cold start, docs/performance.md); an entry counts only while the file keeps its size and mtime.
 */
export class ModelFileStore implements ModelFiles {
  private readonly verified = new Map<string, VerifiedEntry>();
  private readonly ledger: string;

  constructor(
    private readonly searchPath: readonly string[],
    private readonly modelsDir: string,
    cacheDir: string,
    /** Brings a missing file into a folder on the search path (e.g. from S3); absent locally. */
    private readonly fetchMissing?: (spec: ModelSpec) => Promise<void>,
    trustedLedgers: readonly string[] = [],
  ) {
    this.ledger = path.join(cacheDir, LEDGER_NAME);
    for (const ledger of [...trustedLedgers, this.ledger]) {
      for (const [file, entry] of readLedger(ledger)) this.verified.set(file, entry);
    }
  }

  find(spec: Pick<ModelSpec, 'file'>): string | null {
    if (path.isAbsolute(spec.file)) return existsSync(spec.file) ? spec.file : null;
    for (const dir of this.searchPath) {
      const candidate = path.join(dir, spec.file);
      if (existsSync(candidate)) return candidate;
    }
    return null;
  }

  isPresent(spec: ModelSpec): boolean {
    return this.find(spec) !== null;
  }

  async locate(spec: ModelSpec): Promise<string> {
    if (!this.find(spec) && this.fetchMissing) {
      try {
        await this.fetchMissing(spec);
      } catch (e) {
        throw new ModelUnavailableError(spec.id, `could not fetch '${spec.file}': ${(e as Error).message}`, {
          cause: e,
        });
      }
    }
    const file = this.find(spec);
    if (!file) {
      throw new ModelUnavailableError(
        spec.id,
        `model file '${path.basename(spec.file)}' is not installed. Run 'npm run models:fetch ${spec.id}' or put the file in a folder listed in MODEL_PATH.`,
      );
    }
    if (spec.sha256) {
      const actual = await this.sha256(file);
      if (actual !== spec.sha256) {
        throw new ModelUnavailableError(
          spec.id,
          `checksum mismatch for '${path.basename(file)}': expected sha256 ${spec.sha256.slice(0, 12)}…, found ${actual.slice(0, 12)}…. Delete the file and fetch it again.`,
        );
      }
    }
    return file;
  }

  async sha256(file: string): Promise<string> {
    const { size, mtimeMs } = statSync(file);
    const key = path.resolve(file);
    const known = this.verified.get(key);
    if (known && known.size === size && known.mtimeMs === mtimeMs) return known.sha256;
    const sha256 = await sha256File(file);
    this.verified.set(key, { size, mtimeMs, sha256 });
    this.saveLedger();
    return sha256;
  }

  private saveLedger(): void {
    try {
      this.exportLedger(this.ledger);
    } catch {
      // A read-only cache only costs a re-hash next start.
    }
  }

  /** Writes what this store has verified to `file`, for a later store's `trustedLedgers`. */
  exportLedger(file: string): void {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(Object.fromEntries(this.verified), null, 1));
  }

  async labels(spec: ModelSpec): Promise<Labels> {
    const read = async (name: string) =>
      (await readFile(path.resolve(this.modelsDir, name), 'utf8'))
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter(Boolean);
    const names = await read(spec.labels.names);
    const synsets = spec.labels.synsets ? await read(spec.labels.synsets) : null;
    if (names.length !== spec.numClasses || (synsets && synsets.length !== spec.numClasses)) {
      throw new ModelUnavailableError(
        spec.id,
        `label file has ${names.length} names but the model has ${spec.numClasses} classes`,
      );
    }
    const hierarchyFile = spec.labels.hierarchy;
    if (!hierarchyFile || !synsets) return { names, synsets };
    try {
      const data = JSON.parse(
        await readFile(path.resolve(this.modelsDir, hierarchyFile), 'utf8'),
      ) as HierarchyData;
      // A synsets line is "n02110063 malamute, malemute, Alaskan malamute": the wnid, then names.
      const wnids = synsets.map((line) => line.split(/\s/, 1)[0] ?? '');
      return { names, synsets, hierarchy: compileHierarchy(data, wnids) };
    } catch (e) {
      throw new ModelUnavailableError(
        spec.id,
        `hierarchy '${hierarchyFile}' could not be read: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  }
}
