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
  /** Reserved concurrency. Context `reservedConcurrency`. Default: none (account pool). */
  readonly reservedConcurrency?: number;
  /** Provisioned concurrency on the `live` alias. Context `provisionedConcurrency`. Default: none. */
  readonly provisionedConcurrency?: number;
  /** Require an API key (usage plan) on the API. Context `apiKey`. Default false. */
  readonly apiKey: boolean;
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
}

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

function parseList(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.map(String);
  return show(value)
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `image` or `s3://bucket[/prefix]`. */
export function parseModelSource(value: unknown): ModelSource {
  if (value === undefined || value === null || value === '' || value === 'image') return { kind: 'image' };
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(show(value));
  if (!m?.[1])
    throw new Error(`Context 'modelSource' must be 'image' or s3://bucket/prefix, got '${show(value)}'`);
  return { kind: 's3', bucketName: m[1], prefix: (m[2] ?? '').replace(/^\/+|\/+$/g, '') };
}

/** Reads the options from CDK context (cdk.json or `-c key=value`); missing keys take the defaults. */
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

export function deploymentOptionsFromContext(node: Node): DeploymentOptions {
  const ctx = (key: string): unknown => node.tryGetContext(key);
  const modelSource = parseModelSource(ctx('modelSource'));
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
    reservedConcurrency: parseInt('reservedConcurrency', ctx('reservedConcurrency'), 0, 10000),
    provisionedConcurrency: parseInt('provisionedConcurrency', ctx('provisionedConcurrency'), 1, 10000),
    apiKey: parseBool('apiKey', ctx('apiKey'), false),
    allowedOrigins: parseList(ctx('allowedOrigins')) ?? [],
    throttleRateLimit: parseInt('throttleRateLimit', ctx('throttleRateLimit'), 1, 10000) ?? 20,
    throttleBurstLimit: parseInt('throttleBurstLimit', ctx('throttleBurstLimit'), 1, 5000) ?? 40,
    logRetentionDays: retentionDays(parseInt('logRetentionDays', ctx('logRetentionDays'), 1, 3653) ?? 30),
    apiCloudWatchRole: parseBool('apiCloudWatchRole', ctx('apiCloudWatchRole'), true),
  };
}
