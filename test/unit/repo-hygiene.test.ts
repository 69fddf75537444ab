/** What must never be committed: model weights, photos, large files, credentials. */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
  .split('\0')
  .filter(Boolean);

it('tracks no model weights, photos or files over 1 MiB', () => {
  const heavy = tracked.filter((f) => /\.(onnx|tflite|weights|pb|params|jpe?g|png|webp|heic|avif)$/i.test(f));
  const big = tracked.filter((f) => statSync(path.join(ROOT, f)).size > 1024 * 1024);
  expect({ heavy, big }).toEqual({ heavy: [], big: [] });
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
