import { Duration, IgnoreMode, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ModelCatalog } from './model-catalog';
import { acknowledgeWildcardFindings } from './nag-acknowledgements';
import type { ModelSource } from './options';
import allocatorEnv from '../lambda/allocator-env.json';

/** API Gateway REST integrations time out after 29 s; the function must give up first. */
export const FUNCTION_TIMEOUT = Duration.seconds(28);

export interface InferenceFunctionProps {
  /** Folder with the Dockerfile and .dockerignore (the repo root). */
  readonly contextDir: string;
  /** models/manifest.json as data: validates model ids and maps them to file names. */
  readonly catalog: ModelCatalog;
  /** Where the function gets its .onnx files. */
  readonly modelSource: ModelSource;
  /** Model ids baked into the image (Docker build arg MODELS); may be empty. */
  readonly imageModels: readonly string[];
  /** Copy the image's models from `<contextDir>/.cache/models` instead of downloading them in the build. */
  readonly modelsFromCache?: boolean;
  /** DEFAULT_CLASSIFIER. Default: resnet50-v1-12 if available, else the first classifier in the image. */
  readonly defaultClassifier?: string;
  /** DEFAULT_DETECTOR. Default: yolov4 if available, else the first detector in the image. */
  readonly defaultDetector?: string;
  /** PRELOAD_MODELS. Default: the default classifier and detector, when available. */
  readonly preloadModels?: readonly string[];
  /** Memory in MB. Default 3008 (1.7 vCPU). */
  readonly memorySize?: number;
  /** ORT_INTRA_OP_THREADS. Default: unset (the function uses floor(memory / 1,769 MB), 1 to 6). */
  readonly ortThreads?: number;
  /** Reserved concurrency: the most environments at once. Default: none (the account's pool). */
  readonly maxConcurrency?: number;
  /** Active X-Ray tracing. Default false. */
  readonly tracing?: boolean;
  /** Provisioned concurrency on the `live` alias. Default: none. */
  readonly provisionedConcurrency?: number;
  /** CORS_ALLOWED_ORIGINS. Default: none (the web page is same-origin). */
  readonly allowedOrigins?: readonly string[];
  /** MAX_IMAGE_BYTES. Default 4,500,000 (a 6 MB Lambda payload holds ~4.5 MB of base64 image). */
  readonly maxImageBytes?: number;
  /** MAX_IMAGE_PIXELS. Default 40,000,000. */
  readonly maxImagePixels?: number;
  /** Log retention of the function's log group. Default one month. */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The upload area (POST /uploads, then {"s3": {"key"}}): UPLOAD_BUCKET, UPLOAD_PREFIX and
   * MAX_UPLOAD_BYTES, and PutObject/GetObject on the prefix only. A bucket name, not the bucket: the
   * bucket's CORS rule names the CloudFront domain, which reaches this function through the API.
   * Default: none (POST /uploads answers 501 UPLOADS_UNAVAILABLE).
   */
  readonly uploads?: { readonly bucketName: string; readonly prefix: string; readonly maxBytes: number };
}

/**
 * The inference Lambda: a container image (Dockerfile at the repo root) for x86_64, its log group,
 * a role that can only write that log group (and read the model prefix when models come from S3),
 * and the `live` alias the API invokes (provisioned concurrency lives there).
 */
export class InferenceFunction extends Construct {
  readonly function: lambda.DockerImageFunction;
  /** The alias API Gateway invokes. */
  readonly alias: lambda.Alias;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;
  readonly defaultClassifier: string;
  readonly defaultDetector: string;

