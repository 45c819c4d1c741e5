import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { accountPurgedEventSchema } from '../../shared/lifecycle/lifecycle-events.ts';
import type { AccountPurge } from '../../shared/lifecycle/purge.ts';
import type { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import type { handler as purgeHandler } from '../../functions/purge.ts';
import { device } from '../e2e/fixtures.ts';
import { functionEnvironment, lambdaContext } from './fixtures.ts';

// The real purge handler (middy, Powertools, the DynamoDB store) against dynalite, invoked
// with the schedule's input as EventBridge Scheduler passes it. Only EventBridge PutEvents
// (AccountPurged) is mocked with aws-sdk-client-mock: nothing local stands in for the bus.

const eventBridge = mockClient(EventBridgeClient);

const RETIRING_KEY = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const SCHEDULED_AT = '2026-11-23T12:00:00.000Z';

const purgeOf = (endpoint: string, pskIdentity: string): AccountPurge => ({
  endpoint,
  securityInstanceId: 1,
  pskIdentity,
  reason: 'replaced',
  dueAt: '2026-11-23T13:00:00.000Z',
  scheduledAt: SCHEDULED_AT,
  bootstrapSessionId: 'session-1',
});

describe('purge function', () => {
  let env: Awaited<ReturnType<typeof functionEnvironment>>;
  let store: DynamoDbBootstrapStore;
  let handler: typeof purgeHandler;
  const context = lambdaContext('purge');

  before(async () => {
    env = await functionEnvironment({ EVENT_BUS_NAME: 'LwM2mBootstrap-events' });
    store = env.store;
    await store.putDevice({
      ...device('dev-p', 'fleet'),
      bootstrapCredentials: { securityMode: 'psk', identity: 'bs-new-dev-p', secretKey: 'aa'.repeat(16) },
      retiringBootstrapCredentials: [{ securityMode: 'psk', identity: 'bs-old-dev-p', secretKey: RETIRING_KEY, retiredAt: SCHEDULED_AT, reason: 'replaced' }],
    });
    ({ handler } = await import('../../functions/purge.ts'));
  });
  after(() => env.close());

  beforeEach(() => {
    eventBridge.reset();
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
  });

  const putEvents = () => eventBridge.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []);

  it('revokes the credential, records it and emits one AccountPurged under double delivery', async () => {
    const purge = purgeOf('dev-p', 'bs-old-dev-p');
    const first = await handler(purge, context);
    assert.equal(first.outcome, 'purged');
    assert.equal(first.endpoint, 'dev-p');
    assert.match(first.schedule, /^purge-[0-9a-f]{40}-1$/);
    assert.equal(await store.findDevice('retiringPskIdentity', 'bs-old-dev-p'), undefined);
    const stored = await store.getDevice('dev-p');
    assert.equal(stored?.bootstrapCredentials?.identity, 'bs-new-dev-p', 'the current credential still authenticates');
    assert.deepEqual(stored?.revokedBootstrapIdentities?.map(({ identity, reason }) => ({ identity, reason })), [{ identity: 'bs-old-dev-p', reason: 'replaced' }]);

    const second = await handler(structuredClone(purge), context);
    assert.equal(second.outcome, 'already-purged');
    assert.deepEqual(await store.getDevice('dev-p'), stored);

    const [entry, ...more] = putEvents();
    assert.equal(more.length, 0, 'one event for two deliveries');
    assert.equal(entry?.EventBusName, 'LwM2mBootstrap-events');
    assert.equal(entry?.Source, 'lwm2m-bs');
    assert.equal(entry?.DetailType, 'AccountPurged');
    const detail = accountPurgedEventSchema.parse(JSON.parse(entry?.Detail ?? 'null'));
    assert.deepEqual({ ...detail, time: '' }, { type: 'AccountPurged', endpoint: 'dev-p', time: '', securityInstanceId: 1, pskIdentity: 'bs-old-dev-p', reason: 'replaced', sessionId: 'session-1' });
    assert.doesNotMatch(entry?.Detail ?? '', new RegExp(RETIRING_KEY));
  });

  it('refuses malformed input naming the field, not its value, and never a key passed along', async () => {
    await assert.rejects(handler({ ...purgeOf('dev-p', 'bs-old-dev-p'), securityInstanceId: 65535 }, context), /invalid purge input: securityInstanceId: too_big/);
    await assert.rejects(handler({ ...purgeOf('dev-p', 'bs-old-dev-p'), secretKey: RETIRING_KEY }, context), (error: Error) => {
      assert.match(error.message, /unrecognized_keys/);
      assert.doesNotMatch(error.message, new RegExp(RETIRING_KEY));
      return true;
    });
    assert.equal(putEvents().length, 0);
  });

  it('fails the invocation when the bus refuses the event, after revoking', async () => {
    await store.putDevice({
      ...device('dev-q', 'fleet'),
      retiringBootstrapCredentials: [{ securityMode: 'psk', identity: 'bs-old-dev-q', secretKey: RETIRING_KEY, retiredAt: SCHEDULED_AT, reason: 'replaced' }],
    });
    eventBridge.reset();
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }] });
    await assert.rejects(handler(purgeOf('dev-q', 'bs-old-dev-q'), context), /EventBridge refused a AccountPurged lifecycle event: InternalFailure/);
    // The credential is revoked all the same: revocation comes first.
    assert.equal(await store.findDevice('retiringPskIdentity', 'bs-old-dev-q'), undefined);
  });
});
