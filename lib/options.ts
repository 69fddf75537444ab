import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';

/** Where the function finds its .onnx files. */
export type ModelSource =
  /** Baked into the image at /opt/models (MODEL_PATH). */
  | { readonly kind: 'image' }
  /** Downloaded at init from s3://bucketName/prefix/<file> into /tmp/models (MODEL_S3_URI). */
  | { readonly kind: 's3'; readonly bucketName: string; readonly prefix: string };

/** Every deploy-time choice, with its default. bin/app.ts fills it from CDK context (`-c key=value`). */
export interface DeploymentOptions {
  /** Model source. Context `modelSource`: `image` (default) or `s3://bucket/prefix`. */
  readonly modelSource: ModelSource;
  /**
   * Model ids (models/manifest.json) baked into the image; Docker build arg MODELS.
   * Context `imageModels` (comma-separated). Default: resnet50-v1-12,yolov4 with the image source,
   * none with the S3 source.
   */
  readonly imageModels: readonly string[];
  /**
   * Take the image's model files from .cache/models (filled by `npm run models:fetch`) instead of
   * downloading them during the Docker build. Context `modelsFromCache`. Default false.
   */
  readonly modelsFromCache: boolean;
  /** Context `defaultClassifier`; default: resnet50-v1-12, or the first classifier in the image. */
  readonly defaultClassifier?: string;
  /** Context `defaultDetector`; default: yolov4, or the first detector in the image. */
  readonly defaultDetector?: string;
  /** Models loaded during init (PRELOAD_MODELS). Context `preloadModels`. Default: the available default classifier and detector. */
  readonly preloadModels?: readonly string[];
  /** Lambda memory in MB (1 vCPU per 1,769 MB). Context `memorySize`. Default 3008. */
  readonly memorySize: number;
  /**
   * onnxruntime intra-op threads (ORT_INTRA_OP_THREADS). Context `ortThreads`. Default: the
   * function's own choice, floor(memory / 1,769 MB) capped at 6.
   */
  readonly ortThreads?: number;
  /**
   * The most environments the function may run at once (its reserved concurrency), the ceiling on
   * what a flood of requests can spend per second. Context `maxConcurrency`: a number, or `none` for
   * the account's unreserved pool. Default 10.
   */
  readonly maxConcurrency?: number;
  /** Provisioned concurrency on the `live` alias. Context `provisionedConcurrency`. Default: none. */
  readonly provisionedConcurrency?: number;
  /**
   * Callers must send the API key themselves (and the page gets it in config.json). Context
   * `apiKey`. Default false: CloudFront adds the key on the way to API Gateway, so the API answers
   * through CloudFront without one and the execute-api URL refuses calls without it.
   */
  readonly apiKey: boolean;
  /** Requests per day the usage plan allows (its quota). Context `dailyQuota`: a number or `none`. Default 10,000. */
  readonly dailyQuota?: number;
  /** A WAF web ACL on CloudFront with a per-address rate rule. Context `waf`. Default false. */
  readonly waf: boolean;
  /** Requests per address per 5 minutes the WAF rate rule allows. Context `wafRateLimit`. Default 300. */
  readonly wafRateLimit: number;
  /** E-mail address an SNS topic sends the alarms to. Context `alarmEmail`. Default: alarms without a topic. */
  readonly alarmEmail?: string;
  /** Active X-Ray tracing on the function and the API stage. Context `tracing`. Default true. */
  readonly tracing: boolean;
  /** CloudFront standard logging (v2) into an S3 bucket. Context `cloudFrontLogs`. Default true. */
  readonly cloudFrontLogs: boolean;
  /**
   * The upload bucket for photos over the body limit (POST /uploads answers a presigned PUT into it).
   * Context `uploads`. Default true; false leaves the bucket out and POST /uploads answers 501.
   */
  readonly uploads: boolean;
  /** Origins allowed by CORS besides the CloudFront site (same origin). Context `allowedOrigins` (comma-separated). */
  readonly allowedOrigins: readonly string[];
  /** Stage throttling: steady requests per second. Context `throttleRateLimit`. Default 20. */
  readonly throttleRateLimit: number;
  /** Stage throttling: burst. Context `throttleBurstLimit`. Default 40. */
  readonly throttleBurstLimit: number;
  /** Retention of the function and access logs in days. Context `logRetentionDays`. Default 30. */
  readonly logRetentionDays: number;
  /**
   * Let this stack set the account's API Gateway CloudWatch role (needed once per account and
   * region for access and execution logs). Context `apiCloudWatchRole`. Default true; the role is
   * retained on `cdk destroy` because other APIs in the account may rely on it.
   */
  readonly apiCloudWatchRole: boolean;
  /**
   * Bulk recognition jobs: a bucket (photos under `input/`, results under `results/`) and a Step
   * Functions state machine whose Distributed Map runs a prefix through the function in batches
   * (docs/deploy.md, "Bulk jobs"). Context `bulk`. Default false (undefined): none of it.
   */
  readonly bulk?: BulkOptions;
}

