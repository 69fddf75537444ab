/**
 * What must never be committed: model weights, photos and large files other than the fixtures the
 * SOURCES files name (checked byte for byte by fixtures.test.ts), and credentials.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { EMBEDDED_MODELS, FIXTURE_IMAGES } from '../support/fixtures';
import { readSourcesTable } from '../support/sources-table';

const ROOT = path.resolve(__dirname, '../..');
const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
  .split('\0')
  .filter(Boolean);

const FIXTURES = new Set(
  [EMBEDDED_MODELS, FIXTURE_IMAGES].flatMap((dir) =>
    readSourcesTable(dir).map((r) => path.relative(ROOT, path.join(dir, r.file))),
  ),
);

it('tracks no model weights, photos or files over 1 MiB but the listed fixtures', () => {
  const heavy = tracked.filter((f) =>
    /\.(onnx|ort|tflite|weights|pb|params|jpe?g|png|webp|gif|tiff?|heic|avif)$/i.test(f),
  );
  const big = tracked.filter((f) => statSync(path.join(ROOT, f)).size > 1024 * 1024);
  const unlisted = (files: string[]) => files.filter((f) => !FIXTURES.has(f));
  expect({ heavy: unlisted(heavy), big: unlisted(big) }).toEqual({ heavy: [], big: [] });
});

it('tracks no credentials (AWS access keys, private keys)', () => {
  const leaks = tracked
    .filter((f) => !f.endsWith('package-lock.json'))
    .filter((f) => {
      const text = readFileSync(path.join(ROOT, f), 'utf8');
      return /\b(AKIA|ASIA)[0-9A-Z]{16}\b/.test(text) || /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text);
    });
  expect(leaks).toEqual([]);
});
