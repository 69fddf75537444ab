import type { App, Environment } from 'aws-cdk-lib';
import { ImageRecognitionStack } from './image-recognition-stack';
import { deploymentOptionsFromContext } from './options';
import { WEB_ACL_REGION, WebAclStack } from './web-acl-stack';

export interface AppStacks {
  readonly main: ImageRecognitionStack;
  /** Only with context waf=true. */
  readonly webAcl?: WebAclStack;
}

/**
 * The app's stacks from its context: the main stack and, with waf=true, the us-east-1 stack that
 * holds CloudFront's web ACL. bin/app.ts and the tests build the app through here.
 */
export function addAppStacks(
  app: App,
  props: { stackName: string; env: Environment; repoRoot?: string; description?: string },
): AppStacks {
  const options = deploymentOptionsFromContext(app.node);
  let webAcl: WebAclStack | undefined;
  if (options.waf) {
    if (!props.env.region) {
      throw new Error(
        'waf=true needs the stack region (set AWS_REGION or a profile region): the web ACL lives in us-east-1 and is referenced across regions.',
      );
    }
    webAcl = new WebAclStack(app, `${props.stackName}WebAcl`, {
      env: { account: props.env.account, region: WEB_ACL_REGION },
      crossRegionReferences: true,
      rateLimit: options.wafRateLimit,
      description: 'Image recognition: WAF web ACL for the CloudFront distribution (us-east-1)',
    });
  }
  const main = new ImageRecognitionStack(app, props.stackName, {
    ...options,
    repoRoot: props.repoRoot,
    description: props.description,
    env: props.env,
    crossRegionReferences: webAcl !== undefined,
    webAclArn: webAcl?.webAcl.attrArn,
  });
  return { main, webAcl };
}
