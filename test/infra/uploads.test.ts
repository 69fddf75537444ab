import { S3Client } from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { S3UploadStore } from '../../lambda/src/adapters/s3-upload-store';
import { PAGE_CONTENT_SECURITY_POLICY } from '../../lib/web-frontend';
import { uploadBucketHost, uploadBucketName } from '../../lib/upload-bucket';
import { resourcesOf, synth, type Synthesized, PRIVATE_BUCKET } from './synth';

jest.setTimeout(300_000);

let base: Synthesized;
let noUploads: Synthesized;
/** allowedOrigins set and no CloudFront logs (so no access-log bucket to log into). */
let other: Synthesized;

beforeAll(() => {
  base = synth();
  noUploads = synth({ uploads: 'false' });
  other = synth({ allowedOrigins: 'https://app.example.org', cloudFrontLogs: 'false' });
});

type Statement = {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Principal?: unknown;
  Condition?: unknown;
};

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';

/** [logicalId, properties] of the upload bucket, which must be there exactly once. */
function uploadBucket(s: Synthesized): [string, Record<string, unknown>] {
  const found = resourcesOf(s.template, 'AWS::S3::Bucket').filter(([id]) => id.startsWith('UploadsBucket'));
  expect(found).toHaveLength(1);
  return found[0]!;
}

function functionOf(s: Synthesized) {
  const fns = resourcesOf(s.template, 'AWS::Lambda::Function').filter(([, p]) => p.PackageType === 'Image');
  expect(fns).toHaveLength(1);
  return fns[0]![1] as {
    Environment: { Variables: Record<string, unknown> };
    Role: { 'Fn::GetAtt': [string] };
  };
}

