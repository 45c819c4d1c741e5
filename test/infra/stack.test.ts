import { existsSync } from 'node:fs';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { CONTEXT } from '../../infra/context.ts';
import { GATEWAY_ENV } from '../../cli/commands/gateway.ts';
import { ADMIN_ROUTES } from '../../infra/constructs/admin-api.ts';
import { COAPS_PORT, GATEWAY_ENVIRONMENT, HEALTH_PORT } from '../../infra/constructs/gateway-service.ts';
import { UPLINK_RULE_SQL } from '../../infra/topics.ts';
import { IDENTITY_INDEX, INDEX_PROJECTED_ATTRIBUTES, KEY_FINGERPRINT_INDEX, PARTITION_KEY, SORT_KEY } from '../../server/store/table.ts';
import { KEY_FINGERPRINT_KEY_ENV } from '../../functions/admin/key-fingerprint-env.ts';
import { ATTACH_TIMEOUT_SECONDS } from '../../infra/constructs/lifecycle.ts';
import { DEFAULT_GATEWAY_CONTEXT } from '../../infra/stack.ts';
import { DEFAULT_GATEWAY_ENV, PURGE_SCHEDULER_ENV } from '../../functions/runtime/lifecycle-settings.ts';
import { actionsOf, logicalIdOf, policyStatements, synthesize } from './synth.ts';

const { stack, template } = synthesize();
const tableId = logicalIdOf(stack, stack.data.table);
const keyId = logicalIdOf(stack, stack.data.key);
const uplinkId = logicalIdOf(stack, stack.functions.gatewayUplink);
const adminId = logicalIdOf(stack, stack.functions.adminApi);
const attachId = logicalIdOf(stack, stack.lifecycle.attach);
const purgeId = logicalIdOf(stack, stack.lifecycle.purge);
const queueIds = [stack.functions.uplinkFailures, stack.gatewayChannel.ruleErrors, stack.scheduler.failures].map((dlq) => logicalIdOf(stack, dlq.queue));

describe('data', () => {
  it('builds the table from the adapter model: keys, sparse identity indexes projecting doc, and the keys-only fingerprint index', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: PARTITION_KEY, KeyType: 'HASH' }, { AttributeName: SORT_KEY, KeyType: 'RANGE' }],
      GlobalSecondaryIndexes: [
        ...Object.values(IDENTITY_INDEX).map((index) => ({
          IndexName: index.indexName,
          KeySchema: [{ AttributeName: index.attribute, KeyType: 'HASH' }],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...INDEX_PROJECTED_ATTRIBUTES] },
        })),
        { IndexName: 'ByKeyFingerprint', KeySchema: [{ AttributeName: KEY_FINGERPRINT_INDEX.attribute, KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } },
      ],
    });
  });

  it('makes a retained KMS HMAC_256 key for key fingerprints, and names it to the admin function', () => {
    const fingerprintKeyId = logicalIdOf(stack, stack.data.fingerprintKey);
    template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Retain',
      Properties: { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', EnableKeyRotation: false },
    });
    assert.notEqual(fingerprintKeyId, keyId, 'not the table key: an encryption key cannot compute MACs');
    const env = template.toJSON().Resources[adminId].Properties.Environment.Variables as Record<string, unknown>;
    assert.deepEqual(env[KEY_FINGERPRINT_KEY_ENV], { 'Fn::GetAtt': [fingerprintKeyId, 'Arn'] });
    const uplinkEnv = template.toJSON().Resources[uplinkId].Properties.Environment.Variables as Record<string, unknown>;
    assert.equal(KEY_FINGERPRINT_KEY_ENV in uplinkEnv, false, 'the bootstrap path only counts stored fingerprints');
  });

  it('is on-demand, point-in-time recoverable, CMK-encrypted, protected and expires items by expiresAt', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } },
        DeletionProtectionEnabled: true,
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      },
    });
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain', Properties: { EnableKeyRotation: true } });
  });

  it('drops deletion protection when the context flag says false', () => {
    const { template: unprotected } = synthesize({ [CONTEXT.deletionProtection]: 'false' });
    unprotected.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete', Properties: { DeletionProtectionEnabled: false } });
  });
});

