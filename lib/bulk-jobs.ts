import { CfnResource, Duration, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { acknowledgeWildcardFindings } from './nag-acknowledgements';

/** Where the photos of a job go: `input/<folder>/…`; the state machine refuses any other prefix. */
export const BULK_INPUT_PREFIX = 'input/';
/** Where Distributed Map writes each run's results: `results/<execution name>/<map run id>/…`. */
export const BULK_RESULTS_PREFIX = 'results/';
/** Days a run's result files are kept (the lifecycle rule on `results/`). Inputs are never expired. */
export const BULK_RESULTS_RETENTION_DAYS = 30;
/** Where the bulk bucket's server access logs go in the access-log bucket. */
export const BULK_ACCESS_LOG_PREFIX = 's3-bulk/';
/** The Distributed Map's label: its child executions are named `<state machine>/<label>:<id>`. */
export const BULK_MAP_LABEL = 'Photos';

/** Errors of the Lambda service itself (throttling above all): retried with backoff. */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.TooManyRequestsException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
] as const;
/**
 * The function's own transient errors, thrown by the batch handler with these names (errorType):
 * the environment's queue is full, a model is still loading, or the batch ran out of the
 * function's time (typically a cold environment loading its model; another attempt usually lands
 * on a warm one).
 */
export const FUNCTION_TRANSIENT_ERRORS = ['OVERLOADED', 'MODEL_UNAVAILABLE', 'TIMEOUT'] as const;

export interface BulkJobsProps {
  /** The inference function: it gets BULK_BUCKET and BULK_INPUT_PREFIX, and GetObject on input/*. */
  readonly function: lambda.Function;
  /** Its role, which the read grant goes into. */
  readonly role: iam.IRole;
  /** What the map invokes: the `live` alias, like the API. */
  readonly target: lambda.IFunction;
  /** Keys per invocation (ItemBatcher MaxItemsPerBatch). */
  readonly batchSize: number;
  /** Batches in flight at once (MaxConcurrency); below the function's reserved concurrency. */
  readonly maxConcurrency: number;
  /** ToleratedFailurePercentage of the map run. */
  readonly toleratedFailurePercent: number;
  /** Retention of the state machine's log group. */
  readonly logRetention: logs.RetentionDays;
  /** X-Ray tracing on the state machine. */
  readonly tracing: boolean;
  /** Server access logs of the bucket go here, under BULK_ACCESS_LOG_PREFIX. Default: none. */
  readonly accessLogs?: s3.IBucket;
}

/** `value` as a regular expression matching itself. */
const escape = (value: string): string => value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * The S3 objects item reader (ListObjectsV2 over the prefix the execution names), with the grant
 * narrowed: CDK's own reader grants s3:ListBucket on the whole bucket, this one only for
 * s3:prefix under input/ (the state machine refuses other prefixes before it lists anything).
 */
class InputPrefixReader implements sfn.IItemReader {
  private readonly reader: sfn.S3ObjectsItemReader;

  constructor(
    private readonly inputBucket: s3.IBucket,
    prefixPath: string,
  ) {
    this.reader = new sfn.S3ObjectsItemReader({ bucket: inputBucket, prefix: prefixPath });
  }

  get bucket(): s3.IBucket {
    return this.reader.bucket;
  }

  get resource(): string {
    return this.reader.resource;
  }

  render(queryLanguage?: sfn.QueryLanguage): unknown {
    return this.reader.render(queryLanguage);
  }

