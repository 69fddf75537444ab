import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../lambda/src/adapters/config';
import { loadManifest } from '../../lambda/src/adapters/manifest-loader';
import { ModelFileStore } from '../../lambda/src/adapters/model-files';
import { calibrateActivations, type CalibrationInput } from './onnx-calibration';
import { exposeConvTensors, quantizeConvs } from './onnx-quantize';
import { convSensitivity, type ConvSensitivity } from './onnx-sensitivity';
import { sha256File } from '../../lambda/src/adapters/sha256';
import { writeAtomically } from '../../lambda/src/adapters/verified-write';
import { SharpImageDecoder } from '../../lambda/src/adapters/sharp-decoder';
import type { ModelSpec } from '../../lambda/src/core/manifest';
import { modelInput } from '../../lambda/src/core/tensor';

export interface QuantizeReport {
  id: string;
  /** The int8 model and a user manifest (MODEL_MANIFEST) with its entry, `<id>-int8`. */
  file: string;
  manifest: string;
  entry: ModelSpec;
  convolutions: number;
  calibrationImages: number;
  /** The convolutions kept float by `keepFloat` (worst first, with the error each alone caused). */
  keptFloat: ConvSensitivity[];
}

export interface QuantizeOptions {
  /**
   * Keep this many convolutions float: those whose quantisation alone changes the answers on the
   * calibration photos most (onnx-sensitivity.ts). 0 (default): every convolution but the heads.
   */
  keepFloat?: number;
  progress?: (done: number, total: number) => void;
}

/**
 * Makes an int8 copy of model `id` (its convolutions, see onnx-quantize.ts), calibrated on
 * `photos` pre-processed exactly as requests are, and a user manifest that serves it as
 * `<id>-int8` with the same pre- and post-processing. Accuracy is the caller's to check: the
 * calibration photos should look like the traffic, and the result should be compared with the
 * float model (test/slow/quantize.test.ts does so against EXPECTED.md).
 */
export async function quantizeModel(
  config: Config,
  id: string,
  photos: readonly Uint8Array[],
  outFile: string,
  options: QuantizeOptions = {},
): Promise<QuantizeReport> {
  if (photos.length === 0) throw new Error('calibration needs at least one photo');
  const manifest = loadManifest(config.modelsDir, config.userManifest);
  const spec = manifest.models.find((m) => m.id === id);
  if (!spec) throw new Error(`no model '${id}' in the manifest`);
  const source = await new ModelFileStore(config.modelPath, config.modelsDir, config.cacheDir).locate(spec);

  const decoder = new SharpImageDecoder({ maxPixels: config.maxImagePixels });
  const inputs: CalibrationInput[] = [];
  for (const photo of photos) inputs.push(modelInput(await decoder.prepare(photo, spec), spec));

  const original = await readFile(source);
  const exposed = exposeConvTensors(original);
  const ranges = await calibrateActivations(exposed.bytes, exposed.names, inputs);
  const keepFloat = options.keepFloat ?? 0;
  const keptFloat =
    keepFloat > 0
      ? (await convSensitivity(original, ranges, inputs, options.progress)).slice(0, keepFloat)
      : [];
  const { bytes, quantized } = quantizeConvs(original, ranges, new Set(keptFloat.map((k) => k.output)));
  if (quantized === 0) throw new Error(`model '${id}' has no float convolution to quantise`);

  const file = path.resolve(outFile);
  await mkdir(path.dirname(file), { recursive: true });
  await writeAtomically(file, bytes);
  const entry: ModelSpec = {
    ...spec,
    id: `${id}-int8`,
    description: `${spec.description} — int8 convolutions (npm run models:quantize, ${photos.length} calibration photos${keptFloat.length > 0 ? `, ${keptFloat.length} kept float` : ''})`,
    file,
    sha256: await sha256File(file),
    bytes: bytes.length,
    urls: [],
    source: `${spec.source}; quantised locally from ${path.basename(source)}`,
  };
  const manifestFile = `${file}.manifest.json`;
  await writeAtomically(manifestFile, `${JSON.stringify({ models: [entry] }, null, 2)}\n`);
  return {
    id,
    file,
    manifest: manifestFile,
    entry,
    convolutions: quantized,
    calibrationImages: photos.length,
    keptFloat,
  };
}
