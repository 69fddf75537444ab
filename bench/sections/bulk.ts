/**
 * A folder of photos, two ways a user would go through it: the folder CLI (`npm run classify --
 * <folder> --out results.jsonl`, batched, decoding ahead) against a shell loop calling `curl
 * --data-binary` on the running local server once per photo. Rounds alternate which goes first.
 *
 * The CLI's wall time includes its own process start and model load; the loop's excludes the
 * server's (started once, before the rounds, as a user's would be): the comparison favours the loop.
 *
 * Standalone: `npx tsx bench/sections/bulk.ts [--quick] [--copies=N] [--out=DIR]` writes
 * bench/results/<date>-<host>-bulk.{json,md}.
 */
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { log } from '../lib/log';
import { machineInfo, versions } from '../lib/machine';
import { FIXTURE_IMAGES, ROOT } from '../lib/models';
import { startServerChild } from '../lib/server-child';
import { round, summarize, type Summary } from '../lib/stats';

export interface BulkModel {
  /** Manifest id, passed as `--model` / `?model=`. */
  id: string;
  route: '/classifier' | '/detector';
}

export interface BulkRow {
  model: string;
  way: 'folder CLI' | 'curl loop';
  /** Wall time per round for the whole folder, ms. */
  wall: Summary;
  imagesPerS: number;
  /** Answers with status 200 in the last round (lines in the CLI's output, 200s from curl). */
  answered: number;
}

export interface BulkResult {
  images: number;
  photos: string[];
  rounds: number;
  load: { start: number[]; end: number[] };
  rows: BulkRow[];
  /** Per model: the loop's median wall / the CLI's (above 1: the CLI is faster). */
  ratios: { model: string; loopOverCli: number }[];
}

/** `copies` files cycling over the fixture photos, in a fresh temporary folder. */
function photoFolder(copies: number): { dir: string; photos: string[] } {
  const photos = readdirSync(FIXTURE_IMAGES)
    .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
    .sort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-bulk-'));
  mkdirSync(path.join(dir, 'photos'));
  for (let i = 0; i < copies; i++) {
    const photo = photos[i % photos.length] as string;
    copyFileSync(
      path.join(FIXTURE_IMAGES, photo),
      path.join(dir, 'photos', `${String(i).padStart(4, '0')}-${photo}`),
    );
  }
  return { dir, photos };
}

/** Runs a command to its end; its wall time in ms and its stdout. */
function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ wallMs: number; stdout: string; code: number | null; stderr: string }> {
  const t = performance.now();
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      resolve({ wallMs: performance.now() - t, stdout, code, stderr });
    });
  });
}

async function folderCli(dir: string, model: BulkModel, env: NodeJS.ProcessEnv, i: number) {
  const out = path.join(dir, `cli-${model.id}-${i}.jsonl`);
  const r = await run(
    process.execPath,
    [
      path.join(ROOT, 'scripts', 'tuned-node.mjs'),
      path.join(ROOT, 'local', 'cli.ts'),
      path.join(dir, 'photos'),
      '--out',
      out,
      '--model',
      model.id,
      '--task',
      model.route === '/detector' ? 'detect' : 'classify',
    ],
    env,
  );
  if (r.code !== 0) throw new Error(`folder CLI exited ${r.code}: ${r.stderr.slice(-500)}`);
  const answered = readFileSync(out, 'utf8')
    .split('\n')
    .filter((l) => l && (JSON.parse(l) as { statusCode?: number }).statusCode === 200).length;
  return { wallMs: r.wallMs, answered };
}

const CURL_LOOP = `for f in "$1"/*; do curl -sS -o /dev/null -w '%{http_code}\\n' --data-binary @"$f" "$2"; done`;

async function curlLoop(dir: string, url: string, model: BulkModel) {
  const target = `${url}${model.route}?model=${encodeURIComponent(model.id)}`;
  const r = await run('bash', ['-c', CURL_LOOP, 'loop', path.join(dir, 'photos'), target], process.env);
  if (r.code !== 0) throw new Error(`curl loop exited ${r.code}: ${r.stderr.slice(-500)}`);
  return { wallMs: r.wallMs, answered: r.stdout.split('\n').filter((s) => s === '200').length };
}

