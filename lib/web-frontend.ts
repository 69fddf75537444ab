import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { CloudFrontAccessLogs } from './cloudfront-access-logs';
import { acknowledgeWildcardFindings } from './nag-acknowledgements';

/**
 * Headers CloudFront passes from the viewer to API Gateway: what the API reads. Not Host: API
 * Gateway routes on its own host name (execute-api), so the viewer's Host (the CloudFront domain)
 * would make it answer 403. Origin, so cross-origin callers (allowedOrigins) get their CORS headers
 * on this path too. x-api-key only when callers bring their own key (API_KEY_HEADER).
 */
export const API_FORWARDED_HEADERS = ['Content-Type', 'Accept', 'Origin'] as const;

/** The header API Gateway reads the usage plan's key from. */
export const API_KEY_HEADER = 'x-api-key';

/**
 * The page's Content-Security-Policy: the same as the local server's (local/server.ts,
 * not imported: the CDK app stays apart from the runtime code). The page loads only its own files
 * and talks only to its own origin, where CloudFront also serves the API.
 */
export const PAGE_CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/**
 * PAGE_CONTENT_SECURITY_POLICY with more origins the page may connect to: deployed, the upload
 * bucket's host, which the page PUTs a large photo to (a presigned URL from POST /uploads).
 */
export function pageContentSecurityPolicy(connectOrigins: readonly string[] = []): string {
  if (connectOrigins.length === 0) return PAGE_CONTENT_SECURITY_POLICY;
  return PAGE_CONTENT_SECURITY_POLICY.replace(
    "connect-src 'self'",
    `connect-src 'self' ${connectOrigins.join(' ')}`,
  );
}

export interface WebFrontendProps {
  /** Folder with classifier.html and its assets (the repo's web/). */
  readonly webDir: string;
  /** The API served on the same origin under `apiPaths`. */
  readonly api: apigateway.RestApi;
  /** Path patterns routed to the API (e.g. /classifier). */
  readonly apiPaths: readonly string[];
  /** The usage plan's key, which API Gateway requires on every non-public route. */
  readonly apiKey: apigateway.IApiKey;
  /**
   * true: callers send the key (CloudFront forwards their x-api-key, and the page reads it from
   * config.json, so anyone who loads the page can read it: it meters, it does not authenticate).
   * false (default): CloudFront adds the key itself on the way to API Gateway; callers need none,
   * and the execute-api URL refuses requests that skip CloudFront.
   */
  readonly callersSendKey?: boolean;
  /** A WAF web ACL (scope CLOUDFRONT, in us-east-1) for the distribution. Default: none. */
  readonly webAclArn?: string;
  /** Standard logging (v2) into an S3 bucket kept this many days. Default: no access logs. */
  readonly accessLogDays?: number;
  /** Origins the page may connect to besides its own (the CSP's connect-src): the upload bucket. Default: none. */
  readonly connectOrigins?: readonly string[];
  /** Page loaded at `/`. Default classifier.html. */
  readonly defaultRootObject?: string;
  /** CloudFront price class. Default PRICE_CLASS_100 (North America and Europe edges). */
  readonly priceClass?: cloudfront.PriceClass;
}

/**
 * The web page: a private bucket behind CloudFront (origin access control) with the API on the same
 * origin, so the page needs no CORS and config.json's apiBaseUrl is "".
 */
export class WebFrontend extends Construct {
  readonly bucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  readonly apiOriginRequestPolicy: cloudfront.OriginRequestPolicy;
  readonly pageHeadersPolicy: cloudfront.ResponseHeadersPolicy;
  readonly accessLogs?: CloudFrontAccessLogs;

