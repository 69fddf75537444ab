import { App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import {
  BULK_INPUT_PREFIX,
  BULK_MAP_LABEL,
  FUNCTION_TRANSIENT_ERRORS,
  LAMBDA_SERVICE_ERRORS,
} from '../../lib/bulk-jobs';
import { bulkMaxConcurrency, deploymentOptionsFromContext } from '../../lib/options';
import {
  CDK_JSON_CONTEXT,
  resourcesOf,
  synth,
  type Synthesized,
  PRIVATE_BUCKET,
  nagAcknowledgements,
} from './synth';

jest.setTimeout(300_000);

/** Default settings: reserved concurrency 10, tracing, CloudFront (and so S3 access) logs. */
let bulk: Synthesized;
/** Every bulk setting and the reserved concurrency at non-default values. */
let tuned: Synthesized;
/** No reserved concurrency, no tracing, no access-log bucket. */
let open: Synthesized;
/** bulk off (the default). */
let base: Synthesized;

beforeAll(() => {
  base = synth();
  bulk = synth({ bulk: 'true' });
  tuned = synth({
    bulk: 'true',
    maxConcurrency: '12',
    bulkBatchSize: '8',
    bulkMaxConcurrency: '5',
    bulkToleratedFailurePercent: '10',
    logRetentionDays: '7',
  });
  open = synth({ bulk: 'true', maxConcurrency: 'none', tracing: 'false', cloudFrontLogs: 'false' });
});

type Json = Record<string, unknown>;
type Statement = {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
  Principal?: unknown;
};
type ChoiceRule = Json & { Next?: string };
type State = Json & { Type: string; Next?: string; End?: boolean };

const optionsFor = (context: Record<string, unknown>) =>
  deploymentOptionsFromContext(new App({ context: { ...CDK_JSON_CONTEXT, ...context } }).node);

function single(s: Synthesized, type: string, prefix: string): [string, Json] {
  const found = resourcesOf(s.template, type).filter(([id]) => id.startsWith(prefix));
  expect(found).toHaveLength(1);
  return found[0]!;
}

const bucketOf = (s: Synthesized) => single(s, 'AWS::S3::Bucket', 'BulkJobsBucket');
const stateMachineOf = (s: Synthesized) => single(s, 'AWS::StepFunctions::StateMachine', 'BulkJobs');

/**
 * The state machine's definition as JSON: the template's Fn::Join with each reference written as
 * `${LogicalId}`, `${LogicalId.Attribute}` or `${AWS::Partition}`.
 */
function definitionOf(s: Synthesized): { StartAt: string; States: Record<string, State> } {
  const [, sm] = stateMachineOf(s);
  const [, parts] = (sm.DefinitionString as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  const text = parts
    .map((p) => {
      if (typeof p === 'string') return p;
      const ref = p as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
      if (ref.Ref) return `\${${ref.Ref}}`;
      if (ref['Fn::GetAtt']) return `\${${ref['Fn::GetAtt'].join('.')}}`;
      throw new Error(`Unexpected token in the definition: ${JSON.stringify(p)}`);
    })
    .join('');
  return JSON.parse(text) as { StartAt: string; States: Record<string, State> };
}

/** [state name, state] of the one Map state. */
function mapEntryOf(s: Synthesized): [string, State] {
  const maps = Object.entries(definitionOf(s).States).filter(([, st]) => st.Type === 'Map');
  expect(maps).toHaveLength(1);
  return maps[0]!;
}

const mapOf = (s: Synthesized): State => mapEntryOf(s)[1];

/** [state name, state] of the one state that leads into the map. */
function beforeMapOf(s: Synthesized): [string, State] {
  const [mapName] = mapEntryOf(s);
  const before = Object.entries(definitionOf(s).States).filter(([, st]) => st.Next === mapName);
  expect(before).toHaveLength(1);
  return before[0]!;
}

function taskOf(s: Synthesized): State & { Resource: string; Parameters: Json; Retry: Json[] } {
  const processor = mapOf(s).ItemProcessor as { StartAt: string; States: Record<string, State> };
  expect(Object.keys(processor.States)).toEqual([processor.StartAt]);
  return processor.States[processor.StartAt] as State & {
    Resource: string;
    Parameters: Json;
    Retry: Json[];
  };
}

function functionOf(s: Synthesized) {
  const fns = resourcesOf(s.template, 'AWS::Lambda::Function').filter(([, p]) => p.PackageType === 'Image');
  expect(fns).toHaveLength(1);
  return fns[0]![1] as {
    Environment: { Variables: Record<string, unknown> };
    Role: { 'Fn::GetAtt': [string, string] };
  };
}

/** Every statement of the IAM policies attached to the role with this logical id. */
function statementsOfRole(s: Synthesized, roleId: string): Statement[] {
  return resourcesOf(s.template, 'AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap(([, p]) => (p.PolicyDocument as { Statement: Statement[] }).Statement);
}

const stateMachineRoleId = (s: Synthesized) =>
  (stateMachineOf(s)[1].RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

const objectsUnder = (bucketId: string, prefix: string) => ({
  'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, `/${prefix}*`]],
});

const aliasId = (s: Synthesized) => single(s, 'AWS::Lambda::Alias', 'InferenceLive')[0];

/**
 * Enough of a Choice state's JSONPath rules to run the guard on sample inputs: `$.field`
 * variables and the operators the guard uses. Rules are tried in order; the first match wins.
 */
function choose(state: State, input: Json): string {
  const get = (path: string) => {
    expect(path).toMatch(/^\$\.[A-Za-z]+$/);
    const key = path.slice(2);
    return { present: key in input, value: input[key] };
  };
  const glob = (pattern: string) =>
    new RegExp(
      `^${pattern
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
        .join('.*')}$`,
    );
  const test = (rule: Json): boolean => {
    if (rule.Not) return !test(rule.Not as Json);
    if (rule.Or) return (rule.Or as Json[]).some(test);
    if (rule.And) return (rule.And as Json[]).every(test);
    const { present, value } = get(rule.Variable as string);
    if ('IsPresent' in rule) return present === rule.IsPresent;
    // Any other test of a missing field is a States.Runtime error: the guard must never get there.
    if (!present) throw new Error(`States.Runtime: ${String(rule.Variable)} is missing`);
    if ('IsString' in rule) return (typeof value === 'string') === rule.IsString;
    if ('IsNull' in rule) return (value === null) === rule.IsNull;
    if (typeof value !== 'string') throw new Error(`States.Runtime: ${String(rule.Variable)} is no string`);
    if ('StringMatches' in rule) return glob(rule.StringMatches as string).test(value);
    if ('StringEquals' in rule) return value === rule.StringEquals;
    throw new Error(`Operator not simulated: ${JSON.stringify(rule)}`);
  };
  const hit = (state.Choices as ChoiceRule[]).find(test);
  return hit?.Next ?? (state.Default as string);
}

describe('bulk=true: the state machine', () => {
  test('is a STANDARD state machine that logs ALL events (without data) to its own log group and is traced', () => {
    const [, sm] = stateMachineOf(bulk);
    expect(sm.StateMachineType).toBe('STANDARD');
    const [logsId, logGroup] = single(bulk, 'AWS::Logs::LogGroup', 'BulkJobsLogs');
    expect(sm.LoggingConfiguration).toEqual({
      Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logsId, 'Arn'] } } }],
      IncludeExecutionData: false,
      Level: 'ALL',
    });
    expect(logGroup.RetentionInDays).toBe(30);
    expect(logGroup.LogGroupName).toMatch(/^\/aws\/vendedlogs\/states\//);
    expect(single(tuned, 'AWS::Logs::LogGroup', 'BulkJobsLogs')[1].RetentionInDays).toBe(7);
    expect(sm.TracingConfiguration).toEqual({ Enabled: true });
    expect(stateMachineOf(open)[1].TracingConfiguration).toEqual({ Enabled: false });
  });

  test('runs a DISTRIBUTED map with EXPRESS children over S3 ListObjectsV2 of the prefix the execution names', () => {
    const [bucketId] = bucketOf(bulk);
    const map = mapOf(bulk);
    expect(map.ItemProcessor).toMatchObject({
      ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'EXPRESS' },
    });
    expect(map.ItemReader).toEqual({
      Resource: 'arn:${AWS::Partition}:states:::s3:listObjectsV2',
      Parameters: { Bucket: `\${${bucketId}}`, 'Prefix.$': '$.prefix' },
    });
    expect(map.Label).toBe(BULK_MAP_LABEL);
  });

  test('batches 16 keys per invocation with the bucket, task and options as batch input; bulkBatchSize changes it', () => {
    const [bucketId] = bucketOf(bulk);
    expect(mapOf(bulk).ItemBatcher).toEqual({
      MaxItemsPerBatch: 16,
      BatchInput: { bucket: `\${${bucketId}}`, 'task.$': '$.task', 'options.$': '$.options' },
    });
    expect((mapOf(tuned).ItemBatcher as Json).MaxItemsPerBatch).toBe(8);
  });

  test('writes each run under results/<execution name>/ in the bulk bucket (ResultWriter, JSON Lines of the answers)', () => {
    const [bucketId] = bucketOf(bulk);
    expect(mapOf(bulk).ResultWriter).toEqual({
      Resource: 'arn:${AWS::Partition}:states:::s3:putObject',
      Parameters: { Bucket: `\${${bucketId}}`, 'Prefix.$': '$.resultsPrefix' },
      WriterConfig: { OutputType: 'JSONL', Transformation: 'COMPACT' },
    });
    const [, normalize] = beforeMapOf(bulk);
    expect(normalize).toMatchObject({
      Type: 'Pass',
      Parameters: {
        'prefix.$': '$.prefix',
        'task.$': '$.task',
        'options.$': '$.options',
        'resultsPrefix.$': "States.Format('results/{}', $$.Execution.Name)",
      },
    });
  });

  test('MaxConcurrency is min(20, maxConcurrency - 1) by default and bulkMaxConcurrency when given; 5 % of failures are tolerated by default', () => {
    expect(mapOf(bulk)).toMatchObject({ MaxConcurrency: 9, ToleratedFailurePercentage: 5 });
    expect(mapOf(tuned)).toMatchObject({ MaxConcurrency: 5, ToleratedFailurePercentage: 10 });
    // maxConcurrency=none: the account's pool, and 20 batches at once.
    expect(mapOf(open)).toMatchObject({ MaxConcurrency: 20 });
    expect(optionsFor({ bulk: 'true', maxConcurrency: '12' }).bulk?.maxConcurrency).toBe(11);
    expect(optionsFor({ bulk: 'true', maxConcurrency: '100' }).bulk?.maxConcurrency).toBe(20);
    expect(optionsFor({ bulk: 'true', maxConcurrency: '100', bulkMaxConcurrency: '99' }).bulk).toEqual({
      batchSize: 16,
      maxConcurrency: 99,
      toleratedFailurePercent: 5,
    });
    expect(
      optionsFor({ bulk: 'true', maxConcurrency: 'none', bulkMaxConcurrency: '500' }).bulk?.maxConcurrency,
    ).toBe(500);
    expect(bulkMaxConcurrency(undefined, 2)).toBe(1);
  });

  test('invokes the live alias (as the API does) with the batch, its response as the result, and retries throttling and the function’s transient errors with jittered backoff', () => {
    const task = taskOf(bulk);
    expect(task.Type).toBe('Task');
    expect(task.Resource).toBe(`\${${aliasId(bulk)}}`);
    expect(task.Parameters).toEqual({ 'BatchInput.$': '$.BatchInput', 'Items.$': '$.Items' });
    expect(task.Retry).toEqual([
      {
        ErrorEquals: [...LAMBDA_SERVICE_ERRORS],
        IntervalSeconds: 2,
        MaxAttempts: 6,
        BackoffRate: 2,
        MaxDelaySeconds: 30,
        JitterStrategy: 'FULL',
      },
      {
        ErrorEquals: [...FUNCTION_TRANSIENT_ERRORS],
        IntervalSeconds: 1,
        MaxAttempts: 3,
        BackoffRate: 2,
        MaxDelaySeconds: 10,
        JitterStrategy: 'FULL',
      },
    ]);
    expect(task.Retry[0]!.ErrorEquals).toContain('Lambda.TooManyRequestsException');
    expect(FUNCTION_TRANSIENT_ERRORS).toEqual(['OVERLOADED', 'MODEL_UNAVAILABLE', 'TIMEOUT']);
  });

  test('refuses a prefix outside input/ and an unknown task before anything is listed, and defaults missing options to {}', () => {
    const def = definitionOf(bulk);
    const guard = def.States[def.StartAt]!;
    expect(guard.Type).toBe('Choice');
    const failOf = (name: string) => {
      const st = def.States[name]!;
      return st.Type === 'Fail' ? (st.Error as string) : name;
    };
    const route = (input: Json) => failOf(choose(guard, input));
    const [mapName] = mapEntryOf(bulk);
    const [normalize] = beforeMapOf(bulk);
    expect(choose(guard, { prefix: 'input/a/', task: 'classify', options: { topK: 3 } })).toBe(normalize);
    expect(def.States[normalize]!.Next).toBe(mapName);
    for (const prefix of ['uploads/x/', 'results/', '/input/a/', 'Input/a/', '', 'inputs/a/']) {
      expect({ prefix, to: route({ prefix, task: 'classify' }) }).toEqual({
        prefix,
        to: 'BulkJob.InvalidPrefix',
      });
    }
    expect(route({ task: 'classify' })).toBe('BulkJob.InvalidPrefix');
    expect(route({ prefix: 7, task: 'classify' })).toBe('BulkJob.InvalidPrefix');
    expect(route({ prefix: null, task: 'classify' })).toBe('BulkJob.InvalidPrefix');
    expect(route({ prefix: 'input/a/' })).toBe('BulkJob.InvalidTask');
    expect(route({ prefix: 'input/a/', task: 'segment' })).toBe('BulkJob.InvalidTask');
    expect(route({ prefix: 'input/a/', task: 3 })).toBe('BulkJob.InvalidTask');
    expect(def.States.InvalidPrefix).toMatchObject({
      Type: 'Fail',
      Error: 'BulkJob.InvalidPrefix',
      Cause: expect.stringContaining(`starts with "${BULK_INPUT_PREFIX}"`),
    });
    // Without options (or with null), a Pass state puts {} there before the map reads $.options.
    for (const input of [
      { prefix: 'input/a/', task: 'detect' },
      { prefix: 'input/', task: 'classify', options: null },
    ]) {
      const next = choose(guard, input);
      expect(def.States[next]).toMatchObject({ Type: 'Pass', Result: {}, ResultPath: '$.options' });
      expect(def.States[next]!.Next).toBe(normalize);
    }
  });
});