  constructor(scope: Construct, id: string, props: InferenceFunctionProps) {
    super(scope, id);
    const { catalog, modelSource } = props;
    const imageModels = props.imageModels.map((m) => catalog.get(m));
    if (modelSource.kind === 'image' && imageModels.length === 0) {
      throw new Error('modelSource=image needs at least one model in imageModels');
    }
    for (const m of imageModels) {
      const cached = existsSync(path.join(props.contextDir, '.cache', 'models', m.file));
      const embedded = existsSync(path.join(props.contextDir, 'models', 'embedded', m.file));
      if (m.urls.length === 0 && !embedded && !(props.modelsFromCache && cached)) {
        throw new Error(
          `Model '${m.id}' has no download URL: put ${m.file} in .cache/models and set modelsFromCache=true`,
        );
      }
    }
    // With models in S3 any manifest model can be used; with the image, only the baked ones.
    const available = modelSource.kind === 's3' ? catalog.models : imageModels;
    const pick = (task: 'classification' | 'detection', preferred: string, explicit?: string): string => {
      if (explicit) {
        const m = catalog.get(explicit);
        if (!available.includes(m)) throw new Error(`Default model '${explicit}' is not in imageModels`);
        if (m.task !== task) throw new Error(`Default model '${explicit}' is a ${m.task} model, not ${task}`);
        return explicit;
      }
      return (
        (available.find((m) => m.id === preferred) ?? available.find((m) => m.task === task))?.id ?? preferred
      );
    };
    this.defaultClassifier = pick('classification', 'resnet50-v1-12', props.defaultClassifier);
    this.defaultDetector = pick('detection', 'yolov4', props.defaultDetector);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // Own role instead of AWSLambdaBasicExecutionRole: write to this log group only.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Image recognition function: writes its own log group, reads the model prefix',
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    const environment: Record<string, string> = {
      MODEL_PATH: '/opt/models',
      MODEL_CACHE_DIR: '/tmp/models',
      DEFAULT_CLASSIFIER: this.defaultClassifier,
      DEFAULT_DETECTOR: this.defaultDetector,
      MAX_IMAGE_BYTES: String(props.maxImageBytes ?? 4_500_000),
      MAX_IMAGE_PIXELS: String(props.maxImagePixels ?? 40_000_000),
      POWERTOOLS_SERVICE_NAME: 'image-recognition',
      POWERTOOLS_METRICS_NAMESPACE: 'ImageRecognition',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // Also in the image; here too so the console shows them and a deploy can change them.
      ...allocatorEnv,
    };
    // Preload (during init) the given models, else the defaults that are actually available.
    const preload =
      props.preloadModels ??
      [this.defaultClassifier, this.defaultDetector].filter((id) => available.some((m) => m.id === id));
    for (const m of preload) catalog.get(m);
    environment.PRELOAD_MODELS = preload.join(',');
    if (props.ortThreads !== undefined) environment.ORT_INTRA_OP_THREADS = String(props.ortThreads);
    if (props.allowedOrigins?.length) environment.CORS_ALLOWED_ORIGINS = props.allowedOrigins.join(',');
    if (modelSource.kind === 's3') {
      const { bucketName, prefix } = modelSource;
      environment.MODEL_S3_URI = `s3://${bucketName}${prefix ? `/${prefix}` : ''}`;
      this.grantModelPrefixRead(bucketName, prefix);
    }
    if (props.uploads) {
      const { bucketName, prefix, maxBytes } = props.uploads;
      if (!prefix || prefix.startsWith('/') || prefix.endsWith('/')) {
        throw new Error(
          `The upload prefix must be a non-empty key prefix without leading or trailing '/', got '${prefix}'`,
        );
      }
      environment.UPLOAD_BUCKET = bucketName;
      environment.UPLOAD_PREFIX = prefix;
      environment.MAX_UPLOAD_BYTES = String(maxBytes);
      this.grantUploads(bucketName, prefix);
    }

    // The build context is the repo root, allow-listed by .dockerignore (which CDK also applies when
    // it copies the context into cdk.out): the code, the manifest and the embedded small models. .cache is excluded unless
    // the models come from the local cache, and then only the selected files are added.
    const exclude = props.modelsFromCache
      ? ['.cache/models/*', ...imageModels.map((m) => `!.cache/models/${m.file}`)]
      : ['.cache'];
    this.function = new lambda.DockerImageFunction(this, 'Function', {
      description: `Image classification and object detection (ONNX Runtime); models: ${
        modelSource.kind === 's3' ? environment.MODEL_S3_URI : imageModels.map((m) => m.id).join(', ')
      }`,
      code: lambda.DockerImageCode.fromImageAsset(props.contextDir, {
        file: 'Dockerfile',
        platform: Platform.LINUX_AMD64,
        buildArgs: { MODELS: imageModels.map((m) => m.id).join(' ') },
        ignoreMode: IgnoreMode.DOCKER,
        exclude,
      }),
      architecture: lambda.Architecture.X86_64,
      memorySize: props.memorySize ?? 3008,
      timeout: FUNCTION_TIMEOUT,
      // /tmp holds the models downloaded from S3 (resnet50 + yolov4 = 360 MB).
      ephemeralStorageSize: Size.mebibytes(modelSource.kind === 's3' ? 2048 : 1024),
      reservedConcurrentExecutions: props.maxConcurrency,
      tracing: props.tracing ? lambda.Tracing.ACTIVE : undefined,
      logGroup: this.logGroup,
      role: this.role,
      environment,
    });

    if (props.tracing) {
      acknowledgeWildcardFindings(this.role, [
        {
          finding: /^Resource::\*$/,
          reason:
            'X-Ray PutTraceSegments and PutTelemetryRecords have no resource-level permissions (Lambda active tracing).',
        },
      ]);
    }

    this.alias = new lambda.Alias(this, 'Live', {
      aliasName: 'live',
      version: this.function.currentVersion,
      provisionedConcurrentExecutions: props.provisionedConcurrency,
    });
  }

