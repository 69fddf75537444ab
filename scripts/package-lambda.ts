/**
 * Builds exactly what the Lambda image holds in /var/task (LAMBDA_TASK_ROOT):
 *
 *   index.js        esbuild bundle of lambda/src/transports/lambda.ts (onnxruntime-node and sharp external)
 *   models/         manifest.json + label files (the runtime finds them next to index.js)
 *   package.json    only onnxruntime-node and sharp, versions from the root package.json
 *   node_modules/   only those two and their run-time dependencies, for linux/x64 (glibc),
 *                   onnxruntime-node pruned to bin/napi-v6/linux/x64
 *
 * The Dockerfile runs this same script; test/image rehearses the Dockerfile's stages and loads the
 * result in a fresh node process, proving the image layout without a Docker engine.
 *
 * node_modules is copied from the repo's node_modules (installed from package-lock.json) instead of
 * running `npm install --omit=dev`, which would also install the dependencies of onnxruntime-node's
 * skipped postinstall. Copying is offline, pinned by the lockfile and needs no npm cache.
 *
 * Usage:
 *   npm run package [-- --out dist/lambda-package]
 *   tsx scripts/package-lambda.ts stage-models --models "resnet50-v1-12 yolov4" [--from .cache/models:models/embedded] --to /opt/models
 */
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  createReadStream,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { downloadModel, type DownloadableModel } from '../lambda/src/adapters/model-download';

export const REPO_ROOT = path.resolve(__dirname, '..');
export const DEFAULT_OUT_DIR = path.join(REPO_ROOT, 'dist', 'lambda-package');
export const HANDLER_ENTRY = path.join('lambda', 'src', 'transports', 'lambda.ts');

/** The only packages the bundle loads from node_modules (native code cannot be bundled). */
export const RUNTIME_PACKAGES = ['onnxruntime-node', 'sharp'] as const;

/**
 * Dependencies used only by onnxruntime-node's postinstall (script/install.js, which downloads the
 * CUDA/TensorRT providers). The install step is skipped (ONNXRUNTIME_NODE_INSTALL=skip) and
 * dist/ never requires them, so they stay out of the image.
 */
const INSTALL_ONLY_DEPENDENCIES: Readonly<Record<string, readonly string[]>> = {
  'onnxruntime-node': ['adm-zip', 'global-agent'],
};

/** Lambda x86_64: Amazon Linux 2023, glibc. */
const TARGET = { os: 'linux', cpu: 'x64', libc: 'glibc' } as const;

interface PackageJson {
  name: string;
  version: string;
  os?: string[];
  cpu?: string[];
  libc?: string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

export interface PackageOptions {
  repoRoot?: string;
  outDir?: string;
  log?: (line: string) => void;
}

export interface PackageResult {
  outDir: string;
  /** Total size of the folder in bytes. */
  bytes: number;
  /** name@version of every package copied into node_modules. */
  packages: string[];
}

const readJson = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));

/** npm's `os`/`cpu`/`libc` fields: a list of allowed values, or `!value` exclusions. */
function allows(list: string[] | undefined, value: string): boolean {
  if (!list || list.length === 0) return true;
  if (list.includes(`!${value}`)) return false;
  const positive = list.filter((v) => !v.startsWith('!'));
  return positive.length === 0 || positive.includes(value);
}

function fitsTarget(pkg: PackageJson): boolean {
  return allows(pkg.os, TARGET.os) && allows(pkg.cpu, TARGET.cpu) && allows(pkg.libc, TARGET.libc);
}

/** Node's lookup: <dir>/node_modules/<name>, then the parent folders, up to the repo root. */
function resolvePackageDir(name: string, fromDir: string, repoRoot: string): string | null {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === repoRoot || path.dirname(dir) === dir) return null;
  }
}

