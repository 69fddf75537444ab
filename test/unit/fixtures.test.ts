/** The binaries the repository holds are exactly the ones its SOURCES files name, byte for byte. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { EMBEDDED_MODELS, FIXTURE_IMAGES } from '../support/fixtures';
import { readSourcesTable } from '../support/sources-table';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const DOCS = new Set(['SOURCES.md', 'EXPECTED.md']);

describe.each([
  ['models/embedded', EMBEDDED_MODELS, 3],
  ['test/fixtures/images', FIXTURE_IMAGES, 8],
])('%s', (_name, dir, count) => {
  const rows = readSourcesTable(dir);

  it(`SOURCES.md lists ${count} files, each with its source and licence`, () => {
    expect(rows).toHaveLength(count);
  });

  it('every listed file is present with the listed size and sha256', () => {
    const found = rows.map((r) => {
      const file = path.join(dir, r.file);
      return { file: r.file, bytes: readFileSync(file).length, sha256: sha256(file) };
    });
    expect(found).toEqual(rows);
  });

  it('holds no file that SOURCES.md does not list', () => {
    const listed = new Set(rows.map((r) => r.file));
    expect(readdirSync(dir).filter((f) => !listed.has(f) && !DOCS.has(f))).toEqual([]);
  });
});
