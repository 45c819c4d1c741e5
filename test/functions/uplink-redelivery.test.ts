import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { ConflictException, CreateScheduleCommand, SchedulerClient, UpdateScheduleCommand } from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { accountPurgeSchema, type AccountPurge } from '../../shared/lifecycle/purge.ts';
import type { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import type { handler as gatewayUplinkHandler } from '../../functions/gateway-uplink.ts';
import { device, nosecProfile } from '../e2e/fixtures.ts';
import { bootstrapEnded, bootstrapRequested } from '../fixtures/uplinks.ts';
import { functionEnvironment, PURGE_SCHEDULER_TEST_ENV, lambdaContext } from './fixtures.ts';

// The gateway-uplink handler as deployed (middy, Powertools, the DynamoDB store on dynalite,
// the EventBridge purge scheduler) when scheduling fails after the outcome is stored: the
// invocation must fail, so that Lambda's retry (retryAttempts 1, infra/constructs/functions.ts)
// or the gateway's resend delivers the same `bootstrap-ended` again, and that second run must
// finish the account replacement once. Scheduler, IoT Publish and PutEvents are mocked: nothing
// local implements them.
const scheduler = mockClient(SchedulerClient);
const iotData = mockClient(IoTDataPlaneClient);
const eventBridge = mockClient(EventBridgeClient);

const IMEI = '356938035643809';
const WEAK_KEY = Buffer.from(`${IMEI}0`).toString('hex');

describe('gateway-uplink function: a redelivered success of an account replacement', () => {
  let env: Awaited<ReturnType<typeof functionEnvironment>>;
  let store: DynamoDbBootstrapStore;
  let handler: typeof gatewayUplinkHandler;
  const context = lambdaContext('gateway-uplink');

  before(async () => {
    env = await functionEnvironment({
      EVENT_BUS_NAME: 'lwm2m-bs-events',
      IOT_DATA_ENDPOINT: 'a1b2c3-ats.iot.eu-west-1.amazonaws.com',
      ...PURGE_SCHEDULER_TEST_ENV,
    });
    store = env.store;
    await store.putProfile(nosecProfile('replacing', 5685, { bootstrapServer: { uri: 'coaps://bs.example:5684', instanceId: 0, accountTimeout: 3600 } }));
    await store.putDevice({
      ...device('weak-aws', 'replacing'),
      identities: { imei: IMEI },
      bootstrapCredentials: { securityMode: 'psk', identity: 'weak-aws-bs', secretKey: WEAK_KEY },
    });
    ({ handler } = await import('../../functions/gateway-uplink.ts'));
  });
  after(() => env.close());

  beforeEach(() => {
    scheduler.reset();
    iotData.reset();
    eventBridge.reset();
    iotData.on(PublishCommand).resolves({});
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
  });

  const published = () => iotData.commandCalls(PublishCommand).map((call) => JSON.parse(new TextDecoder().decode(call.args[0].input.payload as Uint8Array)) as { type: string; sessionId?: string; stored?: boolean });
  const scheduledPurges = (): AccountPurge[] =>
    [...scheduler.commandCalls(CreateScheduleCommand), ...scheduler.commandCalls(UpdateScheduleCommand)].map((call) => accountPurgeSchema.parse(JSON.parse(call.args[0].input.Target!.Input!)));

  it('fails the invocation when the purge cannot be scheduled, and the retry promotes once and schedules the purge', async () => {
    const startedAt = new Date(Date.now() - 3000).toISOString();
    const request = bootstrapRequested({ endpoint: 'weak-aws', requestId: 'r-1', gatewayId: 'gw-1', pskIdentity: 'weak-aws-bs', receivedAt: startedAt });
    await handler({ ...request, gatewayTopicId: 'gw-1' }, context);
    const [planned] = published();
    assert.equal(planned?.type, 'bootstrap-planned');
    const sessionId = planned!.sessionId!;
    const pending = (await store.getLifecycle('weak-aws'))?.pendingAccount;
    assert.ok(pending);

    const ended = bootstrapEnded({
      endpoint: 'weak-aws',
      sessionId,
      gatewayId: 'gw-1',
      clientVersion: '1.1',
      startedAt,
      endedAt: new Date().toISOString(),
      securityInstances: { writes: { 1: 1, 2: 2 }, bootstrapServer: 0 },
    });
    iotData.reset();
    iotData.on(PublishCommand).resolves({});
    scheduler.on(CreateScheduleCommand).rejectsOnce(new Error('Rate exceeded')).resolves({ ScheduleArn: 'arn:aws:scheduler:eu-west-1:123456789012:schedule/lwm2m-bs-purges/x' });
    await assert.rejects(handler({ ...ended, gatewayTopicId: 'gw-1' }, context), /Rate exceeded/);
    assert.deepEqual(published(), [], 'nothing answered: the gateway resends, Lambda retries');
    assert.equal(eventBridge.commandCalls(PutEventsCommand).length, 0, 'nothing announced');
    assert.equal((await store.getDevice('weak-aws'))?.status?.sessionId, sessionId, 'the outcome is stored already');

    // The retry: the same event.
    const result = await handler({ ...ended, gatewayTopicId: 'gw-1' }, context);
    assert.equal(result.lifecycleEvent, 'BootstrapCompleted');
    assert.deepEqual(published().map(({ type, stored }) => [type, stored]), [['bootstrap-recorded', true]]);
    const entry = (await store.getDevice('weak-aws'))!;
    assert.equal(entry.bootstrapCredentials?.identity, pending.identity);
    assert.deepEqual(entry.retiringBootstrapCredentials?.map((credentials) => credentials.identity), ['weak-aws-bs'], 'promoted once');
    const purges = scheduledPurges();
    assert.ok(purges.length >= 1);
    for (const purge of purges) {
      assert.deepEqual({ reason: purge.reason, pskIdentity: purge.pskIdentity, securityInstanceId: purge.securityInstanceId }, { reason: 'replaced', pskIdentity: 'weak-aws-bs', securityInstanceId: 0 });
    }
    const kept = (await store.getLifecycle('weak-aws'))?.pendingAccount;
    assert.equal(kept?.identity, pending.identity, "kept for the new account's first session");
    assert.equal(kept?.promotedBy, sessionId);

    // A third delivery (the gateway's resend arriving late) changes nothing; the schedule is updated in place.
    scheduler.on(CreateScheduleCommand).rejects(new ConflictException({ Message: 'exists', message: 'exists', $metadata: {} }));
    scheduler.on(UpdateScheduleCommand).resolves({ ScheduleArn: 'arn:aws:scheduler:eu-west-1:123456789012:schedule/lwm2m-bs-purges/x' });
    await handler({ ...ended, gatewayTopicId: 'gw-1' }, context);
    assert.equal((await store.getDevice('weak-aws'))?.retiringBootstrapCredentials?.length, 1);
    assert.ok(scheduledPurges().every((purge) => purge.reason === 'replaced' && purge.pskIdentity === 'weak-aws-bs'));
    assert.equal((await store.getLifecycle('weak-aws'))?.pendingAccount?.identity, pending.identity);
  });
});
