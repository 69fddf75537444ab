import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import routeTable from '../lambda/routes.json';

/**
 * Request bodies API Gateway must pass to the function as binary (base64 in the proxy event).
 * Not `*\/*`: that would also make the CORS preflight's mock integration treat its (empty)
 * response as binary and break OPTIONS. image/heic is listed so it arrives intact and the
 * function can answer 415 itself.
 */
export const BINARY_MEDIA_TYPES = [
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'image/avif',
  'image/tiff',
  'image/heic',
  'application/octet-stream',
  'multipart/form-data',
  // curl --data-binary's default label: API Gateway must pass such a photo through as bytes.
  'application/x-www-form-urlencoded',
] as const;

/** The API's routes, from the one route table the function's router reads too. */
export const ROUTES: readonly { path: string; method: string; public: boolean }[] = routeTable.routes;

/**
 * CloudFront path patterns that send the routes to the API: each path as it is, and a path with a
 * parameter (`/v2/models/{model}/infer`) as its literal prefix and `*` (`/v2/models/*`), once.
 */
export function apiPathPatterns(routes: readonly { path: string }[]): string[] {
  const patterns = routes.map((r) => {
    const at = r.path.indexOf('{');
    return at < 0 ? r.path : `${r.path.slice(0, at)}*`;
  });
  return [...new Set(patterns)];
}

export const STAGE_NAME = 'prod';

/**
 * API Gateway's own answers (throttling, a missing key, an unknown path, the integration timing
 * out, a body over its limit) in the function's error shape `{statusCode, error, message,
 * requestId}`, so a client reads one shape whoever answered. `error` is one of openapi.json's codes.
 */
export const GATEWAY_ERRORS: readonly {
  type: apigateway.ResponseType;
  statusCode: number;
  error: string;
  /** Seconds, sent as Retry-After. */
  retryAfter?: number;
}[] = [
  { type: apigateway.ResponseType.DEFAULT_4XX, statusCode: 400, error: 'INVALID_REQUEST' },
  { type: apigateway.ResponseType.DEFAULT_5XX, statusCode: 502, error: 'INTERNAL' },
  { type: apigateway.ResponseType.THROTTLED, statusCode: 429, error: 'THROTTLED' },
  { type: apigateway.ResponseType.QUOTA_EXCEEDED, statusCode: 429, error: 'THROTTLED' },
  { type: apigateway.ResponseType.INVALID_API_KEY, statusCode: 403, error: 'FORBIDDEN' },
  { type: apigateway.ResponseType.ACCESS_DENIED, statusCode: 403, error: 'FORBIDDEN' },
  // A REST API answers an unknown path as a missing token (403): it is a 404 here, as locally.
  { type: apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN, statusCode: 404, error: 'NOT_FOUND' },
  { type: apigateway.ResponseType.INTEGRATION_TIMEOUT, statusCode: 504, error: 'TIMEOUT' },
  // What a Lambda throttle (reserved concurrency full) becomes; other integration failures too.
  { type: apigateway.ResponseType.INTEGRATION_FAILURE, statusCode: 503, error: 'OVERLOADED', retryAfter: 1 },
  { type: apigateway.ResponseType.REQUEST_TOO_LARGE, statusCode: 413, error: 'PAYLOAD_TOO_LARGE' },
];

/** The CORS origin header a gateway answer can carry: one origin, or '*'; none for several. */
function gatewayCorsHeaders(origins: readonly string[]): Record<string, string> {
  if (origins.includes('*')) return { 'Access-Control-Allow-Origin': "'*'" };
  if (origins.length === 1)
    return { 'Access-Control-Allow-Origin': `'${origins[0] ?? ''}'`, Vary: "'Origin'" };
  return {};
}

export interface InferenceApiProps {
  /** The function (or alias) every route invokes (Lambda proxy integration). */
  readonly handler: lambda.IFunction;
  /** Stage throttling: steady-state requests per second. */
  readonly throttleRateLimit: number;
  /** Stage throttling: burst. */
  readonly throttleBurstLimit: number;
  /** Requests per day the usage plan allows. Default: no quota. */
  readonly dailyQuota?: number;
  /** Active X-Ray tracing on the stage. Default false. */
  readonly tracing?: boolean;
  /** Browser origins allowed cross-origin (CORS preflight on every route). Default: none. */
  readonly allowedOrigins?: readonly string[];
  /** Retention of the access log group. Default one month. */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Create the account-level API Gateway CloudWatch role (required once per account and region for
   * access and execution logs). It is retained on delete because it is shared by the account.
   * Default true.
   */
  readonly cloudWatchRole?: boolean;
}