  /** s3:GetObject on prefix/* and s3:ListBucket limited to that prefix (so a missing key is a 404, not a 403). */
  private grantModelPrefixRead(bucketName: string, prefix: string): void {
    const partition = Stack.of(this).partition;
    const objects = `arn:${partition}:s3:::${bucketName}/${prefix ? `${prefix}/` : ''}*`;
    this.role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [objects] }));
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [`arn:${partition}:s3:::${bucketName}`],
        conditions: prefix ? { StringLike: { 's3:prefix': [`${prefix}/*`] } } : undefined,
      }),
    );
    const escaped = `${bucketName}/${prefix ? `${prefix}/` : ''}`.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    acknowledgeWildcardFindings(this.role, [
      {
        finding: new RegExp(`^Resource::arn:[^:]+:s3:::${escaped}\\*$`),
        reason:
          'Read-only access to the objects under the configured model prefix; file names come from the manifest.',
      },
    ]);
  }

  /**
   * The upload area, and nothing else of the bucket: s3:PutObject (the presigned PUT URLs are
   * signed with this role, so the role itself must be allowed the PUT) and s3:GetObject on
   * prefix/*, and s3:ListBucket limited to keys under the prefix, so that a HEAD for a key nobody
   * uploaded answers 404 (SOURCE_NOT_FOUND) rather than 403. No delete, no ACLs, no other prefix.
   */
  private grantUploads(bucketName: string, prefix: string): void {
    const partition = Stack.of(this).partition;
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject'],
        resources: [`arn:${partition}:s3:::${bucketName}/${prefix}/*`],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [`arn:${partition}:s3:::${bucketName}`],
        conditions: { StringLike: { 's3:prefix': [`${prefix}/*`] } },
      }),
    );
    // The name may carry the account and region as tokens (an environment-agnostic synth): each
    // stands for one unknown part of the name in the finding.
    const name = bucketName
      .split(/\$\{Token\[[^\]]+\]\}/)
      .map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
      .join('[^/]+');
    const escapedPrefix = prefix.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    acknowledgeWildcardFindings(this.role, [
      {
        finding: new RegExp(`^Resource::arn:[^:]+:s3:::${name}\\/${escapedPrefix}\\/\\*$`),
        reason:
          'Uploads are keyed by date and a random UUID chosen per POST /uploads: the function presigns PUTs and reads objects under the upload prefix only.',
      },
    ]);
  }
}
