import { App } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import openapi from '../../lambda/src/transports/http/openapi.json';
import { addAppStacks } from '../../lib/app-stacks';
import { apiPathPatterns, BINARY_MEDIA_TYPES, ROUTES } from '../../lib/inference-api';
import { PAGE_CONTENT_SECURITY_POLICY } from '../../lib/web-frontend';
import {
  bytesOf,
  CDK_JSON_CONTEXT,
  dockerImageAssets,
  listFiles,
  resourcesOf,
  synth,
  type Synthesized,
  nagAcknowledgements,
  NO_PUBLIC_ACCESS,
} from './synth';

jest.setTimeout(300_000);

// Managed CloudFront policy ids (AWS documentation, "Use managed cache policies").
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const API_PATHS = apiPathPatterns(ROUTES);

/** Each API Gateway resource's full path without the leading slash (health/ready), by logical id. */
function resourcePaths(template: Template): Map<string, string> {
  const parts = new Map(resourcesOf(template, 'AWS::ApiGateway::Resource'));
  const full = (id: string): string => {
    const p = parts.get(id);
    if (!p) return '';
    const parent = (p.ParentId as { Ref?: string } | undefined)?.Ref;
    const above = parent ? full(parent) : '';
    return above ? `${above}/${p.PathPart as string}` : (p.PathPart as string);
  };
  return new Map([...parts.keys()].map((id) => [id, full(id)]));
}

let base: Synthesized;
let full: Synthesized;

beforeAll(() => {
  base = synth();
  // Every option at its non-default value.
  full = synth({
    modelSource: 's3://my-model-bucket/onnx/v1',
    apiKey: 'true',
    allowedOrigins: 'https://example.com,https://app.example.org',
    memorySize: '5307',
    ortThreads: '3',
    maxConcurrency: '12',
    provisionedConcurrency: '2',
    throttleRateLimit: '5',
    throttleBurstLimit: '10',
    logRetentionDays: '7',
    apiCloudWatchRole: 'false',
    preloadModels: 'resnet50-v1-12',
    dailyQuota: '5000',
    waf: 'true',
    wafRateLimit: '600',
    alarmEmail: 'ops@example.com',
    tracing: 'false',
    cloudFrontLogs: 'false',
  });
});

const functionProps = (s: Synthesized) => {
  const fns = resourcesOf(s.template, 'AWS::Lambda::Function').filter(([, p]) => p.PackageType === 'Image');
  expect(fns).toHaveLength(1);
  return fns[0]![1] as {
    Architectures: string[];
    MemorySize: number;
    Timeout: number;
    ReservedConcurrentExecutions?: number;
    TracingConfig?: { Mode: string };
    Environment: { Variables: Record<string, string> };
    Role: { 'Fn::GetAtt': [string, string] };
  };
};

