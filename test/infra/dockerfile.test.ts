import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import allocatorEnv from '../../lambda/allocator-env.json';
import { REPO_ROOT } from './synth';

jest.setTimeout(60_000);

const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
const instructions = dockerfile
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const stages = instructions.filter((l) => l.startsWith('FROM '));

describe('Dockerfile', () => {
  test('every stage builds on public.ecr.aws/lambda/nodejs:22', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    for (const from of stages) expect(from).toMatch(/^FROM public\.ecr\.aws\/lambda\/nodejs:22( AS \w+)?$/);
  });

  test('installs production dependencies with the onnxruntime-node install step skipped', () => {
    expect(instructions).toContain('ENV ONNXRUNTIME_NODE_INSTALL=skip');
    expect(instructions.some((l) => /^RUN npm ci --omit=dev\b/.test(l))).toBe(true);
  });

  test('assembles /var/task with scripts/package-lambda.ts (the script the package test runs)', () => {
    expect(instructions).toContain('RUN npx tsx scripts/package-lambda.ts --out /build/package');
    expect(instructions).toContain('COPY --from=build /build/package/ ${LAMBDA_TASK_ROOT}/');
  });

  test('adds the selected models (MODELS build arg) to /opt/models and points MODEL_PATH there', () => {
    expect(instructions.some((l) => l.startsWith('ARG MODELS='))).toBe(true);
    expect(
      instructions.some(
        (l) => l.includes('stage-models --models "$MODELS"') && l.includes('--to /opt/models'),
      ),
    ).toBe(true);
    expect(instructions).toContain('COPY --from=models /opt/models/ /opt/models/');
    expect(instructions.some((l) => /^ENV MODEL_PATH=\/opt\/models\b/.test(l))).toBe(true);
  });

  test('starts the runtime with the allocator settings of lambda/allocator-env.json', () => {
    const runtime = instructions.slice(instructions.lastIndexOf(stages[stages.length - 1]!));
    const set = Object.fromEntries(
      runtime
        .filter((l) => l.startsWith('ENV '))
        .flatMap((l) => l.slice(4).split(/\s+/))
        .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
    );
    expect(Object.keys(allocatorEnv).length).toBeGreaterThan(0);
    for (const [name, value] of Object.entries(allocatorEnv))
      expect({ name, value: set[name] }).toEqual({ name, value });
  });

  test('runs the handler index.handler', () => {
    expect(instructions[instructions.length - 1]).toBe('CMD ["index.handler"]');
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
