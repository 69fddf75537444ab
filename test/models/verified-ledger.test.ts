/**
 * Checksums verified at build time are not computed again at every cold start: `models:prepare`
 * (run by the image build) leaves a ledger beside the prepared copies, and the service's file
 * store trusts it while each file keeps its size and mtime.
 */
import { copyFileSync, mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../lambda/src/adapters/config';
import { LEDGER_NAME, ModelFileStore } from '../../lambda/src/adapters/model-files';
import { sha256File } from '../../lambda/src/adapters/sha256';
import type { ModelSpec } from '../../lambda/src/core/manifest';
import { prepareModels } from '../../tools/model-prep/prepare-models';
import { EMBEDDED_MODELS, smallModelEnv } from '../support/fixtures';

jest.setTimeout(60_000);

const FILE = 'yolo-fastest-1.1-coco-320.onnx';

/** A folder holding a copy of a real model, as the image's /opt/models does. */
function modelFolder(): { dir: string; file: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'ledger-models-'));
  const file = path.join(dir, FILE);
  copyFileSync(path.join(EMBEDDED_MODELS, FILE), file);
  return { dir, file };
}

const spec = (sha256: string) => ({ id: 'yolo-fastest-1.1-xl', file: FILE, sha256 }) as unknown as ModelSpec;

describe('verified-checksum ledger', () => {
  it('models:prepare records each verified model in a ledger beside the prepared copies', async () => {
    const { dir, file } = modelFolder();
    const rewriteDir = mkdtempSync(path.join(tmpdir(), 'ledger-prepared-'));
    const config = loadConfig(smallModelEnv({ MODEL_PATH: dir, MODEL_PREPARED_DIR: rewriteDir }));
    const reports = await prepareModels(config, ['yolo-fastest-1.1-xl']);
    expect(reports).toMatchObject([{ id: 'yolo-fastest-1.1-xl', status: 'prepared' }]);

    const ledger = JSON.parse(readFileSync(path.join(rewriteDir, LEDGER_NAME), 'utf8')) as Record<
      string,
      { sha256: string; size: number }
    >;
    expect(ledger[path.resolve(file)]).toMatchObject({ sha256: await sha256File(file) });
  });

  it('a store trusts a ledger entry while the file keeps its size and mtime, and hashes again when it changes', async () => {
    const { file } = modelFolder();
    const real = await sha256File(file);
    // The ledger claims a checksum the file does not have: only a store that trusts the ledger,
    // instead of hashing, accepts the file under that checksum.
    const claimed = 'c'.repeat(64);
    const { size, mtimeMs } = statSync(file);
    const trusted = path.join(mkdtempSync(path.join(tmpdir(), 'ledger-trusted-')), LEDGER_NAME);
    writeFileSync(trusted, JSON.stringify({ [path.resolve(file)]: { size, mtimeMs, sha256: claimed } }));
    const cache = () => mkdtempSync(path.join(tmpdir(), 'ledger-cache-'));

    const store = new ModelFileStore([path.dirname(file)], EMBEDDED_MODELS, cache(), undefined, [trusted]);
    await expect(store.locate(spec(claimed))).resolves.toBe(file);

    // Touched (as a changed file would be): the entry no longer applies, the real hash decides.
    utimesSync(file, new Date(), new Date(mtimeMs + 60_000));
    const after = new ModelFileStore([path.dirname(file)], EMBEDDED_MODELS, cache(), undefined, [trusted]);
    await expect(after.locate(spec(claimed))).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    await expect(after.locate(spec(real))).resolves.toBe(file);
  });

  it('a store without the trusted ledger hashes the file', async () => {
    const { file } = modelFolder();
    const store = new ModelFileStore(
      [path.dirname(file)],
      EMBEDDED_MODELS,
      mkdtempSync(path.join(tmpdir(), 'c-')),
    );
    await expect(store.locate(spec('c'.repeat(64)))).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
  });
});
