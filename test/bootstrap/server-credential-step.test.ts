import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { handleUplink, type BootstrapBackendDeps } from '../../shared/bootstrap/backend.ts';
import type { DeviceEntry } from '../../shared/bootstrap/device.ts';
import type { BootstrapPlan } from '../../shared/bootstrap/plan.ts';
import { planServerInitiated } from '../../shared/bootstrap/server-initiated.ts';
import type { LifecycleEvent, LifecycleEventSink } from '../../shared/lifecycle/lifecycle-events.ts';
import { profileFingerprint } from '../../shared/lifecycle/profile-fingerprint.ts';
import type { KeySealer } from '../../shared/lifecycle/server-credentials.ts';
import type { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { device, nosecProfile } from '../e2e/fixtures.ts';
import { startDynaliteStore } from '../fixtures/dynalite-store.ts';
import { bootstrapEnded, bootstrapRequested, plannedOf } from '../fixtures/uplinks.ts';

// Profiles with mintServerCredentials through the backend, against the real store adapter over
// dynalite. The sealer is a local AES-GCM one: KMS cannot run here, and what is under test is
// that the events carry a ciphertext and never the key.
describe('minting LwM2M Server credentials at every bootstrap', () => {
  let close: () => Promise<void>;
  let store: DynamoDbBootstrapStore;
  let deps: BootstrapBackendDeps;
  const emitted: LifecycleEvent[] = [];
  let failNextEmit = false;
  const events: LifecycleEventSink = {
    emit: (event) => {
      if (failNextEmit) {
        failNextEmit = false;
        return Promise.reject(new Error('event bus unavailable'));
      }
      emitted.push(event);
      return Promise.resolve();
    },
  };
  const sealingKey = randomBytes(32);
  const sealer: KeySealer = {
    seal: (plaintext) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', sealingKey, iv);
      const sealed = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      return Promise.resolve(sealed.toString('base64'));
    },
  };
  const oldKey = randomBytes(16).toString('hex');
  const bootstrapKey = randomBytes(16).toString('hex');
  let sessions = 0;
  let requests = 0;

  const pskServers = [
    { shortServerId: 7, uri: 'coaps://lwm2m.example:5684', securityMode: 'psk' as const, credentialSource: 'device' as const, lifetime: 60, binding: 'U', notificationStoring: false },
    { shortServerId: 8, uri: 'coaps://fleet.example:5684', securityMode: 'psk' as const, credentialSource: 'profile' as const, credentials: { identity: 'fleet', secretKey: randomBytes(16).toString('hex') }, lifetime: 60, binding: 'U', notificationStoring: false },
  ];
  const keyed = (endpoint: string): DeviceEntry => ({
    ...device(endpoint, 'minting'),
    serverCredentials: { '7': { identity: `${endpoint}-old`, secretKey: oldKey } },
    bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-bs`, secretKey: bootstrapKey },
  });

  const requested = (endpoint: string, kind: 'bs' | 'bspack' = 'bs') => bootstrapRequested({ endpoint, kind, requestId: `r-${++requests}`, pskIdentity: `${endpoint}-bs` });
  const ended = (endpoint: string, sessionId: string, endedAt?: string) => bootstrapEnded({ endpoint, sessionId, clientVersion: '1.1', endedAt });
  const writtenIdentity = (plan: BootstrapPlan, shortServerId: number): string | undefined => {
    const write = plan.writes.find((candidate) => Object.entries(candidate.values).some(([path, value]) => path.endsWith('/10') && value === shortServerId));
    const hex = write?.values[`${write.path}/3`];
    return typeof hex === 'string' ? Buffer.from(hex, 'hex').toString('utf8') : undefined;
  };

  before(async () => {
    ({ store, close } = await startDynaliteStore('mint-test'));
    await store.putProfile(nosecProfile('minting', 5685, { servers: pskServers, mintServerCredentials: true }));
    for (const endpoint of ['dev-a', 'dev-b', 'dev-c', 'dev-d', 'dev-e']) await store.putDevice(keyed(endpoint));
    deps = { store, newSessionId: () => `00000000-0000-4000-8000-${String(++sessions).padStart(12, '0')}`, now: () => new Date('2026-11-23T12:00:01.000Z'), events, keySealer: sealer };
  });
  after(() => close());

  it('plans with fresh credentials kept pending, the same on every attempt, and promotes them only on a success that carried them', async () => {
    const first = plannedOf(await handleUplink(requested('dev-a'), deps));
    const fresh = writtenIdentity(first.plan, 7);
    assert.ok(fresh !== undefined && fresh !== 'dev-a-old' && fresh.startsWith('dev-a#s7-'), `new identity for /0 of server 7: ${String(fresh)}`);
    assert.equal(writtenIdentity(first.plan, 8), 'fleet', "the profile's fleet-wide credentials are not the device's to replace");
    const pending = (await store.getLifecycle('dev-a'))?.pendingServerCredentials;
    assert.equal(pending?.credentials['7']?.identity, fresh);
    assert.notEqual(pending?.credentials['7']?.secretKey, oldKey);
    assert.equal(Buffer.from(pending?.credentials['7']?.secretKey ?? '', 'hex').length, 16);
    assert.equal((await store.getDevice('dev-a'))?.serverCredentials['7']?.identity, 'dev-a-old', 'the LwM2M server keeps taking the old key until a success');

    const second = plannedOf(await handleUplink(requested('dev-a'), deps));
    assert.equal(writtenIdentity(second.plan, 7), fresh, 'a retry writes the same credentials');

    // A session planned before the mint (no tag) delivered the old key: nothing moves.
    const untagged = await handleUplink(ended('dev-a', 'plain-session-id'), deps);
    assert.equal(untagged.type === 'bootstrap-recorded' && untagged.stored, true);
    assert.equal((await store.getDevice('dev-a'))?.serverCredentials['7']?.identity, 'dev-a-old');
    assert.equal(emitted.length, 0);

    await handleUplink(ended('dev-a', second.sessionId), deps);
    const promoted = await store.getDevice('dev-a');
    assert.deepEqual(promoted?.serverCredentials['7'], pending?.credentials['7']);
    assert.equal((await store.getLifecycle('dev-a'))?.pendingServerCredentials, undefined);
    assert.equal(emitted.length, 1);
    const [event] = emitted;
    assert.ok(event?.type === 'ServerCredentialsIssued');
    assert.equal(event.shortServerId, 7);
    assert.equal(event.identity, fresh);
    assert.ok(event.secretKeyCiphertext !== undefined);
    assert.doesNotMatch(JSON.stringify(event), new RegExp(pending?.credentials['7']?.secretKey ?? 'x'), 'the key never travels in the clear');

    // The fingerprint is that of what the device now holds: an attach finds nothing changed.
    const lifecycle = await store.getLifecycle('dev-a');
    const profile = await store.getProfile('minting');
    assert.ok(profile !== undefined && promoted !== undefined);
    assert.equal(lifecycle?.bootstrappedWith?.profileFingerprint, profileFingerprint(profile, promoted));

    // Redelivered: nothing again.
    await handleUplink(ended('dev-a', second.sessionId), deps);
    assert.equal(emitted.length, 1);

    // The next bootstrap mints anew.
    const next = plannedOf(await handleUplink(requested('dev-a'), deps));
    assert.notEqual(writtenIdentity(next.plan, 7), fresh);
  });

  it('a success whose event failed is finished by its redelivery', async () => {
    emitted.length = 0;
    const first = plannedOf(await handleUplink(requested('dev-b'), deps));
    failNextEmit = true;
    await assert.rejects(handleUplink(ended('dev-b', first.sessionId), deps), /event bus unavailable/);
    assert.equal((await store.getDevice('dev-b'))?.serverCredentials['7']?.identity, 'dev-b-old', 'not promoted before the LwM2M server side is told');
    await handleUplink(ended('dev-b', first.sessionId), deps);
    assert.equal(emitted.length, 1);
    assert.equal((await store.getDevice('dev-b'))?.serverCredentials['7']?.identity, writtenIdentity(first.plan, 7));
  });

  it('a Bootstrap-Pack is recorded at once, so its credentials are promoted at once', async () => {
    emitted.length = 0;
    const pack = plannedOf(await handleUplink(requested('dev-c', 'bspack'), deps));
    assert.equal((await store.getDevice('dev-c'))?.serverCredentials['7']?.identity, writtenIdentity(pack.plan, 7));
    assert.equal(emitted.length, 1);
  });

  it('a Server Initiated Bootstrap carries and promotes them the same way', async () => {
    emitted.length = 0;
    const initiated = await planServerInitiated(deps, 'dev-d', { address: '192.0.2.1', port: 5683 }, 'operator');
    assert.ok(initiated.ok);
    const fresh = writtenIdentity(initiated.downlink.plan, 7);
    assert.ok(fresh?.startsWith('dev-d#s7-'));
    await handleUplink(ended('dev-d', initiated.downlink.sessionId), deps);
    assert.equal((await store.getDevice('dev-d'))?.serverCredentials['7']?.identity, fresh);
    assert.equal(emitted.length, 1);
  });

  it('without a sink the store alone tells the LwM2M server, and without a sealer events carry no key', async () => {
    emitted.length = 0;
    const unsealed = { ...deps, keySealer: undefined };
    const first = plannedOf(await handleUplink(requested('dev-e'), unsealed));
    await handleUplink(ended('dev-e', first.sessionId), unsealed);
    const [event] = emitted;
    assert.ok(event?.type === 'ServerCredentialsIssued');
    assert.equal(event.secretKeyCiphertext, undefined);
    const second = plannedOf(await handleUplink(requested('dev-e'), { ...deps, events: undefined }));
    await handleUplink(ended('dev-e', second.sessionId, '2026-11-23T12:00:03.000Z'), { ...deps, events: undefined });
    assert.equal((await store.getDevice('dev-e'))?.serverCredentials['7']?.identity, writtenIdentity(second.plan, 7));
    assert.equal(emitted.length, 1);
  });
});
