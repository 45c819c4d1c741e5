import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, type EventBus } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Key } from 'aws-cdk-lib/aws-kms';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ATTACH_DETAIL_TYPE, DEFAULT_GATEWAY_ENV } from '../../functions/runtime/lifecycle-settings.ts';
import { PSK_REVOCATIONS_TOPIC } from '../../server/aws/topics.ts';
import { ALL_INDEXES, ITEM_KIND } from '../../server/store/table.ts';
import { downlinkTopicPattern } from '../topics.ts';
import { DeadLetterQueue } from './dead-letter-queue.ts';
import { nodeFunction } from './node-function.ts';
import type { Scheduler } from './scheduler.ts';


export const LIFECYCLE_ENTRY = {
  attach: 'functions/attach.ts',
  purge: 'functions/purge.ts',
} as const;

/** The attach function's timeout; the queue's visibility timeout is six times it (Lambda's advice for SQS sources). */
export const ATTACH_TIMEOUT_SECONDS = 30;
/** Deliveries of one attach message before it goes to the dead-letter queue. */
export const ATTACH_MAX_RECEIVE_COUNT = 3;
export const ATTACH_BATCH_SIZE = 10;
/**
 * Concurrent attach invocations at most. A carrier outage ends with every device attaching at
 * once; the queue absorbs it, and this cap keeps those pushes from starving the
 * Bootstrap-Requests the uplink function serves from the same table and gateway.
 */
export const ATTACH_MAX_CONCURRENCY = 5;

export interface LifecycleProps {
  readonly table: Table;
  readonly tableKey: Key;
  readonly bus: EventBus;
  readonly scheduler: Scheduler;
  readonly skipBundling: boolean;
  readonly iotDataEndpoint: string | undefined;
  /** The gateway that runs server-initiated bootstraps; without one, attaches only mark devices. */
  readonly defaultGatewayId: string | undefined;
}

/**
 * The credential lifecycle on AWS (issue 5):
 * - carrier attaches: a rule on the bus takes `DeviceAttached` events into an SQS queue, which
 *   feeds the attach function in batches with partial-batch failures; messages that keep
 *   failing, and events the rule could not deliver, go to one dead-letter queue;
 * - account-timeout purges: the purge function, which the Scheduler's execution role (and no
 *   other) may invoke; asynchronous invocations that keep failing go to their own queue. It
 *   tells the gateways about each PSK identity it revokes on one broadcast topic, the only
 *   topic it may publish on.
 * Roles are written statement by statement from what the handlers call (see functions.ts).
 */
export class Lifecycle extends Construct {
  readonly attachQueue: Queue;
  readonly attachFailures: DeadLetterQueue;
  readonly attachRule: Rule;
  readonly attach: LambdaFunction;
  readonly purge: LambdaFunction;
  readonly purgeFailures: DeadLetterQueue;

