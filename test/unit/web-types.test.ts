/**
 * web/api-types.d.ts is generated from the API's openapi.json (`npm run web:types`) and committed, so
 * the page typechecks offline. This regenerates it the same way (openapi-typescript, then prettier
 * with the repo's settings) into a temporary file and fails if the committed copy has drifted from
 * the contract: the page's types then no longer describe what the API sends.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const SPEC = 'lambda/src/transports/http/openapi.json';
const COMMITTED = 'web/api-types.d.ts';

/** The generator as `npm run web:types` runs it, writing to `out` instead of web/. */
function regenerate(out: string): string {
  // Child processes: prettier 3 loads its plugins with import(), which Jest's CommonJS sandbox refuses.
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'node_modules/openapi-typescript/bin/cli.js'), SPEC, '-o', out],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // --stdin-filepath: formatted with the settings prettier would use for the committed file.
  return execFileSync(
    process.execPath,
    [path.join(ROOT, 'node_modules/prettier/bin/prettier.cjs'), '--stdin-filepath', COMMITTED],
    { cwd: ROOT, input: readFileSync(out), encoding: 'utf8' },
  );
}

it('web/api-types.d.ts matches what `npm run web:types` generates from openapi.json', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'web-types-'));
  try {
    const fresh = regenerate(path.join(dir, 'api-types.d.ts'));
    const committed = readFileSync(path.join(ROOT, COMMITTED), 'utf8');
    // On failure: run `npm run web:types` and commit web/api-types.d.ts with the openapi.json change.
    expect(committed).toBe(fresh);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
