/**
 * Rehearses `docker build` of this project's Dockerfile without a Docker engine: every stage gets
 * a folder standing in for its root filesystem, and each instruction runs as Docker would run it,
 * on the host's node and npm. What the rehearsal proves is the part that breaks most: that the
 * build context, the production-only install and each `RUN` step are enough to produce a
 * /var/task, /opt/models and /opt/prepared-models that answer requests. It cannot prove the base
 * image itself (Amazon Linux, its Node.js 22): the host's node runs instead.
 *
 * Absolute paths in instructions (/build, /opt, /tmp, /var) are moved under the stage's folder;
 * the commands are the Dockerfile's own text, never a copy of it.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseDockerfile, type Instruction, type Stage } from './dockerfile';

/** What public.ecr.aws/lambda/nodejs sets in its image (the rest of its ENV is about its own paths). */
const BASE_IMAGES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'public.ecr.aws/lambda/nodejs:22': { LAMBDA_TASK_ROOT: '/var/task', LAMBDA_RUNTIME_DIR: '/var/runtime' },
};

const ROOT_DIRS = ['build', 'opt', 'tmp', 'var'];
const ABSOLUTE = new RegExp(`(^|[\\s='":])(/(?:${ROOT_DIRS.join('|')})(?=/|$|[\\s'":])[^\\s'":]*)`, 'g');

export interface RehearsalOptions {
  /** The build context, as CDK stages it in cdk.out (so .dockerignore has been applied). */
  contextDir: string;
  dockerfile?: string;
  buildArgs?: Record<string, string>;
  /** Empty folder that receives one sub-folder per stage. */
  workDir: string;
  log?: (line: string) => void;
}

export interface RehearsedImage {
  /** The final stage's root filesystem. */
  root: string;
  /** The final stage's ENV with its paths under `root`. */
  env: Record<string, string>;
  /** CMD of the final stage, e.g. ['index.handler']. */
  cmd: string[];
  /** `root` + LAMBDA_TASK_ROOT. */
  taskRoot: string;
}

/** `/opt/models` → `<root>/opt/models`, for every absolute path in `text`. */
export function underRoot(text: string, root: string): string {
  return text.replace(ABSOLUTE, (_m, lead: string, p: string) => `${lead}${root}${p}`);
}

/** Docker's `${VAR}` / `$VAR` substitution in COPY, WORKDIR and ENV. */
function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a: string | undefined, b: string | undefined) => {
    return vars[a ?? b ?? ''] ?? '';
  });
}

/** Matches one path segment against a Docker (Go filepath.Match) pattern: * ? [class]. */
function segmentMatcher(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

/** The context paths a COPY source names; a wildcard that matches nothing names nothing (BuildKit). */
function expandSource(base: string, source: string): string[] {
  let found = [base];
  for (const segment of source.split('/').filter((s) => s && s !== '.')) {
    if (!/[*?[]/.test(segment)) {
      found = found.map((dir) => path.join(dir, segment));
      continue;
    }
    const re = segmentMatcher(segment);
    found = found.flatMap((dir) =>
      existsSync(dir) && statSync(dir).isDirectory()
        ? readdirSync(dir)
            .filter((n) => re.test(n))
            .map((n) => path.join(dir, n))
        : [],
    );
  }
  return found;
}

function copy(sources: string[], dest: string, many: boolean, label: string): void {
  if (sources.length === 0) return;
  for (const src of sources) {
    if (!existsSync(src)) throw new Error(`${label}: ${src} does not exist`);
    if (statSync(src).isDirectory()) {
      mkdirSync(dest, { recursive: true });
      cpSync(src, dest, { recursive: true, verbatimSymlinks: true });
    } else {
      const target = many || dest.endsWith('/') ? path.join(dest, path.basename(src)) : dest;
      mkdirSync(path.dirname(target), { recursive: true });
      cpSync(src, target);
    }
  }
}

interface StageState {
  root: string;
  workdir: string;
  env: Record<string, string>;
  args: Record<string, string>;
  cmd: string[];
}

function runInstruction(
  ins: Instruction,
  st: StageState,
  stageRoots: ReadonlyMap<string, string>,
  opts: RehearsalOptions,
  log: (line: string) => void,
): void {
  const vars = { ...st.args, ...st.env };
  switch (ins.kind) {
    case 'WORKDIR':
      st.workdir = path.posix.resolve(st.workdir, substitute(ins.path, vars));
      mkdirSync(path.join(st.root, st.workdir), { recursive: true });
      return;
    case 'ENV':
      for (const [k, v] of Object.entries(ins.vars)) st.env[k] = substitute(v, { ...st.args, ...st.env });
      return;
    case 'ARG':
      st.args[ins.name] = opts.buildArgs?.[ins.name] ?? ins.value ?? '';
      return;
    case 'CMD':
      st.cmd = ins.args;
      return;
    case 'COPY': {
      const fromRoot = ins.from === null ? null : stageRoots.get(ins.from);
      if (ins.from !== null && !fromRoot) throw new Error(`COPY --from=${ins.from}: no such earlier stage`);
      const destText = substitute(ins.dest, vars);
      const dest =
        path.join(st.root, path.posix.resolve(st.workdir, destText)) + (destText.endsWith('/') ? '/' : '');
      const sources = ins.sources.flatMap((s) =>
        fromRoot
          ? [path.join(fromRoot, substitute(s, vars))]
          : expandSource(opts.contextDir, substitute(s, vars)),
      );
      copy(sources, dest, ins.sources.length > 1, `COPY ${ins.sources.join(' ')}`);
      return;
    }
    case 'RUN': {
      const command = underRoot(ins.command, st.root);
      log(`  RUN ${ins.command}`);
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        HOME: path.join(st.root, 'tmp'),
        // npx must not fetch a package the stage did not install: that is the failure to catch.
        npm_config_yes: 'false',
        npm_config_update_notifier: 'false',
      };
      for (const [k, v] of Object.entries({ ...st.args, ...st.env })) env[k] = underRoot(v, st.root);
      execFileSync('/bin/sh', ['-c', command], {
        cwd: path.join(st.root, st.workdir),
        env,
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      return;
    }
  }
}

/** Runs every stage of the Dockerfile in order; returns the final stage's filesystem and settings. */
export function rehearseImageBuild(opts: RehearsalOptions): RehearsedImage {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const stages: Stage[] = parseDockerfile(
    readFileSync(opts.dockerfile ?? path.join(opts.contextDir, 'Dockerfile'), 'utf8'),
  );
  const stageRoots = new Map<string, string>();
  let last: StageState | null = null;
  for (const stage of stages) {
    const base = BASE_IMAGES[stage.image];
    if (!base) throw new Error(`base image ${stage.image} is not known to the rehearsal`);
    const root = path.join(opts.workDir, stage.name);
    for (const dir of ROOT_DIRS) mkdirSync(path.join(root, dir), { recursive: true });
    log(`stage ${stage.name} (${stage.image})`);
    const st: StageState = { root, workdir: '/', env: { ...base }, args: {}, cmd: [] };
    for (const ins of stage.instructions) runInstruction(ins, st, stageRoots, opts, log);
    stageRoots.set(stage.name, root);
    last = st;
  }
  if (!last) throw new Error('the Dockerfile has no stage');
  const env = Object.fromEntries(Object.entries(last.env).map(([k, v]) => [k, underRoot(v, last.root)]));
  const taskRoot = env.LAMBDA_TASK_ROOT;
  if (!taskRoot) throw new Error('the final stage has no LAMBDA_TASK_ROOT');
  return { root: last.root, env, cmd: last.cmd, taskRoot };
}