describe('bulk=true: the bucket', () => {
  test('is private (all public access blocked, bucket owner enforced, SSE-S3, TLS only), kept on destroy, and expires results/ after 30 days', () => {
    const [id, bucket] = bucketOf(bulk);
    expect(bucket).toMatchObject(PRIVATE_BUCKET);
    expect(bucket.LifecycleConfiguration).toEqual({
      Rules: [
        { Id: 'ExpireResults', Prefix: 'results/', ExpirationInDays: 30, Status: 'Enabled' },
        {
          Id: 'AbortIncompleteUploads',
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          Status: 'Enabled',
        },
      ],
    });
    expect((bulk.template.toJSON().Resources as Record<string, Json>)[id]).toMatchObject({
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    const [[, policy]] = resourcesOf(bulk.template, 'AWS::S3::BucketPolicy').filter(
      ([, p]) => JSON.stringify(p.Bucket) === JSON.stringify({ Ref: id }),
    ) as [[string, { PolicyDocument: { Statement: Statement[] } }]];
    // TLS only, and nobody allowed in through the bucket policy: the grants are IAM statements.
    expect(policy.PolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Effect: 'Deny',
        Action: 's3:*',
        Principal: { AWS: '*' },
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    ]);
  });

  test('logs its server access into the access-log bucket under s3-bulk/, and without that bucket says why not', () => {
    expect(bucketOf(bulk)[1].LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: expect.stringMatching(/^WebAccessLogsBucket/) },
      LogFilePrefix: 's3-bulk/',
    });
    expect(bucketOf(open)[1].LoggingConfiguration).toBeUndefined();
    const reasons = open.stack
      .bulk!.bucket.node.metadata.filter((m) => JSON.stringify(m.data).includes('AwsSolutions-S1'))
      .map((m) => JSON.stringify(m.data));
    expect(reasons.join()).toMatch(/cloudFrontLogs=false/);
  });
});

