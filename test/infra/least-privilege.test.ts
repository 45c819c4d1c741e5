import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { CONTEXT } from '../../infra/context.ts';
import { PURGE_SCHEDULE_PREFIX } from '../../infra/constructs/scheduler.ts';
import { purgeScheduleName } from '../../shared/lifecycle/purge.ts';
import { ALL_INDEXES, IDENTITY_INDEX } from '../../server/store/table.ts';
import { actionsOf, logicalIdOf, policyStatements, resourcesOf, synthesize, type Statement } from './synth.ts';

const plain = synthesize();
const withGateway = synthesize({ [CONTEXT.gateway]: 'true', [CONTEXT.iotDataEndpoint]: 'a1b2c3-ats.iot.eu-west-1.amazonaws.com', [CONTEXT.gatewayCertificateSecretArn]: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:LwM2mBootstrap/gateway-certificate-AbCdEf' });

/** Actions IAM accepts only with Resource "*". */
const RESOURCE_STAR_REQUIRED = new Set(['iot:DescribeEndpoint', 'xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'ecr:GetAuthorizationToken']);

function statementsOfRole(synthesized: typeof plain, role: IConstruct): Statement[] {
  const policyId = synthesized.stack.getLogicalId(role.node.findChild('DefaultPolicy').node.defaultChild as never);
  return policyStatements(synthesized.template).filter((entry) => entry.policy === policyId).map((entry) => entry.statement);
}

describe('IAM least privilege', () => {
  for (const [name, synthesized] of [['default', plain], ['with gateway', withGateway]] as const) {
    it(`grants no wildcard action on a data service (${name})`, () => {
      for (const { policy, statement } of policyStatements(synthesized.template)) {
        for (const action of actionsOf(statement)) {
          assert.ok(!/^(dynamodb|iot|events|sqs|sns|kms|lambda|scheduler):.*\*/.test(action), `${policy} grants ${action}`);
          assert.notEqual(action, '*', policy);
        }
      }
    });

    it(`uses Resource "*" only for actions IAM cannot scope (${name})`, () => {
      for (const { policy, statement } of policyStatements(synthesized.template)) {
        if (!resourcesOf(statement).includes('*')) continue;
        for (const action of actionsOf(statement)) assert.ok(RESOURCE_STAR_REQUIRED.has(action), `${policy} grants ${action} on *`);
      }
    });
  }

  it('gives the uplink function exactly what the bootstrap path calls', () => {
    const { stack, template } = plain;
    const statements = statementsOfRole(plain, stack.functions.gatewayUplink.role!);
    const actions = statements.flatMap(actionsOf).sort();
    assert.deepEqual(actions, [
      'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'events:PutEvents', 'iam:PassRole', 'iot:DescribeEndpoint', 'iot:Publish',
      'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey',
      // Sealing minted server keys, on its own key (see the test below).
      'kms:Encrypt',
      'logs:CreateLogStream', 'logs:PutLogEvents', 'scheduler:CreateSchedule', 'scheduler:DeleteSchedule', 'scheduler:UpdateSchedule',
      'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage',
      'xray:PutTelemetryRecords', 'xray:PutTraceSegments',
    ].sort());
    const dynamo = statements.find((statement) => actionsOf(statement).includes('dynamodb:Query'))!;
    const tableArn = { 'Fn::GetAtt': [logicalIdOf(stack, stack.data.table), 'Arn'] };
    assert.deepEqual(resourcesOf(dynamo), [tableArn, ...ALL_INDEXES.map((index) => ({ 'Fn::Join': ['', [tableArn, `/index/${index.indexName}`]] }))]);
    const publish = JSON.stringify(statements.find((statement) => actionsOf(statement).includes('iot:Publish'))!.Resource);
    assert.match(publish, /:topic\/lwm2m-bs\/gateways\/\*\/downlink"/);
    assert.ok(template);
  });

  it('lets the uplink function manage its group\'s purge schedules only, and pass the Scheduler role to Scheduler only', () => {
    const { stack } = plain;
    const statements = statementsOfRole(plain, stack.functions.gatewayUplink.role!);
    const scheduling = statements.filter((statement) => actionsOf(statement).some((action) => /^(scheduler|iam):/.test(action)));
    const group = stack.scheduler.group.scheduleGroupName;
    assert.match(group, /^LwM2mBootstrap-/, 'the group name is known at synth, so the ARN names it literally');
    assert.deepEqual(scheduling, [
      {
        Action: ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule'],
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':scheduler:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:schedule/${group}/purge-*`]] },
      },
      {
        Action: 'iam:PassRole',
        Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [logicalIdOf(stack, stack.scheduler.executionRole), 'Arn'] },
      },
    ]);
    // The names the handler makes fall under that pattern.
    assert.ok(purgeScheduleName('urn:imei:490154203237518', 0).startsWith(PURGE_SCHEDULE_PREFIX));
    // No other role may touch schedules or pass a role.
    const uplinkPolicy = stack.getLogicalId(stack.functions.gatewayUplink.role!.node.findChild('DefaultPolicy').node.defaultChild as never);
    const elsewhere = policyStatements(plain.template).filter(({ policy, statement }) => policy !== uplinkPolicy && actionsOf(statement).some((action) => /^(scheduler|iam):/.test(action)));
    assert.deepEqual(elsewhere, []);
  });

  it('lets only the gateway task\'s execution role read the gateway certificate secret, and nothing else', () => {
    const { stack } = withGateway;
    const task = stack.gatewayService!.service.taskDefinition;
    const secretStatements = policyStatements(withGateway.template).filter(({ statement }) => actionsOf(statement).some((action) => action.startsWith('secretsmanager:')));
    const executionPolicy = stack.getLogicalId(task.executionRole!.node.findChild('DefaultPolicy').node.defaultChild as never);
    assert.deepEqual([...new Set(secretStatements.map(({ policy }) => policy))], [executionPolicy]);
    for (const { statement } of secretStatements) {
      assert.deepEqual(actionsOf(statement).sort(), ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
      assert.equal(statement.Resource, 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:LwM2mBootstrap/gateway-certificate-AbCdEf', 'the complete ARN, which ECS needs to read a JSON key');
    }
  });

  it('lets the gateway task query the PSK identity indexes (current and retiring), and decrypt with the table key, nothing more', () => {
    const { stack } = withGateway;
    const task = stack.gatewayService!.service.taskDefinition;
    const tableArn = { 'Fn::GetAtt': [logicalIdOf(stack, stack.data.table), 'Arn'] };
    assert.deepEqual(statementsOfRole(withGateway, task.taskRole), [
      {
        Action: 'dynamodb:Query',
        Effect: 'Allow',
        Resource: [IDENTITY_INDEX.pskIdentity, IDENTITY_INDEX.retiringPskIdentity].map((index) => ({ 'Fn::Join': ['', [tableArn, `/index/${index.indexName}`]] })),
      },
      { Action: 'kms:Decrypt', Effect: 'Allow', Resource: { 'Fn::GetAtt': [logicalIdOf(stack, stack.data.key), 'Arn'] } },
    ]);
    assert.equal(IDENTITY_INDEX.pskIdentity.indexName, 'ByPskIdentity');
    assert.equal(IDENTITY_INDEX.retiringPskIdentity.indexName, 'ByRetiringPskIdentity');
    // No other policy of the stack names the task role.
    const roleId = stack.getLogicalId(task.taskRole.node.defaultChild as never);
    const policies = withGateway.template.findResources('AWS::IAM::Policy') as Record<string, { Properties: { Roles: unknown[] } }>;
    const attached = Object.entries(policies).filter(([, policy]) => JSON.stringify(policy.Properties.Roles).includes(`"${roleId}"`)).map(([id]) => id);
    assert.deepEqual(attached, [stack.getLogicalId(task.taskRole.node.findChild('DefaultPolicy').node.defaultChild as never)]);
    const role = (withGateway.template.toJSON().Resources as Record<string, { Properties: Record<string, unknown> }>)[roleId]!;
    assert.equal(role.Properties.ManagedPolicyArns, undefined);
    assert.equal(role.Properties.Policies, undefined);
  });

  it('drops iot:DescribeEndpoint when the deployment names the IoT endpoint', () => {
    const statements = statementsOfRole(withGateway, withGateway.stack.functions.gatewayUplink.role!);
    assert.ok(!statements.flatMap(actionsOf).includes('iot:DescribeEndpoint'));
  });

  it('gives the admin function table access and no IoT, events or scheduler rights', () => {
    const actions = statementsOfRole(plain, plain.stack.functions.adminApi.role!).flatMap(actionsOf);
    for (const action of ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem']) assert.ok(actions.includes(action), action);
    assert.deepEqual(actions.filter((action) => /^(iot|events|scheduler|sqs):/.test(action)), []);
  });

  it('lets the uplink function, and no other role, Encrypt with the server credentials key, with exactly the context {endpoint, shortServerId}; nobody in the stack decrypts with it', () => {
    for (const synthesized of [plain, withGateway]) {
      const { stack } = synthesized;
      const keyArn = { 'Fn::GetAtt': [logicalIdOf(stack, stack.data.serverCredentialsKey), 'Arn'] };
      const uplinkPolicy = stack.getLogicalId(stack.functions.gatewayUplink.role!.node.findChild('DefaultPolicy').node.defaultChild as never);
      const onKey = policyStatements(synthesized.template).filter(({ statement }) => JSON.stringify(resourcesOf(statement)).includes(JSON.stringify(keyArn)));
      assert.deepEqual(onKey, [{
        policy: uplinkPolicy,
        statement: {
          Action: 'kms:Encrypt',
          Condition: {
            'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['endpoint', 'shortServerId'] },
            Null: { 'kms:EncryptionContext:endpoint': 'false', 'kms:EncryptionContext:shortServerId': 'false' },
          },
          Effect: 'Allow',
          Resource: keyArn,
        },
      }]);
      // kms:Decrypt appears only on the table key: the LwM2M server side is granted it outside the stack.
      const tableKeyArn = JSON.stringify({ 'Fn::GetAtt': [logicalIdOf(stack, stack.data.key), 'Arn'] });
      for (const { policy, statement } of policyStatements(synthesized.template)) {
        if (actionsOf(statement).includes('kms:Decrypt')) assert.equal(JSON.stringify(resourcesOf(statement)), `[${tableKeyArn}]`, policy);
      }
    }
  });

  it('lets the uplink function put events on the stack\'s bus only', () => {
    const { stack } = plain;
    const statements = statementsOfRole(plain, stack.functions.gatewayUplink.role!).filter((statement) => actionsOf(statement).some((action) => action.startsWith('events:')));
    assert.deepEqual(statements, [{ Action: 'events:PutEvents', Effect: 'Allow', Resource: { 'Fn::GetAtt': [logicalIdOf(stack, stack.events.bus), 'Arn'] } }]);
  });

  it('lets the admin function, and no other role, compute MACs with the fingerprint key, and nothing else with it', () => {
    for (const synthesized of [plain, withGateway]) {
      const { stack } = synthesized;
      const fingerprintKeyArn = { 'Fn::GetAtt': [logicalIdOf(stack, stack.data.fingerprintKey), 'Arn'] };
      const adminPolicy = stack.getLogicalId(stack.functions.adminApi.role!.node.findChild('DefaultPolicy').node.defaultChild as never);
      const onKey = policyStatements(synthesized.template).filter(({ statement }) => JSON.stringify(resourcesOf(statement)).includes(JSON.stringify(fingerprintKeyArn)));
      assert.deepEqual(
        onKey.map(({ policy, statement }) => [policy, actionsOf(statement)]),
        [[adminPolicy, ['kms:GenerateMac']]],
      );
      const macAnywhere = policyStatements(synthesized.template).filter(({ statement }) => actionsOf(statement).some((action) => /Mac$/.test(action)));
      assert.deepEqual(macAnywhere.map(({ policy }) => policy), [adminPolicy]);
    }
  });
});

describe('IAM least privilege: credential lifecycle', () => {
  const tableArn = (synthesized: typeof plain) => ({ 'Fn::GetAtt': [logicalIdOf(synthesized.stack, synthesized.stack.data.table), 'Arn'] });
  const keyArn = (synthesized: typeof plain) => ({ 'Fn::GetAtt': [logicalIdOf(synthesized.stack, synthesized.stack.data.key), 'Arn'] });
  const devicePartitionsOnly = { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['DEVICE#*'] } };
  const kms = (synthesized: typeof plain) => ({ Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'], Effect: 'Allow', Resource: keyArn(synthesized) });
  /** The statements every function role starts with: its own log group, X-Ray. */
  const common = (synthesized: typeof plain, fn: { node: IConstruct['node'] }) => [
    { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [synthesized.stack.getLogicalId(fn.node.scope!.node.findChild(`${fn.node.id}Logs`).node.defaultChild as never), 'Arn'] } },
    { Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Effect: 'Allow', Resource: '*' },
  ];

  it('gives the attach function what processAttach and planServerInitiated call, and no push without a gateway', () => {
    const { stack } = plain;
    const table = tableArn(plain);
    assert.deepEqual(statementsOfRole(plain, stack.lifecycle.attach.role!), [
      ...common(plain, stack.lifecycle.attach),
      // The event source mapping's consumption rights, on the attach queue only.
      { Action: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [logicalIdOf(stack, stack.lifecycle.attachQueue), 'Arn'] } },
      // The identity indexes, and the key-fingerprint index a server-initiated plan counts holders on.
      { Action: 'dynamodb:Query', Effect: 'Allow', Resource: [table, ...ALL_INDEXES.map((index) => ({ 'Fn::Join': ['', [table, `/index/${index.indexName}`]] }))] },
      { Action: 'dynamodb:GetItem', Effect: 'Allow', Resource: table },
      { Action: 'dynamodb:PutItem', Condition: devicePartitionsOnly, Effect: 'Allow', Resource: table },
      // A new card rewrites the device entry (putDevice).
      { Action: 'dynamodb:UpdateItem', Condition: devicePartitionsOnly, Effect: 'Allow', Resource: table },
      kms(plain),
      // SimChanged.
      { Action: 'events:PutEvents', Effect: 'Allow', Resource: { 'Fn::GetAtt': [logicalIdOf(stack, stack.events.bus), 'Arn'] } },
    ]);
  });

  it('lets the attach function publish on the default gateway\'s downlink topic only', () => {
    const { stack } = withGateway;
    const statements = statementsOfRole(withGateway, stack.lifecycle.attach.role!);
    const publish = statements.filter((statement) => actionsOf(statement).some((action) => action.startsWith('iot:')));
    assert.deepEqual(publish, [{
      Action: 'iot:Publish',
      Effect: 'Allow',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iot:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:topic/lwm2m-bs/gateways/${stack.gatewayService!.gatewayId}/downlink`]] },
    }]);
    // Endpoint discovery only when the deployment does not name the endpoint.
    const discovering = synthesize({ 'lwm2m-bs:defaultGateway': 'gw-1' });
    const discoveringActions = statementsOfRole(discovering, discovering.stack.lifecycle.attach.role!).flatMap(actionsOf);
    assert.deepEqual(discoveringActions.filter((action) => action.startsWith('iot:')).sort(), ['iot:DescribeEndpoint', 'iot:Publish']);
  });

  it('gives the purge function the device entry (Query, UpdateItem), the table key, the bus and the revocation topic, nothing more', () => {
    const revocationTopic = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iot:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':topic/lwm2m-bs/psk-revocations']] };
    for (const synthesized of [plain, withGateway]) {
      const { stack } = synthesized;
      const table = tableArn(synthesized);
      assert.deepEqual(statementsOfRole(synthesized, stack.lifecycle.purge.role!), [
        ...common(synthesized, stack.lifecycle.purge),
        // Its on-failure destination.
        { Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [logicalIdOf(stack, stack.lifecycle.purgeFailures.queue), 'Arn'] } },
        { Action: 'dynamodb:Query', Effect: 'Allow', Resource: table },
        { Action: 'dynamodb:UpdateItem', Condition: devicePartitionsOnly, Effect: 'Allow', Resource: table },
        kms(synthesized),
        { Action: 'events:PutEvents', Effect: 'Allow', Resource: { 'Fn::GetAtt': [logicalIdOf(stack, stack.events.bus), 'Arn'] } },
        // Publish on the one broadcast topic: no gateway's downlink, no wildcard.
        { Action: 'iot:Publish', Effect: 'Allow', Resource: revocationTopic },
        // Endpoint discovery only when the deployment does not name the endpoint.
        ...(synthesized === plain ? [{ Action: 'iot:DescribeEndpoint', Effect: 'Allow', Resource: '*' }] : []),
      ]);
    }
    const purgeOf = (synthesized: typeof plain) => synthesized.template.toJSON().Resources[logicalIdOf(synthesized.stack, synthesized.stack.lifecycle.purge)].Properties.Environment.Variables as Record<string, unknown>;
    assert.equal('IOT_DATA_ENDPOINT' in purgeOf(plain), false);
    assert.equal(purgeOf(withGateway).IOT_DATA_ENDPOINT, 'a1b2c3-ats.iot.eu-west-1.amazonaws.com');
  });

  it('lets a gateway certificate subscribe to and receive the revocation broadcast, and publish nothing but its uplink', () => {
    const { stack } = plain;
    const statements = stack.resolve(stack.gatewayChannel.gatewayPolicy.toJSON()).Statement as Statement[];
    const arn = (resource: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iot:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:${resource}`]] });
    const thing = '${iot:Connection.Thing.ThingName}';
    const byAction = Object.fromEntries(statements.map((statement) => [actionsOf(statement).join(','), resourcesOf(statement)]));
    assert.deepEqual(byAction, {
      'iot:Connect': [arn(`client/${thing}`)],
      'iot:Publish': [arn(`topic/lwm2m-bs/gateways/${thing}/uplink`)],
      'iot:Subscribe': [arn(`topicfilter/lwm2m-bs/gateways/${thing}/downlink`), arn('topicfilter/lwm2m-bs/psk-revocations')],
      'iot:Receive': [arn(`topic/lwm2m-bs/gateways/${thing}/downlink`), arn('topic/lwm2m-bs/psk-revocations')],
    });
  });

  it('lets the Scheduler execution role send to its dead-letter queue and invoke the purge function, nothing else', () => {
    const { stack } = plain;
    const purgeArn = { 'Fn::GetAtt': [logicalIdOf(stack, stack.lifecycle.purge), 'Arn'] };
    assert.deepEqual(statementsOfRole(plain, stack.scheduler.executionRole), [
      { Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [logicalIdOf(stack, stack.scheduler.failures.queue), 'Arn'] } },
      { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: [purgeArn, { 'Fn::Join': ['', [purgeArn, ':*']] }] },
    ]);
  });
});

describe('cdk-nag AwsSolutions', () => {
  for (const [name, synthesized] of [['default', plain], ['with gateway', withGateway]] as const) {
    it(`finds nothing unacknowledged (${name})`, () => {
      const report = new AwsSolutionsChecks(synthesized.app).validateScope(synthesized.stack);
      assert.deepEqual(report.violations.map((violation) => `${violation.ruleName}: ${violation.violatingResources.map((resource) => resource.constructPath).join(', ')}`), []);
      assert.equal(report.success, true);
      const annotations = Annotations.fromStack(synthesized.stack);
      assert.deepEqual(annotations.findError('*', Match.anyValue()), []);
      assert.deepEqual(annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions')), []);
    });

    it(`gives every acknowledgment a specific reason (${name})`, () => {
      // Recorded as `{ 'Annotation::<rule id>': reason }`, which is what cdk-nag reads back.
      const acknowledgments = synthesized.stack.node.findAll()
        .flatMap((construct) => construct.node.metadata.filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
        .flatMap((entry) => Object.entries(entry.data as Record<string, string>).map(([key, reason]) => ({ id: key.replace(/^annotation::/i, ''), reason })))
        // aws-cdk-lib acknowledges some of its own (CloudFormation-Validate::…); ours are cdk-nag's.
        .filter(({ id }) => id.startsWith('AwsSolutions-'));
      assert.ok(acknowledgments.length >= 5);
      for (const { id, reason } of acknowledgments) {
        assert.ok(reason.length >= 60, `${id}: reason too short`);
      }
    });
  }

  it('does catch a finding: an unacknowledged plain queue fails the same pack', () => {
    const app = new App();
    const stack = new Stack(app, 'Control');
    new Queue(stack, 'Queue');
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    assert.deepEqual(report.violations.map((violation) => violation.ruleName).sort(), ['AwsSolutions-SQS3', 'AwsSolutions-SQS4']);
  });
});
