/**
 * Peers: what users would pick instead, side by side in one run, on the same photo, the same graph
 * and the same number of intra-op threads.
 *
 *   classification (ResNet-50 stand-in): this project in process (the service's classify path),
 *     transformers.js `pipeline('image-classification')` on the same graph with its I/O renamed
 *     (bench/peers/hf-model.ts), OpenCV DNN from Python (Debian python3-opencv) when installed.
 *   detection (YOLOv4 stand-in): this project and OpenCV DNN `readNetFromONNX`, if its loader
 *     takes the graph (else the row records the error).
 *
 * Each round starts a fresh process per system, the systems' order rotating between rounds; each
 * process warms up, then times `runs` end-to-end calls (the photo's bytes in memory → top-5 labels
 * or boxes) and, inside each, the inference stage alone. Standalone:
 *
 *   npx tsx bench/sections/peers.ts [--quick]   → bench/results/<date>-<host>-peers.{json,md}
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { prepareMissing } from '../../local/prepare-on-load';
import { childEnv, type ChildSettings, type PeerTask } from '../peers/child-protocol';
import { ensureHfResnetFolder, PREPROCESSOR_CONFIG } from '../peers/hf-model';
import { opencvVersion, runPythonChild, SYSTEM_PYTHON } from '../peers/python-child';
import { type ChildLine, runEventChild } from '../lib/child-process';
import { log } from '../lib/log';
import { machineInfo } from '../lib/machine';
import { BENCH_CACHE, FIXTURE_IMAGES, ROOT } from '../lib/models';
import { benchEnv, withAllocator } from '../lib/service-env';
import { percentile, round } from '../lib/stats';

export type PeerSystem = 'project' | 'transformers.js' | 'opencv';

export interface PeersOptions {
  quick: boolean;
  threads: number;
  image: string;
  resnetStandIn: string;
  yolov4StandIn?: string;
}

/** One fresh process of one system: its timed runs (ms). */
export interface PeerRun {
  task: PeerTask;
  system: PeerSystem;
  round: number;
  /** 1 = started first in its round. */
  position: number;
  /** Parent's clock: spawn() to the model loaded (and, for this project, warmed as on preload). */
  startupMs: number;
  e2eMs: number[];
  inferenceMs: number[];
  /** The last run's answer: top-5 labels, or { detections, candidates }. Stand-ins: meaningless. */
  answer: unknown;
  /** What the child said once loaded (e.g. OpenCV's thread count, its own load time). */
  reported: Record<string, unknown>;
}

export interface PeerRow {
  task: PeerTask;
  system: PeerSystem;
  name: string;
  version: string;
  status: 'ok' | 'skipped' | 'failed';
  /** Why it was skipped, or the error that stopped it. */
  note: string | null;
  rounds: number;
  runsPerRound: number;
  /** Median over rounds. */
  startupMs: number | null;
  /** Over all timed runs of all rounds. */
  e2eMedianMs: number | null;
  e2eP90Ms: number | null;
  inferenceMedianMs: number | null;
  inferenceP90Ms: number | null;
  /** This system's median / this project's median (above 1: slower than this project). */
  e2eVsProject: number | null;
  inferenceVsProject: number | null;
  answer: unknown;
}

export interface PeersResult {
  date: string;
  durationS: number;
  quick: boolean;
  threads: number;
  image: { name: string; width: number; height: number; bytes: number };
  rounds: number;
  warmUp: Record<PeerTask, number>;
  runsPerRound: Record<PeerTask, number>;
  models: { resnet50: string; transformersFolder: string; yolov4: string | null };
  machine: {
    cpuModel: string;
    logicalCpus: number;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
  };
  versions: Record<string, string>;
  rows: PeerRow[];
  runs: PeerRun[];
  /** What each system does, per task (rendered as the "what each system does" list). */
  does: Record<PeerTask, Partial<Record<PeerSystem, string>>>;
  notes: string[];
}

const NAMES: Record<PeerSystem, string> = {
  project: 'this project (in process)',
  'transformers.js': 'transformers.js pipeline',
  opencv: 'OpenCV DNN (Python)',
};

const PEERS_DIR = path.join(__dirname, '..', 'peers');