describe('bulk=true: the function', () => {
  test('is told the bucket and the input prefix', () => {
    const [bucketId] = bucketOf(bulk);
    expect(functionOf(bulk).Environment.Variables).toMatchObject({
      BULK_BUCKET: { Ref: bucketId },
      BULK_INPUT_PREFIX: 'input/',
    });
  });

  test('may read objects under input/ and nothing else of the bulk bucket', () => {
    const [bucketId] = bucketOf(bulk);
    const roleId = functionOf(bulk).Role['Fn::GetAtt'][0];
    const onBucket = statementsOfRole(bulk, roleId).filter((st) => JSON.stringify(st).includes(bucketId));
    expect(onBucket).toEqual([
      { Effect: 'Allow', Action: 's3:GetObject', Resource: objectsUnder(bucketId, 'input/') },
    ]);
  });
});

describe('bulk=true: least privilege of the state machine', () => {
  test('lists only under input/, writes only under results/, invokes only the live alias, and runs only its own child executions', () => {
    const [bucketId] = bucketOf(bulk);
    const [smId] = stateMachineOf(bulk);
    const ownExecutions = (suffix: string) => ({
      'Fn::Join': [
        '',
        [
          'arn:aws:states:eu-west-1:123456789012:execution:',
          { 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: smId }] }] },
          suffix,
        ],
      ],
    });
    const statements = statementsOfRole(bulk, stateMachineRoleId(bulk));
    expect(statements).toEqual(
      expect.arrayContaining([
        {
          Effect: 'Allow',
          Action: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:PutObject'],
          Resource: objectsUnder(bucketId, 'results/'),
        },
        {
          Effect: 'Allow',
          Action: 's3:ListBucket',
          Resource: { 'Fn::GetAtt': [bucketId, 'Arn'] },
          Condition: { StringLike: { 's3:prefix': ['input/*'] } },
        },
        { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { Ref: aliasId(bulk) } },
        { Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: smId } },
        {
          Effect: 'Allow',
          Action: ['states:DescribeExecution', 'states:StopExecution'],
          Resource: ownExecutions(':*'),
        },
        {
          Effect: 'Allow',
          Action: 'states:RedriveExecution',
          Resource: ownExecutions(`/${BULK_MAP_LABEL}:*`),
        },
      ]),
    );
    // Nothing more on S3 than those two statements, and no s3:* or */* anywhere.
    const s3 = statements.filter((st) => [st.Action].flat().some((a) => a.startsWith('s3:')));
    expect(s3).toHaveLength(2);
    for (const st of statements) {
      const actions = [st.Action].flat();
      expect(actions.filter((a) => a === '*' || a.endsWith(':*'))).toEqual([]);
      // Only what has no resource-level permissions goes on `*`: log delivery and X-Ray.
      if ([st.Resource].flat().includes('*')) {
        expect(
          actions.filter(
            (a) =>
              !/^(logs:[A-Za-z]*(LogDelivery|LogDeliveries|ResourcePolicy|ResourcePolicies|LogGroups)|xray:[A-Za-z]+)$/.test(
                a,
              ),
          ),
        ).toEqual([]);
      }
    }
    // Every statement is accounted for: the six above and the logging/tracing one.
    expect(statements).toHaveLength(7);
  });

  test('no other role is granted anything on the bulk bucket', () => {
    const [bucketId] = bucketOf(bulk);
    const roles = [functionOf(bulk).Role['Fn::GetAtt'][0], stateMachineRoleId(bulk)];
    const others = resourcesOf(bulk.template, 'AWS::IAM::Policy')
      .filter(([, p]) => !roles.some((r) => JSON.stringify(p.Roles) === JSON.stringify([{ Ref: r }])))
      .filter(([, p]) => JSON.stringify(p.PolicyDocument).includes(bucketId));
    expect(others).toEqual([]);
  });
});

