import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { listFiles, REPO_ROOT } from './synth';

jest.setTimeout(300_000);

// The folder lives outside the repo: Node resolves packages upwards, so inside the repo a package
// missing from the folder would silently load from the repo's node_modules.
let work: string;
let pkg: string;
let output: string;

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'lambda-package-'));
  pkg = path.join(work, 'task');
  const res = spawnSync('npm', ['run', '--silent', 'package', '--', '--out', pkg], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`npm run package failed:\n${res.stdout}\n${res.stderr}`);
  output = res.stdout;
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

// A fresh node process answering from this folder, inside the rehearsed image: test/image.
describe('npm run package (the image’s /var/task)', () => {
  test('prints the folder size', () => {
    expect(output).toMatch(/total\s+\d+\.\d MB/);
  });

  test('holds exactly index.js, models/, package.json and node_modules/', () => {
    expect(readdirSync(pkg).sort()).toEqual(['index.js', 'models', 'node_modules', 'package.json']);
  });

  test('package.json depends only on onnxruntime-node and sharp, at the root package.json versions', () => {
    const root = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const own = JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(own.dependencies).toEqual({
      'onnxruntime-node': root.dependencies['onnxruntime-node'],
      sharp: root.dependencies.sharp,
    });
  });

  test('node_modules holds only onnxruntime-node, sharp and their run-time dependencies, for linux/x64', () => {
    const names = readdirSync(path.join(pkg, 'node_modules')).flatMap((n) =>
      n.startsWith('@') ? readdirSync(path.join(pkg, 'node_modules', n)).map((s) => `${n}/${s}`) : [n],
    );
    expect(names.sort()).toEqual(
      [
        '@img/colour',
        '@img/sharp-libvips-linux-x64',
        '@img/sharp-linux-x64',
        'detect-libc',
        'onnxruntime-common',
        'onnxruntime-node',
        'semver',
        'sharp',
      ].sort(),
    );
  });

  test('onnxruntime-node keeps only its linux/x64 binaries', () => {
    const bins = listFiles(path.join(pkg, 'node_modules', 'onnxruntime-node', 'bin'));
    expect(bins.length).toBeGreaterThan(0);
    expect(bins.filter((f) => !f.startsWith('napi-v6/linux/x64/'))).toEqual([]);
    expect(bins).toContain('napi-v6/linux/x64/onnxruntime_binding.node');
  });

  test('models/ has the manifest and every file its labels name (the WordNet hierarchy too), but no model weights', () => {
    const files = readdirSync(path.join(pkg, 'models'));
    expect(files).toEqual(
      expect.arrayContaining(['manifest.json', 'imagenet_synsets.txt', 'imagenet-hierarchy.json']),
    );
    expect(files.filter((f) => !/\.(txt|json)$/.test(f))).toEqual([]);
  });
});