/**
 * REST API (regional) in front of the inference function: binary bodies, throttling, access logs,
 * and a usage plan whose key every non-public route requires. The key is the one way in: CloudFront
 * adds it (or, with apiKey=true, callers send it), so the execute-api URL alone gets 403 and every
 * request counts against the plan's throttle and daily quota.
 */
export class InferenceApi extends Construct {
  readonly api: apigateway.RestApi;
  readonly accessLogs: logs.LogGroup;
  readonly usagePlan: apigateway.UsagePlan;
  readonly key: apigateway.IApiKey;

  constructor(scope: Construct, id: string, props: InferenceApiProps) {
    super(scope, id);
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const cloudWatchRole = props.cloudWatchRole ?? true;
    const origins = props.allowedOrigins ?? [];

    this.api = new apigateway.RestApi(this, 'Api', {
      description: 'Image classification and object detection',
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      binaryMediaTypes: [...BINARY_MEDIA_TYPES],
      cloudWatchRole,
      cloudWatchRoleRemovalPolicy: cloudWatchRole ? RemovalPolicy.RETAIN : undefined,
      deployOptions: {
        stageName: STAGE_NAME,
        throttlingRateLimit: props.throttleRateLimit,
        throttlingBurstLimit: props.throttleBurstLimit,
        // Access log: one JSON line per request, no bodies. Execution log: errors only, no data trace.
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: Boolean(props.tracing),
      },
      defaultCorsPreflightOptions: origins.length
        ? {
            allowOrigins: [...origins],
            allowMethods: ['GET', 'POST', 'OPTIONS'],
            allowHeaders: ['Content-Type', 'x-api-key'],
          }
        : undefined,
    });

    for (const g of GATEWAY_ERRORS) {
      this.api.addGatewayResponse(`Gateway${g.type.responseType}`, {
        type: g.type,
        statusCode: String(g.statusCode),
        responseHeaders: {
          ...gatewayCorsHeaders(origins),
          ...(g.retryAfter ? { 'Retry-After': `'${g.retryAfter}'` } : {}),
        },
        templates: {
          'application/json': `{"statusCode": ${g.statusCode}, "error": "${g.error}", "message": $context.error.messageString, "requestId": "$context.requestId"}`,
        },
      });
    }

    const integration = new apigateway.LambdaIntegration(props.handler, {
      proxy: true,
      allowTestInvoke: false,
    });
    for (const route of ROUTES) {
      // resourceForPath builds nested resources (/health/ready under /health) and reuses existing ones.
      this.api.root.resourceForPath(route.path).addMethod(route.method, integration, {
        apiKeyRequired: !route.public,
      });
    }

    this.usagePlan = this.api.addUsagePlan('UsagePlan', {
      description: 'Image recognition: throttle and daily quota for every request that carries the key',
      throttle: { rateLimit: props.throttleRateLimit, burstLimit: props.throttleBurstLimit },
      quota: props.dailyQuota ? { limit: props.dailyQuota, period: apigateway.Period.DAY } : undefined,
      apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
    });
    this.key = this.api.addApiKey('Key', {
      description: 'Image recognition: CloudFront, the page and clients',
    });
    this.usagePlan.addApiKey(this.key);

    Validations.of(this).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        'Bodies are images or multipart forms: the function validates type, size and pixels and answers 400/413/415.',
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'Every request enters through CloudFront (the key it adds is required here), where the optional WAF (waf=true) sits; the usage plan throttles and caps each day.',
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'A public recognition API with no user identity: an API key (added by CloudFront, or sent by callers with apiKey=true) meters it through the usage plan.',
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-COG4',
      reason: 'No Cognito user pool: the API has no users; see APIG4.',
    });
    if (cloudWatchRole) {
      Validations.of(this).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          'The AWS managed policy API Gateway needs to write access and execution logs (account-level role).',
      });
    }
  }
}
