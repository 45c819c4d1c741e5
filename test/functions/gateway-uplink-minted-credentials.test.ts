import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { IoTDataPlaneClient, PublishCommand } from '@aws-sdk/client-iot-data-plane';
import { DecryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import type { DeviceEntry } from '../../shared/bootstrap/device.ts';
import { serverCredentialsIssuedEventSchema, type ServerCredentialsIssuedEvent } from '../../shared/lifecycle/lifecycle-events.ts';
import { kmsEncryptionContext } from '../../server/aws/kms-key-sealer.ts';
import { LIFECYCLE_EVENT_SOURCE } from '../../server/aws/lifecycle-publisher.ts';
import type { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import type { handler as gatewayUplinkHandler } from '../../functions/gateway-uplink.ts';
import type { FakeKms } from '../fixtures/fake-kms.ts';
import { device, nosecProfile } from '../e2e/fixtures.ts';
import { bootstrapEnded, bootstrapRequested } from '../fixtures/uplinks.ts';
import { functionEnvironment, PURGE_SCHEDULER_TEST_ENV, lambdaContext } from './fixtures.ts';

// The gateway-uplink handler as deployed (middy, Powertools at DEBUG, the DynamoDB store on
// dynalite) with a profile that mints LwM2M Server credentials. A live AWS endpoint cannot run
// here (no account, no network), so: KMS is the real KMSClient (EncryptCommand, loaded by the
// function on its first seal) talking HTTP to the fake KMS of test/fixtures/fake-kms.ts, whose
// AES-GCM blobs authenticate the encryption context as KMS does, so a Decrypt through the same
// client shows what the LwM2M server side would get; EventBridge PutEvents, the IoT data-plane
// Publish and Scheduler are mocked with aws-sdk-client-mock, which records each request as the
// SDK would send it.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
const iotData = mockClient(IoTDataPlaneClient);
const eventBridge = mockClient(EventBridgeClient);
mockClient(SchedulerClient);

const BUS = 'lwm2m-bs-events';
const ENDPOINT = 'urn:imei:490154203237518';
const OLD_KEYS = { '7': randomBytes(16).toString('hex'), '9': randomBytes(16).toString('hex') };
const BOOTSTRAP_KEY = randomBytes(16).toString('hex');
const FLEET_KEY = randomBytes(16).toString('hex');

const psk = { securityMode: 'psk' as const, lifetime: 60, binding: 'U', notificationStoring: false };
const servers = [
  { shortServerId: 7, uri: 'coaps://lwm2m.example:5684', credentialSource: 'device' as const, ...psk },
  { shortServerId: 8, uri: 'coaps://fleet.example:5684', credentialSource: 'profile' as const, credentials: { identity: 'fleet', secretKey: FLEET_KEY }, ...psk },
  { shortServerId: 9, uri: 'coaps://backup.example:5684', credentialSource: 'device' as const, ...psk },
];

describe('gateway-uplink function: minted LwM2M Server credentials sealed with KMS', () => {
  let env: Awaited<ReturnType<typeof functionEnvironment>>;
  let store: DynamoDbBootstrapStore;
  let kms: FakeKms;
  let handler: typeof gatewayUplinkHandler;
  const context = lambdaContext('gateway-uplink');
  const logged: string[] = [];

  /**
   * One invocation, its log lines (stdout and stderr) kept for the key checks. The logger writes
   * strings; the test runner's own messages (buffers, on the same stdout) are passed through.
   */
  async function invoke(message: object): ReturnType<typeof gatewayUplinkHandler> {
    const capture = (stream: NodeJS.WriteStream) => {
      const original = stream.write;
      stream.write = ((chunk: string | Uint8Array, ...rest: never[]) => (typeof chunk === 'string' ? logged.push(chunk) > 0 : original.call(stream, chunk, ...rest))) as typeof stream.write;
      return () => {
        stream.write = original;
      };
    };
    const restore = [capture(process.stdout), capture(process.stderr)];
    try {
      return await handler({ ...message, gatewayTopicId: 'gw-1' }, context);
    } finally {
      for (const undo of restore) undo();
    }
  }

  before(async () => {
    env = await functionEnvironment({
      EVENT_BUS_NAME: BUS,
      IOT_DATA_ENDPOINT: 'a1b2c3-ats.iot.eu-west-1.amazonaws.com',
      ...PURGE_SCHEDULER_TEST_ENV,
      // Everything the function logs, at the most talkative level, is checked for keys.
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
    });
    ({ store, kms } = env);
    await store.putProfile(nosecProfile('minting', 5685, { servers, mintServerCredentials: true }));
    await store.putProfile(nosecProfile('plain', 5685, { servers }));
    const keyed = (endpoint: string, profile: string): DeviceEntry => ({
      ...device(endpoint, profile),
      serverCredentials: { '7': { identity: `${endpoint}-7`, secretKey: OLD_KEYS['7'] }, '9': { identity: `${endpoint}-9`, secretKey: OLD_KEYS['9'] } },
      bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-bs`, secretKey: BOOTSTRAP_KEY },
    });
    await store.putDevice(keyed(ENDPOINT, 'minting'));
    await store.putDevice(keyed('urn:imei:490154203237526', 'plain'));
    ({ handler } = await import('../../functions/gateway-uplink.ts'));
  });
  after(() => env.close());

  beforeEach(() => {
    iotData.reset();
    eventBridge.reset();
    iotData.on(PublishCommand).resolves({});
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
  });

  const requested = (endpoint: string, requestId: string) =>
    bootstrapRequested({ endpoint, requestId, gatewayId: 'gw-1', pskIdentity: `${endpoint}-bs`, receivedAt: new Date(Date.now() - 3000).toISOString() });
  const ended = (endpoint: string, sessionId: string) => bootstrapEnded({ endpoint, sessionId, gatewayId: 'gw-1', clientVersion: '1.1', startedAt: new Date(Date.now() - 3000).toISOString() });
  const published = () => iotData.commandCalls(PublishCommand).map((call) => JSON.parse(new TextDecoder().decode(call.args[0].input.payload as Uint8Array)) as { type: string; sessionId?: string; stored?: boolean });
  const putEntries = (): PutEventsRequestEntry[] => eventBridge.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []);
  const issued = (): { entry: PutEventsRequestEntry; event: ServerCredentialsIssuedEvent }[] =>
    putEntries()
      .filter((entry) => entry.DetailType === 'ServerCredentialsIssued')
      .map((entry) => ({ entry, event: serverCredentialsIssuedEventSchema.parse(JSON.parse(entry.Detail ?? '')) }));
  /** What the LwM2M server side does with an event: KMS Decrypt, with the context rebuilt from the event. */
  const decrypt = async (ciphertext: string, sealContext: { endpoint: string; shortServerId: number }): Promise<string> => {
    const client = new KMSClient({});
    try {
      const output = await client.send(new DecryptCommand({ CiphertextBlob: Buffer.from(ciphertext, 'base64'), EncryptionContext: kmsEncryptionContext(sealContext) }));
      return Buffer.from(output.Plaintext ?? []).toString('hex');
    } finally {
      client.destroy();
    }
  };

  it('touches no KMS for a profile that does not mint', async () => {
    await invoke(requested('urn:imei:490154203237526', 'r-plain'));
    const [planned] = published();
    assert.equal(planned?.type, 'bootstrap-planned');
    const result = await invoke(ended('urn:imei:490154203237526', planned!.sessionId!));
    assert.equal(result.lifecycleEvent, 'BootstrapCompleted');
    assert.deepEqual(issued(), []);
    assert.equal(kms.encrypts.length, 0);
  });

  it('fails the invocation when KMS does not seal, promoting nothing; the retry announces each minted account sealed, then promotes', async () => {
    await invoke(requested(ENDPOINT, 'r-1'));
    const [planned] = published();
    assert.equal(planned?.type, 'bootstrap-planned');
    const sessionId = planned!.sessionId!;
    const pending = (await store.getLifecycle(ENDPOINT))?.pendingServerCredentials;
    assert.deepEqual(Object.keys(pending?.credentials ?? {}).sort(), ['7', '9'], 'server 8 has the profile\'s credentials: not minted');
    assert.equal(kms.encrypts.length, 0, 'planning seals nothing');

    // KMS refuses (a disabled key, say): the success is stored, nothing else moves.
    iotData.reset();
    iotData.on(PublishCommand).resolves({});
    kms.failEncrypts(1, 'DisabledException');
    await assert.rejects(invoke(ended(ENDPOINT, sessionId)), (error: Error) => {
      assert.match(error.message, /^KMS did not seal the key for Short Server ID \d+ of urn:imei:490154203237518: DisabledException$/);
      return true;
    });
    assert.deepEqual(published(), [], 'nothing answered: the gateway resends, Lambda retries');
    assert.deepEqual(putEntries(), [], 'nothing announced');
    const unchanged = await store.getDevice(ENDPOINT);
    assert.deepEqual(
      Object.fromEntries(Object.entries(unchanged?.serverCredentials ?? {}).map(([id, credentials]) => [id, credentials.secretKey])),
      OLD_KEYS,
      'the LwM2M server side keeps taking the old keys',
    );
    assert.equal(unchanged?.status?.sessionId, sessionId, 'the outcome is stored already');
    assert.ok((await store.getLifecycle(ENDPOINT))?.pendingServerCredentials, 'still pending');

    // The retry: the same event.
    const result = await invoke(ended(ENDPOINT, sessionId));
    assert.equal(result.lifecycleEvent, 'BootstrapCompleted');
    assert.deepEqual(published().map(({ type, stored }) => [type, stored]), [['bootstrap-recorded', true]]);
    const promoted = (await store.getDevice(ENDPOINT))!;
    assert.equal((await store.getLifecycle(ENDPOINT))?.pendingServerCredentials, undefined);

    // One ServerCredentialsIssued per minted account, on the stack's bus, before BootstrapCompleted.
    assert.deepEqual(putEntries().map((entry) => entry.DetailType), ['ServerCredentialsIssued', 'ServerCredentialsIssued', 'BootstrapCompleted']);
    const events = issued();
    assert.deepEqual(events.map(({ event }) => event.shortServerId).sort(), [7, 9]);
    for (const { entry, event } of events) {
      assert.equal(entry.EventBusName, BUS);
      assert.equal(entry.Source, LIFECYCLE_EVENT_SOURCE);
      assert.equal(event.endpoint, ENDPOINT);
      const now = promoted.serverCredentials[String(event.shortServerId)]!;
      assert.equal(event.identity, now.identity);
      assert.notEqual(now.secretKey, OLD_KEYS[String(event.shortServerId) as '7' | '9'], 'a new key');
      assert.ok(event.secretKeyCiphertext !== undefined && now.secretKey !== undefined);
      assert.ok(!entry.Detail!.includes(now.secretKey), 'the key never travels in the clear');
      // Decrypts, with its own account's context, to the key the device entry now holds ...
      assert.equal(await decrypt(event.secretKeyCiphertext, { endpoint: ENDPOINT, shortServerId: event.shortServerId }), now.secretKey);
      // ... and with no other context.
      const other = event.shortServerId === 7 ? 9 : 7;
      await assert.rejects(decrypt(event.secretKeyCiphertext, { endpoint: ENDPOINT, shortServerId: other }), { name: 'InvalidCiphertextException' });
      await assert.rejects(decrypt(event.secretKeyCiphertext, { endpoint: 'urn:imei:490154203237526', shortServerId: event.shortServerId }), { name: 'InvalidCiphertextException' });
    }
    // The requests KMS saw: the sealing key, and exactly {endpoint, shortServerId} as context.
    assert.deepEqual(
      kms.encrypts.map(({ keyId, encryptionContext }) => [keyId, encryptionContext]).sort(([, a], [, b]) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      [
        [kms.encryptionKeyId, { endpoint: ENDPOINT, shortServerId: '7' }],
        [kms.encryptionKeyId, { endpoint: ENDPOINT, shortServerId: '9' }],
      ],
    );

    // A late redelivery announces nothing more.
    eventBridge.resetHistory();
    await invoke(ended(ENDPOINT, sessionId));
    assert.deepEqual(issued(), []);
    assert.equal(kms.encrypts.length, 2);
  });

  it('never writes a key to the log, at debug level either', async () => {
    const all = logged.join('');
    assert.match(all, /downlink published/, 'the function logged');
    const device = (await store.getDevice(ENDPOINT))!;
    const keys = [...Object.values(OLD_KEYS), BOOTSTRAP_KEY, FLEET_KEY, ...Object.values(device.serverCredentials).map((credentials) => credentials.secretKey ?? '')];
    assert.equal(new Set(keys).size, 6, 'two old, two new, the bootstrap and the fleet key');
    for (const key of keys) {
      assert.doesNotMatch(all, new RegExp(key, 'i'));
      assert.ok(!all.includes(Buffer.from(key, 'hex').toString('base64')));
    }
  });
});