function functionStatements(s: Synthesized): Statement[] {
  const roleId = functionOf(s).Role['Fn::GetAtt'][0];
  return resourcesOf(s.template, 'AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Roles).includes(roleId))
    .flatMap(([, p]) => (p.PolicyDocument as { Statement: Statement[] }).Statement);
}

function pageCsp(s: Synthesized): unknown {
  const [[, policy]] = resourcesOf(s.template, 'AWS::CloudFront::ResponseHeadersPolicy') as [
    [
      string,
      {
        ResponseHeadersPolicyConfig: {
          SecurityHeadersConfig: { ContentSecurityPolicy: { ContentSecurityPolicy: unknown } };
        };
      },
    ],
  ];
  return policy.ResponseHeadersPolicyConfig.SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy;
}

describe('upload bucket', () => {
  test('is private: all public access blocked, bucket owner enforced, SSE-S3, TLS only', () => {
    const [id, bucket] = uploadBucket(base);
    expect(bucket).toMatchObject(PRIVATE_BUCKET);
    const [[, policy]] = resourcesOf(base.template, 'AWS::S3::BucketPolicy').filter(
      ([, p]) => JSON.stringify(p.Bucket) === JSON.stringify({ Ref: id }),
    ) as [[string, { PolicyDocument: { Statement: Statement[] } }]];
    expect(policy.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 's3:*',
        Principal: { AWS: '*' },
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    // Nobody is allowed in through the bucket policy but CDK's own emptying on `cdk destroy`.
    const allowed = policy.PolicyDocument.Statement.filter((st) => st.Effect === 'Allow');
    expect(allowed).toHaveLength(1);
    expect(JSON.stringify(allowed[0]!.Principal)).toMatch(
      /CustomS3AutoDeleteObjectsCustomResourceProviderRole/,
    );
  });

  test('deletes what is under uploads/ a day after it was put, and aborts multipart uploads left after a day', () => {
    const [, bucket] = uploadBucket(base);
    expect(bucket.LifecycleConfiguration).toEqual({
      Rules: [
        {
          Id: 'DeleteUploadsAfterADay',
          Prefix: 'uploads/',
          ExpirationInDays: 1,
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          Status: 'Enabled',
        },
      ],
    });
  });

  test('CORS lets only the CloudFront site (and allowedOrigins) PUT, with the two headers the signature binds', () => {
    const site = {
      'Fn::Join': [
        '',
        ['https://', { 'Fn::GetAtt': [expect.stringMatching(/^WebDistribution/), 'DomainName'] }],
      ],
    };
    const rule = {
      AllowedMethods: ['PUT'],
      AllowedHeaders: ['Content-Type', 'Content-Length'],
      MaxAge: 3000,
    };
    expect(uploadBucket(base)[1].CorsConfiguration).toEqual({
      CorsRules: [{ ...rule, AllowedOrigins: [site] }],
    });
    expect(uploadBucket(other)[1].CorsConfiguration).toEqual({
      CorsRules: [{ ...rule, AllowedOrigins: [site, 'https://app.example.org'] }],
    });
  });

  test('has a name fixed at synth, which the function, its grants and the page CSP use instead of a reference', () => {
    const stack = base.stack;
    const name = uploadBucketName(stack);
    expect(name).toMatch(new RegExp(`^imagerecognition-uploads-[0-9a-f]{6}-${ACCOUNT}-${REGION}$`));
    expect(uploadBucket(base)[1].BucketName).toBe(name);
    // The function refers to the bucket by name only: a Ref would close the cycle
    // bucket (CORS) -> distribution -> API -> function -> bucket.
    const [bucketId] = uploadBucket(base);
    expect(JSON.stringify(functionOf(base))).not.toContain(bucketId);
    expect(JSON.stringify(functionStatements(base))).not.toContain(bucketId);
    expect(JSON.stringify(uploadBucket(base)[1].CorsConfiguration)).toMatch(/WebDistribution/);
  });

  test('server access logs go to the access-log bucket under s3-uploads/, which lets only S3 logging for this bucket write there', () => {
    const [id, bucket] = uploadBucket(base);
    expect(bucket.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: expect.stringMatching(/^WebAccessLogsBucket/) },
      LogFilePrefix: 's3-uploads/',
    });
    const logPolicy = resourcesOf(base.template, 'AWS::S3::BucketPolicy').find(([pid]) =>
      pid.startsWith('WebAccessLogsBucketPolicy'),
    )![1] as { PolicyDocument: { Statement: Statement[] } };
    expect(logPolicy.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Action: 's3:PutObject',
        Principal: { Service: 'logging.s3.amazonaws.com' },
        Condition: expect.objectContaining({ ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [id, 'Arn'] } } }),
      }),
    );
    // Without CloudFront logs there is no log bucket: no logging, and cdk-nag's S1 acknowledged with why.
    expect(uploadBucket(other)[1].LoggingConfiguration).toBeUndefined();
    const reasons = other.stack
      .uploads!.bucket.node.metadata.filter((m) => JSON.stringify(m.data).includes('AwsSolutions-S1'))
      .map((m) => JSON.stringify(m.data));
    expect(reasons.join()).toMatch(/cloudFrontLogs=false/);
    expect(
      base.stack.uploads!.bucket.node.metadata.some((m) =>
        JSON.stringify(m.data).includes('AwsSolutions-S1'),
      ),
    ).toBe(false);
  });
});