export async function runBulk(opts: {
  quick: boolean;
  env: NodeJS.ProcessEnv;
  models: BulkModel[];
  copies?: number;
}): Promise<BulkResult> {
  const copies = opts.copies ?? 200;
  const rounds = opts.quick ? 1 : 3;
  const start = os.loadavg().map((v) => round(v, 2));
  const { dir, photos } = photoFolder(copies);
  const server = await startServerChild({
    ...opts.env,
    PRELOAD_MODELS: opts.models.map((m) => m.id).join(','),
  });
  const rows: BulkRow[] = [];
  const ratios: BulkResult['ratios'] = [];
  try {
    for (const model of opts.models) {
      const cli: number[] = [];
      const loop: number[] = [];
      let answeredCli = 0;
      let answeredLoop = 0;
      // One unmeasured request, so the server's session is warm before the first timed loop (the
      // CLI's own first run is inside its timing: again in the loop's favour).
      await fetch(`${server.url}${model.route}?model=${encodeURIComponent(model.id)}`, {
        method: 'POST',
        body: readFileSync(path.join(FIXTURE_IMAGES, 'dog.jpg')),
      }).then((r) => r.arrayBuffer());
      for (let i = 0; i < rounds; i++) {
        const order = i % 2 === 0 ? ['cli', 'loop'] : ['loop', 'cli'];
        for (const way of order) {
          if (way === 'cli') {
            const r = await folderCli(dir, model, opts.env, i);
            cli.push(r.wallMs);
            answeredCli = r.answered;
          } else {
            const r = await curlLoop(dir, server.url, model);
            loop.push(r.wallMs);
            answeredLoop = r.answered;
          }
        }
      }
      const c = summarize(cli);
      const l = summarize(loop);
      rows.push(
        {
          model: model.id,
          way: 'folder CLI',
          wall: c,
          imagesPerS: (1000 * copies) / c.median,
          answered: answeredCli,
        },
        {
          model: model.id,
          way: 'curl loop',
          wall: l,
          imagesPerS: (1000 * copies) / l.median,
          answered: answeredLoop,
        },
      );
      ratios.push({ model: model.id, loopOverCli: l.median / c.median });
      log(
        `bulk ${model.id}: folder CLI ${round(c.median / 1000, 2)} s, curl loop ${round(l.median / 1000, 2)} s for ${copies} photos (×${round(l.median / c.median, 2)})`,
      );
    }
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    images: copies,
    photos,
    rounds,
    load: { start, end: os.loadavg().map((v) => round(v, 2)) },
    rows,
    ratios,
  };
}

export function renderBulk(r: BulkResult): string {
  const f = (v: number, d = 1) => String(round(v, d));
  return [
    '### A folder of photos: the folder CLI against a curl loop',
    '',
    `${r.images} copies of the fixture photos (${r.photos.join(', ')}), ${r.rounds} round(s), order alternating. Folder CLI: \`npm run classify -- <folder> --out results.jsonl --model <id>\`, wall time from its start (process start and model load included) to its exit. curl loop: \`for f in <folder>/*; do curl --data-binary @"$f" …; done\` against the local server started once beforehand (its start not counted). Load average ${r.load.start.join(' ')} → ${r.load.end.join(' ')}.`,
    '',
    '| model | way | wall, median (min–max) s | photos/s | answered |',
    '| --- | --- | ---: | ---: | ---: |',
    ...r.rows.map(
      (x) =>
        `| ${x.model} | ${x.way} | ${f(x.wall.median / 1000, 2)} (${f(x.wall.min / 1000, 2)}–${f(x.wall.max / 1000, 2)}) | ${f(x.imagesPerS)} | ${x.answered}/${r.images} |`,
    ),
    '',
    ...r.ratios.map(
      (x) => `**${x.model}: the folder CLI is ×${f(x.loopOverCli, 2)} the curl loop's speed.**`,
    ),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      copies: { type: 'string', default: '200' },
      out: { type: 'string', default: path.join(__dirname, '..', 'results') },
    },
  });
  const t0 = performance.now();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    ORT_INTRA_OP_THREADS: '2',
  };
  const result = await runBulk({
    quick: values.quick,
    env,
    models: [{ id: 'mobilenetv2-12-int8', route: '/classifier' }],
    copies: Number(values.copies),
  });
  const machine = machineInfo();
  const date = new Date().toISOString();
  const outDir = path.resolve(values.out);
  mkdirSync(outDir, { recursive: true });
  const base = path.join(outDir, `${date.slice(0, 10)}-${machine.host}-bulk`);
  writeFileSync(
    `${base}.json`,
    `${JSON.stringify({ date, machine, versions: versions(), result }, null, 1)}\n`,
  );
  writeFileSync(
    `${base}.md`,
    [
      `# Folder CLI ${date} on ${machine.host}`,
      '',
      `${machine.cpuModel}, ${machine.logicalCpus} CPUs; ${values.quick ? 'quick' : 'full'} run, ${Math.round((performance.now() - t0) / 1000)} s.`,
      '',
      renderBulk(result),
      '',
    ].join('\n'),
  );
  log(`bulk done → ${base}.md`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`bulk: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