/** Keeps only bin/napi-v6/linux/x64 of onnxruntime-node (the package ships every platform: 288 MB). */
function ortBinaryFilter(pkgDir: string): (src: string) => boolean {
  const binRoot = path.join(pkgDir, 'bin', 'napi-v6');
  const keep = path.join(binRoot, TARGET.os, TARGET.cpu);
  return (src) => {
    if (!src.startsWith(binRoot + path.sep)) return true;
    // Keep the path down to linux/x64 and everything under it; drop darwin, win32 and linux/arm64.
    return keep.startsWith(src + path.sep) || src === keep || src.startsWith(keep + path.sep);
  };
}

/** Copies the dependency closure of RUNTIME_PACKAGES, keeping each package's relative position. */
function copyRuntimeModules(repoRoot: string, outDir: string): string[] {
  const copied = new Map<string, string>();
  const visit = (name: string, fromDir: string, optional: boolean): void => {
    const dir = resolvePackageDir(name, fromDir, repoRoot);
    if (!dir) {
      if (optional) return;
      throw new Error(
        `${name} is not installed (needed from ${path.relative(repoRoot, fromDir) || '.'}); run npm ci`,
      );
    }
    if (copied.has(dir)) return;
    const pkg = readJson(path.join(dir, 'package.json')) as PackageJson;
    if (!fitsTarget(pkg)) {
      if (optional) return;
      throw new Error(`${name} does not support ${TARGET.os}/${TARGET.cpu}/${TARGET.libc}`);
    }
    copied.set(dir, `${pkg.name}@${pkg.version}`);
    const nestedModules = path.join(dir, 'node_modules');
    const ortFilter = name === 'onnxruntime-node' ? ortBinaryFilter(dir) : () => true;
    cpSync(dir, path.join(outDir, path.relative(repoRoot, dir)), {
      recursive: true,
      // Nested node_modules are visited as packages of their own (only the needed ones are copied).
      filter: (src) => src !== nestedModules && ortFilter(src),
    });
    const skip = new Set(INSTALL_ONLY_DEPENDENCIES[pkg.name] ?? []);
    for (const dep of Object.keys(pkg.dependencies ?? {})) if (!skip.has(dep)) visit(dep, dir, false);
    // Optional dependencies are the per-platform binaries (@img/sharp-linux-x64, ...): only the target's.
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) visit(dep, dir, true);
  };
  for (const name of RUNTIME_PACKAGES) visit(name, repoRoot, false);
  return [...copied.values()].sort();
}

export function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) total += folderBytes(p);
    else total += lstatSync(p).size;
  }
  return total;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

export async function packageLambda(opts: PackageOptions = {}): Promise<PackageResult> {
  const repoRoot = opts.repoRoot ?? REPO_ROOT;
  const outDir = path.resolve(opts.outDir ?? DEFAULT_OUT_DIR);
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });

  // 1. The handler bundle: everything but the two native packages.
  await build({
    entryPoints: [path.join(repoRoot, HANDLER_ENTRY)],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    external: [...RUNTIME_PACKAGES],
    outfile: path.join(outDir, 'index.js'),
    logLevel: 'warning',
  });

  // 2. The manifest and every file its labels name (names, synsets, hierarchy); the .onnx files
  // live in /opt/models or come from S3.
  const modelsOut = path.join(outDir, 'models');
  mkdirSync(modelsOut);
  const manifest = readJson(path.join(repoRoot, 'models', 'manifest.json')) as {
    models: { labels: Record<string, string | undefined> }[];
  };
  const labelFiles = new Set(manifest.models.flatMap((m) => Object.values(m.labels).filter(Boolean)));
  for (const file of ['manifest.json', ...labelFiles] as string[]) {
    copyFileSync(path.join(repoRoot, 'models', file), path.join(modelsOut, file));
  }

  // 3. package.json with the two native dependencies, pinned as in the root package.json.
  const root = readJson(path.join(repoRoot, 'package.json')) as PackageJson;
  const dependencies: Record<string, string> = {};
  for (const name of RUNTIME_PACKAGES) {
    const version = root.dependencies?.[name];
    if (!version) throw new Error(`${name} is missing from the dependencies of ${repoRoot}/package.json`);
    dependencies[name] = version;
  }
  const pkg = {
    name: `${root.name}-lambda`,
    version: root.version,
    private: true,
    type: 'commonjs',
    dependencies,
  };
  writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);

  // 4. node_modules: the closure of the two packages, linux/x64 only.
  const packages = copyRuntimeModules(repoRoot, outDir);

  const bytes = folderBytes(outDir);
  log(`Lambda package: ${path.relative(process.cwd(), outDir) || outDir}`);
  for (const entry of readdirSync(outDir).sort()) {
    const p = path.join(outDir, entry);
    log(`  ${entry.padEnd(14)} ${mb(lstatSync(p).isDirectory() ? folderBytes(p) : lstatSync(p).size)}`);
  }
  log(`  total          ${mb(bytes)} (${packages.length} packages: ${packages.join(', ')})`);
  return { outDir, bytes, packages };
}

