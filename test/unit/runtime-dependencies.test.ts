/**
 * The Lambda image installs production dependencies only (`npm ci --omit=dev`), so every package
 * that lambda/src and the image's build steps import must be in `dependencies`. esbuild follows
 * the imports from each entry point exactly as the bundler does; the build steps are the files
 * the Dockerfile's RUN lines hand to tsx.
 */
import { buildSync } from 'esbuild';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { parseDockerfile } from '../../scripts/image-rehearsal/dockerfile';
import { REPO_ROOT } from '../support/fixtures';

const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};

const transports = readdirSync(path.join(REPO_ROOT, 'lambda/src/transports'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => `lambda/src/transports/${f}`);

const buildSteps = parseDockerfile(readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8'))
  .flatMap((s) => s.instructions)
  .flatMap((i) =>
    i.kind === 'RUN' ? [...i.command.matchAll(/npx tsx (\S+\.ts)/g)].map((m) => m[1] ?? '') : [],
  );

/** Package names (`@scope/name` or `name`) of every bare import reachable from `entry`. */
function packagesImportedBy(entry: string): string[] {
  const result = buildSync({
    entryPoints: [path.join(REPO_ROOT, entry)],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'cjs',
    packages: 'external',
    metafile: true,
    logLevel: 'silent',
  });
  const imports = Object.values(result.metafile.inputs).flatMap((input) =>
    input.imports.filter((i) => i.external).map((i) => i.path),
  );
  return [
    ...new Set(
      imports
        .filter((p) => !p.startsWith('node:') && !builtinModules.includes(p.split('/')[0] ?? ''))
        .map((p) =>
          p
            .split('/')
            .slice(0, p.startsWith('@') ? 2 : 1)
            .join('/'),
        ),
    ),
  ].sort();
}

test('the Dockerfile runs build steps through tsx (the list below is not empty)', () => {
  expect(buildSteps).toEqual(
    expect.arrayContaining(['scripts/package-lambda.ts', 'tools/model-prep/prepare-models-cli.ts']),
  );
});

test.each([...new Set([...transports, ...buildSteps])])(
  '%s imports only production dependencies',
  (entry) => {
    const missing = packagesImportedBy(entry).filter((name) => !(name in pkg.dependencies));
    expect(missing).toEqual([]);
  },
);

test('the Lambda bundle holds no protobuf code, model tooling or laptop transport', () => {
  const result = buildSync({
    entryPoints: [path.join(REPO_ROOT, 'lambda/src/transports/lambda.ts')],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'cjs',
    external: ['onnxruntime-node', 'sharp'],
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs.filter((f) => /node_modules\/protobufjs|^tools\/|^local\//.test(f))).toEqual([]);
  expect(inputs).toContain('lambda/src/adapters/prepared-models.ts');
});
