/**
 * Decoding micro-benchmark: one photo (dog.jpg, 768×576) to ResNet-50's input (shorter side 256,
 * centre crop 224) and to YOLOv4's 416 letterbox, in one warmed process, every variant once per
 * round in a rotating order, so load from other tenants falls on all of them alike. Variants:
 *
 * - before: the decoder as it was (sharp metadata(), the ICC check, then the pipeline), copied here;
 * - each candidate change alone on top of it, and the decoder as it is now (all that was kept);
 * - floors: each part alone, sharp's plainest JPEG → raw at full size and at 1/2 (shrink-on-load),
 *   and sharp.concurrency() 1 against 2 on a single decode.
 *
 * It also compares before and after pixel for pixel on every fixture photo and model geometry.
 * Standalone: `npx tsx bench/sections/decode.ts [--quick] [--image=FILE] [--out=DIR]` writes
 * bench/results/<date>-<host>-decode.{json,md}, in a child with the service's allocator settings
 * (lambda/allocator-env.json, as `npm start` and the image run), which also set sharp's default
 * concurrency (1 under glibc's defaults, the CPU count with MALLOC_ARENA_MAX set).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { readJpegHeader } from '../../lambda/src/adapters/jpeg-header';
import { SharpImageDecoder } from '../../lambda/src/adapters/sharp-decoder';
import { planResize, type ResizePlan } from '../../lambda/src/core/geometry';
import { isSrgbEquivalentProfile } from '../../lambda/src/core/icc-profile';
import type { ModelSpec } from '../../lambda/src/core/manifest';
import { validateManifest } from '../../lambda/src/core/manifest-merge';
import { log } from '../lib/log';
import { machineInfo, versions } from '../lib/machine';
import { FIXTURE_IMAGES, ROOT } from '../lib/models';
import { round, summarize, type Summary } from '../lib/stats';

type Model = Pick<ModelSpec, 'input' | 'preprocess'>;

export interface DecodeOptions {
  quick: boolean;
  /** A photo: a path, or a file name in test/fixtures/images. */
  image: string;
}

export interface DecodeRow {
  /** before | candidate | after | floor | concurrency | yolov4 */
  group: string;
  label: string;
  wall: Summary;
  /** Median process CPU time per call (every thread: libuv's, libvips' workers, the event loop). */
  cpuMs: number;
  /** Median wall of this row / median wall of its group's "before" row. */
  vsBefore: number | null;
}

export interface PixelRow {
  image: string;
  model: string;
  /** The prepared bytes, size and plan are the same before and after. */
  identical: boolean;
  maxDiff: number;
}

export interface DecodeResult {
  date: string;
  image: string;
  size: { width: number; height: number };
  quick: boolean;
  rounds: number;
  warmup: number;
  /** sharp.concurrency() at start: what the service runs with in this environment. */
  defaultConcurrency: number;
  allocatorEnv: Record<string, string>;
  loadAverage: { start: number[]; end: number[] };
  sharp: string;
  libvips: string;
  rows: DecodeRow[];
  pixels: PixelRow[];
  /** ResNet-50 crop decoded with shrink-on-load 1/2 against before: largest difference, 0–255. */
  shrinkOnLoadMaxDiff: number | null;
  notes: string[];
  durationS: number;
}

const ALLOCATOR_VARIABLES = [
  'MALLOC_ARENA_MAX',
  'MALLOC_MMAP_THRESHOLD_',
  'MALLOC_TRIM_THRESHOLD_',
  'GLIBC_TUNABLES',
];

function manifestModel(id: string): Model {
  const manifest = validateManifest(
    JSON.parse(readFileSync(path.join(ROOT, 'models', 'manifest.json'), 'utf8')),
    'models/manifest.json',
  );
  const m = manifest.models.find((x) => x.id === id);
  if (!m) throw new Error(`models/manifest.json has no ${id}`);
  return m;
}

// ---------------------------------------------------------------------------------------------
// The decoder before this change (lambda/src/adapters/sharp-decoder.ts at the previous commit),
// with each candidate as a switch. Photos only: error mapping and limits are left out, they cost
// nothing on the success path.