describe('inference function', () => {
  test('runs as an x86_64 container image built for linux/amd64 from the repo Dockerfile', () => {
    expect(functionProps(base).Architectures).toEqual(['x86_64']);
    const [asset, ...others] = dockerImageAssets(base.assembly);
    expect(others).toHaveLength(0);
    expect(asset).toMatchObject({ dockerFile: 'Dockerfile', platform: 'linux/amd64' });
  });

  test('bakes resnet50-v1-12 and yolov4 into the image through the MODELS build arg by default', () => {
    expect(dockerImageAssets(base.assembly)[0]!.dockerBuildArgs).toEqual({ MODELS: 'resnet50-v1-12 yolov4' });
    expect(functionProps(base).Environment.Variables).toMatchObject({
      MODEL_PATH: '/opt/models',
      DEFAULT_CLASSIFIER: 'resnet50-v1-12',
      DEFAULT_DETECTOR: 'yolov4',
      PRELOAD_MODELS: 'resnet50-v1-12,yolov4',
    });
    expect(functionProps(base).Environment.Variables.MODEL_S3_URI).toBeUndefined();
  });

  test('copies only the allow-listed build context into cdk.out (no node_modules, cdk.out, .cache, .git)', () => {
    const dir = dockerImageAssets(base.assembly)[0]!.directory;
    const files = listFiles(dir);
    for (const required of [
      'Dockerfile',
      '.dockerignore',
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'models/manifest.json',
      'scripts/package-lambda.ts',
    ]) {
      expect(files).toContain(required);
    }
    const allowed =
      /^(Dockerfile|\.dockerignore|package\.json|package-lock\.json|tsconfig\.json|lambda\/src\/.+|lambda\/routes\.json|tools\/model-prep\/[^/]+|models\/(embedded\/)?[^/]+|scripts\/package-lambda\.ts)$/;
    expect(files.filter((f) => !allowed.test(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.test.ts'))).toEqual([]);
    // The three embedded models are 8.7 MB of it; everything else is under 1 MB.
    expect(bytesOf(dir)).toBeLessThan(10_000_000);
  });

  test('has 3008 MB by default and a timeout below API Gateway’s 29 s integration limit', () => {
    const fn = functionProps(base);
    expect(fn.MemorySize).toBe(3008);
    expect(fn.Timeout).toBeLessThan(29);
  });

  test('sets the environment for limits, Powertools and the quiet AWS SDK', () => {
    expect(functionProps(base).Environment.Variables).toMatchObject({
      MAX_IMAGE_BYTES: '4500000',
      MAX_IMAGE_PIXELS: '40000000',
      MODEL_CACHE_DIR: '/tmp/models',
      POWERTOOLS_SERVICE_NAME: 'image-recognition',
      POWERTOOLS_METRICS_NAMESPACE: 'ImageRecognition',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    });
  });

  test('starts the function with the glibc allocator settings the image also sets', () => {
    expect(functionProps(base).Environment.Variables).toMatchObject({
      MALLOC_ARENA_MAX: '2',
      MALLOC_MMAP_THRESHOLD_: '33554432',
      MALLOC_TRIM_THRESHOLD_: '1073741824',
      GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1',
    });
  });

  test('logs to its own log group with a retention', () => {
    base.template.hasResourceProperties('AWS::Lambda::Function', {
      PackageType: 'Image',
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^InferenceLogs') } },
    });
    const groups = resourcesOf(base.template, 'AWS::Logs::LogGroup').filter(([id]) =>
      id.startsWith('InferenceLogs'),
    );
    expect(groups).toHaveLength(1);
    expect(groups[0]![1].RetentionInDays).toBe(30);
  });

  test('honours memory, ORT threads, maxConcurrency, provisioned concurrency, origins and preload options', () => {
    const fn = functionProps(full);
    expect(fn.MemorySize).toBe(5307);
    expect(fn.ReservedConcurrentExecutions).toBe(12);
    expect(fn.Environment.Variables).toMatchObject({
      CORS_ALLOWED_ORIGINS: 'https://example.com,https://app.example.org',
      PRELOAD_MODELS: 'resnet50-v1-12',
      ORT_INTRA_OP_THREADS: '3',
    });
    expect(functionProps(base).Environment.Variables.ORT_INTRA_OP_THREADS).toBeUndefined();
    full.template.hasResourceProperties('AWS::Lambda::Alias', {
      Name: 'live',
      ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 2 },
    });
    base.template.hasResourceProperties('AWS::Lambda::Alias', {
      Name: 'live',
      ProvisionedConcurrencyConfig: Match.absent(),
    });
  });

  test('with modelSource=s3://bucket/prefix: no models in the image, MODEL_S3_URI set, read-only grant on the prefix', () => {
    expect(dockerImageAssets(full.assembly)[0]!.dockerBuildArgs).toEqual({ MODELS: '' });
    const fn = functionProps(full);
    expect(fn.Environment.Variables.MODEL_S3_URI).toBe('s3://my-model-bucket/onnx/v1');
    const roleId = fn.Role['Fn::GetAtt'][0];
    const statements = resourcesOf(full.template, 'AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Roles).includes(roleId))
      .flatMap(([, p]) => (p.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement);
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: 's3:GetObject',
          Resource: 'arn:aws:s3:::my-model-bucket/onnx/v1/*',
        }),
        expect.objectContaining({
          Action: 's3:ListBucket',
          Resource: 'arn:aws:s3:::my-model-bucket',
          Condition: { StringLike: { 's3:prefix': ['onnx/v1/*'] } },
        }),
      ]),
    );
    // On the model bucket (the upload grants are asserted in uploads.test.ts).
    const s3Actions = statements
      .filter((s) => JSON.stringify(s.Resource).includes('my-model-bucket'))
      .flatMap((s) => [s.Action].flat())
      .filter((a) => String(a).startsWith('s3:'));
    expect(s3Actions.sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
  });
});

