import { Duration, Validations } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/** Share of API answers that may be 5xx over five minutes before the alarm sounds. */
export const SERVER_ERROR_RATE_THRESHOLD = 0.05;
/** Share of the reserved concurrency in use that counts as "near the cap". */
export const CONCURRENCY_ALARM_SHARE = 0.8;

export interface OperationsAlarmsProps {
  readonly api: apigateway.RestApi;
  readonly function: lambda.IFunction;
  /** The function's reserved concurrency; without it there is no cap to be near. */
  readonly maxConcurrency?: number;
  /** Where an SNS topic mails the alarms. Default: alarms without an action. */
  readonly email?: string;
}

/**
 * What tells an operator the API is failing or being flooded: the API's 5xx rate, the function's
 * errors and throttles, and its concurrency near the reserved cap. With an e-mail address, every
 * alarm (and its return to OK) goes to an SNS topic that mails it.
 */
export class OperationsAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly topic?: sns.Topic;

  constructor(scope: Construct, id: string, props: OperationsAlarmsProps) {
    super(scope, id);
    const period = Duration.minutes(5);
    const add = (alarmId: string, metric: cloudwatch.IMetric, threshold: number, description: string) => {
      this.alarms.push(
        new cloudwatch.Alarm(this, alarmId, {
          metric,
          threshold,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          alarmDescription: description,
        }),
      );
    };

    add(
      'ApiServerErrorRate',
      props.api.metricServerError({ period, statistic: cloudwatch.Stats.AVERAGE }),
      SERVER_ERROR_RATE_THRESHOLD,
      `More than ${SERVER_ERROR_RATE_THRESHOLD * 100} % of API answers in 5 minutes were 5xx.`,
    );
    add(
      'FunctionErrors',
      props.function.metricErrors({ period, statistic: cloudwatch.Stats.SUM }),
      1,
      'The function failed (crashed or timed out) instead of answering; its log group has the reason.',
    );
    add(
      'FunctionThrottles',
      props.function.metricThrottles({ period, statistic: cloudwatch.Stats.SUM }),
      1,
      'Lambda refused invocations: the reserved concurrency (maxConcurrency) was full.',
    );
    if (props.maxConcurrency !== undefined) {
      add(
        'ConcurrencyNearCap',
        props.function.metric('ConcurrentExecutions', { period, statistic: cloudwatch.Stats.MAXIMUM }),
        Math.max(1, Math.ceil(props.maxConcurrency * CONCURRENCY_ALARM_SHARE)),
        `The function ran at ${CONCURRENCY_ALARM_SHARE * 100} % or more of its reserved concurrency (${props.maxConcurrency}).`,
      );
    }

    if (props.email) {
      this.topic = new sns.Topic(this, 'Topic', {
        displayName: 'Image recognition alarms',
        enforceSSL: true,
      });
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
      const action = new actions.SnsAction(this.topic);
      for (const alarm of this.alarms) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
      Validations.of(this.topic).acknowledge({
        id: 'AwsSolutions-SNS2',
        reason:
          'CloudWatch alarms cannot publish to a topic encrypted with the AWS managed SNS key, and the alarm texts hold nothing a customer key would protect.',
      });
    }
  }
}