function settingsFor(quick: boolean) {
  return {
    rounds: quick ? 2 : 5,
    warmUp: { classification: quick ? 3 : 5, detection: quick ? 1 : 2 },
    runs: { classification: quick ? 8 : 20, detection: quick ? 3 : 8 },
  };
}

/** A package's folder, found from its entry point (some packages do not export package.json). */
function packageDir(name: string, from: string = ROOT): string | null {
  try {
    let dir = path.dirname(require.resolve(name, { paths: [from] }));
    for (;;) {
      try {
        const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
        if (pkg.name === name) return dir;
      } catch {
        // not this folder
      }
      const up = path.dirname(dir);
      if (up === dir) return null;
      dir = up;
    }
  } catch {
    return null;
  }
}

const pkgVersion = (name: string, from: string = ROOT): string => {
  const dir = packageDir(name, from);
  if (!dir) return 'not installed';
  return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
};

interface YoloEntry {
  input: { width: number; height: number };
  preprocess: { resize: { padValue?: number } };
  postprocess: {
    heads: { stride: number; anchors: [number, number][]; scaleXY: number }[];
    scoreThreshold: number;
    iouThreshold: number;
    maxDetections: number;
  };
  numClasses: number;
}

/** The production manifest's YOLOv4 decoding settings, for the OpenCV child. */
function yoloSettings(): string {
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'models', 'manifest.json'), 'utf8')) as {
    models: ({ id: string } & YoloEntry)[];
  };
  const y = manifest.models.find((m) => m.id === 'yolov4');
  if (!y) throw new Error('models/manifest.json has no yolov4 entry');
  const size = y.input.width;
  return JSON.stringify({
    size,
    padValue: y.preprocess.resize.padValue ?? 128,
    scoreThreshold: y.postprocess.scoreThreshold,
    iouThreshold: y.postprocess.iouThreshold,
    maxDetections: y.postprocess.maxDetections,
    numClasses: y.numClasses,
    heads: y.postprocess.heads.map((h) => ({ ...h, grid: size / h.stride })),
  });
}

/** A user manifest serving the stand-ins under the production ids (absolute paths, no checksum). */
function writePeersManifest(resnet: string, yolov4: string | undefined): string {
  const dir = path.join(BENCH_CACHE, 'peers');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'peers-manifest.json');
  const models = [
    { id: 'resnet50-v1-12', file: path.resolve(resnet), sha256: null },
    ...(yolov4 ? [{ id: 'yolov4', file: path.resolve(yolov4), sha256: null }] : []),
  ];
  writeFileSync(file, JSON.stringify({ models }, null, 1));
  return file;
}

const stat = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return { median: round(percentile(s, 50), 2), p90: round(percentile(s, 90), 2) };
};