describe('REST API', () => {
  test('treats the accepted image types and multipart/form-data as binary, and not */*', () => {
    base.template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      BinaryMediaTypes: Match.arrayWith([
        'image/jpeg',
        'image/png',
        'image/webp',
        'image/gif',
        'image/avif',
        'image/tiff',
        'image/heic',
        'application/octet-stream',
        'multipart/form-data',
      ]),
    });
    const [[, api]] = resourcesOf(base.template, 'AWS::ApiGateway::RestApi') as [
      [string, { BinaryMediaTypes: string[] }],
    ];
    expect(api.BinaryMediaTypes).toEqual([...BINARY_MEDIA_TYPES]);
    expect(api.BinaryMediaTypes).not.toContain('*/*');
    expect(api.BinaryMediaTypes).not.toContain('application/json');
  });

  test('routes every route of lambda/routes.json (POST /classifier, POST /detector, GET /models, GET /health, GET /health/live, GET /health/ready, GET /openapi.json) to the live alias', () => {
    const resources = resourcePaths(base.template);
    const routes = resourcesOf(base.template, 'AWS::ApiGateway::Method')
      .map(([, p]) => {
        const ref = (p.ResourceId as { Ref: string }).Ref;
        return `${p.HttpMethod as string} /${resources.get(ref) ?? '?'}`;
      })
      .sort();
    expect(routes).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    expect(routes).toContain('POST /classifier');
    for (const [, method] of resourcesOf(base.template, 'AWS::ApiGateway::Method')) {
      const integration = method.Integration as { Type: string; Uri: unknown };
      expect(integration.Type).toBe('AWS_PROXY');
      expect(JSON.stringify(integration.Uri)).toMatch(/InferenceLive/);
    }
  });

  test('throttles the stage and writes JSON access logs without data trace', () => {
    base.template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'prod',
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
      MethodSettings: [
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: 20,
          ThrottlingBurstLimit: 40,
          DataTraceEnabled: false,
          LoggingLevel: 'ERROR',
        }),
      ],
    });
    full.template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [
        Match.objectLike({ ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10, DataTraceEnabled: false }),
      ],
    });
  });

  test('sets the account CloudWatch role explicitly (retained) and leaves it alone when apiCloudWatchRole=false', () => {
    base.template.resourceCountIs('AWS::ApiGateway::Account', 1);
    base.template.hasResource('AWS::ApiGateway::Account', {
      DeletionPolicy: 'Retain',
      Properties: {
        CloudWatchRoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ApiCloudWatchRole'), 'Arn'] },
      },
    });
    full.template.resourceCountIs('AWS::ApiGateway::Account', 0);
  });

  test("API Gateway's own errors answer in the function's error shape, with a 404 for an unknown path", () => {
    const responses = Object.fromEntries(
      resourcesOf(base.template, 'AWS::ApiGateway::GatewayResponse').map(([, p]) => [
        p.ResponseType as string,
        p as { StatusCode: string; ResponseTemplates: Record<string, string>; ResponseParameters?: object },
      ]),
    );
    expect(Object.keys(responses).sort()).toEqual(
      [
        'ACCESS_DENIED',
        'DEFAULT_4XX',
        'DEFAULT_5XX',
        'INTEGRATION_FAILURE',
        'INTEGRATION_TIMEOUT',
        'INVALID_API_KEY',
        'MISSING_AUTHENTICATION_TOKEN',
        'QUOTA_EXCEEDED',
        'REQUEST_TOO_LARGE',
        'THROTTLED',
      ].sort(),
    );
    expect(responses.MISSING_AUTHENTICATION_TOKEN?.StatusCode).toBe('404');
    expect(responses.THROTTLED?.StatusCode).toBe('429');
    // A Lambda throttle (reserved concurrency full) reaches API Gateway as an integration failure.
    expect(responses.INTEGRATION_FAILURE?.StatusCode).toBe('503');
    expect(responses.INTEGRATION_FAILURE?.ResponseParameters).toEqual({
      'gatewayresponse.header.Retry-After': "'1'",
    });
    const codes = openapi.components.schemas.Error.properties.error.enum;
    for (const [type, r] of Object.entries(responses)) {
      // The template, with the two values API Gateway fills in, is the shape openapi.json documents.
      const body = JSON.parse(
        (r.ResponseTemplates['application/json'] ?? '')
          .replace('$context.error.messageString', '"a message"')
          .replace('$context.requestId', 'req-1'),
      ) as Record<string, unknown>;
      expect({ type, keys: Object.keys(body).sort() }).toEqual({
        type,
        keys: ['error', 'message', 'requestId', 'statusCode'],
      });
      expect(body.statusCode).toBe(Number(r.StatusCode));
      expect(codes).toContain(body.error);
      // No CORS header without allowedOrigins.
      expect(Object.keys(r.ResponseParameters ?? {}).filter((h) => /Access-Control/.test(h))).toEqual([]);
    }
  });

  test('with one allowed origin, gateway errors carry its CORS header; with several, none (it cannot echo)', () => {
    const one = synth({ allowedOrigins: 'https://example.com' });
    for (const [, r] of resourcesOf(one.template, 'AWS::ApiGateway::GatewayResponse')) {
      expect(r.ResponseParameters).toMatchObject({
        'gatewayresponse.header.Access-Control-Allow-Origin': "'https://example.com'",
      });
    }
    for (const [, r] of resourcesOf(full.template, 'AWS::ApiGateway::GatewayResponse')) {
      expect(Object.keys(r.ResponseParameters ?? {}).filter((h) => /Access-Control/.test(h))).toEqual([]);
    }
  });

  test.each([
    ['default', () => base],
    ['apiKey=true', () => full],
  ])(
    'the usage plan key is required on every route but /health, /health/live, /health/ready and /openapi.json, so the execute-api URL alone answers 403 (%s)',
    (_name, get) => {
      const { template } = get();
      template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
      template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
      const resources = resourcePaths(template);
      const keyRequired = Object.fromEntries(
        resourcesOf(template, 'AWS::ApiGateway::Method')
          .filter(([, p]) => p.HttpMethod !== 'OPTIONS')
          .map(([, p]) => [resources.get((p.ResourceId as { Ref: string }).Ref), p.ApiKeyRequired]),
      );
      expect(keyRequired).toEqual(Object.fromEntries(ROUTES.map((r) => [r.path.slice(1), !r.public])));
      expect(keyRequired).toMatchObject({
        classifier: true,
        detector: true,
        health: false,
        'health/live': false,
        'health/ready': false,
      });
    },
  );

  test('the usage plan throttles like the stage and allows 10,000 requests a day unless dailyQuota says otherwise', () => {
    base.template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 20, BurstLimit: 40 },
      Quota: { Limit: 10000, Period: 'DAY' },
      ApiStages: [Match.objectLike({ Stage: Match.anyValue() })],
    });
    full.template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 5, BurstLimit: 10 },
      Quota: { Limit: 5000, Period: 'DAY' },
    });
    synth({ dailyQuota: 'none' }).template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Quota: Match.absent(),
    });
  });

  test('with allowedOrigins: CORS preflight (OPTIONS) on every route, without an API key', () => {
    const options = resourcesOf(full.template, 'AWS::ApiGateway::Method').filter(
      ([, p]) => p.HttpMethod === 'OPTIONS',
    );
    expect(options.length).toBeGreaterThanOrEqual(5);
    for (const [, p] of options) expect(p.ApiKeyRequired).not.toBe(true);
    expect(JSON.stringify(options)).toContain('https://example.com');
    expect(
      resourcesOf(base.template, 'AWS::ApiGateway::Method').some(([, p]) => p.HttpMethod === 'OPTIONS'),
    ).toBe(false);
  });
});

