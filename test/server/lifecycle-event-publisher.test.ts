import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { EventBridgeLifecycleEvents } from '../../server/aws/lifecycle-event-publisher.ts';
import { LifecycleEventError, lifecycleEventSchema, type LifecycleEvent } from '../../shared/lifecycle/lifecycle-events.ts';

// Mocked with aws-sdk-client-mock: EventBridge has no local stand-in (neither dynalite nor
// anything installed here speaks its API), so these tests pin the PutEvents requests instead.
const eventBridge = mockClient(EventBridgeClient);

const KEY = 'c0ffee00c0ffee00c0ffee00c0ffee01';
const options = {
  client: new EventBridgeClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
  eventBusName: 'lwm2m-bs-lifecycle',
  source: 'lwm2m-bs',
};

const purged: LifecycleEvent = {
  type: 'AccountPurged',
  endpoint: 'urn:imei:490154203237518',
  time: '2026-03-01T13:00:01.000Z',
  securityInstanceId: 2,
  pskIdentity: 'bs-old',
  reason: 'account-timeout',
  sessionId: 'session-7',
};

const entries = () => eventBridge.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []);

describe('EventBridgeLifecycleEvents', () => {
  beforeEach(() => {
    eventBridge.reset();
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
  });

  it('puts one entry per event: the type as detail-type, the whole event as detail, its time as the entry time', async () => {
    await new EventBridgeLifecycleEvents(options).emit(purged);

    const [entry, ...rest] = entries();
    assert.equal(rest.length, 0);
    assert.ok(entry);
    assert.equal(entry.EventBusName, 'lwm2m-bs-lifecycle');
    assert.equal(entry.Source, 'lwm2m-bs');
    assert.equal(entry.DetailType, 'AccountPurged');
    assert.deepEqual(entry.Time, new Date('2026-03-01T13:00:01.000Z'));
    assert.deepEqual(lifecycleEventSchema.parse(JSON.parse(entry.Detail ?? '')), purged, 'a consumer reads the detail back with the same schema');
  });

  it('carries a SimChanged and a ServerCredentialsIssued with its ciphertext', async () => {
    const sink = new EventBridgeLifecycleEvents(options);
    const ciphertext = Buffer.from('kms ciphertext blob, not a key').toString('base64');
    await sink.emit({ type: 'SimChanged', endpoint: 'ep-1', time: '2026-03-01T12:00:00.000Z', from: '89340701234567890123', to: '8934070999999999999F', disabledSmartcard: true });
    await sink.emit({ type: 'ServerCredentialsIssued', endpoint: 'ep-1', time: '2026-03-01T12:00:00.000Z', shortServerId: 101, identity: 'lwm2m-ep-1', secretKeyCiphertext: ciphertext });
    assert.deepEqual(entries().map((entry) => entry.DetailType), ['SimChanged', 'ServerCredentialsIssued']);
    assert.equal(JSON.parse(entries()[1]?.Detail ?? '{}').secretKeyCiphertext, ciphertext);
  });

  it('names the detail type, not the content, when EventBridge refuses the entry', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: `could not take ${JSON.stringify(purged)}` }] });
    await assert.rejects(new EventBridgeLifecycleEvents(options).emit(purged), (error: Error) => {
      assert.match(error.message, /AccountPurged/);
      assert.match(error.message, /InternalFailure/);
      for (const content of ['bs-old', 'urn:imei:490154203237518', 'session-7']) assert.ok(!error.message.includes(content), content);
      return true;
    });
  });

  it('passes on a failed call', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('throttled'));
    await assert.rejects(new EventBridgeLifecycleEvents(options).emit(purged), /throttled/);
  });

  it('sends nothing for an event carrying a key', async () => {
    const keyed = { ...purged, secretKey: KEY } as unknown as LifecycleEvent;
    await assert.rejects(new EventBridgeLifecycleEvents(options).emit(keyed), (error: unknown) => error instanceof LifecycleEventError && !error.message.includes(KEY));
    assert.equal(entries().length, 0);
  });
});
