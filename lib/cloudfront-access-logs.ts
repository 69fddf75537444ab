import { Duration, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { acknowledgeWildcardFindings } from './nag-acknowledgements';

/**
 * CloudFront's control plane, and so its standard logging (v2) delivery source, lives in us-east-1
 * whatever the stack's region; the delivery calls go there while the bucket stays with the stack.
 */
export const CLOUDFRONT_LOG_REGION = 'us-east-1';

/** Where in the bucket each hour's logs go (CloudWatch vended-log S3 suffix variables). */
export const ACCESS_LOG_SUFFIX = 'cloudfront/{DistributionId}/{yyyy}/{MM}/{dd}/{HH}';

export interface CloudFrontAccessLogsProps {
  readonly distribution: cloudfront.IDistribution;
  /** Days the log objects are kept. */
  readonly retentionDays: number;
}

/**
 * Standard logging (v2) for a distribution: a private bucket (which also takes the upload bucket's
 * S3 server access logs, under s3-uploads/), and the CloudWatch Logs delivery
 * (source, destination, delivery) that writes every viewer request into it as JSON. CloudFormation
 * has the delivery resources only in the region of the stack, and CloudFront's must be made in
 * us-east-1, so they are made by SDK calls there (AwsCustomResource), created and deleted with the stack.
 */
export class CloudFrontAccessLogs extends Construct {
  readonly bucket: s3.Bucket;
  readonly deliverySourceName: string;

  constructor(scope: Construct, id: string, props: CloudFrontAccessLogsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const logsArn = (kind: string, name: string) =>
      `arn:${stack.partition}:logs:${CLOUDFRONT_LOG_REGION}:${stack.account}:${kind}:${name}`;

    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: s3.BucketEncryption.S3_MANAGED,
      lifecycleRules: [{ expiration: Duration.days(props.retentionDays) }],
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket holds access logs itself; logging its own access would log the logging.',
    });

    // 1-60 word characters or hyphens, unique in the account's us-east-1 delivery namespace.
    const name = Names.uniqueResourceName(this, { maxLength: 60, separator: '-' });
    this.deliverySourceName = name;
    const sourceArn = logsArn('delivery-source', name);

    // What the CloudWatch Logs delivery service may write (AWS-logs-infrastructure-V2-S3).
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AWSLogDeliveryWrite',
        principals: [new iam.ServicePrincipal('delivery.logs.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects('*')],
        conditions: {
          StringEquals: { 's3:x-amz-acl': 'bucket-owner-full-control', 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': sourceArn },
        },
      }),
    );
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AWSLogDeliveryAclCheck',
        principals: [new iam.ServicePrincipal('delivery.logs.amazonaws.com')],
        actions: ['s3:GetBucketAcl', 's3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': sourceArn },
        },
      }),
    );

    const call = (
      resourceId: string,
      create: cr.AwsSdkCall,
      remove: cr.AwsSdkCall,
      statements: iam.PolicyStatement[],
    ): cr.AwsCustomResource =>
      new cr.AwsCustomResource(this, resourceId, {
        onCreate: { region: CLOUDFRONT_LOG_REGION, ...create },
        onDelete: { region: CLOUDFRONT_LOG_REGION, ...remove },
        policy: cr.AwsCustomResourcePolicy.fromStatements(statements),
        installLatestAwsSdk: false,
      });

    const source = call(
      'DeliverySource',
      {
        service: 'CloudWatchLogs',
        action: 'PutDeliverySource',
        parameters: { name, resourceArn: props.distribution.distributionArn, logType: 'ACCESS_LOGS' },
        physicalResourceId: cr.PhysicalResourceId.of(name),
      },
      { service: 'CloudWatchLogs', action: 'DeleteDeliverySource', parameters: { name } },
      [
        new iam.PolicyStatement({
          actions: ['logs:PutDeliverySource', 'logs:DeleteDeliverySource', 'logs:GetDeliverySource'],
          resources: [sourceArn],
        }),
        new iam.PolicyStatement({
          actions: ['cloudfront:AllowVendedLogDeliveryForResource'],
          resources: [props.distribution.distributionArn],
        }),
      ],
    );

    const destinationArn = logsArn('delivery-destination', name);
    const destination = call(
      'DeliveryDestination',
      {
        service: 'CloudWatchLogs',
        action: 'PutDeliveryDestination',
        parameters: {
          name,
          outputFormat: 'json',
          deliveryDestinationConfiguration: { destinationResourceArn: this.bucket.bucketArn },
        },
        physicalResourceId: cr.PhysicalResourceId.of(name),
      },
      { service: 'CloudWatchLogs', action: 'DeleteDeliveryDestination', parameters: { name } },
      [
        new iam.PolicyStatement({
          actions: [
            'logs:PutDeliveryDestination',
            'logs:DeleteDeliveryDestination',
            'logs:GetDeliveryDestination',
          ],
          resources: [destinationArn],
        }),
      ],
    );

    const delivery = call(
      'Delivery',
      {
        service: 'CloudWatchLogs',
        action: 'CreateDelivery',
        parameters: {
          deliverySourceName: name,
          deliveryDestinationArn: destinationArn,
          s3DeliveryConfiguration: { suffixPath: ACCESS_LOG_SUFFIX, enableHiveCompatiblePath: false },
        },
        physicalResourceId: cr.PhysicalResourceId.fromResponse('delivery.id'),
      },
      {
        service: 'CloudWatchLogs',
        action: 'DeleteDelivery',
        parameters: { id: new cr.PhysicalResourceIdReference() },
      },
      [
        new iam.PolicyStatement({
          actions: ['logs:CreateDelivery', 'logs:DeleteDelivery', 'logs:GetDelivery'],
          resources: [logsArn('delivery', '*'), sourceArn, destinationArn],
        }),
      ],
    );
    delivery.node.addDependency(source, destination);
    acknowledgeWildcardFindings(delivery, [
      {
        finding: /^Resource::arn:[^:]+:logs:us-east-1:(\d{12}|<AWS::AccountId>):delivery:\*$/,
        reason:
          'The delivery id exists only once CreateDelivery answers; the calls are limited to deliveries in this account in us-east-1.',
      },
    ]);
  }
}