describe('web page', () => {
  test('stores the page in a private, SSL-only, bucket-owner-enforced bucket', () => {
    base.template.hasResourceProperties('AWS::S3::Bucket', NO_PUBLIC_ACCESS);
    base.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('serves the bucket through CloudFront origin access control, classifier.html at /', () => {
    base.template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({
        OriginAccessControlOriginType: 's3',
        SigningBehavior: 'always',
      }),
    });
    base.template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: 'classifier.html',
        Origins: Match.arrayWith([
          Match.objectLike({
            OriginAccessControlId: Match.anyValue(),
            S3OriginConfig: { OriginAccessIdentity: '' },
          }),
        ]),
      }),
    });
    base.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 's3:GetObject',
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Condition: { StringEquals: { 'AWS:SourceArn': Match.anyValue() } },
          }),
        ]),
      },
    });
  });

  const apiOriginOf = (t: Synthesized) => {
    const [[, dist]] = resourcesOf(t.template, 'AWS::CloudFront::Distribution') as [
      [string, { DistributionConfig: { Origins: Record<string, unknown>[] } }],
    ];
    return dist.DistributionConfig.Origins.find((o) => o.CustomOriginConfig)!;
  };
  const forwardedHeaders = (t: Synthesized) => {
    const [[, policy]] = resourcesOf(t.template, 'AWS::CloudFront::OriginRequestPolicy') as [
      [string, { OriginRequestPolicyConfig: { HeadersConfig: { Headers: string[] } } }],
    ];
    return policy.OriginRequestPolicyConfig.HeadersConfig.Headers;
  };

  test("CloudFront adds the usage plan key on the way to API Gateway, and does not pass on a viewer's own", () => {
    expect(apiOriginOf(base).OriginCustomHeaders).toEqual([
      {
        HeaderName: 'x-api-key',
        HeaderValue: { 'Fn::GetAtt': [expect.stringMatching(/^WebApiKeyValue/), 'value'] },
      },
    ]);
    expect(forwardedHeaders(base).map((h) => h.toLowerCase())).not.toContain('x-api-key');
  });

  test("with apiKey=true, CloudFront passes on the caller's key and adds none", () => {
    expect(apiOriginOf(full).OriginCustomHeaders).toBeUndefined();
    expect(forwardedHeaders(full)).toContain('x-api-key');
  });

  test('routes the API paths to API Gateway uncached, forwarding Content-Type, Accept and Origin but not Host', () => {
    const [[, dist]] = resourcesOf(base.template, 'AWS::CloudFront::Distribution') as [
      [
        string,
        {
          DistributionConfig: {
            CacheBehaviors: Record<string, unknown>[];
            Origins: Record<string, unknown>[];
          };
        },
      ],
    ];
    const behaviors = dist.DistributionConfig.CacheBehaviors;
    expect(behaviors.map((b) => b.PathPattern).sort()).toEqual([...API_PATHS].sort());
    // The Open Inference Protocol's per-model routes, through one pattern.
    expect(API_PATHS).toEqual(expect.arrayContaining(['/v2', '/v2/health/ready', '/v2/models/*']));
    expect(API_PATHS.filter((p) => p.includes('{'))).toEqual([]);
    const apiOrigin = dist.DistributionConfig.Origins.find((o) => o.CustomOriginConfig);
    expect(apiOrigin).toBeDefined();
    expect(JSON.stringify(apiOrigin!.DomainName)).toMatch(/execute-api/);
    // OriginPath is "/" + the stage name, split out of the API URL.
    expect(JSON.stringify(apiOrigin!.OriginPath)).toMatch(/ApiDeploymentStageprod/);
    expect(apiOrigin!.CustomOriginConfig).toMatchObject({ OriginProtocolPolicy: 'https-only' });
    for (const b of behaviors) {
      expect(b).toMatchObject({
        TargetOriginId: apiOrigin!.Id,
        CachePolicyId: CACHING_DISABLED,
        AllowedMethods: expect.arrayContaining(['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE']),
        OriginRequestPolicyId: { Ref: expect.stringMatching(/^WebApiOriginRequest/) },
      });
    }
    const [[, policy]] = resourcesOf(base.template, 'AWS::CloudFront::OriginRequestPolicy') as [
      [
        string,
        { OriginRequestPolicyConfig: Record<string, { HeaderBehavior?: string; Headers?: string[] }> },
      ],
    ];
    const headers = policy.OriginRequestPolicyConfig.HeadersConfig!;
    expect(headers.HeaderBehavior).toBe('whitelist');
    expect(headers.Headers).toEqual(expect.arrayContaining(['Content-Type', 'Accept', 'Origin']));
    expect(headers.Headers!.map((h) => h.toLowerCase())).not.toContain('host');
    expect(policy.OriginRequestPolicyConfig.QueryStringsConfig).toEqual({ QueryStringBehavior: 'all' });
  });

  test('sends the page with the local server’s Content-Security-Policy, HSTS and nosniff', () => {
    base.template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: Match.objectLike({
        SecurityHeadersConfig: Match.objectLike({
          ContentSecurityPolicy: {
            ContentSecurityPolicy: Match.stringLikeRegexp("connect-src 'self'"),
            Override: true,
          },
          ContentTypeOptions: { Override: true },
          StrictTransportSecurity: Match.objectLike({ AccessControlMaxAgeSec: 31536000 }),
        }),
      }),
    });
    // Same policy as the local server (read as text: importing the server would load sharp and ORT).
    const server = readFileSync(path.join(__dirname, '../../local/server.ts'), 'utf8');
    const local = /CONTENT_SECURITY_POLICY =\s*"([^"]+)"/.exec(server)?.[1];
    expect(PAGE_CONTENT_SECURITY_POLICY).toBe(local);
    base.template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        DefaultCacheBehavior: Match.objectLike({
          ResponseHeadersPolicyId: { Ref: Match.stringLikeRegexp('^WebPageHeaders') },
        }),
      }),
    });
  });

  test('deploys web/ plus a generated config.json and invalidates the distribution', () => {
    base.template.hasResourceProperties('Custom::CDKBucketDeployment', {
      DistributionId: { Ref: Match.stringLikeRegexp('^WebDistribution') },
      DistributionPaths: ['/*'],
      DestinationBucketName: { Ref: Match.stringLikeRegexp('^WebBucket') },
    });
    const configDirs = listFiles(base.assembly.directory)
      .filter((f) => f.endsWith('/config.json'))
      .map((f) => path.join(base.assembly.directory, f));
    expect(configDirs).toHaveLength(1);
    expect(JSON.parse(readFileSync(configDirs[0]!, 'utf8'))).toEqual({ apiBaseUrl: '', apiKey: null });
  });

  test('with apiKey=true, config.json receives the key value read at deploy time', () => {
    full.template.hasResourceProperties('Custom::CDKBucketDeployment', {
      SourceMarkers: Match.arrayWith([
        Match.objectLike({
          '<<marker:0xbaba:0>>': { 'Fn::GetAtt': [Match.stringLikeRegexp('^WebApiKeyValue'), 'value'] },
        }),
      ]),
    });
    const reader = resourcesOf(full.template, 'Custom::AWS').find(([id]) =>
      id.startsWith('WebApiKeyValue'),
    )![1];
    expect(JSON.stringify(reader.Update)).toMatch(/\\"action\\":\\"GetApiKey\\".*\\"includeValue\\":true/);
  });
});