interface Candidates {
  /** Size, orientation and ICC profile from lambda/src/adapters/jpeg-header.ts, no metadata(). */
  jsHeader?: boolean;
  /** The sRGB decision for a profile remembered by its bytes. */
  rememberIcc?: boolean;
  /** sequentialRead: false (libvips decodes the whole image into memory, then resizes). */
  randomAccess?: boolean;
  /** No flatten / toColourspace / removeAlpha (no-ops for a 3-band sRGB JPEG; measurement only). */
  lean?: boolean;
}

const remembered = new Map<string, boolean>();
function needsIcc(icc: Buffer | undefined, c: Candidates): boolean {
  if (icc === undefined) return false;
  if (!c.rememberIcc) return !isSrgbEquivalentProfile(icc);
  const key = icc.toString('latin1');
  let srgb = remembered.get(key);
  if (srgb === undefined) remembered.set(key, (srgb = isSrgbEquivalentProfile(icc)));
  return !srgb;
}

interface Probed {
  format: string;
  width: number;
  height: number;
  applyIcc: boolean;
}

async function probeBefore(bytes: Buffer, c: Candidates): Promise<Probed> {
  if (c.jsHeader) {
    const h = readJpegHeader(bytes);
    if (h) {
      const [width, height] = h.orientation >= 5 ? [h.height, h.width] : [h.width, h.height];
      return { format: 'jpeg', width, height, applyIcc: needsIcc(h.icc, c) };
    }
  }
  const meta = await sharp(bytes, { failOn: 'error', limitInputPixels: 100_000_000, pages: 1 }).metadata();
  const { width, height } = meta.autoOrient;
  return { format: meta.format, width, height, applyIcc: needsIcc(meta.icc, c) };
}

async function pipelineBefore(
  bytes: Buffer,
  model: Model,
  probed: Probed,
  c: Candidates,
): Promise<{ rgb: Buffer; plan: ResizePlan }> {
  const plan = planResize(
    { width: probed.width, height: probed.height },
    model.preprocess.resize,
    model.input,
  );
  let p = sharp(bytes, {
    failOn: 'error',
    limitInputPixels: 100_000_000,
    pages: 1,
    ignoreIcc: !probed.applyIcc,
    ...(c.randomAccess ? { sequentialRead: false } : {}),
  }).autoOrient();
  if (!c.lean) p = p.flatten({ background: '#ffffff' });
  p = p.resize(plan.resize.width, plan.resize.height, { fit: 'fill', kernel: 'linear' });
  if (plan.mode === 'center-crop') p = p.extract(plan.crop);
  if (plan.mode === 'letterbox') {
    const v = plan.pad.value;
    p = p.extend({ ...plan.pad, background: { r: v, g: v, b: v } });
  }
  if (!c.lean) p = p.toColourspace('srgb').removeAlpha();
  const { data } = await p.raw().toBuffer({ resolveWithObject: true });
  return { rgb: data, plan };
}

async function prepareBefore(bytes: Buffer, model: Model, c: Candidates = {}) {
  return pipelineBefore(bytes, model, await probeBefore(bytes, c), c);
}

// ---------------------------------------------------------------------------------------------

