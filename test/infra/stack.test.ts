import { Validations } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import openapi from '../../lambda/src/transports/http/openapi.json';
import { BINARY_MEDIA_TYPES, ROUTES } from '../../lib/inference-api';
import { PAGE_CONTENT_SECURITY_POLICY } from '../../lib/web-frontend';
import { bytesOf, dockerImageAssets, listFiles, resourcesOf, synth, type Synthesized } from './synth';

jest.setTimeout(300_000);

// Managed CloudFront policy ids (AWS documentation, "Use managed cache policies").
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const API_PATHS = ROUTES.map((r) => r.path);

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
    reservedConcurrency: '10',
    provisionedConcurrency: '2',
    throttleRateLimit: '5',
    throttleBurstLimit: '10',
    logRetentionDays: '7',
    apiCloudWatchRole: 'false',
    preloadModels: 'resnet50-v1-12',
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
    expect(fn.ReservedConcurrentExecutions).toBeUndefined();
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

  test('honours memory, ORT threads, reserved and provisioned concurrency, origins and preload options', () => {
    const fn = functionProps(full);
    expect(fn.MemorySize).toBe(5307);
    expect(fn.ReservedConcurrentExecutions).toBe(10);
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
    const s3Actions = statements.flatMap((s) => [s.Action].flat()).filter((a) => String(a).startsWith('s3:'));
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

  test('routes every route of lambda/routes.json (POST /classifier, POST /detector, GET /models, GET /health, GET /openapi.json) to the live alias', () => {
    const resources = new Map(
      resourcesOf(base.template, 'AWS::ApiGateway::Resource').map(([id, p]) => [id, p.PathPart as string]),
    );
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
      expect(method.ApiKeyRequired).toBe(false);
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
      expect(r.ResponseParameters ?? {}).toEqual({}); // no CORS header without allowedOrigins
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
      expect(r.ResponseParameters ?? {}).toEqual({});
    }
  });

  test('with apiKey=true: usage plan with throttle, key required except on /health and /openapi.json', () => {
    full.template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
    full.template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 5, BurstLimit: 10 },
      ApiStages: [Match.objectLike({ Stage: Match.anyValue() })],
    });
    full.template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
    const resources = new Map(
      resourcesOf(full.template, 'AWS::ApiGateway::Resource').map(([id, p]) => [id, p.PathPart as string]),
    );
    const keyRequired = Object.fromEntries(
      resourcesOf(full.template, 'AWS::ApiGateway::Method')
        .filter(([, p]) => p.HttpMethod !== 'OPTIONS')
        .map(([, p]) => [resources.get((p.ResourceId as { Ref: string }).Ref), p.ApiKeyRequired]),
    );
    expect(keyRequired).toEqual(Object.fromEntries(ROUTES.map((r) => [r.path.slice(1), !r.public])));
    expect(keyRequired).toMatchObject({ classifier: true, health: false });
    base.template.resourceCountIs('AWS::ApiGateway::ApiKey', 0);
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
    base.template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
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

  test('routes the API paths to API Gateway uncached, forwarding Content-Type and x-api-key but not Host', () => {
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
    expect(headers.Headers).toEqual(expect.arrayContaining(['Content-Type', 'x-api-key']));
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
    const reader = resourcesOf(full.template, 'Custom::AWS')[0]![1];
    expect(JSON.stringify(reader.Update)).toMatch(/\\"action\\":\\"GetApiKey\\".*\\"includeValue\\":true/);
  });
});

describe('outputs', () => {
  test('ApiGatewayUrl ends in /classifier, ClassifierUrl and DetectorUrl point at CloudFront', () => {
    const outputs = base.template.findOutputs('*');
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining(['ApiGatewayUrl', 'ClassifierUrl', 'DetectorUrl']),
    );
    const value = (name: string) => JSON.stringify((outputs[name] as { Value: unknown }).Value);
    expect(value('ApiGatewayUrl')).toMatch(/execute-api.*ApiDeploymentStageprod.*"\/classifier"\]\]\}$/);
    expect(value('ClassifierUrl')).toMatch(/https:\/\/.*WebDistribution.*\/classifier\.html/);
    expect(value('DetectorUrl')).toMatch(/https:\/\/.*WebDistribution.*\/detector"/);
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

  test('the function role can only write its own log group (default image source)', () => {
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
    ]);
  });
});

describe('cdk-nag (AwsSolutions)', () => {
  const acknowledgements = (root: IConstruct) =>
    root.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) => Object.entries(m.data as Record<string, string>));

  test.each([
    ['default', () => base],
    ['all options', () => full],
  ])('reports no unacknowledged findings (%s)', (_name, get) => {
    const report = new AwsSolutionsChecks().validateScope(get().stack);
    const findings = report.violations.map(
      (v) => `${v.severity} ${v.ruleName} @ ${v.violatingResources[0]?.constructPath}`,
    );
    expect(findings).toEqual([]);
  });

  test('every acknowledgement carries a reason and uses the unprefixed rule id', () => {
    const acks = [...acknowledgements(base.stack), ...acknowledgements(full.stack)];
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