describe('outputs', () => {
  test('ApiGatewayUrl ends in /classifier, ClassifierUrl, ClassifierEndpoint and DetectorUrl point at CloudFront', () => {
    const outputs = base.template.findOutputs('*');
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining([
        'ApiGatewayUrl',
        'ClassifierUrl',
        'ClassifierEndpoint',
        'DetectorUrl',
        'ApiKeyId',
      ]),
    );
    const value = (name: string) => JSON.stringify((outputs[name] as { Value: unknown }).Value);
    expect(value('ApiGatewayUrl')).toMatch(/execute-api.*ApiDeploymentStageprod.*"\/classifier"\]\]\}$/);
    expect(value('ClassifierUrl')).toMatch(/https:\/\/.*WebDistribution.*\/classifier\.html/);
    expect(value('DetectorUrl')).toMatch(/https:\/\/.*WebDistribution.*\/detector"/);
    expect(value('ClassifierEndpoint')).toMatch(/https:\/\/.*WebDistribution.*\/classifier"/);
  });
});

describe('IAM least privilege', () => {
  type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
  const allStatements = (s: Synthesized): Statement[] => [
    ...resourcesOf(s.template, 'AWS::IAM::Policy').flatMap(
      ([, p]) => (p.PolicyDocument as { Statement: Statement[] }).Statement,
    ),
    ...resourcesOf(s.template, 'AWS::IAM::Role').flatMap(([, p]) =>
      ((p.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]).flatMap(
        (d) => d.PolicyDocument.Statement,
      ),
    ),
  ];

  test.each([
    ['default', () => base],
    ['all options', () => full],
  ])('no statement allows a * action on a * resource (%s)', (_name, get) => {
    const statements = allStatements(get());
    expect(statements.length).toBeGreaterThan(0);
    for (const st of statements.filter((x) => x.Effect === 'Allow')) {
      const actions = [st.Action].flat();
      const resources = [st.Resource].flat();
      const wildAction = actions.some((a) => a === '*' || /^[a-z0-9-]+:\*$/.test(a));
      expect({ actions, wild: wildAction && resources.includes('*') }).toEqual({ actions, wild: false });
    }
  });

  test('the function role can only write its own log group and its traces, and use the upload prefix (default image source)', () => {
    const roleId = functionProps(base).Role['Fn::GetAtt'][0];
    base.template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })],
      }),
      ManagedPolicyArns: Match.absent(),
    });
    const statements = resourcesOf(base.template, 'AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Roles).includes(roleId))
      .flatMap(([, p]) => (p.PolicyDocument as { Statement: Statement[] }).Statement);
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^InferenceLogs/), 'Arn'] },
      },
      // The upload area (uploads.test.ts): put and get under uploads/, list only that prefix.
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject'],
        Resource: `arn:aws:s3:::${base.stack.uploads!.bucketName}/uploads/*`,
      },
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: `arn:aws:s3:::${base.stack.uploads!.bucketName}`,
        Condition: { StringLike: { 's3:prefix': ['uploads/*'] } },
      },
      // Active tracing: X-Ray's two write actions have no resource-level permissions.
      { Effect: 'Allow', Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], Resource: '*' },
    ]);
  });
});

