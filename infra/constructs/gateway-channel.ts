import { CfnOutput, Stack } from 'aws-cdk-lib';
import { PolicyDocument, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnTopicRule } from 'aws-cdk-lib/aws-iot';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { PSK_REVOCATIONS_TOPIC } from '../../server/aws/topics.ts';
import { UPLINK_RULE_SQL, downlinkTopicPattern, uplinkTopicPattern } from '../topics.ts';
import { DeadLetterQueue } from './dead-letter-queue.ts';

export interface GatewayChannelProps {
  readonly uplinkFunction: IFunction;
}

/**
 * The gateway channel on IoT Core: a gateway publishes on its uplink topic, the topic rule
 * invokes the uplink function, the function answers on the gateway's downlink topic. A rule
 * that cannot invoke the function (throttled, deleted, permission lost) sends the message to
 * the error queue instead of dropping it.
 */
export class GatewayChannel extends Construct {
  readonly rule: CfnTopicRule;
  readonly ruleErrors: DeadLetterQueue;
  /** The IoT policy each gateway certificate gets; created with the documented command. */
  readonly gatewayPolicy: PolicyDocument;

  constructor(scope: Construct, id: string, props: GatewayChannelProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.ruleErrors = new DeadLetterQueue(this, 'RuleErrors', 'the gateway uplink IoT topic rule (error action)');
    const errorRole = new Role(this, 'RuleErrorRole', { assumedBy: new ServicePrincipal('iot.amazonaws.com') });
    this.ruleErrors.queue.grantSendMessages(errorRole);

    this.rule = new CfnTopicRule(this, 'UplinkRule', {
      topicRulePayload: {
        description: 'lwm2m-bs: gateway uplinks to the bootstrap backend',
        sql: UPLINK_RULE_SQL,
        awsIotSqlVersion: '2016-03-23',
        ruleDisabled: false,
        actions: [{ lambda: { functionArn: props.uplinkFunction.functionArn } }],
        errorAction: { sqs: { queueUrl: this.ruleErrors.queue.queueUrl, roleArn: errorRole.roleArn, useBase64: false } },
      },
    });
    props.uplinkFunction.addPermission('InvokedByUplinkRule', {
      principal: new ServicePrincipal('iot.amazonaws.com'),
      sourceArn: this.rule.attrArn,
      sourceAccount: stack.account,
    });

    const thing = '${iot:Connection.Thing.ThingName}';
    const arn = (resource: string, resourceName: string): string => stack.formatArn({ service: 'iot', resource, resourceName });
    this.gatewayPolicy = new PolicyDocument({
      statements: [
        // The MQTT client id must be the thing name, so one certificate cannot pose as another gateway.
        new PolicyStatement({ actions: ['iot:Connect'], resources: [arn('client', thing)], conditions: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } } }),
        new PolicyStatement({ actions: ['iot:Publish'], resources: [arn('topic', uplinkTopicPattern(thing))] }),
        // Its own downlinks, and the broadcast of revoked PSK identities its PSK cache must forget.
        new PolicyStatement({ actions: ['iot:Subscribe'], resources: [arn('topicfilter', downlinkTopicPattern(thing)), arn('topicfilter', PSK_REVOCATIONS_TOPIC)] }),
        new PolicyStatement({ actions: ['iot:Receive'], resources: [arn('topic', downlinkTopicPattern(thing)), arn('topic', PSK_REVOCATIONS_TOPIC)] }),
      ],
    });
    new CfnOutput(stack, 'GatewayIotPolicyDocument', {
      description: 'IoT policy for gateway certificates: aws iot create-policy --policy-document "$(this value)"',
      value: stack.toJsonString(this.gatewayPolicy.toJSON()),
    });
  }
}
