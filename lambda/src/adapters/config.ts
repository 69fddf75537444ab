import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { Task } from '../core/manifest';
import { DEFAULT_DOWNLOAD_IDLE_TIMEOUT_MS } from './verified-write';

/** Everything the runtime reads from the environment, parsed once and typed. */
export interface Config {
  /** Folder with manifest.json and label files. */
  modelsDir: string;
  /** Extra manifest (JSON) that adds or overrides entries. */
  userManifest: string | null;
  /**
   * Folders searched for model files, in order: MODEL_PATH, the cache folder, then (off Lambda) the
   * small models that ship with the repository (models/embedded).
   */
  modelPath: string[];
  cacheDir: string;
  /**
   * Where prepared model copies are looked up (prepared-models.ts), from MODEL_PREPARED_DIR.
   * Defaults to the cache folder locally; on Lambda only when set (the image ships them in
   * /opt/prepared-models, so no cold start writes 257 MB to /tmp). `off` loads files unchanged.
   */
  preparedDir: string | null;
  modelS3Uri: string | null;
  defaultClassifier: string;
  defaultDetector: string;
  /**
   * Per task, the embedded model that answers while the default is not installed (`npm start` on a
   * fresh clone, offline). Empty on Lambda, where a missing model is a build error, and for a task
   * whose default was chosen with DEFAULT_CLASSIFIER / DEFAULT_DETECTOR.
   */
  fallbackDefaults: Partial<Record<Task, string>>;
  /** Models loaded at start-up (Lambda init phase); 'defaults' means the defaults in use then. */
  preload: string[] | 'defaults';
  /**
   * WARM_UP=0 skips the one run per preloaded model at start-up (the bench's "before"): the first
   * request then pays the session's first-run cost. On by default.
   */
  warmUp: boolean;
  intraOpThreads: number;
  /** ORT_ALLOW_SPINNING=1|0: onnxruntime's idle threads spin (see onnx-runtime.ts). */
  allowSpinning: boolean;
  maxImageBytes: number;
  maxImagePixels: number;
  /** format=image: the annotated photo's longest side (ANNOTATED_MAX_SIDE). */
  annotatedMaxSide: number;
  /** The largest binary answer (MAX_RESPONSE_BYTES): Lambda's 6 MB response limit, after base64. */
  maxResponseBytes: number;
  maxQueuePerModel: number;
  requestTimeoutMs: number;
  /**
   * The local server's cap on requests being read, decoded or run at once (MAX_IN_FLIGHT); past it,
   * 503 OVERLOADED before the body is read. Bounds the memory bodies and decodes can take.
   */
  maxInFlight: number;
  /** Model downloads from S3: how long a TCP connect may take (S3_CONNECT_TIMEOUT_MS). */
  s3ConnectTimeoutMs: number;
  /**
   * Model downloads (S3 and HTTP): how long they may receive nothing, headers or body, before the
   * attempt is given up (DOWNLOAD_IDLE_TIMEOUT_MS).
   */
  downloadIdleTimeoutMs: number;
  corsAllowedOrigins: string[];
  s3Endpoint: string | null;
  /**
   * The upload area for photos too large for a body (POST /uploads, then {"s3": {"key"}}). Null
   * when UPLOAD_BUCKET is unset: /uploads answers 501 UPLOADS_UNAVAILABLE.
   */
  uploads: UploadConfig | null;
  /**
   * The bulk input area a Step Functions Distributed Map batch reads from (BULK_BUCKET,
   * BULK_INPUT_PREFIX). Null when BULK_BUCKET is unset: such batches are refused whole.
   */
  bulk: BulkConfig | null;
  /**
   * Hosts an {"url": …} image may come from (IMAGE_URL_ALLOWED_HOSTS: exact names, `*.example.com`,
   * `http://host` to allow plain HTTP for that host). Empty: URLs are refused (off by default).
   */
  imageUrlAllowedHosts: string[];
  /**
   * Addresses a URL may resolve to although they are loopback/private (IMAGE_URL_ALLOWED_ADDRESSES,
   * e.g. `127.0.0.1` for tests against a local server). Empty in every real deployment.
   */
  imageUrlAllowedAddresses: string[];
  /** Connect, first-byte and idle timeout of an image fetch, S3 or URL (SOURCE_TIMEOUT_MS). */
  sourceTimeoutMs: number;
  /** The most images one request may carry (MAX_BATCH_IMAGES). */
  maxBatchImages: number;
  /**
   * The bytes one request's referenced images (uploads, URLs) may take together, and the largest
   * upload (MAX_UPLOAD_BYTES).
   */
  maxSourceBytes: number;
  onLambda: boolean;
}