describe('spend caps and alarms', () => {
  const alarms = (t: Synthesized) =>
    Object.fromEntries(
      resourcesOf(t.template, 'AWS::CloudWatch::Alarm').map(([id, p]) => [
        id.replace(/^Alarms/, '').replace(/[A-F0-9]{8}$/, ''),
        p as {
          MetricName: string;
          Namespace: string;
          Statistic: string;
          Threshold: number;
          ComparisonOperator: string;
          AlarmActions?: unknown[];
          OKActions?: unknown[];
        },
      ]),
    );

  test('the function may run at most 10 environments at once by default, and maxConcurrency=none lifts the cap', () => {
    expect(functionProps(base).ReservedConcurrentExecutions).toBe(10);
    expect(functionProps(synth({ maxConcurrency: 'none' })).ReservedConcurrentExecutions).toBeUndefined();
  });

  test('alarms on the API 5xx rate, function errors, function throttles and concurrency at 80 % of the cap', () => {
    const a = alarms(base);
    expect(Object.keys(a).sort()).toEqual(
      ['ApiServerErrorRate', 'ConcurrencyNearCap', 'FunctionErrors', 'FunctionThrottles'].sort(),
    );
    expect(a.ApiServerErrorRate).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      MetricName: '5XXError',
      Statistic: 'Average',
      Threshold: 0.05,
    });
    expect(a.FunctionErrors).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'Errors', Threshold: 1 });
    expect(a.FunctionThrottles).toMatchObject({ MetricName: 'Throttles', Statistic: 'Sum', Threshold: 1 });
    expect(a.ConcurrencyNearCap).toMatchObject({
      MetricName: 'ConcurrentExecutions',
      Statistic: 'Maximum',
      Threshold: 8,
    });
    for (const alarm of Object.values(a)) {
      expect(alarm.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
      expect(alarm.AlarmActions).toBeUndefined();
    }
    base.template.resourceCountIs('AWS::SNS::Topic', 0);
    expect(Object.keys(alarms(synth({ maxConcurrency: 'none' })))).not.toContain('ConcurrencyNearCap');
  });

  test('with alarmEmail, every alarm and its return to OK go to an SSL-only SNS topic that mails the address', () => {
    full.template.resourceCountIs('AWS::SNS::Topic', 1);
    full.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    full.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    const a = alarms(full);
    expect(a.ConcurrencyNearCap?.Threshold).toBe(10); // ceil(0.8 * 12)
    for (const alarm of Object.values(a)) {
      expect(alarm.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^AlarmsTopic/) }]);
      expect(alarm.OKActions).toEqual([{ Ref: expect.stringMatching(/^AlarmsTopic/) }]);
    }
  });

  test('rejects provisioned concurrency above the cap, and the old reservedConcurrency key by name', () => {
    expect(() => synth({ maxConcurrency: '2', provisionedConcurrency: '3' })).toThrow(
      /provisionedConcurrency/,
    );
    expect(() => synth({ reservedConcurrency: '10' })).toThrow(/maxConcurrency/);
  });
});