describe('bulk=true: outputs', () => {
  test('name the bulk bucket and the state machine', () => {
    const outputs = bulk.template.findOutputs('*') as Record<string, { Value: unknown }>;
    expect(outputs.BulkBucketName?.Value).toEqual({ Ref: bucketOf(bulk)[0] });
    expect(outputs.BulkStateMachineArn?.Value).toEqual({ Ref: stateMachineOf(bulk)[0] });
  });
});

describe('concurrency against the reserved concurrency', () => {
  test('an explicit bulkMaxConcurrency at or above maxConcurrency fails the synth, and says why and what is allowed', () => {
    expect(() => synth({ bulk: 'true', bulkMaxConcurrency: '10' })).toThrow(
      "Context 'bulkMaxConcurrency' (10) must be below 'maxConcurrency' (10), the function's reserved concurrency",
    );
    expect(() => synth({ bulk: 'true', maxConcurrency: '4', bulkMaxConcurrency: '20' })).toThrow(
      /\(20\) must be below 'maxConcurrency' \(4\).*at most 3 batches may run at once/,
    );
    expect(() => synth({ bulk: 'true', maxConcurrency: '1' })).toThrow(
      /bulk=true needs 'maxConcurrency' of at least 2 \(got 1\)/,
    );
  });

  test('rejects malformed bulk settings with the key name, and ignores them without bulk', () => {
    expect(() => optionsFor({ bulk: 'yes' })).toThrow(/'bulk'/);
    expect(() => optionsFor({ bulk: 'true', bulkBatchSize: '0' })).toThrow(/bulkBatchSize/);
    expect(() => optionsFor({ bulk: 'true', bulkBatchSize: '17' })).toThrow(/bulkBatchSize/);
    expect(() => optionsFor({ bulk: 'true', bulkToleratedFailurePercent: '101' })).toThrow(
      /bulkToleratedFailurePercent/,
    );
    expect(() => optionsFor({ bulk: 'true', bulkMaxConcurrency: '0' })).toThrow(/bulkMaxConcurrency/);
    expect(optionsFor({ bulkMaxConcurrency: '50' }).bulk).toBeUndefined();
    expect(optionsFor({ bulk: 'true' }).bulk).toEqual({
      batchSize: 16,
      maxConcurrency: 9,
      toleratedFailurePercent: 5,
    });
  });
});