export async function runPeers(opts: PeersOptions): Promise<PeersResult> {
  const started = performance.now();
  const s = settingsFor(opts.quick);
  const loadStart = machineInfo().loadAverageAtStart;
  const photo = readFileSync(opts.image);
  const meta = await sharp(photo).metadata();
  const hf = ensureHfResnetFolder(opts.resnetStandIn);
  log(`peers: transformers.js model folder ${hf.dir} (${hf.cached ? 'cached' : 'written'})`);
  const manifest = writePeersManifest(opts.resnetStandIn, opts.yolov4StandIn);
  // The service makes its prepared copy of a model on first load: made here, once, so no round pays it.
  const preparedDir = path.join(BENCH_CACHE, 'models');
  for (const f of [opts.resnetStandIn, opts.yolov4StandIn]) if (f) await prepareMissing(f, null, preparedDir);

  const cv = opencvVersion();
  const versions: Record<string, string> = {
    node: process.version,
    onnxruntimeNode: pkgVersion('onnxruntime-node'),
    sharp: sharp.versions.sharp,
    transformersJs: pkgVersion('@huggingface/transformers'),
    transformersJsOnnxruntimeNode: pkgVersion(
      'onnxruntime-node',
      packageDir('@huggingface/transformers') ?? ROOT,
    ),
    opencv: 'version' in cv ? `${cv.version}, ${SYSTEM_PYTHON}` : `not available (${cv.missing})`,
  };
  const skipped = new Map<string, string>();
  const key = (task: PeerTask, system: PeerSystem) => `${task}/${system}`;
  if ('missing' in cv) {
    const why = 'skipped: python3-opencv not installed';
    skipped.set(key('classification', 'opencv'), why);
    skipped.set(key('detection', 'opencv'), why);
    log(`peers: OpenCV DNN ${why} (${cv.missing})`);
  }
  if (!opts.yolov4StandIn) {
    skipped.set(key('detection', 'project'), 'skipped: no YOLOv4 stand-in given');
    skipped.set(key('detection', 'opencv'), 'skipped: no YOLOv4 stand-in given');
  }
  const failed = new Map<string, string>();
  const yolo = yoloSettings();

  const tasks: { task: PeerTask; systems: PeerSystem[] }[] = [
    { task: 'classification', systems: ['project', 'transformers.js', 'opencv'] },
    { task: 'detection', systems: ['project', 'opencv'] },
  ];

  const runOne = async (
    task: PeerTask,
    system: PeerSystem,
  ): Promise<{ lines: ChildLine[]; firstAtMs: number }> => {
    const settings: ChildSettings = {
      task,
      image: path.resolve(opts.image),
      model:
        system === 'transformers.js'
          ? hf.root
          : path.resolve(task === 'classification' ? opts.resnetStandIn : opts.yolov4StandIn!),
      threads: opts.threads,
      warmUp: s.warmUp[task],
      runs: s.runs[task],
    };
    const name = `peers ${task} ${system}`;
    if (system === 'project') {
      // As `npm run classify` runs it: scripts/tuned-node.mjs's allocator settings.
      const env = withAllocator(
        benchEnv(manifest, {
          PRELOAD_MODELS: task === 'classification' ? 'resnet50-v1-12' : 'yolov4',
          ORT_INTRA_OP_THREADS: String(opts.threads),
          ...childEnv(settings),
        }),
        'tuned',
      );
      return runEventChild(['--import', 'tsx', path.join(PEERS_DIR, 'project-child.ts')], {
        cwd: ROOT,
        env,
        name,
      });
    }
    // The peers as their users run them: glibc's allocator defaults.
    const base = withAllocator(process.env, 'glibc defaults');
    if (system === 'transformers.js') {
      return runEventChild(['--import', 'tsx', path.join(PEERS_DIR, 'transformers-child.ts')], {
        cwd: ROOT,
        env: { ...base, ...childEnv(settings, { PEERS_MODEL_ID: hf.id }) },
        name,
      });
    }
    return runPythonChild(path.join(PEERS_DIR, 'opencv_child.py'), {
      cwd: ROOT,
      env: {
        ...base,
        ...childEnv(settings, {
          PEERS_LABELS: path.join(ROOT, 'models', 'imagenet_labels_short.txt'),
          PEERS_YOLO: yolo,
        }),
      },
      name,
    });
  };

  const runs: PeerRun[] = [];
  for (let r = 1; r <= s.rounds; r++) {
    for (const { task, systems } of tasks) {
      const shift = (r - 1) % systems.length;
      const order = [...systems.slice(shift), ...systems.slice(0, shift)];
      for (const [i, system] of order.entries()) {
        const k = key(task, system);
        if (skipped.has(k) || failed.has(k)) continue;
        try {
          const { lines, firstAtMs } = await runOne(task, system);
          const done = lines.find((l) => l.event === 'runs');
          if (!done) throw new Error('no runs reported');
          const run: PeerRun = {
            task,
            system,
            round: r,
            position: i + 1,
            startupMs: round(firstAtMs, 0),
            e2eMs: (done.e2eMs as number[]).map((v) => round(v, 2)),
            inferenceMs: (done.inferenceMs as number[]).map((v) => round(v, 2)),
            answer: done.answer ?? null,
            reported: Object.fromEntries(
              Object.entries(lines.find((l) => l.event === 'first') ?? {}).filter(([k]) => k !== 'event'),
            ),
          };
          runs.push(run);
          const e = stat(run.e2eMs);
          log(
            `peers ${task} ${system} round ${r}/${s.rounds}: start-up ${run.startupMs} ms, e2e median ${e.median} ms, inference median ${stat(run.inferenceMs).median} ms`,
          );
        } catch (e) {
          // The child's own message, without runEventChild's "<name> child exited 1: " prefix.
          const message = (e as Error).message
            .replace(/\s+/g, ' ')
            .replace(/^.*? child exited \d+: /, '')
            .trim();
          failed.set(k, message);
          log(`peers ${task} ${system}: failed: ${message}`);
        }
      }
    }
  }

  const rows: PeerRow[] = [];
  for (const { task, systems } of tasks) {
    const project = runs.filter((x) => x.task === task && x.system === 'project');
    const projectE2e = project.length ? stat(project.flatMap((x) => x.e2eMs)).median : null;
    const projectInf = project.length ? stat(project.flatMap((x) => x.inferenceMs)).median : null;
    for (const system of systems) {
      const k = key(task, system);
      const mine = runs.filter((x) => x.task === task && x.system === system);
      const e2e = mine.length ? stat(mine.flatMap((x) => x.e2eMs)) : null;
      const inf = mine.length ? stat(mine.flatMap((x) => x.inferenceMs)) : null;
      const ratio = (a: number | undefined, b: number | null) =>
        a !== undefined && b !== null && b > 0 ? round(a / b, 2) : null;
      const note = skipped.get(k) ?? (failed.has(k) ? `failed: ${failed.get(k)!}` : null);
      rows.push({
        task,
        system,
        name: NAMES[system],
        version:
          system === 'project'
            ? `sharp ${versions.sharp}, onnxruntime-node ${versions.onnxruntimeNode}`
            : system === 'transformers.js'
              ? `@huggingface/transformers ${versions.transformersJs} (onnxruntime-node ${versions.transformersJsOnnxruntimeNode})`
              : 'version' in cv
                ? cv.version
                : versions.opencv!,
        status: skipped.has(k) ? 'skipped' : failed.has(k) && !mine.length ? 'failed' : 'ok',
        note,
        rounds: mine.length,
        runsPerRound: s.runs[task],
        startupMs: mine.length ? stat(mine.map((x) => x.startupMs)).median : null,
        e2eMedianMs: e2e?.median ?? null,
        e2eP90Ms: e2e?.p90 ?? null,
        inferenceMedianMs: inf?.median ?? null,
        inferenceP90Ms: inf?.p90 ?? null,
        e2eVsProject: ratio(e2e?.median, projectE2e),
        inferenceVsProject: ratio(inf?.median, projectInf),
        answer: mine.at(-1)?.answer ?? null,
      });
    }
  }

  const notes = [
    'ResNet-50 and YOLOv4 are random-weight stand-ins with the zoo graphs (bench/standins): their timings transfer, their answers mean nothing.',
    `Every system runs ${opts.threads} intra-op threads (this project ORT_INTRA_OP_THREADS, transformers.js session_options.intraOpNumThreads with interOpNumThreads 1, OpenCV cv2.setNumThreads).`,
    "This project runs with scripts/tuned-node.mjs's glibc allocator settings (as `npm run classify` and `npm start` do); transformers.js and OpenCV with glibc's defaults, as their users have them. onnxruntime's intra-op spinning: off in this project (ORT_ALLOW_SPINNING=0, its default), onnxruntime's default (on) in transformers.js.",
  ];
  const cls = (system: PeerSystem) => rows.find((x) => x.task === 'classification' && x.system === system);
  const top1 = (system: PeerSystem) => {
    const a = cls(system)?.answer;
    return Array.isArray(a) ? (a[0] as string) : null;
  };
  const tops = (['project', 'transformers.js', 'opencv'] as const)
    .map((sys) => [sys, top1(sys)] as const)
    .filter(([, t]) => t !== null);
  if (tops.length > 1)
    notes.push(
      `Top-1 on the stand-in (a check that each system ran the same graph on a similar input, not a result): ${tops.map(([sys, t]) => `${NAMES[sys]} "${t!}"`).join(', ')}.`,
    );

  return {
    date: new Date().toISOString(),
    durationS: round((performance.now() - started) / 1000, 1),
    quick: opts.quick,
    threads: opts.threads,
    image: {
      name: path.basename(opts.image),
      width: meta.width,
      height: meta.height,
      bytes: photo.length,
    },
    rounds: s.rounds,
    warmUp: s.warmUp,
    runsPerRound: s.runs,
    models: {
      resnet50: path.relative(ROOT, opts.resnetStandIn),
      transformersFolder: path.relative(ROOT, hf.dir),
      yolov4: opts.yolov4StandIn ? path.relative(ROOT, opts.yolov4StandIn) : null,
    },
    machine: (() => {
      const m = machineInfo();
      return {
        cpuModel: m.cpuModel,
        logicalCpus: m.logicalCpus,
        loadAverageAtStart: loadStart,
        loadAverageAtEnd: m.loadAverageAtStart,
      };
    })(),
    versions,
    rows,
    runs,
    does: whatEachDoes(opts.threads),
    notes,
  };
}