describe('WAF (waf=true)', () => {
  test('a us-east-1 stack holds a CLOUDFRONT web ACL with a per-address rate rule, and the distribution uses it', () => {
    expect(base.webAcl).toBeUndefined();
    const waf = full.webAcl!;
    expect(waf.stack.region).toBe('us-east-1');
    waf.template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'CLOUDFRONT',
      DefaultAction: { Allow: {} },
      Rules: Match.arrayWith([
        Match.objectLike({
          Name: 'RatePerAddress',
          Action: { Block: { CustomResponse: { ResponseCode: 429, CustomResponseBodyKey: 'throttled' } } },
          Statement: { RateBasedStatement: { Limit: 600, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } },
        }),
      ]),
    });
    const [[, dist]] = resourcesOf(full.template, 'AWS::CloudFront::Distribution') as [
      [string, { DistributionConfig: { WebACLId?: unknown } }],
    ];
    expect(JSON.stringify(dist.DistributionConfig.WebACLId)).toMatch(/WebAcl/);
    const [[, baseDist]] = resourcesOf(base.template, 'AWS::CloudFront::Distribution') as [
      [string, { DistributionConfig: { WebACLId?: unknown } }],
    ];
    expect(baseDist.DistributionConfig.WebACLId).toBeUndefined();
  });

  test('a blocked address gets a 429 in the API error shape, with a code openapi.json lists', () => {
    const [[, acl]] = resourcesOf(full.webAcl!.template, 'AWS::WAFv2::WebACL') as [
      [string, { CustomResponseBodies: Record<string, { Content: string; ContentType: string }> }],
    ];
    const body = acl.CustomResponseBodies.throttled!;
    expect(body.ContentType).toBe('APPLICATION_JSON');
    const parsed = JSON.parse(body.Content) as Record<string, unknown>;
    expect(Object.keys(parsed).sort()).toEqual(['error', 'message', 'requestId', 'statusCode']);
    expect(parsed).toMatchObject({ statusCode: 429, error: 'THROTTLED' });
    expect(openapi.components.schemas.Error.properties.error.enum).toContain(parsed.error);
  });

  test('cannot be placed without the stack region, and says why', () => {
    const app = new App({ context: { ...CDK_JSON_CONTEXT, waf: 'true' } });
    expect(() => addAppStacks(app, { stackName: 'X', env: {} })).toThrow(/waf=true needs the stack region/);
  });
});

describe('tracing', () => {
  test('X-Ray is active on the function and the stage by default, and off with tracing=false', () => {
    expect(functionProps(base).TracingConfig).toEqual({ Mode: 'Active' });
    base.template.hasResourceProperties('AWS::ApiGateway::Stage', { TracingEnabled: true });
    expect(functionProps(full).TracingConfig).toBeUndefined();
    full.template.hasResourceProperties('AWS::ApiGateway::Stage', { TracingEnabled: false });
  });
});