export interface UploadConfig {
  bucket: string;
  /** Key prefix uploads are put under and read from, without a trailing slash (UPLOAD_PREFIX). */
  prefix: string;
  /** S3-compatible endpoint (UPLOAD_S3_ENDPOINT), e.g. a local server; null for AWS S3. */
  endpoint: string | null;
  /** The largest photo an upload may be (MAX_UPLOAD_BYTES). */
  maxBytes: number;
  /** How long a presigned PUT stays valid, in seconds (UPLOAD_URL_TTL_SECONDS). */
  urlTtlSeconds: number;
}

export interface BulkConfig {
  /** The only bucket a batch may read (BULK_BUCKET). */
  bucket: string;
  /**
   * The key prefix a batch may read under (BULK_INPUT_PREFIX, default `input/`), always ending in
   * `/`; empty: the whole bucket.
   */
  prefix: string;
  /** S3-compatible endpoint (BULK_S3_ENDPOINT), e.g. a local server; null for AWS S3. */
  endpoint: string | null;
  /** The largest object one item may be (MAX_UPLOAD_BYTES, as uploads). */
  maxBytes: number;
}

/** BULK_BUCKET: an S3 bucket name as S3 allows new ones (3-63 of a-z 0-9 . -, no `..`, not an IP). */
const BUCKET_NAME = /^(?!\d+\.\d+\.\d+\.\d+$)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * The bulk input area from BULK_BUCKET, BULK_INPUT_PREFIX and BULK_S3_ENDPOINT, checked here so a
 * misconfigured function fails at start rather than refusing every batch's items.
 */
function bulkConfig(env: NodeJS.ProcessEnv, maxBytes: number): BulkConfig | null {
  const bucket = env.BULK_BUCKET;
  if (!bucket) {
    const stray = ['BULK_INPUT_PREFIX', 'BULK_S3_ENDPOINT'].filter((n) => env[n] !== undefined);
    if (stray.length > 0) throw new Error(`${stray.join(' and ')} set without BULK_BUCKET`);
    return null;
  }
  if (!BUCKET_NAME.test(bucket)) {
    throw new Error(
      `BULK_BUCKET must be an S3 bucket name (3-63 characters: a-z, 0-9, '.', '-'), got '${bucket}'`,
    );
  }
  // A folder: `input` and `input/` both mean the keys under `input/` (never `inputs/…`).
  const raw = env.BULK_INPUT_PREFIX ?? 'input/';
  const folder = raw.replace(/^\/+|\/+$/g, '');
  const prefix = folder === '' ? '' : `${folder}/`;
  if (
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f]/.test(prefix) ||
    prefix.split('/').some((s) => s === '.' || s === '..') ||
    prefix.includes('//') ||
    Buffer.byteLength(prefix) > 512
  ) {
    throw new Error(
      `BULK_INPUT_PREFIX must be a key prefix such as 'input/' (no '.' or '..' segments, no empty segments or control characters), got '${raw}'`,
    );
  }
  const endpoint = env.BULK_S3_ENDPOINT || null;
  if (endpoint !== null && !/^https?:\/\/[^/]/.test(endpoint)) {
    throw new Error(`BULK_S3_ENDPOINT must be an http(s) URL, got '${endpoint}'`);
  }
  return { bucket, prefix, endpoint, maxBytes };
}

function findModelsDir(): string {
  for (let dir = __dirname, i = 0; i < 6; i++, dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'models', 'manifest.json'))) return path.join(dir, 'models');
  }
  throw new Error(`models/manifest.json not found above ${__dirname}; set MODELS_DIR`);
}