interface Variant {
  group: string;
  label: string;
  run: () => Promise<unknown>;
  concurrency?: number;
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return 255;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function comparePixels(models: Record<string, Model>, after: SharpImageDecoder): Promise<PixelRow[]> {
  const photos = [
    'astronaut.jpg',
    'cat_chelsea.png',
    'coffee_cup.webp',
    'dog.jpg',
    'dog_exif_orientation6.jpg',
  ]
    .concat(['eagle.jpg', 'kite.jpg', 'person.jpg'])
    .filter((f) => existsSync(path.join(FIXTURE_IMAGES, f)));
  const rows: PixelRow[] = [];
  for (const photo of photos) {
    const bytes = readFileSync(path.join(FIXTURE_IMAGES, photo));
    for (const [name, model] of Object.entries(models)) {
      const before = await prepareBefore(bytes, model);
      const now = await after.prepare(bytes, model);
      const d = maxDiff(before.rgb, now.rgb);
      rows.push({
        image: photo,
        model: name,
        identical: d === 0 && JSON.stringify(before.plan) === JSON.stringify(now.plan),
        maxDiff: d,
      });
    }
  }
  return rows;
}

export async function runDecode(opts: DecodeOptions): Promise<DecodeResult> {
  const started = performance.now();
  const loadStart = os.loadavg().map((v) => round(v, 2));
  const file = existsSync(opts.image) ? opts.image : path.join(FIXTURE_IMAGES, opts.image);
  const bytes = readFileSync(file);
  const resnet = manifestModel('resnet50-v1-12');
  const yolov4 = manifestModel('yolov4');
  const defaultConcurrency = sharp.concurrency();
  const other = defaultConcurrency === 1 ? 2 : 1;
  const after = new SharpImageDecoder({ maxPixels: 100_000_000 });
  const notes: string[] = [];

  const probed = await probeBefore(bytes, {});
  const meta = await sharp(bytes).metadata();
  const icc = meta.icc;
  // The file form of the input is the only way to ask sharp for jpegload's shrink=2 here: for a
  // 2.25× reduction sharp itself decodes at full size (it keeps a factor of 2 in [2, 3) for the
  // resize, "known libjpeg rounding errors", pipeline.cc).
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'decode-bench-'));
  const onDisk = path.join(tmp, `photo${path.extname(file) || '.jpg'}`);
  writeFileSync(onDisk, bytes);
  const isJpeg = probed.format === 'jpeg';
  const resnetPlan = planResize(probed, resnet.preprocess.resize, resnet.input);
  const halfSize = { width: Math.ceil(meta.width / 2), height: Math.ceil(meta.height / 2) };

  const v: Variant[] = [
    { group: 'resnet50', label: 'before: prepare() as it was', run: () => prepareBefore(bytes, resnet) },
    {
      group: 'resnet50',
      label: '+ header read in JavaScript (no metadata() call)',
      run: () => prepareBefore(bytes, resnet, { jsHeader: true }),
    },
    {
      group: 'resnet50',
      label: '+ sRGB decision remembered per profile',
      run: () => prepareBefore(bytes, resnet, { rememberIcc: true }),
    },
    {
      group: 'resnet50',
      label: '+ sequentialRead: false',
      run: () => prepareBefore(bytes, resnet, { randomAccess: true }),
    },
    {
      group: 'resnet50',
      label: '+ no flatten/toColourspace/removeAlpha (no-ops here)',
      run: () => prepareBefore(bytes, resnet, { lean: true }),
    },
    {
      group: 'resnet50',
      label: `+ sharp.concurrency(${other})`,
      run: () => prepareBefore(bytes, resnet),
      concurrency: other,
    },
    {
      group: 'resnet50',
      label: 'header in JS + sRGB remembered (what was kept, copied)',
      run: () => prepareBefore(bytes, resnet, { jsHeader: true, rememberIcc: true }),
    },
    { group: 'resnet50', label: 'after: prepare() now', run: () => after.prepare(bytes, resnet) },
    {
      group: 'resnet50',
      label: `after, sharp.concurrency(${other})`,
      run: () => after.prepare(bytes, resnet),
      concurrency: other,
    },
    {
      group: 'concurrency',
      label: `4 prepare() at once, sharp.concurrency(${defaultConcurrency}) (default)`,
      run: () => Promise.all([0, 1, 2, 3].map(() => after.prepare(bytes, resnet))),
    },
    {
      group: 'concurrency',
      label: `4 prepare() at once, sharp.concurrency(${other})`,
      run: () => Promise.all([0, 1, 2, 3].map(() => after.prepare(bytes, resnet))),
      concurrency: other,
    },
    { group: 'floor', label: 'metadata() alone', run: () => sharp(bytes, { failOn: 'error' }).metadata() },
    {
      group: 'floor',
      label: 'JavaScript header read alone',
      run: () => Promise.resolve(readJpegHeader(bytes)),
    },
    ...(icc
      ? [
          {
            group: 'floor',
            label: 'isSrgbEquivalentProfile() alone',
            run: () => Promise.resolve(isSrgbEquivalentProfile(icc)),
          },
        ]
      : []),
    {
      group: 'floor',
      label: 'the pipeline alone (probe known)',
      run: () => pipelineBefore(bytes, resnet, probed, {}),
    },
    {
      group: 'floor',
      label: `sharp → raw, full size (${meta.width}×${meta.height})`,
      run: () => sharp(bytes, { ignoreIcc: true }).raw().toBuffer(),
    },
    ...(isJpeg
      ? [
          {
            group: 'floor',
            label: `sharp → raw at 1/2 by shrink-on-load (${halfSize.width}×${halfSize.height})`,
            run: () => sharp(`${onDisk}[shrink=2]`, { ignoreIcc: true }).raw().toBuffer(),
          },
          {
            group: 'floor',
            label: 'shrink-on-load 1/2, then the same resize and crop (other pixels)',
            run: () => shrinkOnLoadPipeline(onDisk, resnetPlan),
          },
        ]
      : []),
    { group: 'yolov4', label: 'before: prepare() as it was', run: () => prepareBefore(bytes, yolov4) },
    { group: 'yolov4', label: 'after: prepare() now', run: () => after.prepare(bytes, yolov4) },
  ];

  const rounds = opts.quick ? 40 : 200;
  const warmup = opts.quick ? 10 : 30;
  const wall = v.map(() => [] as number[]);
  const cpu = v.map(() => [] as number[]);
  try {
    for (let r = 0; r < warmup + rounds; r++) {
      for (let k = 0; k < v.length; k++) {
        const i = (r + k) % v.length;
        const variant = v[i]!;
        sharp.concurrency(variant.concurrency ?? defaultConcurrency);
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await variant.run();
        const w = performance.now() - t0;
        const c = process.cpuUsage(c0);
        if (r >= warmup) {
          wall[i]!.push(w);
          cpu[i]!.push((c.user + c.system) / 1000);
        }
      }
      if ((r + 1) % 50 === 0) log(`decode: round ${r + 1 - warmup} of ${rounds}`);
    }
  } finally {
    sharp.concurrency(defaultConcurrency);
  }

  const summaries = v.map((_, i) => summarize(wall[i]!));
  const beforeOf = (group: string) => {
    const i = v.findIndex((x) => x.group === group && x.label.startsWith('before'));
    return i >= 0 ? summaries[i]!.median : null;
  };
  const rows: DecodeRow[] = v.map((x, i) => {
    const base = x.group === 'concurrency' ? null : beforeOf(x.group === 'floor' ? 'resnet50' : x.group);
    const s = summaries[i]!;
    return {
      group: x.group,
      label: x.label,
      wall: s,
      cpuMs: summarize(cpu[i]!).median,
      vsBefore: base ? s.median / base : null,
    };
  });

  const pixels = await comparePixels(
    { resnet50: resnet, yolov4, 'yolo-fastest (stretch 320)': manifestModel('yolo-fastest-1.1-xl') },
    after,
  );
  let shrinkOnLoadMaxDiff: number | null = null;
  if (isJpeg) {
    const half = await shrinkOnLoadPipeline(onDisk, resnetPlan);
    shrinkOnLoadMaxDiff = maxDiff(half, (await prepareBefore(bytes, resnet)).rgb);
  }
  rmSync(tmp, { recursive: true, force: true });
  notes.push(
    '@julusian/jpeg-turbo 3.0.1 (the maintained libjpeg-turbo binding on npm; prebuilt linux-x64 in the package) was tried outside the project: its prebuilds need N-API 10 (Node ≥ 22.14) and crash on load under this project’s Node 20; it has no scaled (1/2) decode and always uses the fast, less exact integer IDCT, so it could not keep today’s pixels either.',
  );

  return {
    date: new Date().toISOString(),
    image: path.relative(ROOT, file),
    size: { width: meta.width, height: meta.height },
    quick: opts.quick,
    rounds,
    warmup,
    defaultConcurrency,
    allocatorEnv: Object.fromEntries(
      ALLOCATOR_VARIABLES.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!]),
    ),
    loadAverage: { start: loadStart, end: os.loadavg().map((x) => round(x, 2)) },
    sharp: sharp.versions.sharp,
    libvips: sharp.versions.vips,
    rows,
    pixels,
    shrinkOnLoadMaxDiff,
    notes,
    durationS: (performance.now() - started) / 1000,
  };
}

