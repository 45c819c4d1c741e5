import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { isGatewayTopicId } from '../server/aws/topics.ts';
import { readSettings, type StackSettings } from './context.ts';
import { AdminApi } from './constructs/admin-api.ts';
import { Alarms } from './constructs/alarms.ts';
import { Data } from './constructs/data.ts';
import { Events } from './constructs/events.ts';
import { Functions } from './constructs/functions.ts';
import { GatewayChannel } from './constructs/gateway-channel.ts';
import { GatewayService } from './constructs/gateway-service.ts';
import { Lifecycle } from './constructs/lifecycle.ts';
import { Scheduler } from './constructs/scheduler.ts';

export const STACK_NAME = 'LwM2mBootstrap';

/**
 * The gateway id that runs server-initiated bootstraps after a carrier attach. Defaults to the
 * stack's own gateway container when there is one; without either, attaches only mark devices.
 * (Read here rather than in context.ts, which another change owns; it belongs there.)
 */
export const DEFAULT_GATEWAY_CONTEXT = 'lwm2m-bs:defaultGateway';

/**
 * The whole product in one stack: table, functions, the gateway channel on IoT Core, events,
 * scheduler, alarms, the admin API and, when asked for, the gateway container. Settings come
 * from the CDK context (see `infra/context.ts`).
 */
export class LwM2mBootstrapStack extends Stack {
  readonly settings: StackSettings;
  readonly data: Data;
  readonly events: Events;
  readonly functions: Functions;
  readonly gatewayChannel: GatewayChannel;
  readonly scheduler: Scheduler;
  readonly adminApi: AdminApi;
  readonly alarms: Alarms;
  readonly gatewayService: GatewayService | undefined;
  readonly lifecycle: Lifecycle;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, { description: 'OMA LwM2M Bootstrap Server (lwm2m-bs)', ...props });
    this.settings = readSettings(this.node);
    this.data = new Data(this, 'Data', { deletionProtection: this.settings.deletionProtection });
    this.events = new Events(this, 'Events');
    this.functions = new Functions(this, 'Functions', {
      table: this.data.table,
      tableKey: this.data.key,
      bus: this.events.bus,
      skipBundling: this.settings.skipBundling,
      iotDataEndpoint: this.settings.iotDataEndpoint,
      adminApiReservedConcurrency: this.settings.adminApiReservedConcurrency,
    });
    this.gatewayChannel = new GatewayChannel(this, 'GatewayChannel', { uplinkFunction: this.functions.gatewayUplink });
    this.scheduler = new Scheduler(this, 'Scheduler');
    this.adminApi = new AdminApi(this, 'AdminApi', { handler: this.functions.adminApi });
    this.gatewayService = this.settings.gateway ? new GatewayService(this, 'GatewayService', { table: this.data.table, tableKey: this.data.key }) : undefined;
    this.lifecycle = new Lifecycle(this, 'Lifecycle', {
      table: this.data.table,
      tableKey: this.data.key,
      bus: this.events.bus,
      scheduler: this.scheduler,
      skipBundling: this.settings.skipBundling,
      iotDataEndpoint: this.settings.iotDataEndpoint,
      defaultGatewayId: defaultGateway(this.node.tryGetContext(DEFAULT_GATEWAY_CONTEXT)) ?? this.gatewayService?.gatewayId,
    });
    this.functions.schedulePurges(this.scheduler, this.lifecycle.purge);
    this.alarms = new Alarms(this, 'Alarms', {
      deadLetterQueues: [this.functions.uplinkFailures, this.gatewayChannel.ruleErrors, this.scheduler.failures, this.lifecycle.attachFailures, this.lifecycle.purgeFailures],
      functions: [
        { name: 'GatewayUplink', fn: this.functions.gatewayUplink },
        { name: 'AdminApi', fn: this.functions.adminApi },
        { name: 'Attach', fn: this.lifecycle.attach },
        { name: 'Purge', fn: this.lifecycle.purge },
      ],
      uplinkRule: this.gatewayChannel.rule,
      email: this.settings.alarmEmail,
    });

    new CfnOutput(this, 'TableName', { value: this.data.table.tableName });
    new CfnOutput(this, 'EventBusName', { value: this.events.bus.eventBusName });
    new CfnOutput(this, 'ScheduleGroupName', { value: this.scheduler.group.scheduleGroupName });
    new CfnOutput(this, 'SchedulerRoleArn', { value: this.scheduler.executionRole.roleArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
    new CfnOutput(this, 'PurgeFunctionArn', { description: 'The target of purge schedules', value: this.lifecycle.purge.functionArn });
    new CfnOutput(this, 'PurgeFailuresQueueArn', { description: 'The dead-letter queue of purge schedules', value: this.scheduler.failures.queue.queueArn });
    new CfnOutput(this, 'AttachQueueUrl', { value: this.lifecycle.attachQueue.queueUrl });
    new CfnOutput(this, 'ServerCredentialsKeyArn', {
      description: 'The KMS key sealing keys in ServerCredentialsIssued events: grant the LwM2M server side kms:Decrypt on it',
      value: this.data.serverCredentialsKey.keyArn,
    });
  }
}

function defaultGateway(value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || !isGatewayTopicId(value)) throw new Error(`context ${DEFAULT_GATEWAY_CONTEXT} must be a gateway id: 1 to 64 of A-Z a-z 0-9 _ . : -`);
  return value;
}
