/**
 * Needs Debian's wordnet-base (WordNet 3.0's /usr/share/wordnet/data.noun), so it runs in
 * `npm run test:system`: the committed models/imagenet-hierarchy.json must be exactly what
 * tools/imagenet-hierarchy/build-hierarchy.ts makes from it, so the data provably comes from the
 * script (and the script's tree rule and deny-list are the ones in the file).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/fixtures';

const DATA_NOUN = '/usr/share/wordnet/data.noun';
const COMMITTED = path.join(REPO_ROOT, 'models', 'imagenet-hierarchy.json');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'imagenet-hierarchy-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('WordNet 3.0 is installed (apt-get install wordnet-base)', () => {
  if (!existsSync(DATA_NOUN)) {
    throw new Error(`${DATA_NOUN} is missing: apt-get install wordnet-base (Debian's WordNet 3.0 database)`);
  }
});

test('the generator makes the committed models/imagenet-hierarchy.json byte for byte', async () => {
  if (!existsSync(DATA_NOUN)) {
    throw new Error(`${DATA_NOUN} is missing: apt-get install wordnet-base, then run this suite again`);
  }
  const out = path.join(dir, 'imagenet-hierarchy.json');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--import',
      'tsx',
      'tools/imagenet-hierarchy/build-hierarchy.ts',
      '--wordnet',
      DATA_NOUN,
      '--synsets',
      'models/imagenet_synsets.txt',
      '--out',
      out,
    ],
    { cwd: REPO_ROOT, timeout: 60_000 },
  );
  expect(stdout).toMatch(/1000 classes, \d+ nodes/);
  const made = readFileSync(out);
  const committed = readFileSync(COMMITTED);
  // Compare as text first for a readable diff, then the bytes.
  expect(made.toString('utf8')).toBe(committed.toString('utf8'));
  expect(made.equals(committed)).toBe(true);
}, 90_000);
