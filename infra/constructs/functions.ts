import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { EventBus } from 'aws-cdk-lib/aws-events';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Key } from 'aws-cdk-lib/aws-kms';
import { Architecture, Code, Function as LambdaFunction, LoggingFormat, Runtime, Tracing, type FunctionProps, type IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { PURGE_SCHEDULER_ENV } from '../../functions/runtime/lifecycle-settings.ts';
import { IDENTITY_INDEX } from '../../server/store/table.ts';
import { downlinkTopicPattern } from '../topics.ts';
import { DeadLetterQueue } from './dead-letter-queue.ts';
import type { Scheduler } from './scheduler.ts';

export const SERVICE_NAME = 'lwm2m-bs';
export const METRICS_NAMESPACE = 'Lwm2mBootstrap';

/** How cdk-nag names the downlink topic ARN pattern in its findings. */
const DOWNLINK_TOPICS_NAG = `arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:topic/${downlinkTopicPattern('*')}`;

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The Lambda entry points, one per trigger; written next to this stack in `functions/`. */
export const ENTRY = {
  gatewayUplink: 'functions/gateway-uplink.ts',
  adminApi: 'functions/admin-api.ts',
} as const;

export interface FunctionsProps {
  readonly table: Table;
  readonly tableKey: Key;
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
    const indexArns = Object.values(IDENTITY_INDEX).map((index) => `${table.tableArn}/index/${index.indexName}`);
    const tableKeyUse = (actions: string[]): PolicyStatement => new PolicyStatement({ actions, resources: [props.tableKey.keyArn] });

    this.uplinkFailures = new DeadLetterQueue(this, 'UplinkFailures', 'the gateway-uplink function (asynchronous invocations from the IoT rule)');

    this.gatewayUplink = this.nodeFunction('GatewayUplink', ENTRY.gatewayUplink, props.skipBundling, {
      description: 'lwm2m-bs: bootstrap backend for uplinks from gateways (IoT topic rule)',
      timeout: Duration.seconds(10),
      environment: {
        TABLE_NAME: table.tableName,
        EVENT_BUS_NAME: props.bus.eventBusName,
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
    this.gatewayUplink.addToRolePolicy(new PolicyStatement({ actions: ['events:PutEvents'], resources: [props.bus.eventBusArn] }));

    this.adminApi = this.nodeFunction('AdminApi', ENTRY.adminApi, props.skipBundling, {
      description: 'lwm2m-bs: admin API (profiles, devices, import, status)',
      // API Gateway gives up after 30 s.
      timeout: Duration.seconds(29),
      environment: { TABLE_NAME: table.tableName },
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

  private nodeFunction(id: string, entry: string, skipBundling: boolean, props: Partial<FunctionProps> & Pick<FunctionProps, 'timeout' | 'environment'>): LambdaFunction {
    const logGroup = new LogGroup(this, `${id}Logs`, { retention: RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY });
    // A role of our own: the default one carries the managed AWSLambdaBasicExecutionRole,
    // which may write to every log group in the account.
    const role = new Role(this, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    const common = {
      ...props,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      tracing: Tracing.ACTIVE,
      logGroup,
      loggingFormat: LoggingFormat.JSON,
      role,
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
    };
    if (skipBundling) {
      return new LambdaFunction(this, id, {
        ...common,
        handler: 'index.handler',
        code: Code.fromInline(`exports.handler = async () => { throw new Error('placeholder for ${entry}: synthesized with ${'lwm2m-bs:skipBundling'}'); };`),
      });
    }
    return new NodejsFunction(this, id, {
      ...common,
      entry: `${repoRoot}${entry}`,
      projectRoot: repoRoot,
      depsLockFilePath: `${repoRoot}package-lock.json`,
      handler: 'handler',
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        // Some dependencies still call require(); ESM output has none unless we make one.
        banner: "import { createRequire as __lwm2mCreateRequire } from 'node:module'; const require = __lwm2mCreateRequire(import.meta.url);",
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // Bundle the AWS SDK too: the version we test is the version that runs.
        externalModules: [],
      },
    });
  }
}
