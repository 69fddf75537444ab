import { Stack, type StackProps } from 'aws-cdk-lib';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import type { Construct } from 'constructs';

/** CloudFront takes web ACLs of scope CLOUDFRONT only, and those exist only in us-east-1. */
export const WEB_ACL_REGION = 'us-east-1';

export interface WebAclStackProps extends StackProps {
  /** Requests one address may make in 5 minutes before it is blocked for a while. */
  readonly rateLimit: number;
}

/** The response body WAF sends a blocked address: the API's error shape (WAF cannot insert a request id). */
export const WAF_THROTTLED_BODY = JSON.stringify({
  statusCode: 429,
  error: 'THROTTLED',
  message: 'Too many requests from this address; retry in a few minutes.',
  requestId: '',
});

/**
 * The optional web ACL (context waf=true) in front of CloudFront, where every request to the page
 * and the API enters, so its per-address rate rule sees the viewer's own address. It lives in its
 * own us-east-1 stack, which the main stack references (crossRegionReferences).
 */
export class WebAclStack extends Stack {
  readonly webAcl: wafv2.CfnWebACL;

  constructor(scope: Construct, id: string, props: WebAclStackProps) {
    super(scope, id, props);
    const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName,
    });
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'CLOUDFRONT',
      description: 'Image recognition: per-address rate limit and AWS IP reputation list',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('ImageRecognitionWebAcl'),
      customResponseBodies: {
        throttled: { contentType: 'APPLICATION_JSON', content: WAF_THROTTLED_BODY },
      },
      rules: [
        {
          name: 'RatePerAddress',
          priority: 0,
          action: { block: { customResponse: { responseCode: 429, customResponseBodyKey: 'throttled' } } },
          statement: {
            rateBasedStatement: { limit: props.rateLimit, aggregateKeyType: 'IP', evaluationWindowSec: 300 },
          },
          visibilityConfig: visibility('RatePerAddress'),
        },
        {
          name: 'AmazonIpReputationList',
          priority: 1,
          overrideAction: { none: {} },
          statement: {
            managedRuleGroupStatement: { vendorName: 'AWS', name: 'AWSManagedRulesAmazonIpReputationList' },
          },
          visibilityConfig: visibility('AmazonIpReputationList'),
        },
      ],
    });
  }
}