describe('CloudFront access logs (standard logging v2)', () => {
  const calls = (t: Synthesized) =>
    resourcesOf(t.template, 'Custom::AWS')
      .filter(([id]) => id.startsWith('WebAccessLogs'))
      .map(([, p]) => ({
        create: JSON.parse(JSON.stringify(p.Create)) as unknown,
        remove: JSON.parse(JSON.stringify(p.Delete)) as unknown,
      }));

  test('a private, SSL-only bucket keeps them for logRetentionDays, writable only by the log delivery of this account', () => {
    const bucket = resourcesOf(base.template, 'AWS::S3::Bucket').find(([id]) =>
      id.startsWith('WebAccessLogsBucket'),
    );
    expect(bucket).toBeDefined();
    expect(bucket![1]).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: {
        Rules: [expect.objectContaining({ ExpirationInDays: 30, Status: 'Enabled' })],
      },
    });
    base.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: Match.stringLikeRegexp('^WebAccessLogsBucket') },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Sid: 'AWSLogDeliveryWrite',
            Action: 's3:PutObject',
            Principal: { Service: 'delivery.logs.amazonaws.com' },
            Condition: {
              StringEquals: {
                's3:x-amz-acl': 'bucket-owner-full-control',
                'aws:SourceAccount': '123456789012',
              },
              ArnLike: {
                'aws:SourceArn': Match.stringLikeRegexp(
                  '^arn:aws:logs:us-east-1:123456789012:delivery-source:',
                ),
              },
            },
          }),
        ]),
      },
    });
  });

  test('the delivery source (the distribution), destination (the bucket) and delivery are made in us-east-1 and deleted with the stack', () => {
    const c = calls(base);
    expect(c).toHaveLength(3);
    const text = JSON.stringify(c);
    // Every call, on create and on delete, goes to us-east-1.
    expect(text.match(/\\"region\\":\\"us-east-1\\"/g)).toHaveLength(6);
    for (const action of ['PutDeliverySource', 'PutDeliveryDestination', 'CreateDelivery']) {
      expect(text).toContain(`\\"action\\":\\"${action}\\"`);
    }
    for (const action of ['DeleteDeliverySource', 'DeleteDeliveryDestination', 'DeleteDelivery']) {
      expect(text).toContain(`\\"action\\":\\"${action}\\"`);
    }
    expect(text).toContain('\\"logType\\":\\"ACCESS_LOGS\\"');
    expect(text).toMatch(/WebDistribution[A-F0-9]+/);
    expect(text).toMatch(/WebAccessLogsBucket[A-F0-9]+/);
  });

  test('cloudFrontLogs=false leaves them out', () => {
    expect(calls(full)).toEqual([]);
    expect(resourcesOf(full.template, 'AWS::S3::Bucket').some(([id]) => id.startsWith('WebAccessLogs'))).toBe(
      false,
    );
  });
});

describe('cdk-nag (AwsSolutions)', () => {
  test.each([
    ['default', () => base.stack],
    ['all options', () => full.stack],
    ['the web ACL stack', () => full.webAcl!.stack],
  ])('reports no unacknowledged findings (%s)', (_name, get) => {
    const report = new AwsSolutionsChecks().validateScope(get());
    const findings = report.violations.map(
      (v) => `${v.severity} ${v.ruleName} @ ${v.violatingResources[0]?.constructPath}`,
    );
    expect(findings).toEqual([]);
  });

  test('acknowledgements say what holds now: WAF opt-in only without it, access logs through logging v2', () => {
    const reasons = (root: IConstruct, id: string) =>
      nagAcknowledgements(root)
        .filter(([rule]) => rule.replace(/^annotation::/i, '') === id)
        .map(([, reason]) => reason);
    expect(reasons(base.stack, 'AwsSolutions-CFR2')).toEqual([expect.stringMatching(/opt-in \(waf=true/)]);
    expect(reasons(full.stack, 'AwsSolutions-CFR2')).toEqual([]);
    expect(reasons(base.stack, 'AwsSolutions-CFR3')).toEqual([expect.stringMatching(/standard logging v2/)]);
    expect(reasons(full.stack, 'AwsSolutions-CFR3')).toEqual([expect.stringMatching(/cloudFrontLogs=false/)]);
  });

  test('every acknowledgement carries a reason and uses the unprefixed rule id', () => {
    const acks = [...nagAcknowledgements(base.stack), ...nagAcknowledgements(full.stack)];
    expect(acks.length).toBeGreaterThan(10);
    for (const [id, reason] of acks) {
      expect(id.replace(/^annotation::/i, '')).toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      expect(reason.trim().length).toBeGreaterThan(20);
    }
  });
});

describe('cdk.json', () => {
  test('runs the app with tsx offline: no notices, no telemetry', () => {
    const cdkJson = JSON.parse(readFileSync(path.resolve(__dirname, '../../cdk.json'), 'utf8')) as {
      app: string;
      notices: boolean;
      context: Record<string, unknown>;
    };
    expect(cdkJson.app).toBe('npx tsx bin/app.ts');
    expect(cdkJson.notices).toBe(false);
    expect(cdkJson.context['cli-telemetry']).toBe(false);
    expect(existsSync(path.resolve(__dirname, '../../bin/app.ts'))).toBe(true);
    expect(readFileSync(path.resolve(__dirname, '../../.gitignore'), 'utf8')).toMatch(/^cdk\.out\/?$/m);
  });
});
