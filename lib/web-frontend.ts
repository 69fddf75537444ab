import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { acknowledgeWildcardFindings } from './nag-acknowledgements';

/**
 * Headers CloudFront passes to API Gateway: what the API reads. Not Host: API Gateway routes on its
 * own host name (execute-api), so the viewer's Host (the CloudFront domain) would make it answer 403.
 * Not Origin either: on this path the page is same-origin, so there is nothing for CORS to decide;
 * cross-origin clients call the API Gateway URL, where the preflight is configured (allowedOrigins).
 */
export const API_FORWARDED_HEADERS = ['Content-Type', 'x-api-key', 'Accept'] as const;

/**
 * The page's Content-Security-Policy: the same as the local server's (local/server.ts,
 * not imported: the CDK app stays apart from the runtime code). The page loads only its own files
 * and talks only to its own origin, where CloudFront also serves the API.
 */
export const PAGE_CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

export interface WebFrontendProps {
  /** Folder with classifier.html and its assets (the repo's web/). */
  readonly webDir: string;
  /** The API served on the same origin under `apiPaths`. */
  readonly api: apigateway.RestApi;
  /** Path patterns routed to the API (e.g. /classifier). */
  readonly apiPaths: readonly string[];
  /**
   * API key the page sends (config.json's `apiKey`, read by web/api-client.js). Anyone who loads the page
   * can read it: it meters and throttles through the usage plan, it does not authenticate.
   * Default: none (`"apiKey": null`).
   */
  readonly apiKey?: apigateway.IApiKey;
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

    this.apiOriginRequestPolicy = new cloudfront.OriginRequestPolicy(this, 'ApiOriginRequest', {
      comment: 'Image recognition API: Content-Type, x-api-key, Accept and all query strings; not Host',
      headerBehavior: cloudfront.OriginRequestHeaderBehavior.allowList(...API_FORWARDED_HEADERS),
      queryStringBehavior: cloudfront.OriginRequestQueryStringBehavior.all(),
      cookieBehavior: cloudfront.OriginRequestCookieBehavior.none(),
    });
    const apiOrigin = new origins.RestApiOrigin(props.api, { readTimeout: Duration.seconds(30) });
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
        contentSecurityPolicy: { contentSecurityPolicy: PAGE_CONTENT_SECURITY_POLICY, override: true },
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
    });

    const apiKeyValue = props.apiKey ? this.readApiKeyValue(props.apiKey) : null;
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

    this.acknowledgeFindings();
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

  private acknowledgeFindings(): void {
    const ack = (id: string, reason: string) => {
      Validations.of(this).acknowledge({ id, reason });
    };
    ack(
      'AwsSolutions-S1',
      'Static files of a demo page; CloudFront serves them and its metrics cover access.',
    );
    ack('AwsSolutions-CFR1', 'The page and API are meant to be reachable from every country.');
    ack('AwsSolutions-CFR2', 'No WAF by default (cost); API Gateway throttling protects the backend.');
    ack(
      'AwsSolutions-CFR3',
      'No standard logs: they need an ACL-enabled bucket; API Gateway access logs cover the API.',
    );
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