function whatEachDoes(threads: number): PeersResult['does'] {
  const pp = PREPROCESSOR_CONFIG;
  return {
    classification: {
      project:
        '`createService(loadConfig(env)).recognize("classification", bytes, { topK: 5 })`, the path of `npm run classify` and the HTTP routes: ' +
        'sharp probes the header (format, size, ICC), then one libvips pipeline decodes (JPEG shrink-on-load), auto-orients, resizes the shorter side to 256 (`linear` kernel), centre-crops 224, to RGB; ' +
        'normalises into NCHW float32 in JS; onnxruntime-node runs the prepared copy of the graph (same graph, weights in an external file); ' +
        "softmax, top-5 and the ImageNet-hierarchy summary. Inference = the service's own `timings.inferenceMs`.",
      'transformers.js':
        `\`RawImage.fromBlob(new Blob([bytes]))\` (sharp decodes the whole photo to raw RGB) → \`pipeline("image-classification")\`: ConvNextImageProcessor with shortest_edge ${pp.size.shortest_edge}, crop_pct ${pp.crop_pct} ` +
        `(resize the shorter side to 256, centre-crop 224 — the manifest's geometry), resample ${pp.resample} (bilinear, through sharp's \`affine\`; microsoft/resnet-50 ships 3, bicubic), rescale 1/255 and ImageNet mean/std in JS; ` +
        `onnxruntime-node session (session_options intraOpNumThreads ${threads}, interOpNumThreads 1) on the same graph with its input renamed pixel_values and output logits; softmax, top-5, id2label. Inference = the pipeline's \`model(...)\` call.`,
      opencv:
        "`cv2.imdecode` (full-size BGR) → `cv2.resize` shorter side to 256 (INTER_LINEAR) → centre crop 224 → `blobFromImage(1/255, swapRB=True)` → `(x − mean) / std` in numpy (4.6's blobFromImage has no std) → " +
        '`net.forward()` (`readNetFromONNX`, DNN_BACKEND_OPENCV, CPU) → numpy softmax, top-5 labels. Inference = `net.forward()`.',
    },
    detection: {
      project:
        '`recognize("detection", bytes, …)` with the manifest\'s defaults (score 0.25, IoU 0.213, at most 100): sharp decode + letterbox to 416 (linear kernel, centred, pad 128), RGB /255 NHWC; ' +
        'onnxruntime-node on the prepared copy of the YOLOv4 graph (the Mish chains rewritten exactly, what the service always loads); JS decode of the three heads, greedy class-aware NMS (at most 2000 candidates), boxes back to the photo. Inference = `timings.inferenceMs`.',
      opencv:
        '`cv2.imdecode` → letterbox to 416 (`cv2.resize` INTER_LINEAR, centred, pad 128) → RGB, /255 as a [1,416,416,3] float32 array → `net.forward(all outputs)` on the zoo graph as downloaded (OpenCV fuses what it recognises itself) → ' +
        "numpy decode of the three heads with the manifest's anchors, strides, scaleXY and thresholds → boxes back to the photo → `cv2.dnn.NMSBoxes` per class (class offsets; 4.6 has no NMSBoxesBatched), at most 100. Inference = `net.forward()`.",
    },
  };
}

