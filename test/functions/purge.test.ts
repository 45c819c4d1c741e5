import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { mockClient } from 'aws-sdk-client-mock';
import { connectAsync, type MqttClient } from 'mqtt';
import { pskRevocationSchema } from '../../shared/bootstrap/psk-revocation.ts';
import { accountPurgedEventSchema } from '../../shared/lifecycle/lifecycle-events.ts';
import type { AccountPurge } from '../../shared/lifecycle/purge.ts';
import { PSK_REVOCATIONS_TOPIC } from '../../server/aws/topics.ts';
import { MqttBackendChannel } from '../../server/gateway/mqtt-backend-channel.ts';
import { PskCache, storePskSource } from '../../server/gateway/psk-cache.ts';
import type { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import type { handler as purgeHandler } from '../../functions/purge.ts';
import { device, eventually } from '../e2e/fixtures.ts';
import { functionEnvironment, lambdaContext, startBroker } from './fixtures.ts';

// The real purge handler (middy, Powertools, the DynamoDB store) against dynalite, invoked
// with the schedule's input as EventBridge Scheduler passes it. EventBridge PutEvents
// (AccountPurged) and the IoT data plane's Publish (the PSK revocation) are mocked with
// aws-sdk-client-mock: nothing local stands in for the bus, and a live IoT endpoint cannot be
// reached from here. The last test forwards the publish to a real MQTT broker (aedes) instead,
// where a real gateway channel and PSK cache receive it.

const eventBridge = mockClient(EventBridgeClient);
const iotData = mockClient(IoTDataPlaneClient);

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
    // A configured endpoint, as the stack sets it: no DescribeEndpoint call.
    env = await functionEnvironment({ EVENT_BUS_NAME: 'LwM2mBootstrap-events', IOT_DATA_ENDPOINT: 'a1b2c3-ats.iot.eu-west-1.amazonaws.com' });
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
    iotData.reset();
    iotData.on(PublishCommand).resolves({});
  });

  const putEvents = () => eventBridge.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []);
  /** The revocations published, each checked against the topic, QoS and schema. */
  const revocations = () =>
    iotData.commandCalls(PublishCommand).map((call) => {
      const { topic, qos, payload } = call.args[0].input;
      assert.equal(topic, PSK_REVOCATIONS_TOPIC);
      assert.equal(qos, 1);
      const text = Buffer.from(payload as Uint8Array).toString('utf8');
      assert.doesNotMatch(text, new RegExp(RETIRING_KEY), 'no key in a revocation');
      return pskRevocationSchema.parse(JSON.parse(text));
    });
  const retiringDevice = (endpoint: string) => ({
    ...device(endpoint, 'fleet'),
    retiringBootstrapCredentials: [{ securityMode: 'psk' as const, identity: `bs-old-${endpoint}`, secretKey: RETIRING_KEY, retiredAt: SCHEDULED_AT, reason: 'replaced' as const }],
  });

  it('revokes the credential, records it and emits one AccountPurged under double delivery', async () => {
    const purge = purgeOf('dev-p', 'bs-old-dev-p');
    const first = await handler(purge, context);
    assert.equal(first.outcome, 'purged');
    assert.equal(first.endpoint, 'dev-p');
    assert.match(first.schedule, /^purge-[0-9a-f]{40}-1-r$/, "a replaced account's purge has its own name");
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

    // The revoking purge told the gateways once; the repeated one, which cannot tell itself
    // from the retry of a failed publish, tells them again (a gateway's cost: one lookup).
    const [told, again, ...moreTold] = revocations();
    assert.deepEqual(moreTold, []);
    assert.deepEqual({ ...told, revokedAt: '' }, { v: 1, type: 'psk-revoked', identity: 'bs-old-dev-p', revokedAt: '' });
    assert.equal(told?.revokedAt, stored?.revokedBootstrapIdentities?.[0]?.revokedAt, 'the time the store recorded');
    assert.equal(again?.identity, 'bs-old-dev-p');
  });

  it('fails the invocation when the revocation cannot be published, after revoking and announcing; the retry publishes it', async () => {
    await store.putDevice(retiringDevice('dev-f'));
    iotData.reset();
    iotData.on(PublishCommand).rejectsOnce(Object.assign(new Error('Not authorized to publish'), { name: 'ForbiddenException' })).resolves({});
    const purge = purgeOf('dev-f', 'bs-old-dev-f');
    await assert.rejects(handler(purge, context), (error: Error) => {
      assert.match(error.message, /the PSK revocation is stored but the gateways were not told: ForbiddenException: Not authorized to publish/);
      assert.doesNotMatch(error.message, new RegExp(RETIRING_KEY));
      return true;
    });
    // Revoked and announced on the bus all the same: the retry finds the purge done and could
    // not send AccountPurged again.
    assert.equal(await store.findDevice('retiringPskIdentity', 'bs-old-dev-f'), undefined);
    assert.deepEqual(putEvents().map((entry) => entry.DetailType), ['AccountPurged']);
    assert.deepEqual(revocations().map((revocation) => revocation.identity), ['bs-old-dev-f']);

    // Lambda's retry: the same input.
    const retry = await handler(structuredClone(purge), context);
    assert.equal(retry.outcome, 'already-purged');
    assert.deepEqual(revocations().map((revocation) => revocation.identity), ['bs-old-dev-f', 'bs-old-dev-f'], 'sent again');
    assert.equal(putEvents().length, 1, 'still one AccountPurged');
  });

  it('also fails a repeated purge whose publish fails, so that its own retry sends it', async () => {
    iotData.reset();
    iotData.on(PublishCommand).rejects(new Error('throttled'));
    await assert.rejects(handler(purgeOf('dev-f', 'bs-old-dev-f'), context), /gateways were not told: Error: throttled/);
  });

  it('publishes nothing for a NoSec account: no identity to forget', async () => {
    await store.putDevice(device('dev-n', 'fleet'));
    const purge: AccountPurge = { endpoint: 'dev-n', securityInstanceId: 2, reason: 'account-timeout', dueAt: '2026-11-23T13:00:00.000Z', scheduledAt: SCHEDULED_AT, bootstrapSessionId: 'session-n' };
    assert.equal((await handler(purge, context)).outcome, 'purged');
    assert.equal((await handler(purge, context)).outcome, 'already-purged');
    assert.equal(iotData.commandCalls(PublishCommand).length, 0);
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

  it('makes a connected gateway forget the revoked key at once: through a real broker to a real channel and PSK cache', async () => {
    const broker = await startBroker();
    // The IoT data plane's side of the publish: what the function sends reaches the broker as is.
    const iotCore: MqttClient = await connectAsync(broker.url, { protocolVersion: 4, clientId: 'iot-data-plane', reconnectPeriod: 0 });
    iotData.reset();
    iotData.on(PublishCommand).callsFake(async (input: { topic: string; qos: number; payload: Uint8Array }) => {
      await iotCore.publishAsync(input.topic, Buffer.from(input.payload), { qos: input.qos as 0 | 1 });
      return {};
    });
    // The gateway's cache over the same table, with a TTL far beyond the test: only the
    // revocation can make it ask again.
    const lookups: string[] = [];
    const source = storePskSource(store);
    const cache = new PskCache({ lookup: (identity) => (lookups.push(identity), source.lookup(identity)) }, { ttlMs: 3_600_000 });
    const channel = await MqttBackendChannel.connect({ url: broker.url, gatewayId: 'gw-purge', pskCache: cache });
    try {
      await store.putDevice(retiringDevice('dev-g'));
      assert.equal((await cache.lookup('bs-old-dev-g'))?.endpoint, 'dev-g');
      assert.equal((await cache.lookup('bs-old-dev-g'))?.endpoint, 'dev-g');
      assert.equal(lookups.length, 1, 'cached');

      assert.equal((await handler(purgeOf('dev-g', 'bs-old-dev-g'), context)).outcome, 'purged');
      await eventually(async () => (channel.counters().revocations === 1 ? true : undefined));
      assert.equal(await cache.lookup('bs-old-dev-g'), undefined, 'the revoked key authenticates no more');
      assert.equal(lookups.length, 2);
    } finally {
      await channel.close();
      await iotCore.endAsync();
      await broker.close();
    }
  });
});