describe('function', () => {
  test('is told the bucket, the prefix and the largest upload', () => {
    expect(functionOf(base).Environment.Variables).toMatchObject({
      UPLOAD_BUCKET: uploadBucketName(base.stack),
      UPLOAD_PREFIX: 'uploads',
      MAX_UPLOAD_BYTES: '25000000',
    });
    // The real S3 endpoint: no S3-compatible server in AWS.
    expect(functionOf(base).Environment.Variables.UPLOAD_S3_ENDPOINT).toBeUndefined();
  });

  test('may put and get objects under uploads/ and list only that prefix: nothing else of the bucket', () => {
    const name = uploadBucketName(base.stack);
    expect(functionStatements(base)).toEqual([
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^InferenceLogs/), 'Arn'] },
      },
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject'],
        Resource: `arn:aws:s3:::${name}/uploads/*`,
      },
      {
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: `arn:aws:s3:::${name}`,
        Condition: { StringLike: { 's3:prefix': ['uploads/*'] } },
      },
      { Effect: 'Allow', Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], Resource: '*' },
    ]);
    // No other role of the stack is granted anything on the upload bucket.
    const others = resourcesOf(base.template, 'AWS::IAM::Policy')
      .filter(([, p]) => !JSON.stringify(p.Roles).includes(functionOf(base).Role['Fn::GetAtt'][0]))
      .filter(([, p]) => JSON.stringify(p.PolicyDocument).includes(name));
    expect(others).toEqual([]);
  });

  test('the page may connect to the host the function presigns for, and to nothing else new', () => {
    const name = uploadBucketName(base.stack);
    const host = uploadBucketHost(base.stack, name);
    expect(host).toBe(`${name}.s3.${REGION}.amazonaws.com`);
    expect(pageCsp(base)).toBe(
      PAGE_CONTENT_SECURITY_POLICY.replace("connect-src 'self'", `connect-src 'self' https://${host}`),
    );
  });

  test('the host in the page CSP is the one the SDK presigns a PUT for in that region', async () => {
    const name = uploadBucketName(base.stack);
    const client = new S3Client({
      region: REGION,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    const store = new S3UploadStore(
      { bucket: name, prefix: 'uploads', endpoint: null, maxBytes: 25_000_000, urlTtlSeconds: 300 },
      { timeoutMs: 1000, connectTimeoutMs: 1000, client },
    );
    const ticket = await store.createUpload({ contentType: 'image/jpeg', size: 1000 });
    client.destroy();
    expect(new URL(ticket.url).origin).toBe(`https://${uploadBucketHost(base.stack, name)}`);
  });
});

describe('uploads=false', () => {
  test('leaves out the bucket, the variables, the grants, the CSP origin and the output', () => {
    expect(
      resourcesOf(noUploads.template, 'AWS::S3::Bucket').filter(([id]) => id.startsWith('Uploads')),
    ).toEqual([]);
    expect(noUploads.stack.uploads).toBeUndefined();
    const env = functionOf(noUploads).Environment.Variables;
    expect(Object.keys(env).filter((k) => /UPLOAD/.test(k))).toEqual([]);
    expect(functionStatements(noUploads).flatMap((st) => [st.Action].flat())).not.toContainEqual(
      expect.stringMatching(/^s3:/),
    );
    expect(pageCsp(noUploads)).toBe(PAGE_CONTENT_SECURITY_POLICY);
    expect(Object.keys(noUploads.template.toJSON().Outputs as object)).not.toContain('UploadBucketName');
    expect(Object.keys(base.template.toJSON().Outputs as object)).toContain('UploadBucketName');
  });
});

describe('bucket names', () => {
  test('are valid S3 names of at most 63 characters whatever the stack name, and differ for stacks that differ only in case', () => {
    const app = new App();
    const names = [
      'ImageRecognition',
      'image-recognition',
      'A'.repeat(120),
      'Prod-2--EU',
      'imagerecognition',
    ].map((stackName) =>
      uploadBucketName(
        new Stack(app, `S${stackName.length}${stackName}`, {
          stackName,
          env: { account: ACCOUNT, region: 'ap-southeast-4' },
        }),
      ),
    );
    for (const name of names) {
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(/^[a-z0-9][a-z0-9-]*[a-z0-9]$/);
      expect(name).not.toContain('--');
    }
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('cdk-nag (AwsSolutions)', () => {
  test.each([
    ['default', () => base.stack],
    ['uploads=false', () => noUploads.stack],
    ['allowedOrigins, no CloudFront logs', () => other.stack],
  ])('reports no unacknowledged findings (%s)', (_name, get) => {
    const report = new AwsSolutionsChecks().validateScope(get());
    const findings = report.violations.map(
      (v) => `${v.severity} ${v.ruleName} @ ${v.violatingResources[0]?.constructPath}`,
    );
    expect(findings).toEqual([]);
  });
});
