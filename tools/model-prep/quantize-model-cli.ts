import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../lambda/src/adapters/config';
import { quantizeModel } from './quantize-model';

const PHOTO = /\.(jpe?g|png|webp)$/i;
const USAGE =
  'usage: npm run models:quantize -- <model-id> --photos <folder or files…> [--out file.onnx] [--manifest user.json] [--keep-float N]';

/** Photos from folders (their JPEG/PNG/WebP files, sorted) and single files. */
function photoFiles(paths: readonly string[]): string[] {
  return paths.flatMap((p) =>
    statSync(p).isDirectory()
      ? readdirSync(p)
          .filter((f) => PHOTO.test(f))
          .sort()
          .map((f) => path.join(p, f))
      : [p],
  );
}

/**
 * `npm run models:quantize -- yolov4 --photos ./calibration`: writes an int8 copy of a model and a
 * user manifest that serves it as `<id>-int8` (see quantize-model.ts).
 */
async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      photos: { type: 'string', multiple: true },
      out: { type: 'string' },
      manifest: { type: 'string' },
      'keep-float': { type: 'string' },
    },
  });
  const id = positionals[0];
  const photos = photoFiles([...(values.photos ?? []), ...positionals.slice(1)]);
  const keepFloat = Number(values['keep-float'] ?? 0);
  if (!id || photos.length === 0 || !Number.isInteger(keepFloat) || keepFloat < 0) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const env = { ...process.env, ...(values.manifest ? { MODEL_MANIFEST: values.manifest } : {}) };
  const config = loadConfig(env);
  const out = values.out ?? path.join(config.cacheDir, `${id}-int8.onnx`);
  const report = await quantizeModel(
    config,
    id,
    photos.map((p) => readFileSync(p)),
    out,
    {
      keepFloat,
      progress: process.stderr.isTTY
        ? (done, total) =>
            process.stderr.write(`\rsensitivity: ${done}/${total} convolutions${done === total ? '\n' : ''}`)
        : undefined,
    },
  );
  process.stdout.write(
    `${report.entry.id}: ${report.convolutions} convolutions int8, calibrated on ${report.calibrationImages} photos\n` +
      report.keptFloat
        .map(
          (k) =>
            `  kept float: ${k.output} (alone it changed the answers by ${(k.error * 100).toFixed(1)}%)\n`,
        )
        .join('') +
      `  model:    ${report.file}\n` +
      `  manifest: ${report.manifest}\n` +
      `Serve it with MODEL_MANIFEST=${report.manifest} and model=${report.entry.id}; compare its answers with ${id} before relying on it:\n` +
      `  npm run models:evaluate -- ${report.entry.id} --reference ${id} --photos <held-out photos> --manifest ${report.manifest}\n`,
  );
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`models:quantize failed: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