describe('bulk off (the default)', () => {
  test('has no state machine, no bulk bucket, no BULK_ variables, no grants and no outputs', () => {
    expect(base.stack.bulk).toBeUndefined();
    base.template.resourceCountIs('AWS::StepFunctions::StateMachine', 0);
    expect(resourcesOf(base.template, 'AWS::S3::Bucket').filter(([id]) => id.startsWith('BulkJobs'))).toEqual(
      [],
    );
    expect(Object.keys(functionOf(base).Environment.Variables).filter((k) => k.startsWith('BULK_'))).toEqual(
      [],
    );
    expect(JSON.stringify(base.template.toJSON())).not.toMatch(/BulkJobs|states:/);
    const outputs = Object.keys(base.template.toJSON().Outputs as object);
    expect(outputs).not.toContain('BulkBucketName');
    expect(outputs).not.toContain('BulkStateMachineArn');
  });
});

describe('cdk-nag (AwsSolutions) with bulk=true', () => {
  test.each([
    ['defaults', () => bulk.stack],
    ['tuned settings', () => tuned.stack],
    ['no reserved concurrency, no tracing, no access logs', () => open.stack],
  ])('reports no unacknowledged findings (%s)', (_name, get) => {
    const report = new AwsSolutionsChecks().validateScope(get());
    const findings = report.violations.map(
      (v) => `${v.severity} ${v.ruleName} @ ${v.violatingResources[0]?.constructPath}`,
    );
    expect(findings).toEqual([]);
  });

  test('acknowledges exactly the bulk wildcards (input/*, results/*, its own executions, the actions without resources), S1 only without access logs and SF2 only with tracing=false', () => {
    const bare = (root: IConstruct) =>
      nagAcknowledgements(root)
        .map(([id, reason]) => [id.replace(/^annotation::/i, ''), reason] as const)
        .map(
          ([id, reason]) =>
            [id.replace(/BulkJobs(Bucket|StateMachine)[A-F0-9]{8}/g, 'BulkJobs$1'), reason] as const,
        );
    const executions = (suffix: string) =>
      `AwsSolutions-IAM5[Resource::arn:aws:states:eu-west-1:123456789012:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"BulkJobsStateMachine"}]}]}${suffix}]`;
    const inBulk = [
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-IAM5[Resource::<BulkJobsBucket.Arn>/results/*]',
      executions(':*'),
      executions(`/${BULK_MAP_LABEL}:*`),
    ];
    expect(
      bare(bulk.stack.bulk!)
        .map(([id]) => id)
        .sort(),
    ).toEqual([...inBulk].sort());
    expect(
      bare(open.stack.bulk!)
        .map(([id]) => id)
        .sort(),
    ).toEqual([...inBulk, 'AwsSolutions-S1', 'AwsSolutions-SF2'].sort());
    const reasons = Object.fromEntries(bare(open.stack.bulk!));
    expect(reasons['AwsSolutions-SF2']).toMatch(/tracing=false/);
    expect(reasons['AwsSolutions-S1']).toMatch(/cloudFrontLogs=false/);
    // The X-Ray part of the `*` reason only when X-Ray is on.
    expect(Object.fromEntries(bare(bulk.stack.bulk!))['AwsSolutions-IAM5[Resource::*]']).toMatch(/X-Ray/);
    expect(reasons['AwsSolutions-IAM5[Resource::*]']).not.toMatch(/X-Ray/);
    // The function role: one more, for input/*.
    const fnAcks = (x: Synthesized) => bare(x.stack.inference.role).map(([id]) => id);
    expect(fnAcks(bulk).filter((id) => !fnAcks(base).includes(id))).toEqual([
      'AwsSolutions-IAM5[Resource::<BulkJobsBucket.Arn>/input/*]',
    ]);
    for (const [, reason] of [...bare(open.stack.bulk!), ...bare(bulk.stack.inference.role)]) {
      expect(reason.trim().length).toBeGreaterThan(40);
    }
  });
});