/** The bulk job settings, with `bulk=true`. */
export interface BulkOptions {
  /** S3 keys per function invocation (ItemBatcher MaxItemsPerBatch), 1 to 16. Context `bulkBatchSize`. Default 16. */
  readonly batchSize: number;
  /**
   * Batches in flight at once (Distributed Map MaxConcurrency). Context `bulkMaxConcurrency`.
   * Default 20, and with a reserved concurrency (`maxConcurrency`) min(20, maxConcurrency - 1), so
   * one environment stays for the API; an explicit value must be below `maxConcurrency`.
   */
  readonly maxConcurrency: number;
  /**
   * Percentage of photos that may fail before the whole run fails (ToleratedFailurePercentage; a
   * failed batch counts all its photos). Context `bulkToleratedFailurePercent`. Default 5.
   */
  readonly toleratedFailurePercent: number;
}

/** The Distributed Map's concurrency when nothing caps it: 20 batches in flight. */
export const DEFAULT_BULK_MAX_CONCURRENCY = 20;
/**
 * The most keys a batch may have, and the default: the function refuses a batch of more than
 * MAX_BATCH_IMAGES items (16, which the stack leaves as it is; it bounds the HTTP batch too). Even
 * YOLOv4 at about 0.5 s a photo answers 16 well inside the 28 s timeout.
 */
export const MAX_BULK_BATCH_SIZE = 16;
export const DEFAULT_BULK_BATCH_SIZE = MAX_BULK_BATCH_SIZE;

/** A context value as the user typed it, for error messages. */
const show = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

export const DEFAULT_IMAGE_MODELS = ['resnet50-v1-12', 'yolov4'] as const;

function parseBool(key: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new Error(`Context '${key}' must be true or false, got '${show(value)}'`);
}

function parseInt(key: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`Context '${key}' must be an integer from ${min} to ${max}, got '${show(value)}'`);
  }
  return n;
}

/** A positive integer, or `none` (and 0) for "no limit". */
function parseLimit(key: string, value: unknown, fallback: number, max: number): number | undefined {
  if (value === 'none' || value === 0 || value === '0') return undefined;
  return parseInt(key, value, 1, max) ?? fallback;
}

function parseEmail(key: string, value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) {
    throw new Error(`Context '${key}' must be an e-mail address, got '${show(value)}'`);
  }
  return value;
}