async function shrinkOnLoadPipeline(onDisk: string, plan: ResizePlan): Promise<Buffer> {
  let p = sharp(`${onDisk}[shrink=2]`, { ignoreIcc: true })
    .autoOrient()
    .resize(plan.resize.width, plan.resize.height, { fit: 'fill', kernel: 'linear' });
  if (plan.mode === 'center-crop') p = p.extract(plan.crop);
  return p.raw().toBuffer();
}

const f = (v: number | null, digits = 2) => (v === null || !Number.isFinite(v) ? '–' : v.toFixed(digits));

export function renderDecode(r: DecodeResult): string {
  const groups: [string, string][] = [
    ['resnet50', 'ResNet-50 (shorter side 256, centre crop 224)'],
    ['yolov4', 'YOLOv4 (416 letterbox)'],
    ['concurrency', 'Four ResNet-50 decodes at once (a batch request decodes up to 8; libuv runs 4)'],
    ['floor', 'Parts and floors'],
  ];
  const out: string[] = [
    `# Decoding benchmark ${r.date} on ${machineInfo().host}`,
    '',
    `\`${r.image}\` (${r.size.width}×${r.size.height}); sharp ${r.sharp} (libvips ${r.libvips}); ${r.quick ? 'quick' : 'full'} run: ${r.rounds} interleaved rounds after ${r.warmup} warm-up rounds, every variant once per round in a rotating order, one process. sharp.concurrency() default here: ${r.defaultConcurrency}; allocator: ${
      Object.entries(r.allocatorEnv)
        .map(([k, x]) => `${k}=${x}`)
        .join(' ') || "glibc's defaults"
    }. Load average at start ${r.loadAverage.start.join(' / ')}, at end ${r.loadAverage.end.join(' / ')} (2 vCPUs: above 2 the wall times are inflated). Milliseconds; cpu = process CPU time per call, all threads; × = median / the group's "before" median (floors: / ResNet-50's).`,
    '',
  ];
  for (const [group, title] of groups) {
    const rows = r.rows.filter((x) => x.group === group);
    if (rows.length === 0) continue;
    out.push(
      `## ${title}`,
      '',
      '| variant | median | p90 | min | cpu | × |',
      '| --- | --- | --- | --- | --- | --- |',
    );
    for (const x of rows) {
      out.push(
        `| ${x.label} | ${f(x.wall.median)} | ${f(x.wall.p90)} | ${f(x.wall.min)} | ${f(x.cpuMs)} | ${f(x.vsBefore)} |`,
      );
    }
    out.push('');
  }
  const same = r.pixels.filter((p) => p.identical).length;
  out.push(
    '## Before and after, pixel for pixel',
    '',
    `${same} of ${r.pixels.length} (photo, model) pairs identical (bytes, size and plan).`,
    '',
    '| photo | model | identical | max difference |',
    '| --- | --- | --- | --- |',
    ...r.pixels.map((p) => `| ${p.image} | ${p.model} | ${p.identical ? 'yes' : 'no'} | ${p.maxDiff} |`),
    '',
  );
  if (r.shrinkOnLoadMaxDiff !== null) {
    out.push(
      `Shrink-on-load at 1/2 (not used): the ResNet-50 crop differs from today's by up to ${r.shrinkOnLoadMaxDiff} of 255.`,
      '',
    );
  }
  for (const n of r.notes) out.push(`- ${n}`);
  out.push('');
  return out.join('\n');
}