  constructor(scope: Construct, id: string, props: LifecycleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { table, bus } = props;
    // The key-fingerprint index too: a server-initiated plan counts the holders of a DTLS
    // device's key before deciding whether to replace its account.
    const indexArns = ALL_INDEXES.map((index) => `${table.tableArn}/index/${index.indexName}`);
    const tableKeyUse = new PolicyStatement({ actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'], resources: [props.tableKey.keyArn] });
    // Both functions write items of device partitions only (lifecycle, status, device entry):
    // never a profile.
    const devicePartitionsOnly = { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${ITEM_KIND.device.prefix}*`] } };

    this.attachFailures = new DeadLetterQueue(this, 'AttachFailures', 'the attach queue (carrier attach events that failed 3 deliveries, or that the bus could not deliver)');
    this.attachQueue = new Queue(this, 'AttachQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(6 * ATTACH_TIMEOUT_SECONDS),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.attachFailures.queue, maxReceiveCount: ATTACH_MAX_RECEIVE_COUNT },
    });
    this.attachRule = new Rule(this, 'AttachRule', {
      description: `lwm2m-bs: carrier attach events (${ATTACH_DETAIL_TYPE}) to the attach queue`,
      eventBus: bus,
      eventPattern: { detailType: [ATTACH_DETAIL_TYPE] },
      targets: [new SqsQueue(this.attachQueue, { deadLetterQueue: this.attachFailures.queue, retryAttempts: 185, maxEventAge: Duration.hours(24) })],
    });

    this.attach = nodeFunction(this, 'Attach', LIFECYCLE_ENTRY.attach, props.skipBundling, {
      description: 'lwm2m-bs: carrier attach events -> server-initiated bootstrap (SQS)',
      timeout: Duration.seconds(ATTACH_TIMEOUT_SECONDS),
      environment: {
        TABLE_NAME: table.tableName,
        EVENT_BUS_NAME: bus.eventBusName,
        ...(props.iotDataEndpoint !== undefined && { IOT_DATA_ENDPOINT: props.iotDataEndpoint }),
        ...(props.defaultGatewayId !== undefined && { [DEFAULT_GATEWAY_ENV]: props.defaultGatewayId }),
      },
    });
    this.attach.addEventSource(new SqsEventSource(this.attachQueue, { batchSize: ATTACH_BATCH_SIZE, reportBatchItemFailures: true, maxConcurrency: ATTACH_MAX_CONCURRENCY }));
    // findDevice queries the identity indexes; planServerInitiated queries the device partition.
    this.attach.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:Query'], resources: [table.tableArn, ...indexArns] }));
    // The profile and the lifecycle record.
    this.attach.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [table.tableArn] }));
    // The lifecycle record (conditional on the one read) and a refused push's status.
    this.attach.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [table.tableArn], conditions: devicePartitionsOnly }));
    // A new card: the device entry takes its ICCID and a disabled smartcard (putDevice).
    this.attach.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:UpdateItem'], resources: [table.tableArn], conditions: devicePartitionsOnly }));
    this.attach.addToRolePolicy(tableKeyUse);
    // SimChanged.
    this.attach.addToRolePolicy(new PolicyStatement({ actions: ['events:PutEvents'], resources: [bus.eventBusArn] }));
    if (props.defaultGatewayId !== undefined) {
      this.attach.addToRolePolicy(new PolicyStatement({
        actions: ['iot:Publish'],
        resources: [stack.formatArn({ service: 'iot', resource: 'topic', resourceName: downlinkTopicPattern(props.defaultGatewayId) })],
      }));
      if (props.iotDataEndpoint === undefined) this.attach.addToRolePolicy(new PolicyStatement({ actions: ['iot:DescribeEndpoint'], resources: ['*'] }));
    }

    this.purgeFailures = new DeadLetterQueue(this, 'PurgeInvocationFailures', 'the purge function (asynchronous invocations from EventBridge Scheduler that kept failing)');
    this.purge = nodeFunction(this, 'Purge', LIFECYCLE_ENTRY.purge, props.skipBundling, {
      description: 'lwm2m-bs: account-timeout purges (EventBridge Scheduler target)',
      timeout: Duration.seconds(10),
      environment: {
        TABLE_NAME: table.tableName,
        EVENT_BUS_NAME: bus.eventBusName,
        ...(props.iotDataEndpoint !== undefined && { IOT_DATA_ENDPOINT: props.iotDataEndpoint }),
      },
      // A purge is idempotent, so Lambda's retries are safe; past them it waits in the queue.
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(this.purgeFailures.queue),
    });
    // getDevice: one Query on the device partition; putDevice: one UpdateItem of the entry.
    this.purge.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:Query'], resources: [table.tableArn] }));
    this.purge.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:UpdateItem'], resources: [table.tableArn], conditions: devicePartitionsOnly }));
    this.purge.addToRolePolicy(tableKeyUse);
    this.purge.addToRolePolicy(new PolicyStatement({ actions: ['events:PutEvents'], resources: [bus.eventBusArn] }));
    // The revocation broadcast, for gateways wherever they run (the stack's own service or not).
    this.purge.addToRolePolicy(new PolicyStatement({
      actions: ['iot:Publish'],
      resources: [stack.formatArn({ service: 'iot', resource: 'topic', resourceName: PSK_REVOCATIONS_TOPIC })],
    }));
    if (props.iotDataEndpoint === undefined) this.purge.addToRolePolicy(new PolicyStatement({ actions: ['iot:DescribeEndpoint'], resources: ['*'] }));
    props.scheduler.allowInvoke(this.purge);

    const xray = 'The X-Ray PutTraceSegments/PutTelemetryRecords actions support no resource-level permissions: IAM requires Resource "*" for them, and only for them.';
    const discovery = 'iot:DescribeEndpoint and the X-Ray PutTraceSegments/PutTelemetryRecords actions support no resource-level permissions: IAM requires Resource "*" for them, and only for them.';
    Validations.of(this.attach.role!).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: props.defaultGatewayId !== undefined && props.iotDataEndpoint === undefined ? discovery : xray });
    Validations.of(this.purge.role!).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: props.iotDataEndpoint === undefined ? discovery : xray });
  }
}
