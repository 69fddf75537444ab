import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import allocatorEnv from '../../lambda/allocator-env.json';
import { parseDockerfile } from '../../scripts/image-rehearsal/dockerfile';
import { REPO_ROOT } from './synth';

jest.setTimeout(60_000);

/**
 * What the image rehearsal (test/image, `npm run test:image`) cannot see: the runtime's ENV values
 * and the linters. The rehearsal itself proves the stages build and the handler answers.
 */
const stages = parseDockerfile(readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8'));

describe('Dockerfile', () => {
  test('starts the runtime with the allocator settings of lambda/allocator-env.json', () => {
    const runtime = stages.at(-1)?.instructions ?? [];
    const set = Object.assign({}, ...runtime.flatMap((i) => (i.kind === 'ENV' ? [i.vars] : []))) as Record<
      string,
      string
    >;
    expect(Object.keys(allocatorEnv).length).toBeGreaterThan(0);
    for (const [name, value] of Object.entries(allocatorEnv))
      expect({ name, value: set[name] }).toEqual({ name, value });
  });

  test('starts the runtime with libvips untrusted loaders blocked', () => {
    const runtime = stages.at(-1)?.instructions ?? [];
    const set = Object.assign({}, ...runtime.flatMap((i) => (i.kind === 'ENV' ? [i.vars] : []))) as Record<
      string,
      string
    >;
    expect(set.VIPS_BLOCK_UNTRUSTED).toBe('1');
  });

  test('passes dockerfilelint (exit code = number of issues)', () => {
    const res = spawnSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'dockerfilelint'), ['Dockerfile'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect({ status: res.status, out: res.status === 0 ? '' : res.stdout }).toEqual({ status: 0, out: '' });
  });

  test('.dockerignore is an allow-list that keeps node_modules, cdk.out, dist, .git and test-artifacts out', () => {
    const lines = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(lines[0]).toBe('*');
    const included = lines.filter((l) => l.startsWith('!'));
    for (const l of included) {
      expect(l).not.toMatch(/node_modules|cdk\.out|dist|\.git|test-artifacts|^!web|^!test/);
    }
  });
});