  constructor(scope: Construct, id: string, props: WebFrontendProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: s3.BucketEncryption.S3_MANAGED,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });

    const callersSendKey = props.callersSendKey ?? false;
    const forwarded: string[] = [...API_FORWARDED_HEADERS, ...(callersSendKey ? [API_KEY_HEADER] : [])];
    this.apiOriginRequestPolicy = new cloudfront.OriginRequestPolicy(this, 'ApiOriginRequest', {
      comment: `Image recognition API: ${forwarded.join(', ')} and all query strings; not Host`,
      headerBehavior: cloudfront.OriginRequestHeaderBehavior.allowList(...forwarded),
      queryStringBehavior: cloudfront.OriginRequestQueryStringBehavior.all(),
      cookieBehavior: cloudfront.OriginRequestCookieBehavior.none(),
    });
    const keyValue = this.readApiKeyValue(props.apiKey);
    const apiOrigin = new origins.RestApiOrigin(props.api, {
      readTimeout: Duration.seconds(30),
      // The usage plan's key, added on the way in, is what lets a request through API Gateway.
      customHeaders: callersSendKey ? undefined : { [API_KEY_HEADER]: keyValue },
    });
    const apiBehavior: cloudfront.BehaviorOptions = {
      origin: apiOrigin,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      originRequestPolicy: this.apiOriginRequestPolicy,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      compress: true,
    };

    this.pageHeadersPolicy = new cloudfront.ResponseHeadersPolicy(this, 'PageHeaders', {
      comment: 'Image recognition page: CSP as the local server, HSTS, nosniff, no framing',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: pageContentSecurityPolicy(props.connectOrigins),
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: {
          referrerPolicy: cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
          override: true,
        },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
          override: true,
        },
      },
    });

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Image recognition web page and API',
      defaultRootObject: props.defaultRootObject ?? 'classifier.html',
      priceClass: props.priceClass ?? cloudfront.PriceClass.PRICE_CLASS_100,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: this.pageHeadersPolicy,
        compress: true,
      },
      additionalBehaviors: Object.fromEntries(props.apiPaths.map((p) => [p, apiBehavior])),
      webAclId: props.webAclArn,
    });
    if (props.accessLogDays !== undefined) {
      this.accessLogs = new CloudFrontAccessLogs(this, 'AccessLogs', {
        distribution: this.distribution,
        retentionDays: props.accessLogDays,
      });
    }

    const apiKeyValue = callersSendKey ? keyValue : null;
    const deployment = new s3deploy.BucketDeployment(this, 'Deploy', {
      sources: [
        // The page's own files only: not a local config.json (generated below), nor the type-checking
        // inputs (web/tsconfig.json, the generated api-types.d.ts) that the browser never loads.
        s3deploy.Source.asset(props.webDir, { exclude: ['config.json', 'tsconfig.json', '*.d.ts'] }),
        s3deploy.Source.jsonData('config.json', { apiBaseUrl: '', apiKey: apiKeyValue }),
      ],
      destinationBucket: this.bucket,
      // Invalidate on every deploy so the new page and config.json are served at once.
      distribution: this.distribution,
      distributionPaths: ['/*'],
      memoryLimit: 256,
    });

    this.acknowledgeFindings(props.webAclArn, props.accessLogDays !== undefined);
    this.acknowledgeCdkHandlers(deployment);
  }

  /** API Gateway does not return a key's value to CloudFormation: read it once per deploy with GetApiKey. */
  private readApiKeyValue(key: apigateway.IApiKey): string {
    const stack = Stack.of(this);
    const reader = new cr.AwsCustomResource(this, 'ApiKeyValue', {
      onUpdate: {
        service: 'APIGateway',
        action: 'GetApiKey',
        parameters: { apiKey: key.keyId, includeValue: true },
        physicalResourceId: cr.PhysicalResourceId.of(key.keyId),
        outputPaths: ['value'],
      },
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({
          actions: ['apigateway:GET'],
          resources: [`arn:${stack.partition}:apigateway:${stack.region}::/apikeys/${key.keyId}`],
        }),
      ]),
      installLatestAwsSdk: false,
    });
    // AwsCustomResource runs in a stack-level singleton function with the basic execution role.
    if (reader.grantPrincipal instanceof iam.Role) {
      Validations.of(reader.grantPrincipal).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          'CDK-provided AwsCustomResource handler (reads the API key value): logs with the basic execution role.',
      });
    }
    return reader.getResponseField('value');
  }

  private acknowledgeFindings(webAclArn: string | undefined, logsV2: boolean): void {
    const ack = (id: string, reason: string) => {
      Validations.of(this).acknowledge({ id, reason });
    };
    ack(
      'AwsSolutions-S1',
      'Static files of a demo page; CloudFront serves them and its metrics cover access.',
    );
    ack('AwsSolutions-CFR1', 'The page and API are meant to be reachable from every country.');
    if (!webAclArn) {
      ack(
        'AwsSolutions-CFR2',
        "WAF is opt-in (waf=true, a per-address rate rule); without it the usage plan throttle and quota and the function's reserved concurrency cap what a flood can spend.",
      );
    }
    if (logsV2) {
      ack(
        'AwsSolutions-CFR3',
        'Access logs use standard logging v2 (CloudWatch vended-log delivery to an S3 bucket); the rule reads only the legacy Logging property.',
      );
    } else {
      ack('AwsSolutions-CFR3', 'Access logs turned off by the deployer (cloudFrontLogs=false).');
    }
    ack(
      'AwsSolutions-CFR4',
      'The default *.cloudfront.net certificate allows TLSv1 and cannot be changed without a custom domain and certificate.',
    );
  }

  /**
   * BucketDeployment's handler is a singleton at stack level (shared by every deployment in the
   * stack), so its findings are acknowledged on that handler and its role only.
   */
  private acknowledgeCdkHandlers(deployment: s3deploy.BucketDeployment): void {
    Validations.of(deployment.handlerRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'CDK-provided BucketDeployment handler: logs with the basic execution role.',
    });
    acknowledgeWildcardFindings(deployment.handlerRole, [
      {
        finding: /^Action::s3:(GetBucket|GetObject|List)\*$/,
        reason: 'CDK BucketDeployment reads the zipped web assets (grantRead on the CDK asset bucket).',
      },
      {
        finding: /^Action::s3:(DeleteObject|Abort)\*$/,
        reason: 'CDK BucketDeployment syncs the web bucket and prunes files that left web/ (grantReadWrite).',
      },
      {
        finding: /^Resource::arn:[^:]+:s3:::cdk-[a-z0-9]+-assets-[^/]+\/\*$/,
        reason: 'Objects of the CDK bootstrap asset bucket, where the web/ zip is uploaded.',
      },
      { finding: /^Resource::<WebBucket[A-Z0-9]+\.Arn>\/\*$/, reason: 'Objects of the web bucket only.' },
      {
        finding: /^Resource::\*$/,
        reason:
          'cloudfront:CreateInvalidation/GetInvalidation for the invalidation on deploy (CDK grants it on *).',
      },
    ]);
    const stack = Stack.of(this);
    for (const child of stack.node.children) {
      if (child.node.id.startsWith('Custom::CDKBucketDeployment')) {
        Validations.of(child).acknowledge({
          id: 'AwsSolutions-L1',
          reason: 'CDK-provided BucketDeployment handler: aws-cdk-lib pins its Python runtime.',
        });
      }
    }
  }
}
