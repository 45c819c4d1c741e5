import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { CreateScheduleCommand, DeleteScheduleCommand, ResourceNotFoundException, SchedulerClient, UpdateScheduleCommand } from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import type { BootstrapEnded } from '../../shared/bootstrap/contract.ts';
import type { Profile } from '../../shared/bootstrap/profile.ts';
import { accountPurgeSchema, purgeScheduleName } from '../../shared/lifecycle/purge.ts';
import { atExpression, PURGE_RETRY_POLICY } from '../../server/aws/eventbridge-purge-scheduler.ts';
import type { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import type { handler as gatewayUplinkHandler } from '../../functions/gateway-uplink.ts';
import { PURGE_SCHEDULER_ENV } from '../../functions/runtime/lifecycle-settings.ts';
import { device, nosecProfile } from '../e2e/fixtures.ts';
import { bootstrapEnded } from '../fixtures/uplinks.ts';
import { functionEnvironment, lambdaContext } from './fixtures.ts';

// The real gateway-uplink handler (middy, Powertools, the DynamoDB store on dynalite) with the
// real EventBridgePurgeScheduler. EventBridge Scheduler is mocked with aws-sdk-client-mock:
// nothing local implements its API (dynalite is DynamoDB only), and what matters here is the
// request the function sends, which the mock records exactly as the SDK would put it on the
// wire. The IoT data-plane Publish and EventBridge PutEvents are mocked for the same reason.
const scheduler = mockClient(SchedulerClient);
const iotData = mockClient(IoTDataPlaneClient);
const eventBridge = mockClient(EventBridgeClient);

const SETTINGS = {
  group: 'LwM2mBootstrap-Scheduler-Group-TEST',
  purgeArn: 'arn:aws:lambda:eu-west-1:123456789012:function:LwM2mBootstrap-LifecyclePurge',
  roleArn: 'arn:aws:iam::123456789012:role/LwM2mBootstrap-SchedulerExecutionRole',
  deadLetterArn: 'arn:aws:sqs:eu-west-1:123456789012:LwM2mBootstrap-SchedulerPurgeFailures',
};
const BOOTSTRAP_KEY = '0123456789abcdef0123456789abcdef';
const DAY_SECONDS = 86_400;

function timedProfile(accountTimeout: number | undefined): Profile {
  // The client deletes its only Bootstrap-Server account at the timeout: the profile must allow it.
  return nosecProfile('timed', 5685, { bootstrapServer: { uri: 'coaps://bs.example:5684', instanceId: 0, ...(accountTimeout !== undefined && { accountTimeout }) }, allowNoBootstrapAccount: true });
}

describe('gateway-uplink function: account-timeout purges on EventBridge Scheduler', () => {
  let env: Awaited<ReturnType<typeof functionEnvironment>>;
  let store: DynamoDbBootstrapStore;
  let handler: typeof gatewayUplinkHandler;
  const context = lambdaContext('gateway-uplink');

  before(async () => {
    env = await functionEnvironment({
      EVENT_BUS_NAME: 'lwm2m-bs-events',
      IOT_DATA_ENDPOINT: 'a1b2c3-ats.iot.eu-west-1.amazonaws.com',
      [PURGE_SCHEDULER_ENV.groupName]: SETTINGS.group,
      [PURGE_SCHEDULER_ENV.targetArn]: SETTINGS.purgeArn,
      [PURGE_SCHEDULER_ENV.roleArn]: SETTINGS.roleArn,
      [PURGE_SCHEDULER_ENV.deadLetterArn]: SETTINGS.deadLetterArn,
    });
    store = env.store;
    await store.putProfile(timedProfile(DAY_SECONDS));
    await store.putDevice({ ...device('timed-1', 'timed'), bootstrapCredentials: { securityMode: 'psk', identity: 'timed-1-bs', secretKey: BOOTSTRAP_KEY } });
    ({ handler } = await import('../../functions/gateway-uplink.ts'));
  });
  after(() => env.close());

  beforeEach(() => {
    scheduler.reset();
    iotData.reset();
    eventBridge.reset();
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: `arn:aws:scheduler:eu-west-1:123456789012:schedule/${SETTINGS.group}/x` });
    scheduler.on(DeleteScheduleCommand).resolves({});
    iotData.on(PublishCommand).resolves({});
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
  });

  // Times near the real clock: a one-time schedule is never put in the past (atExpression).
  const ended = (sessionId: string, endedAt: Date, extra: Partial<BootstrapEnded> = {}) =>
    bootstrapEnded({
      endpoint: 'timed-1',
      sessionId,
      gatewayId: 'gw-1',
      clientVersion: '1.1',
      contentFormat: 112,
      startedAt: new Date(endedAt.getTime() - 1500).toISOString(),
      endedAt: endedAt.toISOString(),
      ...extra,
    });
  const recorded = () => iotData.commandCalls(PublishCommand).map((call) => JSON.parse(new TextDecoder().decode(call.args[0].input.payload as Uint8Array)) as { type: string; stored?: boolean });

  it('schedules the purge of a Bootstrap-Server account written with an Account Timeout', async () => {
    const endedAt = new Date();
    const before = Date.now();
    const result = await handler({ ...ended('s-timed-1', endedAt), gatewayTopicId: 'gw-1' }, context);
    assert.equal(result.lifecycleEvent, 'BootstrapCompleted');
    assert.deepEqual(recorded().map(({ type, stored }) => [type, stored]), [['bootstrap-recorded', true]]);

    const [create, ...more] = scheduler.commandCalls(CreateScheduleCommand).map((call) => call.args[0].input);
    assert.equal(more.length, 0);
    assert.equal(scheduler.commandCalls(DeleteScheduleCommand).length, 0);
    assert.equal(scheduler.commandCalls(UpdateScheduleCommand).length, 0);
    const dueAt = new Date(endedAt.getTime() + DAY_SECONDS * 1000).toISOString();
    const { Target, ...schedule } = create!;
    assert.deepEqual(schedule, {
      Name: purgeScheduleName('timed-1', 0),
      GroupName: SETTINGS.group,
      ScheduleExpression: atExpression(Date.parse(dueAt), before),
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
    });
    // A day ahead: the due time itself, to the second (rounded up), not the past-due fallback.
    assert.equal(schedule.ScheduleExpression, `at(${new Date(Math.ceil(Date.parse(dueAt) / 1000) * 1000).toISOString().slice(0, 19)})`);
    const { Input, ...target } = Target!;
    assert.deepEqual(target, { Arn: SETTINGS.purgeArn, RoleArn: SETTINGS.roleArn, RetryPolicy: { ...PURGE_RETRY_POLICY }, DeadLetterConfig: { Arn: SETTINGS.deadLetterArn } });
    const input = accountPurgeSchema.parse(JSON.parse(Input!));
    assert.deepEqual({ ...input, scheduledAt: undefined }, {
      endpoint: 'timed-1',
      securityInstanceId: 0,
      pskIdentity: 'timed-1-bs',
      reason: 'account-timeout',
      dueAt,
      scheduledAt: undefined,
      bootstrapSessionId: 's-timed-1',
    });
    assert.ok(Date.parse(input.scheduledAt) >= before - 1000);
    // The input goes to Scheduler and on to CloudTrail: identifiers only, never the key.
    assert.doesNotMatch(Input!, new RegExp(BOOTSTRAP_KEY, 'i'));
  });

  it('schedules nothing for a failed bootstrap, nor for a repeated outcome', async () => {
    const repeat = await handler({ ...ended('s-timed-1', new Date(Date.now() - 5000)), gatewayTopicId: 'gw-1' }, context);
    assert.equal(repeat.lifecycleEvent, undefined);
    await handler({ ...ended('s-timed-failed', new Date(), { outcome: 'client-error', detail: 'the client refused a write' }), gatewayTopicId: 'gw-1' }, context);
    assert.equal(scheduler.commandCalls(CreateScheduleCommand).length, 0);
    assert.equal(scheduler.commandCalls(DeleteScheduleCommand).length, 0);
  });

  it('cancels the purge when a re-bootstrap writes the account without a timeout', async () => {
    await store.putProfile(timedProfile(undefined));
    await handler({ ...ended('s-timed-2', new Date()), gatewayTopicId: 'gw-1' }, context);
    assert.deepEqual(recorded().map(({ type, stored }) => [type, stored]), [['bootstrap-recorded', true]]);
    assert.deepEqual(scheduler.commandCalls(DeleteScheduleCommand).map((call) => call.args[0].input), [{ Name: purgeScheduleName('timed-1', 0), GroupName: SETTINGS.group }]);
    assert.equal(scheduler.commandCalls(CreateScheduleCommand).length, 0);
  });

  it('takes a cancel of a schedule that already ran (and was deleted) as done', async () => {
    scheduler.on(DeleteScheduleCommand).rejects(new ResourceNotFoundException({ Message: 'Schedule not found', message: 'Schedule not found', $metadata: {} }));
    const result = await handler({ ...ended('s-timed-3', new Date()), gatewayTopicId: 'gw-1' }, context);
    assert.equal(result.lifecycleEvent, 'BootstrapCompleted');
    assert.equal(scheduler.commandCalls(DeleteScheduleCommand).length, 1);
    assert.deepEqual(recorded().map(({ type }) => type), ['bootstrap-recorded']);
  });
});