  providePolicyStatements(): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.inputBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${BULK_INPUT_PREFIX}*`] } },
      }),
    ];
  }

  validateItemReader(): string[] {
    return this.reader.validateItemReader();
  }
}

/**
 * ResultWriterV2 whose grant covers the results prefix only (CDK's covers every object of the
 * bucket): PutObject and the multipart actions the writer uses, and GetObject, as the Step
 * Functions guide's ResultWriter policy has it.
 */
class ResultsPrefixWriter extends sfn.ResultWriterV2 {
  constructor(
    private readonly resultsArn: string,
    props: sfn.ResultWriterV2Props,
  ) {
    super(props);
  }

  override providePolicyStatements(): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
        resources: [this.resultsArn],
      }),
    ];
  }
}

/**
 * Bulk recognition: a job is a key prefix of the bulk bucket. Put photos under
 * `input/<folder>/`, start an execution with `{"prefix": "input/<folder>/", "task": "classify"}`
 * (optional `"options"`), and a Distributed Map lists the prefix (S3 ListObjectsV2), hands the
 * keys to the inference function in batches (`{"BatchInput": {"bucket", "task", "options"},
 * "Items": [ListObjectsV2 entries]}`), and writes every batch's answer under
 * `results/<execution name>/<map run id>/` (manifest.json and the SUCCEEDED / FAILED / PENDING
 * files). Started with the caller's own IAM identity (AWS CLI), not through the API.
 */
export class BulkJobs extends Construct {
  readonly bucket: s3.Bucket;
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: BulkJobsProps) {
    super(scope, id);
    if (!Number.isInteger(props.batchSize) || props.batchSize < 1) {
      throw new Error(`The bulk batch size must be a positive integer, got ${props.batchSize}`);
    }
    if (!Number.isInteger(props.maxConcurrency) || props.maxConcurrency < 1) {
      throw new Error(`The bulk max concurrency must be a positive integer, got ${props.maxConcurrency}`);
    }
    const reserved = props.function.node.defaultChild as lambda.CfnFunction | undefined;
    const reservedConcurrency = Stack.of(this).resolve(reserved?.reservedConcurrentExecutions) as
      number | undefined;
    if (typeof reservedConcurrency === 'number' && props.maxConcurrency >= reservedConcurrency) {
      throw new Error(
        `The bulk max concurrency (${props.maxConcurrency}) must be below the function's reserved concurrency (${reservedConcurrency})`,
      );
    }

    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      encryption: s3.BucketEncryption.S3_MANAGED,
      lifecycleRules: [
        {
          id: 'ExpireResults',
          prefix: BULK_RESULTS_PREFIX,
          expiration: Duration.days(BULK_RESULTS_RETENTION_DAYS),
        },
        // `aws s3 sync` uploads large photos in parts; an interrupted sync leaves parts that bill.
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: props.accessLogs ? BULK_ACCESS_LOG_PREFIX : undefined,
      // The photos and results are the user's: `cdk destroy` leaves the bucket (docs/deploy.md).
      removalPolicy: RemovalPolicy.RETAIN,
    });
    if (!props.accessLogs) {
      Validations.of(this.bucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason:
          'Server access logs go to the access-log bucket, which the deployer turned off (cloudFrontLogs=false); the state machine and function logs record every job.',
      });
    }
    const stack = Stack.of(this);
    const bucketId = stack.resolve((this.bucket.node.defaultChild as CfnResource).logicalId) as string;

    // The function: where the batches' keys live, and read access to the input prefix only.
    props.function.addEnvironment('BULK_BUCKET', this.bucket.bucketName);
    props.function.addEnvironment('BULK_INPUT_PREFIX', BULK_INPUT_PREFIX);
    props.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects(`${BULK_INPUT_PREFIX}*`)],
      }),
    );
    acknowledgeWildcardFindings(props.role, [
      {
        finding: new RegExp(`^Resource::<${escape(bucketId)}\\.Arn>\\/${escape(BULK_INPUT_PREFIX)}\\*$`),
        reason:
          'Bulk jobs: the function reads the photos a batch names, which are the objects the map listed under the input/ prefix; nothing else of the bucket.',
      },
    ]);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      // /aws/vendedlogs/: CloudWatch Logs then needs no resource policy entry per log group.
      logGroupName: `/aws/vendedlogs/states/${Names.uniqueResourceName(this, { maxLength: 200, separator: '-' })}`,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment:
        'Bulk recognition: {"prefix": "input/<folder>/", "task": "classify"|"detect", "options"?: {...}} runs every object under the prefix through the inference function, results under results/<execution name>/',
      definitionBody: sfn.DefinitionBody.fromChainable(this.definition(props)),
      logs: {
        destination: this.logGroup,
        // Every state's events (the child executions' too), without the inputs and outputs: those
        // carry the keys and answers, which the result files hold.
        level: sfn.LogLevel.ALL,
        includeExecutionData: false,
      },
      tracingEnabled: props.tracing,
    });
    this.acknowledgeFindings(props.tracing, bucketId);
  }

  /**
   * Check the input, default the options, then the Distributed Map: list the prefix, batch the
   * keys, invoke the function per batch (EXPRESS child executions), write the results.
   */
  private definition(props: BulkJobsProps): sfn.IChainable {
    const invalidPrefix = new sfn.Fail(this, 'InvalidPrefix', {
      error: 'BulkJob.InvalidPrefix',
      cause: `"prefix" must be a string that starts with "${BULK_INPUT_PREFIX}" (a folder of the bulk bucket, e.g. "${BULK_INPUT_PREFIX}holiday-2026/")`,
    });
    const invalidTask = new sfn.Fail(this, 'InvalidTask', {
      error: 'BulkJob.InvalidTask',
      cause: '"task" must be "classify" or "detect"',
    });

    const recognize = new tasks.LambdaInvoke(this, 'Recognize', {
      comment: 'One batch: the function reads each key under input/ and answers per key',
      lambdaFunction: props.target,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({
        BatchInput: sfn.JsonPath.objectAt('$.BatchInput'),
        Items: sfn.JsonPath.listAt('$.Items'),
      }),
      // Replaced by the explicit retries below (which add throttling to CDK's default set).
      retryOnServiceExceptions: false,
    });
    recognize.addRetry({
      errors: [...LAMBDA_SERVICE_ERRORS],
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 6,
      maxDelay: Duration.seconds(30),
      jitterStrategy: sfn.JitterType.FULL,
    });
    recognize.addRetry({
      errors: [...FUNCTION_TRANSIENT_ERRORS],
      interval: Duration.seconds(1),
      backoffRate: 2,
      maxAttempts: 3,
      maxDelay: Duration.seconds(10),
      jitterStrategy: sfn.JitterType.FULL,
    });

    const map = new sfn.DistributedMap(this, 'Photos', {
      comment: 'Every object under the prefix, in batches, through the inference function',
      label: BULK_MAP_LABEL,
      itemReader: new InputPrefixReader(this.bucket, sfn.JsonPath.stringAt('$.prefix')),
      itemBatcher: new sfn.ItemBatcher({
        maxItemsPerBatch: props.batchSize,
        batchInput: { bucket: this.bucket.bucketName, 'task.$': '$.task', 'options.$': '$.options' },
      }),
      maxConcurrency: props.maxConcurrency,
      toleratedFailurePercentage: props.toleratedFailurePercent,
      // EXPRESS children: a batch is one Lambda call of seconds, and an express child costs a
      // request plus its duration instead of standard state transitions (docs/deploy.md, cost).
      mapExecutionType: sfn.StateMachineType.EXPRESS,
      resultWriterV2: new ResultsPrefixWriter(this.bucket.arnForObjects(`${BULK_RESULTS_PREFIX}*`), {
        bucket: this.bucket,
        prefix: sfn.JsonPath.stringAt('$.resultsPrefix'),
        // One JSON line per batch: the function's answer as it is (a failed batch keeps its input
        // and error, as Distributed Map writes failures).
        writerConfig: new sfn.WriterConfig({
          transformation: sfn.Transformation.COMPACT,
          outputType: sfn.OutputType.JSONL,
        }),
      }),
    });
    map.itemProcessor(recognize);

    // Only what the map needs goes on, and the execution's name becomes the results folder.
    const normalize = new sfn.Pass(this, 'Normalize', {
      comment: 'The job as the map reads it; results go under results/<execution name>/',
      parameters: {
        prefix: sfn.JsonPath.stringAt('$.prefix'),
        task: sfn.JsonPath.stringAt('$.task'),
        options: sfn.JsonPath.objectAt('$.options'),
        resultsPrefix: sfn.JsonPath.format(`${BULK_RESULTS_PREFIX}{}`, sfn.JsonPath.executionName),
      },
    });
    normalize.next(map);
    const noOptions = new sfn.Pass(this, 'DefaultOptions', {
      comment: 'No options: the function applies its own defaults',
      result: sfn.Result.fromObject({}),
      resultPath: '$.options',
    });
    noOptions.next(normalize);

    // Rules are tried in order and the first match wins, so each test only sees values the rules
    // before it let through (a missing or non-string value would make StringMatches fail the run).
    return new sfn.Choice(this, 'CheckJob', {
      comment: 'Refuse a prefix outside input/ and an unknown task before anything is listed',
    })
      .when(sfn.Condition.isNotPresent('$.prefix'), invalidPrefix)
      .when(sfn.Condition.isNotString('$.prefix'), invalidPrefix)
      .when(
        sfn.Condition.not(sfn.Condition.stringMatches('$.prefix', `${BULK_INPUT_PREFIX}*`)),
        invalidPrefix,
      )
      .when(sfn.Condition.isNotPresent('$.task'), invalidTask)
      .when(sfn.Condition.isNotString('$.task'), invalidTask)
      .when(
        sfn.Condition.not(
          sfn.Condition.or(
            sfn.Condition.stringEquals('$.task', 'classify'),
            sfn.Condition.stringEquals('$.task', 'detect'),
          ),
        ),
        invalidTask,
      )
      .when(sfn.Condition.isNotPresent('$.options'), noOptions)
      .when(sfn.Condition.isNull('$.options'), noOptions)
      .otherwise(normalize);
  }

  private acknowledgeFindings(tracing: boolean, bucketId: string): void {
    const smId = Stack.of(this).resolve(
      (this.stateMachine.node.defaultChild as CfnResource).logicalId,
    ) as string;
    acknowledgeWildcardFindings(this.stateMachine, [
      {
        finding: /^Resource::\*$/,
        reason: tracing
          ? 'CloudWatch Logs vended-log delivery (logs:*LogDelivery, DescribeLogGroups, resource policies) and X-Ray (PutTraceSegments, PutTelemetryRecords, sampling rules) have no resource-level permissions; CDK grants them for state machine logging and tracing.'
          : 'CloudWatch Logs vended-log delivery (logs:*LogDelivery, DescribeLogGroups, resource policies) has no resource-level permissions; CDK grants it for state machine logging.',
      },
      {
        finding: new RegExp(`^Resource::<${escape(bucketId)}\\.Arn>\\/${escape(BULK_RESULTS_PREFIX)}\\*$`),
        reason:
          'The Distributed Map result writer puts manifest.json and the result files under results/<execution name>/<map run id>/, keys it chooses itself; results/ only.',
      },
      {
        finding: new RegExp(`^Resource::arn:.*:execution:.*"${escape(smId)}".*:\\*$`),
        reason:
          "Distributed Map runs its batches as child executions of this state machine, named by Step Functions: describe, stop and redrive this state machine's own executions only.",
      },
    ]);
    if (!tracing) {
      Validations.of(this.stateMachine).acknowledge({
        id: 'AwsSolutions-SF2',
        reason: 'X-Ray tracing turned off by the deployer (tracing=false), as on the function and the API.',
      });
    }
  }
}