describe('functions', () => {
  it('run Node.js 24 on arm64 with active tracing, JSON logs in a retained log group', () => {
    for (const id of [uplinkId, adminId]) {
      const fn = template.toJSON().Resources[id];
      assert.equal(fn.Properties.Runtime, 'nodejs24.x');
      assert.deepEqual(fn.Properties.Architectures, ['arm64']);
      assert.deepEqual(fn.Properties.TracingConfig, { Mode: 'Active' });
      assert.equal(fn.Properties.LoggingConfig.LogFormat, 'JSON');
      const logGroup = template.toJSON().Resources[fn.Properties.LoggingConfig.LogGroup.Ref];
      assert.equal(logGroup.Type, 'AWS::Logs::LogGroup');
      assert.equal(logGroup.Properties.RetentionInDays, 90);
    }
  });

  it('give the uplink function its table, bus and Powertools service, and leave the IoT endpoint to discovery', () => {
    const env = template.toJSON().Resources[uplinkId].Properties.Environment.Variables;
    assert.deepEqual(env.TABLE_NAME, { Ref: tableId });
    assert.ok(env.EVENT_BUS_NAME);
    assert.equal(env.POWERTOOLS_SERVICE_NAME, 'lwm2m-bs');
    assert.equal('IOT_DATA_ENDPOINT' in env, false);
    const { template: configured } = synthesize({ [CONTEXT.iotDataEndpoint]: 'abc-ats.iot.eu-west-1.amazonaws.com' });
    configured.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ IOT_DATA_ENDPOINT: 'abc-ats.iot.eu-west-1.amazonaws.com' }) } });
  });

  it('reserve concurrency for the admin API only, and drop it for small accounts by context', () => {
    const resources = template.toJSON().Resources;
    assert.equal(resources[adminId].Properties.ReservedConcurrentExecutions, 5);
    assert.equal(resources[uplinkId].Properties.ReservedConcurrentExecutions, undefined);
    const { stack: small, template: smallTemplate } = synthesize({ [CONTEXT.adminApiReservedConcurrency]: 'false' });
    assert.equal(smallTemplate.toJSON().Resources[logicalIdOf(small, small.functions.adminApi)].Properties.ReservedConcurrentExecutions, undefined);
  });

  it('send failed asynchronous uplink invocations to a dead-letter queue', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: uplinkId },
      MaximumRetryAttempts: 1,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueIds[0], 'Arn'] } } },
    });
  });
});

describe('gateway channel', () => {
  it('routes uplinks by topic rule to the uplink function, errors to a queue', () => {
    template.hasResourceProperties('AWS::IoT::TopicRule', {
      TopicRulePayload: {
        Sql: "SELECT *, topic(3) AS gatewayTopicId FROM 'lwm2m-bs/gateways/+/uplink'",
        AwsIotSqlVersion: '2016-03-23',
        Actions: [{ Lambda: { FunctionArn: { 'Fn::GetAtt': [uplinkId, 'Arn'] } } }],
        ErrorAction: { Sqs: { QueueUrl: { Ref: queueIds[1] }, RoleArn: Match.anyValue() } },
      },
    });
    assert.equal(UPLINK_RULE_SQL, "SELECT *, topic(3) AS gatewayTopicId FROM 'lwm2m-bs/gateways/+/uplink'");
    const ruleId = stack.getLogicalId(stack.gatewayChannel.rule);
    template.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: { 'Fn::GetAtt': [uplinkId, 'Arn'] },
      Principal: 'iot.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] },
    });
  });

  it('outputs the IoT policy that pins a gateway to its own client id and topics', () => {
    const output = JSON.stringify(template.toJSON().Outputs.GatewayIotPolicyDocument);
    for (const fragment of ['client/${iot:Connection.Thing.ThingName}', 'topic/lwm2m-bs/gateways/${iot:Connection.Thing.ThingName}/uplink', 'topicfilter/lwm2m-bs/gateways/${iot:Connection.Thing.ThingName}/downlink']) {
      assert.ok(output.includes(fragment), fragment);
    }
    assert.ok(!output.includes('"*"'));
  });
});

