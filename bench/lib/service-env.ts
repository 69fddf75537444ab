import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import allocatorEnv from '../../lambda/allocator-env.json';
import { BENCH_MODELS_DIR } from '../standins/make-bench-models';
import { BENCH_CACHE, EMBEDDED_MODELS, ROOT } from './models';

/**
 * A user manifest pointing the production entries at the stand-ins, plus `yolov4-mish-rewrite`: a
 * copy of the yolov4 entry whose file is the rewritten graph (absolute path, no checksum).
 */
export function writeBenchManifest(yolov4Rewritten: string): string {
  const base = JSON.parse(readFileSync(path.join(ROOT, 'models', 'manifest.json'), 'utf8')) as {
    models: Record<string, unknown>[];
  };
  const yolov4 = base.models.find((m) => m.id === 'yolov4');
  if (!yolov4) throw new Error('models/manifest.json has no yolov4 entry');
  const manifest = {
    models: [
      { id: 'resnet50-v1-12', file: 'resnet50-random.onnx', sha256: null },
      { id: 'resnet50-v1-12-int8', file: 'resnet50-int8-random.onnx', sha256: null },
      { id: 'yolov4', file: 'yolov4-random.onnx', sha256: null },
      {
        ...yolov4,
        id: 'yolov4-mish-rewrite',
        description: 'YOLOv4 stand-in with the Mish chains rewritten (benchmark only)',
        file: yolov4Rewritten,
        sha256: null,
      },
    ],
  };
  mkdirSync(BENCH_CACHE, { recursive: true });
  const file = path.join(BENCH_CACHE, 'bench-manifest.json');
  writeFileSync(file, JSON.stringify(manifest, null, 1));
  return file;
}

/** Environment for a service on the stand-ins and the real small models, quiet telemetry. */
export function benchEnv(manifest: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    MODEL_PATH: [BENCH_MODELS_DIR, EMBEDDED_MODELS].join(':'),
    MODEL_MANIFEST: manifest,
    MODEL_CACHE_DIR: path.join(BENCH_CACHE, 'models'),
    DEFAULT_CLASSIFIER: 'resnet50-v1-12',
    DEFAULT_DETECTOR: 'yolov4',
    PRELOAD_MODELS: 'resnet50-v1-12,yolov4',
    ORT_INTRA_OP_THREADS: '2',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_DEV: 'false',
    ...extra,
  };
}

/** `env` with the glibc allocator settings of lambda/allocator-env.json, or without any of them. */
export function withAllocator(
  env: NodeJS.ProcessEnv,
  allocator: 'tuned' | 'glibc defaults',
): NodeJS.ProcessEnv {
  return allocator === 'tuned'
    ? { ...env, ...allocatorEnv }
    : Object.fromEntries(Object.entries(env).filter(([k]) => !(k in allocatorEnv)));
}