function parseList(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.map(String);
  return show(value)
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * The Distributed Map's MaxConcurrency: `explicit` if given, else 20, and under a reserved
 * concurrency (`reserved`, the function's maxConcurrency) at most reserved - 1, so that the API
 * keeps one environment while a job runs. An explicit value at or above the reserved concurrency
 * is an error: its extra batches would only be throttled (and retried), starving the API.
 */
export function bulkMaxConcurrency(explicit: number | undefined, reserved: number | undefined): number {
  if (reserved === undefined) return explicit ?? DEFAULT_BULK_MAX_CONCURRENCY;
  if (explicit !== undefined) {
    if (explicit >= reserved) {
      throw new Error(
        `Context 'bulkMaxConcurrency' (${explicit}) must be below 'maxConcurrency' (${reserved}), the function's reserved concurrency: bulk batches and API requests share those ${reserved} environments, so at most ${reserved - 1} batches may run at once and one environment stays for the API. Lower bulkMaxConcurrency, or raise maxConcurrency (or set it to none).`,
      );
    }
    return explicit;
  }
  if (reserved < 2) {
    throw new Error(
      `bulk=true needs 'maxConcurrency' of at least 2 (got ${reserved}): one environment stays for the API and the rest run bulk batches. Raise maxConcurrency, or set it to none.`,
    );
  }
  return Math.min(DEFAULT_BULK_MAX_CONCURRENCY, reserved - 1);
}

function parseBulk(ctx: (key: string) => unknown, reserved: number | undefined): BulkOptions | undefined {
  if (!parseBool('bulk', ctx('bulk'), false)) return undefined;
  return {
    batchSize:
      parseInt('bulkBatchSize', ctx('bulkBatchSize'), 1, MAX_BULK_BATCH_SIZE) ?? DEFAULT_BULK_BATCH_SIZE,
    // Distributed Map's own ceiling is 10,000 child executions at once.
    maxConcurrency: bulkMaxConcurrency(
      parseInt('bulkMaxConcurrency', ctx('bulkMaxConcurrency'), 1, 10_000),
      reserved,
    ),
    toleratedFailurePercent:
      parseInt('bulkToleratedFailurePercent', ctx('bulkToleratedFailurePercent'), 0, 100) ?? 5,
  };
}

/** `image` or `s3://bucket[/prefix]`. */
export function parseModelSource(value: unknown): ModelSource {
  if (value === undefined || value === null || value === '' || value === 'image') return { kind: 'image' };
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(show(value));
  if (!m?.[1])
    throw new Error(`Context 'modelSource' must be 'image' or s3://bucket/prefix, got '${show(value)}'`);
  return { kind: 's3', bucketName: m[1], prefix: (m[2] ?? '').replace(/^\/+|\/+$/g, '') };
}

/** CloudWatch Logs accepts only certain retention periods (1, 3, 5, 7, 14, 30, 60, 90, ... days). */
export function retentionDays(days: number): RetentionDays {
  const match = (Object.values(RetentionDays) as unknown[]).find((v): v is RetentionDays => v === days);
  if (match === undefined) {
    throw new Error(
      `logRetentionDays must be a CloudWatch Logs retention period (1, 3, 5, 7, 14, 30, 60, 90, ...), got ${days}`,
    );
  }
  return match;
}

/** Reads the options from CDK context (cdk.json or `-c key=value`); missing keys take the defaults. */
export function deploymentOptionsFromContext(node: Node): DeploymentOptions {
  const ctx = (key: string): unknown => node.tryGetContext(key);
  const modelSource = parseModelSource(ctx('modelSource'));
  if (ctx('reservedConcurrency') !== undefined) {
    throw new Error("Context 'reservedConcurrency' is now 'maxConcurrency' (default 10, or 'none')");
  }
  const maxConcurrency = parseLimit('maxConcurrency', ctx('maxConcurrency'), 10, 10000);
  const provisionedConcurrency = parseInt('provisionedConcurrency', ctx('provisionedConcurrency'), 1, 10000);
  if (
    maxConcurrency !== undefined &&
    provisionedConcurrency !== undefined &&
    provisionedConcurrency > maxConcurrency
  ) {
    throw new Error(
      `Context 'provisionedConcurrency' (${provisionedConcurrency}) must not exceed 'maxConcurrency' (${maxConcurrency})`,
    );
  }
  return {
    modelSource,
    imageModels:
      parseList(ctx('imageModels')) ?? (modelSource.kind === 'image' ? [...DEFAULT_IMAGE_MODELS] : []),
    modelsFromCache: parseBool('modelsFromCache', ctx('modelsFromCache'), false),
    defaultClassifier: (ctx('defaultClassifier') as string | undefined) || undefined,
    defaultDetector: (ctx('defaultDetector') as string | undefined) || undefined,
    preloadModels: parseList(ctx('preloadModels')),
    memorySize: parseInt('memorySize', ctx('memorySize'), 128, 10240) ?? 3008,
    ortThreads: parseInt('ortThreads', ctx('ortThreads'), 1, 16),
    maxConcurrency,
    provisionedConcurrency,
    apiKey: parseBool('apiKey', ctx('apiKey'), false),
    dailyQuota: parseLimit('dailyQuota', ctx('dailyQuota'), 10_000, 1_000_000_000),
    waf: parseBool('waf', ctx('waf'), false),
    // WAF's own bounds for a rate-based rule.
    wafRateLimit: parseInt('wafRateLimit', ctx('wafRateLimit'), 10, 2_000_000_000) ?? 300,
    alarmEmail: parseEmail('alarmEmail', ctx('alarmEmail')),
    tracing: parseBool('tracing', ctx('tracing'), true),
    cloudFrontLogs: parseBool('cloudFrontLogs', ctx('cloudFrontLogs'), true),
    uploads: parseBool('uploads', ctx('uploads'), true),
    allowedOrigins: parseList(ctx('allowedOrigins')) ?? [],
    throttleRateLimit: parseInt('throttleRateLimit', ctx('throttleRateLimit'), 1, 10000) ?? 20,
    throttleBurstLimit: parseInt('throttleBurstLimit', ctx('throttleBurstLimit'), 1, 5000) ?? 40,
    logRetentionDays: retentionDays(parseInt('logRetentionDays', ctx('logRetentionDays'), 1, 3653) ?? 30),
    apiCloudWatchRole: parseBool('apiCloudWatchRole', ctx('apiCloudWatchRole'), true),
    bulk: parseBulk(ctx, maxConcurrency),
  };
}