describe('events and scheduler', () => {
  it('has the lwm2m-bs bus with an archive', () => {
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'LwM2mBootstrap-events' });
    template.resourceCountIs('AWS::Events::Archive', 1);
  });

  it('has a schedule group and an execution role only the Scheduler of this account may assume', () => {
    template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'scheduler.amazonaws.com' }, Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }) })] },
    });
  });

  it('lets schedules invoke the purge function and nothing else: no other policy grants lambda:InvokeFunction', () => {
    const purgeArn = { 'Fn::GetAtt': [purgeId, 'Arn'] };
    const invoking = policyStatements(template).filter(({ statement }) => actionsOf(statement).includes('lambda:InvokeFunction'));
    const schedulerPolicy = stack.getLogicalId(stack.scheduler.executionRole.node.findChild('DefaultPolicy').node.defaultChild as never);
    assert.deepEqual(invoking, [
      { policy: schedulerPolicy, statement: { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: [purgeArn, { 'Fn::Join': ['', [purgeArn, ':*']] }] } },
    ]);
    // Resource-based permissions too: no function lets the Scheduler service in by its own policy.
    for (const permission of Object.values(template.findResources('AWS::Lambda::Permission'))) {
      assert.notEqual(permission.Properties.Principal, 'scheduler.amazonaws.com');
    }
  });
});

