import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeAtomically } from '../../lambda/src/adapters/verified-write';
import { calibrateActivations } from '../../tools/model-prep/onnx-calibration';
import { prepareModel, rewriteMish } from '../../tools/model-prep/onnx-graph-rewrite';
import { exposeConvTensors, QUANTIZE_VERSION, quantizeConvs } from '../../tools/model-prep/onnx-quantize';
import { BENCH_MODELS_DIR } from '../standins/make-bench-models';
import { log } from './log';

export const ROOT = path.resolve(__dirname, '../..');
/** The small real models that ship with the repository. */
export const EMBEDDED_MODELS = path.join(ROOT, 'models', 'embedded');
/** The photos the tests use; the bench reads dog.jpg. */
export const FIXTURE_IMAGES = path.join(ROOT, 'test', 'fixtures', 'images');
export const BENCH_CACHE = path.join(ROOT, '.cache', 'bench-cache');

export interface BenchModel {
  key: string;
  label: string;
  file: string;
  /** Random-weight stand-in with the zoo file's graph (bench/standins). */
  standIn: boolean;
  /** Input shape for batch n. */
  dims: (batch: number) => number[];
  /** Multiply-accumulates per image (null: measured by lib/macs.ts). */
  gmac: number | null;
  int8: boolean;
  /** The manifest id this file serves in the service, if any. */
  manifestId?: string;
}

/** The YOLOv4 stand-in with Mish rewritten (prepared once into the bench cache). */
export async function rewrittenYolov4(): Promise<{
  file: string;
  prepareMs: number;
  cached: boolean;
  replaced: number;
}> {
  const t = performance.now();
  const r = await prepareModel(path.join(BENCH_MODELS_DIR, 'yolov4-random.onnx'), null, BENCH_CACHE);
  if (r.replaced !== 72)
    throw new Error(`expected 72 Mish chains in the YOLOv4 stand-in, rewrote ${r.replaced}`);
  return { file: r.file, prepareMs: performance.now() - t, cached: r.cached, replaced: r.replaced };
}

/**
 * The YOLOv4 stand-in, Mish rewritten, with int8 convolutions (onnx-quantize.ts, the code behind
 * `npm run models:quantize`), calibrated on a synthetic input: its weights are random, so only its
 * speed means anything. Made once into the bench cache (about 20 s).
 */
export async function quantizedYolov4(): Promise<string> {
  const out = path.join(BENCH_CACHE, `yolov4-mish-int8-v${QUANTIZE_VERSION}-random.onnx`);
  if (existsSync(out)) return out;
  log('quantising the YOLOv4 stand-in into', out);
  const { bytes } = rewriteMish(readFileSync(path.join(BENCH_MODELS_DIR, 'yolov4-random.onnx')));
  const exposed = exposeConvTensors(bytes);
  const ranges = await calibrateActivations(exposed.bytes, exposed.names, [
    { data: syntheticInput(416 * 416 * 3), dims: [1, 416, 416, 3] },
  ]);
  await writeAtomically(out, quantizeConvs(bytes, ranges).bytes);
  return out;
}

const nchw = (size: number) => (b: number) => [b, 3, size, size];

export function benchModels(yolov4Rewritten: string, yolov4Int8: string): BenchModel[] {
  return [
    {
      key: 'resnet50',
      label: 'ResNet-50 v1 fp32 (stand-in)',
      file: path.join(BENCH_MODELS_DIR, 'resnet50-random.onnx'),
      standIn: true,
      dims: nchw(224),
      gmac: 3.86,
      int8: false,
      manifestId: 'resnet50-v1-12',
    },
    {
      key: 'resnet50-int8',
      label: 'ResNet-50 v1 int8 (stand-in)',
      file: path.join(BENCH_MODELS_DIR, 'resnet50-int8-random.onnx'),
      standIn: true,
      dims: nchw(224),
      gmac: 3.86,
      int8: true,
      manifestId: 'resnet50-v1-12-int8',
    },
    {
      key: 'yolov4',
      label: 'YOLOv4 416 (stand-in, zoo Mish)',
      file: path.join(BENCH_MODELS_DIR, 'yolov4-random.onnx'),
      standIn: true,
      dims: (b) => [b, 416, 416, 3],
      gmac: 30.05,
      int8: false,
      manifestId: 'yolov4',
    },
    {
      key: 'yolov4-mish',
      label: 'YOLOv4 416 (stand-in, Mish rewritten)',
      file: yolov4Rewritten,
      standIn: true,
      dims: (b) => [b, 416, 416, 3],
      gmac: 30.05,
      int8: false,
      manifestId: 'yolov4-mish-rewrite',
    },
    {
      key: 'yolov4-int8',
      label: 'YOLOv4 416 (stand-in, Mish rewritten, int8 convolutions)',
      file: yolov4Int8,
      standIn: true,
      dims: (b) => [b, 416, 416, 3],
      gmac: 30.05,
      int8: true,
    },
    {
      key: 'mobilenetv2-int8',
      label: 'MobileNetV2 int8 (real)',
      file: path.join(EMBEDDED_MODELS, 'mobilenetv2-12-int8.onnx'),
      standIn: false,
      dims: nchw(224),
      gmac: null,
      int8: true,
      manifestId: 'mobilenetv2-12-int8',
    },
    {
      key: 'yolox-nano',
      label: 'YOLOX-nano 416 (real)',
      file: path.join(EMBEDDED_MODELS, 'yolox_nano.onnx'),
      standIn: false,
      dims: nchw(416),
      gmac: null,
      int8: false,
      manifestId: 'yolox-nano',
    },
    {
      key: 'yolo-fastest',
      label: 'Yolo-Fastest 1.1 320 (real)',
      file: path.join(EMBEDDED_MODELS, 'yolo-fastest-1.1-coco-320.onnx'),
      standIn: false,
      dims: nchw(320),
      gmac: null,
      int8: false,
      manifestId: 'yolo-fastest-1.1-xl',
    },
  ];
}

/** Deterministic image-like input in [0, 1) (no NaN, no extreme values). */
export function syntheticInput(length: number, seed = 1): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = (s >>> 8) / 16777216;
  }
  return out;
}
