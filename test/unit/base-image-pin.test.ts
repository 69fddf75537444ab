/**
 * Item 12 of issue 15: every stage of the Lambda image starts from one base image, named once
 * (ARG NODE_BASE before the first FROM), and scripts/pin-base-image.sh pins it by the digest the
 * registry answers. The registry is not reachable here, so the script runs against a stand-in
 * `curl` that answers as public.ecr.aws does.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseDockerfile } from '../../scripts/image-rehearsal/dockerfile';

const REPO_ROOT = path.resolve(__dirname, '../..');
const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const DIGEST = /^sha256:[0-9a-f]{64}$/;

describe('Dockerfile base image', () => {
  test('every FROM is ${NODE_BASE}: one image for every stage', () => {
    expect(stages.length).toBe(5);
    for (const stage of stages) {
      expect({ stage: stage.name, from: stage.from }).toEqual({ stage: stage.name, from: '${NODE_BASE}' });
      expect(stage.image).toBe('public.ecr.aws/lambda/nodejs:22');
    }
    expect(new Set(stages.map((s) => s.digest)).size).toBe(1);
  });

  test('NODE_BASE is set once, before the first FROM, names the tag, and carries a digest only as sha256', () => {
    const head = dockerfile.slice(0, dockerfile.indexOf('\nFROM '));
    const value = /^ARG NODE_BASE=(\S+)$/m.exec(head)?.[1] ?? '';
    const [image, digest] = value.split('@');
    expect(image).toBe('public.ecr.aws/lambda/nodejs:22');
    if (digest !== undefined) expect(digest).toMatch(DIGEST);
    expect(head).toMatch(/^#.*tag\s*(#\s*)?public\.ecr\.aws\/lambda\/nodejs:22/m);
    expect(dockerfile.match(/^ARG NODE_BASE=/gm)).toHaveLength(1);
  });

  test('the parser substitutes build arguments and refuses an unset one or a non-ARG before FROM', () => {
    const text =
      'ARG BASE=img:1\nARG PIN=sha256:' + 'a'.repeat(64) + '\nFROM ${BASE}@${PIN} AS x\nWORKDIR /x\n';
    expect(parseDockerfile(text)[0]).toMatchObject({
      name: 'x',
      image: 'img:1',
      digest: `sha256:${'a'.repeat(64)}`,
    });
    expect(parseDockerfile(text, { BASE: 'other:2' })[0]?.image).toBe('other:2');
    expect(parseDockerfile('FROM img:3\n')[0]).toMatchObject({ image: 'img:3', digest: null });
    expect(() => parseDockerfile('FROM ${NOPE}\n')).toThrow(/no ARG before the first FROM/);
    expect(() => parseDockerfile('WORKDIR /x\nFROM img:3\n')).toThrow(/before the first FROM/);
  });
});

describe('scripts/pin-base-image.sh', () => {
  const script = path.join(REPO_ROOT, 'scripts/pin-base-image.sh');

  test('asks for the multi-arch index and reads Docker-Content-Digest', () => {
    const text = readFileSync(script, 'utf8');
    expect(statSync(script).mode & 0o111).not.toBe(0);
    expect(text).toContain('https://public.ecr.aws/token/');
    expect(text).toContain('application/vnd.oci.image.index.v1+json');
    expect(text).toContain('application/vnd.docker.distribution.manifest.list.v2+json');
    expect(text).toMatch(/[Dd]ocker-[Cc]ontent-[Dd]igest/);
  });

  test('rewrites only the NODE_BASE line, adding the digest the registry sends to the tag', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pin-base-'));
    try {
      mkdirSync(path.join(dir, 'repo/scripts'), { recursive: true });
      mkdirSync(path.join(dir, 'bin'));
      copyFileSync(path.join(REPO_ROOT, 'Dockerfile'), path.join(dir, 'repo/Dockerfile'));
      copyFileSync(script, path.join(dir, 'repo/scripts/pin-base-image.sh'));
      const fresh = `sha256:${'1'.repeat(64)}`;
      // A stand-in for curl: the anonymous token, then the manifest HEAD for the tag.
      writeFileSync(
        path.join(dir, 'bin/curl'),
        [
          '#!/bin/sh',
          'case "$*" in',
          `  *public.ecr.aws/token/*) echo '{"token":"t0k"}' ;;`,
          `  *"Bearer t0k"*manifests/22*) printf 'HTTP/1.1 200 OK\\r\\nDocker-Content-Digest: ${fresh}\\r\\n\\r\\n' ;;`,
          '  *) exit 22 ;;',
          'esac',
          '',
        ].join('\n'),
      );
      chmodSync(path.join(dir, 'bin/curl'), 0o755);
      const env = { ...process.env, PATH: `${path.join(dir, 'bin')}:${process.env.PATH ?? ''}` };
      const run = (...args: string[]) =>
        execFileSync('sh', ['scripts/pin-base-image.sh', ...args], {
          cwd: path.join(dir, 'repo'),
          env,
          encoding: 'utf8',
        });
      expect(() => run('--check')).toThrow();
      expect(run()).toContain(`is ${fresh}`);
      const after = readFileSync(path.join(dir, 'repo/Dockerfile'), 'utf8');
      const changed = after.split('\n').filter((line, i) => line !== dockerfile.split('\n')[i]);
      expect(changed).toEqual([`ARG NODE_BASE=public.ecr.aws/lambda/nodejs:22@${fresh}`]);
      expect(new Set(parseDockerfile(after).map((s) => s.digest))).toEqual(new Set([fresh]));
      expect(run('--check')).toContain('the Dockerfile pins');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