describe('credential lifecycle', () => {
  const resources = template.toJSON().Resources;
  const attachQueueId = logicalIdOf(stack, stack.lifecycle.attachQueue);
  const attachDlqId = logicalIdOf(stack, stack.lifecycle.attachFailures.queue);
  const purgeDlqId = logicalIdOf(stack, stack.lifecycle.purgeFailures.queue);

  it('routes DeviceAttached events on the stack\'s bus to the attach queue, undeliverable ones to its dead-letter queue', () => {
    const rules = Object.values(template.findResources('AWS::Events::Rule', { Properties: { EventPattern: { 'detail-type': ['DeviceAttached'] } } }));
    assert.equal(rules.length, 1);
    const rule = rules[0]!;
    assert.deepEqual(rule.Properties.EventBusName, { Ref: logicalIdOf(stack, stack.events.bus) });
    assert.deepEqual(rule.Properties.EventPattern, { 'detail-type': ['DeviceAttached'] });
    const [target, ...more] = rule.Properties.Targets as Record<string, unknown>[];
    assert.equal(more.length, 0);
    assert.deepEqual(target?.Arn, { 'Fn::GetAtt': [attachQueueId, 'Arn'] });
    assert.deepEqual(target?.DeadLetterConfig, { Arn: { 'Fn::GetAtt': [attachDlqId, 'Arn'] } });
    // The queue admits the rule, and only the rule, through its policy.
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: attachQueueId }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['sqs:SendMessage']), Principal: { Service: 'events.amazonaws.com' }, Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [logicalIdOf(stack, stack.lifecycle.attachRule), 'Arn'] } } } })]) },
    });
  });

  it('buffers attaches in an encrypted queue: TLS only, 6x the function timeout visible, 3 deliveries then the dead-letter queue', () => {
    const queue = resources[attachQueueId];
    assert.equal(queue.Properties.SqsManagedSseEnabled, true);
    assert.equal(queue.Properties.VisibilityTimeout, 6 * ATTACH_TIMEOUT_SECONDS);
    assert.deepEqual(queue.Properties.RedrivePolicy, { deadLetterTargetArn: { 'Fn::GetAtt': [attachDlqId, 'Arn'] }, maxReceiveCount: 3 });
    assert.equal(resources[attachId].Properties.Timeout, ATTACH_TIMEOUT_SECONDS);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: attachQueueId }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    assert.equal(resources[attachDlqId].Properties.MessageRetentionPeriod, 14 * 86_400);
  });

  it('feeds the attach function in batches of 10 with partial batch failures, at most 5 at a time', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: attachId },
      EventSourceArn: { 'Fn::GetAtt': [attachQueueId, 'Arn'] },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
  });

  it('configures the attach function with its table and leaves the push off without a gateway', () => {
    const env = resources[attachId].Properties.Environment.Variables as Record<string, unknown>;
    assert.deepEqual(env.TABLE_NAME, { Ref: tableId });
    // Where SimChanged goes.
    assert.deepEqual(env.EVENT_BUS_NAME, { Ref: logicalIdOf(stack, stack.events.bus) });
    assert.equal(DEFAULT_GATEWAY_ENV in env, false);
    const named = synthesize({ [DEFAULT_GATEWAY_CONTEXT]: 'gw-7' });
    const namedEnv = named.template.toJSON().Resources[logicalIdOf(named.stack, named.stack.lifecycle.attach)].Properties.Environment.Variables;
    assert.equal(namedEnv[DEFAULT_GATEWAY_ENV], 'gw-7');
    assert.throws(() => synthesize({ [DEFAULT_GATEWAY_CONTEXT]: 'gw/7' }), /gateway id/);
  });

  it('runs the purge function with its table and bus; failed asynchronous invocations go to their own queue', () => {
    const env = resources[purgeId].Properties.Environment.Variables as Record<string, unknown>;
    assert.deepEqual(env.TABLE_NAME, { Ref: tableId });
    assert.deepEqual(env.EVENT_BUS_NAME, { Ref: logicalIdOf(stack, stack.events.bus) });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: purgeId },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [purgeDlqId, 'Arn'] } } },
    });
    for (const id of [attachId, purgeId]) {
      assert.equal(resources[id].Properties.Runtime, 'nodejs24.x');
      assert.deepEqual(resources[id].Properties.TracingConfig, { Mode: 'Active' });
    }
  });

  it('alarms on both lifecycle dead-letter queues and on errors of both functions', () => {
    for (const queueId of [attachDlqId, purgeDlqId]) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
        Threshold: 1,
      });
    }
    for (const fnId of [attachId, purgeId]) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }] });
    }
  });

  it('tells the uplink function where purge schedules go: the group, the purge function, the Scheduler role and queue', () => {
    const env = resources[uplinkId].Properties.Environment.Variables as Record<string, unknown>;
    assert.deepEqual(
      Object.fromEntries(Object.values(PURGE_SCHEDULER_ENV).map((name) => [name, env[name]])),
      {
        [PURGE_SCHEDULER_ENV.groupName]: stack.scheduler.group.scheduleGroupName,
        [PURGE_SCHEDULER_ENV.targetArn]: { 'Fn::GetAtt': [purgeId, 'Arn'] },
        [PURGE_SCHEDULER_ENV.roleArn]: { 'Fn::GetAtt': [logicalIdOf(stack, stack.scheduler.executionRole), 'Arn'] },
        [PURGE_SCHEDULER_ENV.deadLetterArn]: { 'Fn::GetAtt': [logicalIdOf(stack, stack.scheduler.failures.queue), 'Arn'] },
      },
    );
    // The group's resource names the same group.
    assert.equal(resources[logicalIdOf(stack, stack.scheduler.group)].Properties.Name, stack.scheduler.group.scheduleGroupName);
  });

  it('has no dependency cycle: the uplink function refers to the purge function, which refers to nothing of it', () => {
    // CloudFormation refuses a template whose Ref/GetAtt/DependsOn graph has a cycle; synth does not check.
    const edges = new Map<string, Set<string>>();
    for (const [id, resource] of Object.entries(resources as Record<string, Record<string, unknown>>)) {
      const targets = new Set<string>();
      const visit = (value: unknown): void => {
        if (Array.isArray(value)) value.forEach(visit);
        else if (typeof value === 'object' && value !== null) {
          for (const [key, inner] of Object.entries(value)) {
            if (key === 'Ref' && typeof inner === 'string' && inner in resources) targets.add(inner);
            else if (key === 'Fn::GetAtt' && Array.isArray(inner) && typeof inner[0] === 'string') targets.add(inner[0]);
            else visit(inner);
          }
        }
      };
      visit(resource['Properties']);
      for (const dependency of [resource['DependsOn'] ?? []].flat() as string[]) targets.add(dependency);
      edges.set(id, targets);
    }
    const reaches = (from: string, to: string): boolean => {
      const seen = new Set<string>();
      const stackOf = [from];
      while (stackOf.length > 0) {
        const next = stackOf.pop()!;
        for (const target of edges.get(next) ?? []) {
          if (target === to) return true;
          if (!seen.has(target)) {
            seen.add(target);
            stackOf.push(target);
          }
        }
      }
      return false;
    };
    assert.ok(reaches(uplinkId, purgeId), 'the uplink function names the purge function');
    assert.ok(!reaches(purgeId, uplinkId), 'nothing of the purge function names the uplink function');
    for (const id of edges.keys()) assert.ok(!reaches(id, id), `${id} depends on itself`);
  });

  it('outputs the purge function ARN and the Scheduler dead-letter queue the purge scheduler needs', () => {
    template.hasOutput('PurgeFunctionArn', { Value: { 'Fn::GetAtt': [purgeId, 'Arn'] } });
    template.hasOutput('PurgeFailuresQueueArn', Match.anyValue());
  });
});

