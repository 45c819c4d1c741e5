import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { CfnTopicRule } from 'aws-cdk-lib/aws-iot';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { DeadLetterQueue } from './dead-letter-queue.ts';

export interface AlarmsProps {
  readonly deadLetterQueues: readonly DeadLetterQueue[];
  readonly functions: readonly { readonly name: string; readonly fn: IFunction }[];
  readonly uplinkRule: CfnTopicRule;
  readonly email: string | undefined;
}

/**
 * Everything that means a bootstrap or an outcome was lost: a message in any dead-letter
 * queue, a function error, a throttle, an IoT rule failure. Each alarm fires on the first
 * occurrence: in a bootstrap server none of these is routine.
 */
export class Alarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    // A key of its own, so CloudWatch may use it without touching the table's key.
    const key = new Key(this, 'TopicKey', { description: 'lwm2m-bs: encrypts the alarm topic', enableKeyRotation: true, removalPolicy: RemovalPolicy.DESTROY, pendingWindow: Duration.days(7) });
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey');
    this.topic = new Topic(this, 'Topic', { displayName: 'lwm2m-bs alarms', masterKey: key, enforceSSL: true });
    if (props.email !== undefined) this.topic.addSubscription(new EmailSubscription(props.email));

    for (const dlq of props.deadLetterQueues) {
      this.add(`${dlq.node.id}Depth`, dlq.queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }), `Messages waiting in the dead-letter queue of ${dlq.purpose}`);
    }
    for (const { name, fn } of props.functions) {
      this.add(`${name}Errors`, fn.metricErrors({ period: Duration.minutes(1), statistic: 'Sum' }), `The ${name} function failed`);
      this.add(`${name}Throttles`, fn.metricThrottles({ period: Duration.minutes(1), statistic: 'Sum' }), `The ${name} function was throttled`);
    }
    const ruleFailures = new Metric({ namespace: 'AWS/IoT', metricName: 'Failure', dimensionsMap: { RuleName: props.uplinkRule.ref }, period: Duration.minutes(1), statistic: 'Sum' });
    this.add('UplinkRuleFailures', ruleFailures, 'The gateway uplink IoT rule could not run its action');
  }

  private add(id: string, metric: IMetric, description: string): void {
    const alarm = new Alarm(this, id, {
      metric,
      alarmDescription: `lwm2m-bs: ${description}`,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new SnsAction(this.topic));
    alarm.addOkAction(new SnsAction(this.topic));
    this.alarms.push(alarm);
  }
}
