import { spawnSync } from 'node:child_process';
import path from 'node:path';
import allocatorEnv from '../../lambda/allocator-env.json';

const ROOT = path.resolve(__dirname, '..', '..');
const ENTRY = path.join('test', 'support', 'report-process.ts');

/** Runs scripts/tuned-node.mjs like `npm start` does, with `env` instead of the test's own. */
function launch(args: string[], env: Record<string, string> = {}) {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !(k in allocatorEnv) && k !== 'ALLOCATOR_TUNING'),
  );
  const res = spawnSync(process.execPath, ['scripts/tuned-node.mjs', ENTRY, ...args], {
    cwd: ROOT,
    env: { ...base, ...env },
    encoding: 'utf8',
  });
  const line = res.stdout.trim().split('\n').pop() ?? '';
  return {
    status: res.status,
    stderr: res.stderr,
    report: (line ? JSON.parse(line) : null) as { args: string[]; env: Record<string, string | null> } | null,
  };
}

describe('scripts/tuned-node.mjs (npm start, classify, bench)', () => {
  jest.setTimeout(30_000);

  test('starts the entry with the allocator settings of lambda/allocator-env.json and passes the arguments on', () => {
    const { status, report, stderr } = launch(['0', 'photo.jpg', '--top', '3']);
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
    expect(report).toEqual({ args: ['0', 'photo.jpg', '--top', '3'], env: allocatorEnv });
  });

  test('leaves a variable the user set as it is and adds the others', () => {
    const { report } = launch(['0'], { MALLOC_ARENA_MAX: '8' });
    expect(report?.env).toEqual({ ...allocatorEnv, MALLOC_ARENA_MAX: '8' });
  });

  test('ALLOCATOR_TUNING=off starts the entry with glibc defaults', () => {
    const { report } = launch(['0'], { ALLOCATOR_TUNING: 'off' });
    expect(Object.values(report?.env ?? { x: 'missing' })).toEqual(Object.keys(allocatorEnv).map(() => null));
  });

  test("exits with the entry's exit code", () => {
    expect(launch(['3']).status).toBe(3);
  });
});
