import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { EventBus } from 'aws-cdk-lib/aws-events';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey, Key } from 'aws-cdk-lib/aws-kms';
import type { Function as LambdaFunction, IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { Construct } from 'constructs';
import { PURGE_SCHEDULER_ENV } from '../../functions/runtime/lifecycle-settings.ts';
import { KEY_FINGERPRINT_KEY_ENV } from '../../functions/admin/key-fingerprint-env.ts';
import { KMS_ENCRYPTION_CONTEXT_KEYS, SERVER_CREDENTIALS_KEY_ENV } from '../../server/aws/kms-key-sealer.ts';
import { ALL_INDEXES } from '../../server/store/table.ts';
import { Data } from './data.ts';
import { downlinkTopicPattern } from '../topics.ts';
import { DeadLetterQueue } from './dead-letter-queue.ts';
import { nodeFunction } from './node-function.ts';
import type { Scheduler } from './scheduler.ts';

export { METRICS_NAMESPACE, SERVICE_NAME } from './node-function.ts';

/** How cdk-nag names the downlink topic ARN pattern in its findings. */
const DOWNLINK_TOPICS_NAG = `arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:topic/${downlinkTopicPattern('*')}`;


/** The Lambda entry points, one per trigger; written next to this stack in `functions/`. */
export const ENTRY = {
  gatewayUplink: 'functions/gateway-uplink.ts',
  adminApi: 'functions/admin-api.ts',
} as const;

export interface FunctionsProps {
  readonly table: Table;
  readonly tableKey: Key;
  /**
   * The KMS HMAC key device writers fingerprint bootstrap PSKs with (Data.fingerprintKey);
   * by default the one Data made with `table`.
   */
  readonly keyFingerprintKey?: IKey;
  /**
   * The symmetric KMS key minted LwM2M Server keys are sealed with (Data.serverCredentialsKey);
   * by default the one Data made with `table`.
   */
  readonly serverCredentialsKey?: IKey;
  readonly bus: EventBus;
  /** Inline placeholder code instead of esbuild bundles (tests, offline synth). */
  readonly skipBundling: boolean;
  readonly iotDataEndpoint: string | undefined;
  readonly adminApiReservedConcurrency: number | undefined;
}

/**
 * The two functions and their roles. Each role is written by hand, statement by statement,
 * rather than with `grantReadWriteData`: the grants add actions the handlers never call
 * (BatchGetItem, ConditionCheckItem, kms:ReEncrypt*), and least privilege is tested.
 */
export class Functions extends Construct {
  readonly gatewayUplink: LambdaFunction;
  readonly adminApi: LambdaFunction;
  /** Uplinks whose asynchronous invocation failed after Lambda's retries. */
  readonly uplinkFailures: DeadLetterQueue;

  constructor(scope: Construct, id: string, props: FunctionsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { table } = props;
    const indexArns = ALL_INDEXES.map((index) => `${table.tableArn}/index/${index.indexName}`);
    const fingerprintKey = props.keyFingerprintKey ?? Data.fingerprintKeyOf(table);
    if (fingerprintKey === undefined) throw new Error('Functions: no keyFingerprintKey given, and the table is not one Data made');
    const serverCredentialsKey = props.serverCredentialsKey ?? Data.serverCredentialsKeyOf(table);
    if (serverCredentialsKey === undefined) throw new Error('Functions: no serverCredentialsKey given, and the table is not one Data made');
    const tableKeyUse = (actions: string[]): PolicyStatement => new PolicyStatement({ actions, resources: [props.tableKey.keyArn] });

    this.uplinkFailures = new DeadLetterQueue(this, 'UplinkFailures', 'the gateway-uplink function (asynchronous invocations from the IoT rule)');

    this.gatewayUplink = nodeFunction(this, 'GatewayUplink', ENTRY.gatewayUplink, props.skipBundling, {
      description: 'lwm2m-bs: bootstrap backend for uplinks from gateways (IoT topic rule)',
      timeout: Duration.seconds(10),
      environment: {
        TABLE_NAME: table.tableName,
        EVENT_BUS_NAME: props.bus.eventBusName,
        [SERVER_CREDENTIALS_KEY_ENV]: serverCredentialsKey.keyArn,
        ...(props.iotDataEndpoint !== undefined && { IOT_DATA_ENDPOINT: props.iotDataEndpoint }),
      },
      // An uplink is one request of a running session: one retry covers a transient error, and
      // past 15 minutes the gateway has long given up, so the event is parked for inspection.
      retryAttempts: 1,
      maxEventAge: Duration.minutes(15),
      onFailure: new SqsDestination(this.uplinkFailures.queue),
      // No reserved concurrency: the downstreams (on-demand DynamoDB, IoT publish) scale past
      // any bootstrap storm, and a cap would only delay sessions the gateway times out on.
    });
    this.gatewayUplink.addToRolePolicy(new PolicyStatement({
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
      resources: [table.tableArn, ...indexArns],
    }));
    this.gatewayUplink.addToRolePolicy(tableKeyUse(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']));
    this.gatewayUplink.addToRolePolicy(new PolicyStatement({
      actions: ['iot:Publish'],
      resources: [stack.formatArn({ service: 'iot', resource: 'topic', resourceName: downlinkTopicPattern('*') })],
    }));
    // Only needed to discover the endpoint when the deployment did not name it.
    if (props.iotDataEndpoint === undefined) {
      this.gatewayUplink.addToRolePolicy(new PolicyStatement({ actions: ['iot:DescribeEndpoint'], resources: ['*'] }));
    }
    // BootstrapCompleted, BootstrapFailed and ServerCredentialsIssued.
    this.gatewayUplink.addToRolePolicy(new PolicyStatement({ actions: ['events:PutEvents'], resources: [props.bus.eventBusArn] }));
    // Sealing minted LwM2M Server keys (KmsKeySealer): Encrypt only, and only with exactly the
    // context {endpoint, shortServerId}, so the function cannot make a ciphertext the LwM2M server
    // side would take without an account to bind it to. Decrypt is the LwM2M server side's.
    this.gatewayUplink.addToRolePolicy(new PolicyStatement({
      actions: ['kms:Encrypt'],
      resources: [serverCredentialsKey.keyArn],
      conditions: {
        'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': KMS_ENCRYPTION_CONTEXT_KEYS },
        // ForAllValues alone also passes a request with fewer keys, or none: each must be there.
        Null: Object.fromEntries(KMS_ENCRYPTION_CONTEXT_KEYS.map((key) => [`kms:EncryptionContext:${key}`, 'false'])),
      },
    }));

    this.adminApi = nodeFunction(this, 'AdminApi', ENTRY.adminApi, props.skipBundling, {
      description: 'lwm2m-bs: admin API (profiles, devices, import, status)',
      // API Gateway gives up after 30 s.
      timeout: Duration.seconds(29),
      environment: { TABLE_NAME: table.tableName, [KEY_FINGERPRINT_KEY_ENV]: fingerprintKey.keyArn },
      // Protects the table: an operator's bulk imports, each writing in parallel, must not eat
      // the burst capacity and the account concurrency the bootstrap path needs. Accounts
      // whose Lambda quota is still 10 cannot reserve anything: set the context to false.
      ...(props.adminApiReservedConcurrency !== undefined && { reservedConcurrentExecutions: props.adminApiReservedConcurrency }),
    });
    this.adminApi.addToRolePolicy(new PolicyStatement({
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'],
      resources: [table.tableArn, ...indexArns],
    }));
    this.adminApi.addToRolePolicy(tableKeyUse(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']));
    // The admin API writes devices (PUT /devices, POST /import) and fingerprints their bootstrap
    // PSKs; it only computes MACs, so no VerifyMac and nothing else on the key. The uplink
    // function only counts the fingerprints already stored (the ByKeyFingerprint index) and
    // gets no right on this key.
    this.adminApi.addToRolePolicy(new PolicyStatement({ actions: ['kms:GenerateMac'], resources: [fingerprintKey.keyArn] }));

    Validations.of(this.gatewayUplink.role!).acknowledge(
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'iot:DescribeEndpoint and the X-Ray PutTraceSegments/PutTelemetryRecords actions support no resource-level permissions: IAM requires Resource "*" for them, and only for them.' },
      { id: `AwsSolutions-IAM5[Resource::${DOWNLINK_TOPICS_NAG}]`, reason: 'iot:Publish is limited to the downlink topics lwm2m-bs/gateways/<gateway>/downlink: one per gateway, and gateways are registered outside the stack.' },
    );
    Validations.of(this.adminApi.role!).acknowledge(
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'The X-Ray PutTraceSegments/PutTelemetryRecords actions support no resource-level permissions: IAM requires Resource "*" for them, and only for them.' },
    );
  }

  /**
   * A successful bootstrap that wrote a Bootstrap-Server account with an Account Timeout
   * (/0/x/12) schedules its purge; one without cancels it. The uplink function gets where
   * schedules go and what they run, and the rights to manage them (Scheduler.grantManagePurges).
   *
   * Called once the purge function exists (the stack builds it in Lifecycle, after this). No
   * cycle: the uplink function refers to the purge function's ARN, the Scheduler's role and
   * queue, and none of them refers back to the uplink function.
   */
  schedulePurges(scheduler: Scheduler, purge: IFunction): void {
    this.gatewayUplink.addEnvironment(PURGE_SCHEDULER_ENV.groupName, scheduler.group.scheduleGroupName);
    this.gatewayUplink.addEnvironment(PURGE_SCHEDULER_ENV.targetArn, purge.functionArn);
    this.gatewayUplink.addEnvironment(PURGE_SCHEDULER_ENV.roleArn, scheduler.executionRole.roleArn);
    this.gatewayUplink.addEnvironment(PURGE_SCHEDULER_ENV.deadLetterArn, scheduler.failures.queue.queueArn);
    scheduler.grantManagePurges(this.gatewayUplink);
  }
}
