import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { readSettings, type StackSettings } from './context.ts';
import { AdminApi } from './constructs/admin-api.ts';
import { Alarms } from './constructs/alarms.ts';
import { Data } from './constructs/data.ts';
import { Events } from './constructs/events.ts';
import { Functions } from './constructs/functions.ts';
import { GatewayChannel } from './constructs/gateway-channel.ts';
import { GatewayService } from './constructs/gateway-service.ts';
import { Scheduler } from './constructs/scheduler.ts';

export const STACK_NAME = 'LwM2mBootstrap';

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
    this.alarms = new Alarms(this, 'Alarms', {
      deadLetterQueues: [this.functions.uplinkFailures, this.gatewayChannel.ruleErrors, this.scheduler.failures],
      functions: [
        { name: 'GatewayUplink', fn: this.functions.gatewayUplink },
        { name: 'AdminApi', fn: this.functions.adminApi },
      ],
      uplinkRule: this.gatewayChannel.rule,
      email: this.settings.alarmEmail,
    });
    this.gatewayService = this.settings.gateway ? new GatewayService(this, 'GatewayService', { table: this.data.table, tableKey: this.data.key }) : undefined;

    new CfnOutput(this, 'TableName', { value: this.data.table.tableName });
    new CfnOutput(this, 'EventBusName', { value: this.events.bus.eventBusName });
    new CfnOutput(this, 'ScheduleGroupName', { value: this.scheduler.group.scheduleGroupName });
    new CfnOutput(this, 'SchedulerRoleArn', { value: this.scheduler.executionRole.roleArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
  }
}