const list = (v: string | undefined, sep = ',') =>
  (v ?? '')
    .split(sep)
    .map((s) => s.trim())
    .filter(Boolean);

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got '${raw}'`);
  return n;
}

/**
 * Lambda gives 1 vCPU per 1,769 MB of memory (6 at most); more intra-op threads than vCPUs only
 * adds contention.
 */
export function threadsForLambdaMemory(memoryMb: number): number {
  return Math.max(1, Math.min(6, Math.floor(memoryMb / 1769)));
}

/** The small models of models/embedded that stand in for the big defaults. */
export const EMBEDDED_DEFAULTS: Readonly<Record<Task, string>> = {
  classification: 'mobilenetv2-12-int8',
  detection: 'yolox-nano',
};

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const onLambda = Boolean(env.AWS_LAMBDA_FUNCTION_NAME);
  const modelsDir = env.MODELS_DIR ? path.resolve(env.MODELS_DIR) : findModelsDir();
  const cacheDir = path.resolve(
    env.MODEL_CACHE_DIR ??
      (onLambda ? '/tmp/models' : path.join(path.dirname(modelsDir), '.cache', 'models')),
  );
  const embeddedDir = path.join(modelsDir, 'embedded');
  const embedded = !onLambda && env.EMBEDDED_MODELS !== 'off' && existsSync(embeddedDir);
  const defaultClassifier = env.DEFAULT_CLASSIFIER || 'resnet50-v1-12';
  const defaultDetector = env.DEFAULT_DETECTOR || 'yolov4';
  const memory = Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  const maxSourceBytes = int(env, 'MAX_UPLOAD_BYTES', 25_000_000);
  const threads = env.ORT_INTRA_OP_THREADS
    ? int(env, 'ORT_INTRA_OP_THREADS', 1)
    : memory > 0
      ? threadsForLambdaMemory(memory)
      : availableParallelism();
  return {
    modelsDir,
    userManifest: env.MODEL_MANIFEST ? path.resolve(env.MODEL_MANIFEST) : null,
    modelPath: [
      ...list(env.MODEL_PATH, ':').map((p) => path.resolve(p)),
      cacheDir,
      ...(embedded ? [embeddedDir] : []),
    ],
    cacheDir,
    preparedDir:
      env.MODEL_PREPARED_DIR === 'off'
        ? null
        : env.MODEL_PREPARED_DIR
          ? path.resolve(env.MODEL_PREPARED_DIR)
          : onLambda
            ? null
            : cacheDir,
    modelS3Uri: env.MODEL_S3_URI || null,
    defaultClassifier,
    defaultDetector,
    fallbackDefaults: embedded
      ? {
          ...(env.DEFAULT_CLASSIFIER ? {} : { classification: EMBEDDED_DEFAULTS.classification }),
          ...(env.DEFAULT_DETECTOR ? {} : { detection: EMBEDDED_DEFAULTS.detection }),
        }
      : {},
    preload: env.PRELOAD_MODELS !== undefined ? list(env.PRELOAD_MODELS) : 'defaults',
    warmUp: (env.WARM_UP ?? '1') !== '0',
    intraOpThreads: threads,
    allowSpinning: (env.ORT_ALLOW_SPINNING ?? '0') !== '0',
    // API Gateway and Lambda cap a synchronous payload at 6 MB; base64 makes 4.5 MB of image about 6 MB.
    maxImageBytes: int(env, 'MAX_IMAGE_BYTES', 4_500_000),
    maxImagePixels: int(env, 'MAX_IMAGE_PIXELS', 40_000_000),
    annotatedMaxSide: int(env, 'ANNOTATED_MAX_SIDE', 2048),
    maxResponseBytes: int(env, 'MAX_RESPONSE_BYTES', 4_400_000),
    maxQueuePerModel: int(env, 'MAX_QUEUE_PER_MODEL', 16),
    requestTimeoutMs: int(env, 'REQUEST_TIMEOUT_MS', 25_000),
    maxInFlight: int(env, 'MAX_IN_FLIGHT', 16),
    // A connect to S3 from Lambda takes milliseconds; seconds means the route is broken.
    s3ConnectTimeoutMs: int(env, 'S3_CONNECT_TIMEOUT_MS', 3000),
    downloadIdleTimeoutMs: int(env, 'DOWNLOAD_IDLE_TIMEOUT_MS', DEFAULT_DOWNLOAD_IDLE_TIMEOUT_MS),
    corsAllowedOrigins: list(env.CORS_ALLOWED_ORIGINS),
    s3Endpoint: env.S3_ENDPOINT || null,
    maxSourceBytes,
    uploads: env.UPLOAD_BUCKET
      ? {
          bucket: env.UPLOAD_BUCKET,
          prefix: (env.UPLOAD_PREFIX ?? 'uploads').replace(/^\/+|\/+$/g, ''),
          endpoint: env.UPLOAD_S3_ENDPOINT || null,
          maxBytes: maxSourceBytes,
          urlTtlSeconds: int(env, 'UPLOAD_URL_TTL_SECONDS', 300),
        }
      : null,
    bulk: bulkConfig(env, maxSourceBytes),
    imageUrlAllowedHosts: list(env.IMAGE_URL_ALLOWED_HOSTS),
    imageUrlAllowedAddresses: list(env.IMAGE_URL_ALLOWED_ADDRESSES),
    sourceTimeoutMs: int(env, 'SOURCE_TIMEOUT_MS', 5000),
    maxBatchImages: int(env, 'MAX_BATCH_IMAGES', 16),
    onLambda,
  };
}