async function main() {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      quick: { type: 'boolean', default: false },
      image: { type: 'string', default: 'dog.jpg' },
      out: { type: 'string', default: path.join(__dirname, '..', 'results') },
    },
  });
  const result = await runDecode({ quick: values.quick, image: values.image });
  const outDir = path.resolve(values.out);
  mkdirSync(outDir, { recursive: true });
  const base = path.join(outDir, `${result.date.slice(0, 10)}-${machineInfo().host}-decode`);
  writeFileSync(`${base}.json`, `${JSON.stringify({ ...result, versions: versions() }, null, 1)}\n`);
  writeFileSync(`${base}.md`, renderDecode(result));
  log(`decode done in ${Math.round(result.durationS)} s → ${base}.json, ${base}.md`);
}

/**
 * glibc reads the allocator variables once, at start, and sharp picks its default concurrency from
 * them: run the measurement in a child that has them, as the service does (ALLOCATOR_TUNING=off:
 * glibc's defaults).
 */
function inTunedChild(): boolean {
  if (process.env.MALLOC_ARENA_MAX !== undefined || process.env.ALLOCATOR_TUNING === 'off') return false;
  const tuning = JSON.parse(readFileSync(path.join(ROOT, 'lambda', 'allocator-env.json'), 'utf8')) as Record<
    string,
    string
  >;
  const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...tuning, VIPS_BLOCK_UNTRUSTED: '1', ...process.env },
  });
  process.exitCode = child.status ?? 1;
  return true;
}

if (require.main === module && !inTunedChild()) {
  main().catch((e: unknown) => {
    process.stderr.write(`decode: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
