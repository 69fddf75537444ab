import { Aspects, CfnResource, type IAspect, Validations } from 'aws-cdk-lib';
import { rules } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** One expected kind of wildcard finding (`Action::s3:List*`, `Resource::<Bucket.Arn>/*`, ...) and why it is fine. */
export interface WildcardReason {
  readonly finding: RegExp;
  readonly reason: string;
}

/**
 * Acknowledges AwsSolutions-IAM5 findings on the policies under `scope`, one finding at a time, each
 * with the reason of the first matching entry. A finding that matches no entry stays an error, so a
 * new wildcard still fails the synth.
 *
 * Needed for CDK-generated policies whose findings contain values known only at synth time (the
 * bootstrap asset bucket's name carries the region), so the ids cannot be written out by hand.
 * It runs as an aspect, i.e. during synthesis, before the cdk-nag validation.
 */
export function acknowledgeWildcardFindings(scope: IConstruct, reasons: readonly WildcardReason[]): void {
  const aspect: IAspect = {
    visit(node: IConstruct): void {
      if (!CfnResource.isCfnResource(node) || node.cfnResourceType !== 'AWS::IAM::Policy') return;
      const findings = rules.iam.IAMNoWildcardPermissions(node);
      if (!Array.isArray(findings)) return;
      for (const finding of findings) {
        const match = reasons.find((r) => r.finding.test(finding));
        if (match)
          Validations.of(node).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason: match.reason });
      }
    },
  };
  Aspects.of(scope).add(aspect);
}
