import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../lambda/src/adapters/config';
// The evaluation compares answers exactly as the service gives them (decoder, pre- and
// post-processing, defaults), so this one tool builds the service rather than the adapters.
import { createService } from '../../lambda/src/service/create-service';
import { prepareModel } from '../model-prep/onnx-graph-rewrite';
import { DEFAULT_THRESHOLDS, type Thresholds } from './agreement';
import { evaluate, ModelProblem } from './evaluate';
import { formatReport } from './format';
import { findPhotos } from './photos';

const USAGE = `usage: npm run models:evaluate -- <candidate> --reference <model> --photos <folder or file> [--photos …]
         [--min-recall 0.9] [--min-precision 0.9] [--min-top1 0.9] [--min-confidence X]
         [--threads N] [--out report.json] [--manifest user.json]`;

/**
 * Exit codes: 0 PASS, 1 FAIL (agreement below a threshold), 2 usage, 3 a model that is unknown,
 * of another task or cannot be loaded, 4 no photo could be evaluated, 5 anything else.
 */
const EXIT = { pass: 0, fail: 1, usage: 2, model: 3, noPhoto: 4, error: 5 } as const;

class UsageError extends Error {}

function fraction(name: string, raw: string | undefined, fallback?: number): number | undefined {
  if (raw === undefined) return fallback;
  const n = /^\s*\d*\.?\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 0 && n <= 1)) throw new UsageError(`--${name} must be a number from 0 to 1; got '${raw}'`);
  return n;
}

/**
 * `npm run models:evaluate -- yolov4-int8 --reference yolov4 --photos ./held-out`: runs both
 * models on the photos through the service and says how far the candidate agrees with the
 * reference (docs/model-evaluation.md).
 */
async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        reference: { type: 'string' },
        photos: { type: 'string', multiple: true },
        'min-recall': { type: 'string' },
        'min-precision': { type: 'string' },
        'min-top1': { type: 'string' },
        'min-confidence': { type: 'string' },
        threads: { type: 'string' },
        out: { type: 'string' },
        manifest: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.pass;
  }
  const [candidate, ...more] = positionals;
  let thresholds: Thresholds;
  let minConfidence: number | undefined;
  let walk;
  try {
    if (!candidate || !values.reference || !values.photos?.length || more.length > 0) {
      throw new UsageError(
        more.length > 0 ? `one candidate model; unexpected '${more.join(' ')}'` : 'missing arguments',
      );
    }
    thresholds = {
      minRecall: fraction('min-recall', values['min-recall'], DEFAULT_THRESHOLDS.minRecall) ?? 0,
      minPrecision: fraction('min-precision', values['min-precision'], DEFAULT_THRESHOLDS.minPrecision) ?? 0,
      minTop1: fraction('min-top1', values['min-top1'], DEFAULT_THRESHOLDS.minTop1) ?? 0,
    };
    minConfidence = fraction('min-confidence', values['min-confidence']);
    if (values.threads !== undefined && !/^[1-9]\d*$/.test(values.threads)) {
      throw new UsageError(`--threads must be a positive integer; got '${values.threads}'`);
    }
    try {
      walk = findPhotos(values.photos);
    } catch (e) {
      throw new UsageError(`cannot read --photos: ${(e as Error).message}`);
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n${USAGE}\n`);
    return EXIT.usage;
  }
  for (const p of walk.problems) process.stderr.write(`Cannot list ${p.name}: ${p.error}\n`);
  if (walk.photos.length === 0) {
    process.stderr.write(`No photo (${values.photos.join(', ')}) to evaluate on.\n`);
    return EXIT.noPhoto;
  }

  const env: NodeJS.ProcessEnv = { ...process.env, PRELOAD_MODELS: '' };
  if (values.manifest) env.MODEL_MANIFEST = values.manifest;
  if (values.threads) env.ORT_INTRA_OP_THREADS = values.threads;
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  const service = createService(loadConfig(env), {
    prepareMissing: async (file, sha256, dir) => {
      await prepareModel(file, sha256, dir);
    },
  });
  try {
    const report = await evaluate(service, {
      candidate,
      reference: values.reference,
      photos: walk.photos,
      minConfidence,
      thresholds,
      progress: process.stderr.isTTY
        ? (done, total) => process.stderr.write(`\r${done}/${total} photos${done === total ? '\n' : ''}`)
        : undefined,
    });
    process.stdout.write(formatReport(report));
    if (values.out) writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
    if (report.evaluated === 0) return EXIT.noPhoto;
    return report.verdict.pass ? EXIT.pass : EXIT.fail;
  } catch (e) {
    if (!(e instanceof ModelProblem)) throw e;
    process.stderr.write(`${e.message}\n`);
    return EXIT.model;
  } finally {
    await service.close();
  }
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`models:evaluate failed: ${(e as Error).message}\n`);
    process.exitCode = EXIT.error;
  },
);