const cell = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined ? '–' : String(round(v, digits));
const times = (v: number | null) => (v === null ? '–' : `${v.toFixed(2)}×`);

export function renderPeers(result: PeersResult): string {
  const out: string[] = [];
  out.push('### Peers: what users would pick instead', '');
  out.push(
    `${result.image.name} (${result.image.width}×${result.image.height}, ${Math.round(result.image.bytes / 1024)} KB, bytes in memory), ${result.threads} intra-op threads, ` +
      `${result.rounds} rounds of a fresh process per system, the order rotating between rounds; each process warms up ` +
      `(${result.warmUp.classification} runs classification, ${result.warmUp.detection} detection) and then times ` +
      `${result.runsPerRound.classification} / ${result.runsPerRound.detection} end-to-end runs (bytes → top-5 labels / boxes), the inference stage timed inside each. ` +
      `Median and p90 over all timed runs; "vs this project" = median ÷ this project's median. ${result.machine.cpuModel}, ${result.machine.logicalCpus} vCPUs; section wall time ${Math.round(result.durationS)} s${result.quick ? ' (--quick)' : ''}.`,
    '',
  );
  const titles: Record<PeerTask, string> = {
    classification: `Classification: ResNet-50 stand-in (${result.models.resnet50})`,
    detection: `Detection: YOLOv4 416 stand-in (${result.models.yolov4 ?? 'not given'})`,
  };
  for (const task of ['classification', 'detection'] as const) {
    const rows = result.rows.filter((r) => r.task === task);
    out.push(`#### ${titles[task]}`, '');
    out.push(
      '| System | Version | e2e median (ms) | e2e p90 | inference median (ms) | inference p90 | e2e vs this project | inference vs this project | start-up (spawn → model loaded, ms) |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const r of rows) {
      if (r.status !== 'ok') {
        const why = r.status === 'failed' ? 'failed (below)' : (r.note ?? r.status);
        out.push(`| ${r.name} | ${r.version} | ${why} | | | | | | |`);
        continue;
      }
      out.push(
        `| ${r.name} | ${r.version} | ${cell(r.e2eMedianMs)} | ${cell(r.e2eP90Ms)} | ${cell(r.inferenceMedianMs)} | ${cell(r.inferenceP90Ms)} | ${times(r.e2eVsProject)} | ${times(r.inferenceVsProject)} | ${cell(r.startupMs, 0)} |`,
      );
    }
    // A failure stops that system's later rounds; its message is kept whole.
    for (const r of rows.filter((x) => x.note && x.status !== 'skipped'))
      out.push(
        '',
        `${r.name} ${r.status === 'ok' ? 'stopped after a failure' : 'failed'}: \`${r.note!.replace(/^failed: /, '')}\``,
      );
    const det = rows.filter((r) => task === 'detection' && r.status === 'ok' && r.answer);
    if (det.length)
      out.push(
        '',
        `Boxes on the stand-in's random outputs (last run): ${det.map((r) => `${r.name} ${JSON.stringify(r.answer)}`).join('; ')}.`,
      );
    out.push('');
  }
  out.push('#### What each system does', '');
  for (const task of ['classification', 'detection'] as const) {
    for (const [system, text] of Object.entries(result.does[task])) {
      const row = result.rows.find((r) => r.task === task && r.system === system);
      const unmeasured =
        row?.status === 'failed'
          ? ' Not measured: it failed (above).'
          : row?.status === 'skipped'
            ? ` Not measured: ${row.note ?? 'skipped'}.`
            : '';
      out.push(`- **${task}, ${NAMES[system as PeerSystem]}**: ${text}${unmeasured}`);
    }
  }
  out.push('');
  for (const n of result.notes) out.push(`- ${n}`);
  out.push('');
  return out.join('\n');
}

async function main() {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      quick: { type: 'boolean', default: false },
      threads: { type: 'string', default: '2' },
      out: { type: 'string', default: path.join(__dirname, '..', 'results') },
    },
  });
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const { BENCH_MODELS_DIR, ensureBenchModels } = await import('../standins/make-bench-models');
  for (const m of ensureBenchModels(BENCH_MODELS_DIR, ['resnet50', 'yolov4']))
    log(`stand-in written: ${m.file} (${m.bytes} bytes)`);
  const result = await runPeers({
    quick: values.quick,
    threads: Number(values.threads),
    image: path.join(FIXTURE_IMAGES, 'dog.jpg'),
    resnetStandIn: path.join(BENCH_MODELS_DIR, 'resnet50-random.onnx'),
    yolov4StandIn: path.join(BENCH_MODELS_DIR, 'yolov4-random.onnx'),
  });
  const outDir = path.resolve(values.out);
  mkdirSync(outDir, { recursive: true });
  const base = path.join(outDir, `${result.date.slice(0, 10)}-${machineInfo().host}-peers`);
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 1)}\n`);
  writeFileSync(`${base}.md`, renderPeers(result));
  log(`peers done in ${Math.round(result.durationS)} s → ${base}.json, ${base}.md`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`peers: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
