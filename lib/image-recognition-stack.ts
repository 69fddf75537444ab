import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import path from 'node:path';
import { BULK_INPUT_PREFIX, BulkJobs } from './bulk-jobs';
import { apiPathPatterns, InferenceApi, ROUTES } from './inference-api';
import { InferenceFunction } from './inference-function';
import { ModelCatalog } from './model-catalog';
import { OperationsAlarms } from './operations-alarms';
import { type DeploymentOptions, retentionDays } from './options';
import {
  MAX_UPLOAD_BYTES,
  UPLOAD_PREFIX,
  UploadBucket,
  uploadBucketHost,
  uploadBucketName,
} from './upload-bucket';
import { WebFrontend } from './web-frontend';

export interface ImageRecognitionStackProps extends StackProps, DeploymentOptions {
  /** Repo root: Dockerfile, .dockerignore, models/manifest.json and web/. Default: the folder above lib/. */
  readonly repoRoot?: string;
  /** The WAF web ACL (scope CLOUDFRONT) for the distribution, from WebAclStack. Default: none. */
  readonly webAclArn?: string;
}

/**
 * Image classification and object detection: the inference function, the REST API in front of it,
 * and the web page with the API on the same CloudFront origin.
 */
export class ImageRecognitionStack extends Stack {
  readonly inference: InferenceFunction;
  readonly api: InferenceApi;
  readonly web: WebFrontend;
  readonly alarms: OperationsAlarms;
  /** With uploads (the default). */
  readonly uploads?: UploadBucket;
  /** With bulk=true. */
  readonly bulk?: BulkJobs;

  constructor(scope: Construct, id: string, props: ImageRecognitionStackProps) {
    super(scope, id, props);
    const repoRoot = props.repoRoot ?? path.resolve(__dirname, '..');
    const logRetention = retentionDays(props.logRetentionDays);
    // Named at synth: the function, the page's CSP and the bucket's CORS (the CloudFront domain)
    // refer to one another through it without a dependency cycle (see uploadBucketName).
    const uploadBucket = props.uploads ? uploadBucketName(this) : undefined;

    this.inference = new InferenceFunction(this, 'Inference', {
      contextDir: repoRoot,
      catalog: ModelCatalog.fromRepo(repoRoot),
      modelSource: props.modelSource,
      imageModels: props.imageModels,
      modelsFromCache: props.modelsFromCache,
      defaultClassifier: props.defaultClassifier,
      defaultDetector: props.defaultDetector,
      preloadModels: props.preloadModels,
      memorySize: props.memorySize,
      ortThreads: props.ortThreads,
      maxConcurrency: props.maxConcurrency,
      tracing: props.tracing,
      provisionedConcurrency: props.provisionedConcurrency,
      allowedOrigins: props.allowedOrigins,
      logRetention,
      uploads: uploadBucket
        ? { bucketName: uploadBucket, prefix: UPLOAD_PREFIX, maxBytes: MAX_UPLOAD_BYTES }
        : undefined,
    });

    this.api = new InferenceApi(this, 'Api', {
      handler: this.inference.alias,
      throttleRateLimit: props.throttleRateLimit,
      throttleBurstLimit: props.throttleBurstLimit,
      dailyQuota: props.dailyQuota,
      tracing: props.tracing,
      allowedOrigins: props.allowedOrigins,
      logRetention,
      cloudWatchRole: props.apiCloudWatchRole,
    });

    this.web = new WebFrontend(this, 'Web', {
      webDir: path.join(repoRoot, 'web'),
      api: this.api.api,
      apiPaths: apiPathPatterns(ROUTES),
      apiKey: this.api.key,
      callersSendKey: props.apiKey,
      webAclArn: props.webAclArn,
      accessLogDays: props.cloudFrontLogs ? props.logRetentionDays : undefined,
      connectOrigins: uploadBucket ? [`https://${uploadBucketHost(this, uploadBucket)}`] : [],
    });

    const site = `https://${this.web.distribution.distributionDomainName}`;
    if (uploadBucket) {
      this.uploads = new UploadBucket(this, 'Uploads', {
        bucketName: uploadBucket,
        prefix: UPLOAD_PREFIX,
        corsOrigins: [site, ...props.allowedOrigins.filter((o) => o !== site)],
        accessLogs: this.web.accessLogs?.bucket,
      });
    }

    if (props.bulk) {
      this.bulk = new BulkJobs(this, 'BulkJobs', {
        function: this.inference.function,
        role: this.inference.role,
        // The alias the API invokes: its provisioned concurrency and version serve the jobs too.
        target: this.inference.alias,
        batchSize: props.bulk.batchSize,
        maxConcurrency: props.bulk.maxConcurrency,
        toleratedFailurePercent: props.bulk.toleratedFailurePercent,
        logRetention,
        tracing: props.tracing,
        accessLogs: this.web.accessLogs?.bucket,
      });
    }

    this.alarms = new OperationsAlarms(this, 'Alarms', {
      api: this.api.api,
      function: this.inference.function,
      maxConcurrency: props.maxConcurrency,
      email: props.alarmEmail,
    });

    new CfnOutput(this, 'ApiGatewayUrl', {
      description: 'Classifier endpoint on API Gateway itself: needs the x-api-key header (ApiKeyId)',
      value: `${this.api.api.url}classifier`,
    });
    new CfnOutput(this, 'ClassifierUrl', { description: 'Web page', value: `${site}/classifier.html` });
    new CfnOutput(this, 'DetectorUrl', {
      description: 'Detector endpoint through CloudFront (POST an image)',
      value: `${site}/detector`,
    });
    new CfnOutput(this, 'ClassifierEndpoint', {
      description: 'Classifier endpoint through CloudFront (POST an image)',
      value: `${site}/classifier`,
    });
    new CfnOutput(this, 'ApiKeyId', {
      description: 'aws apigateway get-api-key --include-value --api-key <id> prints the key',
      value: this.api.key.keyId,
    });
    if (this.uploads) {
      new CfnOutput(this, 'UploadBucketName', {
        description: `Photos PUT through POST /uploads, under ${UPLOAD_PREFIX}/, deleted after a day`,
        value: this.uploads.bucketName,
      });
    }
    if (this.bulk) {
      new CfnOutput(this, 'BulkBucketName', {
        description: `Bulk jobs: put photos under ${BULK_INPUT_PREFIX}<folder>/, results appear under results/<execution name>/`,
        value: this.bulk.bucket.bucketName,
      });
      new CfnOutput(this, 'BulkStateMachineArn', {
        description: `Bulk jobs: aws stepfunctions start-execution --input '{"prefix":"${BULK_INPUT_PREFIX}<folder>/","task":"classify"}'`,
        value: this.bulk.stateMachine.stateMachineArn,
      });
    }
  }
}