// ---------------------------------------------------------------------------------------------------
// Model files for the image (the Dockerfile's "models" stage)
//
// The stage needs only models/manifest.json, this file and node_modules, so Docker's layer cache keeps
// the downloaded files (and the image layer, ~360 MB) across changes to lambda/src. Calling
// `npm run models:fetch` would need lambda/src in that stage and re-download on every code change.

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Puts the .onnx files of `ids` into `toDir`: a file found in one of `fromDirs` (the local cache
 * copied into the build context on request, the models that ship with the repository) is used when
 * its sha256 matches the manifest; the others are downloaded from the manifest's URLs, in order,
 * by the runtime's one downloader.
 */
export async function stageModels(
  ids: string[],
  fromDirs: readonly string[],
  toDir: string,
  manifestFile = path.join(REPO_ROOT, 'models', 'manifest.json'),
): Promise<void> {
  const manifest = readJson(manifestFile) as { models: DownloadableModel[] };
  mkdirSync(toDir, { recursive: true });
  for (const id of ids) {
    const spec = manifest.models.find((m) => m.id === id);
    if (!spec) throw new Error(`unknown model '${id}' (not in models/manifest.json)`);
    const dest = path.join(toDir, spec.file);
    let source: string | null = null;
    for (const dir of fromDirs) {
      const candidate = path.join(dir, spec.file);
      if (existsSync(candidate) && (!spec.sha256 || (await sha256(candidate)) === spec.sha256)) {
        source = candidate;
        break;
      }
    }
    if (source) {
      copyFileSync(source, dest);
      process.stdout.write(`${id}: ${spec.file} copied from ${path.dirname(source)}\n`);
    } else if (spec.urls.length > 0) {
      process.stdout.write(`${id}: downloading ${spec.urls.join(', then ')}\n`);
      await downloadModel(spec, toDir, { log: (line) => process.stdout.write(`${line}\n`) });
    } else {
      throw new Error(
        `model '${id}' has no download URL: put ${spec.file} in .cache/models and use modelsFromCache`,
      );
    }
    process.stdout.write(`${id}: ${dest} ${mb(lstatSync(dest).size)}\n`);
  }
}

// ---------------------------------------------------------------------------------------------------

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      models: { type: 'string', default: '' },
      from: { type: 'string', default: '' },
      to: { type: 'string' },
    },
  });
  if (positionals[0] === 'stage-models') {
    if (!values.to) throw new Error('stage-models needs --to <dir>');
    const ids = values.models.split(/[\s,]+/).filter(Boolean);
    await stageModels(ids, values.from.split(':').filter(Boolean), path.resolve(values.to));
    return;
  }
  if (positionals.length > 0) throw new Error(`unknown command '${positionals.join(' ')}'`);
  await packageLambda({ outDir: values.out });
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