describe('alarms', () => {
  it('alarm on the depth of every dead-letter queue', () => {
    for (const queueId of queueIds) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
        Threshold: 1,
        AlarmActions: [Match.anyValue()],
      });
    }
  });

  it('alarm on errors of every function and on rule failures, to an encrypted topic', () => {
    for (const fnId of [uplinkId, adminId]) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }] });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/IoT', MetricName: 'Failure' });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    const topicId = logicalIdOf(stack, stack.alarms.topic);
    for (const alarm of alarms) assert.deepEqual(alarm.Properties.AlarmActions, [{ Ref: topicId }]);
  });
});

describe('admin API', () => {
  it('is an HTTP API whose every route needs IAM and reaches the admin function with payload 2.0', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((route) => route.Properties);
    assert.deepEqual(routes.map((route) => route.RouteKey).sort(), ADMIN_ROUTES.map((route) => `${route.method} ${route.path}`).sort());
    for (const route of routes) assert.equal(route.AuthorizationType, 'AWS_IAM', route.RouteKey);
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', { IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0', IntegrationUri: { 'Fn::GetAtt': [adminId, 'Arn'] } });
  });

  it('logs every request', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: '$default', AutoDeploy: true, AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') } });
  });
});

describe('gateway service', () => {
  const { stack: gatewayStack, template: withGateway } = synthesize({ [CONTEXT.gateway]: 'true', [CONTEXT.iotDataEndpoint]: 'a1b2c3-ats.iot.eu-west-1.amazonaws.com', [CONTEXT.gatewayCertificateSecretArn]: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:LwM2mBootstrap/gateway-certificate-AbCdEf' });

  it('is absent unless asked for', () => {
    template.resourceCountIs('AWS::ECS::Service', 0);
    template.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 0);
  });

  it('runs on Fargate arm64 behind an NLB on UDP 5683 and 5684, from the repository Dockerfile', () => {
    assert.ok(existsSync(new URL('../../Dockerfile', import.meta.url)));
    withGateway.hasResourceProperties('AWS::ECS::Service', { LaunchType: 'FARGATE' });
    withGateway.hasResourceProperties('AWS::ECS::TaskDefinition', { RuntimePlatform: { CpuArchitecture: 'ARM64' } });
    withGateway.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Type: 'network', Scheme: 'internet-facing' });
    for (const port of [5683, 5684]) {
      withGateway.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: port, Protocol: 'UDP' });
      withGateway.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { Port: port, Protocol: 'UDP', TargetType: 'ip', HealthCheckProtocol: 'TCP', HealthCheckPort: String(HEALTH_PORT) });
    }
  });

  it('serves coaps: UDP 5684 on the balancer to a target group on the container\'s 5684/udp, checked on the TCP health port', () => {
    assert.equal(COAPS_PORT, 5684);
    const resources = withGateway.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;
    const listeners = Object.values(resources).filter((resource) => resource.Type === 'AWS::ElasticLoadBalancingV2::Listener' && resource.Properties.Port === COAPS_PORT);
    assert.equal(listeners.length, 1);
    assert.equal(listeners[0]!.Properties.Protocol, 'UDP');
    const [action] = listeners[0]!.Properties.DefaultActions as { Type: string; TargetGroupArn: { Ref: string } }[];
    assert.equal(action!.Type, 'forward');
    const group = resources[action!.TargetGroupArn.Ref]!;
    assert.equal(group.Type, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    assert.deepEqual([group.Properties.Port, group.Properties.Protocol, group.Properties.HealthCheckProtocol, group.Properties.HealthCheckPort], [COAPS_PORT, 'UDP', 'TCP', String(HEALTH_PORT)]);
    // The service registers its container's 5684 in that very group.
    const service = Object.values(resources).find((resource) => resource.Type === 'AWS::ECS::Service')!;
    assert.deepEqual(
      (service.Properties.LoadBalancers as { ContainerName: string; ContainerPort: number; TargetGroupArn: unknown }[]).find((entry) => entry.ContainerPort === COAPS_PORT),
      { ContainerName: 'Gateway', ContainerPort: COAPS_PORT, TargetGroupArn: action!.TargetGroupArn },
    );
    const [container] = Object.values(withGateway.findResources('AWS::ECS::TaskDefinition'))[0]!.Properties.ContainerDefinitions as { PortMappings: { ContainerPort: number; Protocol: string }[] }[];
    assert.ok(container!.PortMappings.some((mapping) => mapping.ContainerPort === COAPS_PORT && mapping.Protocol === 'udp'));
  });

  it('configures `lwm2m-bs gateway` by environment: endpoint, thing name and table in plain, certificate and key from Secrets Manager', () => {
    const [container] = Object.values(withGateway.findResources('AWS::ECS::TaskDefinition'))[0]!.Properties.ContainerDefinitions as {
      Environment: { Name: string; Value: unknown }[];
      Secrets: { Name: string; ValueFrom: unknown }[];
    }[];
    // The names the construct sets are the ones the command reads.
    assert.equal(GATEWAY_ENVIRONMENT.mqttUrl, GATEWAY_ENV.mqttUrl);
    assert.equal(GATEWAY_ENVIRONMENT.gatewayId, GATEWAY_ENV.gatewayId);
    assert.equal(GATEWAY_ENVIRONMENT.certPem, GATEWAY_ENV.certPem);
    assert.equal(GATEWAY_ENVIRONMENT.keyPem, GATEWAY_ENV.keyPem);
    assert.equal(GATEWAY_ENVIRONMENT.table, GATEWAY_ENV.table);
    assert.deepEqual(container!.Environment, [
      { Name: GATEWAY_ENV.mqttUrl, Value: 'mqtts://a1b2c3-ats.iot.eu-west-1.amazonaws.com:8883' },
      { Name: GATEWAY_ENV.gatewayId, Value: 'LwM2mBootstrap-gateway' },
      // The stack's own table, so coaps finds the keys the admin API imported.
      { Name: GATEWAY_ENV.table, Value: { Ref: logicalIdOf(gatewayStack, gatewayStack.data.table) } },
    ]);
    assert.deepEqual(container!.Secrets.map((secret) => secret.Name).sort(), [GATEWAY_ENV.certPem, GATEWAY_ENV.keyPem]);
    const valueFrom = JSON.stringify(container!.Secrets.map((secret) => secret.ValueFrom));
    assert.match(valueFrom, /:secret:LwM2mBootstrap\/gateway-certificate-AbCdEf:certificatePem::/);
    assert.match(valueFrom, /:secret:LwM2mBootstrap\/gateway-certificate-AbCdEf:privateKey::/);
    const outputs = withGateway.toJSON().Outputs;
    assert.equal(outputs.GatewayThingName.Value, 'LwM2mBootstrap-gateway');
    assert.match(JSON.stringify(outputs.GatewayCertificateSecretName.Value), /LwM2mBootstrap\/gateway-certificate-AbCdEf|Fn::Select|gateway-certificate/);
  });

  it('never runs two tasks at once: IoT Core drops a connection when the same client id connects again', () => {
    withGateway.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 1, DeploymentConfiguration: Match.objectLike({ MinimumHealthyPercent: 0, MaximumPercent: 100 }) });
  });

  it('refuses to synthesize the gateway without the IoT endpoint', () => {
    assert.throws(() => synthesize({ [CONTEXT.gateway]: 'true' }), /needs the IoT endpoint: -c lwm2m-bs:iotDataEndpoint=/);
    assert.throws(
      () => synthesize({ [CONTEXT.gateway]: 'true', [CONTEXT.iotDataEndpoint]: 'a1b2c3-ats.iot.eu-west-1.amazonaws.com' }),
      /complete ARN: -c lwm2m-bs:gatewayCertificateSecretArn=/,
    );
  });
});
