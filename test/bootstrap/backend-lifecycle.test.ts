import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { handleUplink, type BootstrapBackendDeps } from '../../shared/bootstrap/backend.ts';
import type { BootstrapEnded } from '../../shared/bootstrap/contract.ts';
import type { DeviceEntry } from '../../shared/bootstrap/device.ts';
import { device, nosecProfile } from '../e2e/fixtures.ts';
import { MemoryStore } from '../fixtures/memory-store.ts';
import { RecordingScheduler } from '../fixtures/recording-scheduler.ts';
import { bootstrapEnded, bootstrapRequested } from '../fixtures/uplinks.ts';

const KEY = '00112233445566778899aabbccddeeff';
const NOW = new Date('2026-11-23T12:00:05.000Z');

// What a successful bootstrap leaves behind besides its status: the lifecycle mark cleared, and
// the Bootstrap-Server Account Timeout it wrote turned into a pending purge.
describe('bootstrap backend: lifecycle and account-timeout purges on success', () => {
  let store: MemoryStore;
  let purges: RecordingScheduler;
  let deps: BootstrapBackendDeps;

  const pskDevice = (endpoint: string, profile: string): DeviceEntry => ({
    ...device(endpoint, profile),
    bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-bs`, secretKey: KEY },
  });

  beforeEach(async () => {
    store = new MemoryStore();
    purges = new RecordingScheduler();
    let sessions = 0;
    deps = { store, newSessionId: () => `session-${++sessions}`, now: () => NOW, purges };
    const account = { uri: 'coaps://bs.example:5684', instanceId: 2 };
    await store.putProfile(nosecProfile('timed', 5685, { bootstrapServer: { ...account, accountTimeout: 3600 }, allowNoBootstrapAccount: true }));
    await store.putProfile(nosecProfile('forever', 5685, { bootstrapServer: { ...account, accountTimeout: 0 } }));
    await store.putProfile(nosecProfile('untouched', 5685));
    // An Account Timeout without allowNoBootstrapAccount: the only account is kept (timeout 0).
    await store.putProfile(nosecProfile('guarded', 5685, { bootstrapServer: { uri: 'coap://bs.example:5683', instanceId: 2, accountTimeout: 3600 }, allowSecretsOverNoSec: true }));
    await store.putProfile(nosecProfile('timed-plain', 5685, { bootstrapServer: { uri: 'coap://bs.example:5683', instanceId: 2, accountTimeout: 3600 }, allowSecretsOverNoSec: true, allowNoBootstrapAccount: true }));
    await store.putDevice(pskDevice('d-timed', 'timed'));
    await store.putDevice(pskDevice('d-forever', 'forever'));
    await store.putDevice(pskDevice('d-untouched', 'untouched'));
    await store.putDevice(device('d-nosec', 'timed-plain'));
  });

  const ended = (endpoint: string, extra: Partial<BootstrapEnded> = {}) => bootstrapEnded({ endpoint, sessionId: `s-${endpoint}`, endedAt: '2026-11-23T12:00:02.500Z', ...extra });

  const mark = async (endpoint: string): Promise<void> => {
    store.lifecycles.set(endpoint, { recentEventIds: [], simChanges: [], bootstrapNeeded: { reason: 'operator', since: '2026-11-23T11:00:00.000Z' } });
  };

  it('a success clears the mark, records what was delivered, and schedules the purge at finish + timeout', async () => {
    await mark('d-timed');
    const answer = await handleUplink(ended('d-timed'), deps);
    assert.equal(answer.type, 'bootstrap-recorded');
    const lifecycle = store.lifecycles.get('d-timed');
    assert.equal(lifecycle?.bootstrapNeeded, undefined);
    assert.equal(lifecycle?.bootstrappedWith?.at, '2026-11-23T12:00:02.500Z');
    assert.match(lifecycle?.bootstrappedWith?.profileFingerprint ?? '', /^[0-9a-f]{32}$/);
    assert.deepEqual(purges.scheduled, [
      {
        endpoint: 'd-timed',
        securityInstanceId: 2,
        pskIdentity: 'd-timed-bs',
        reason: 'account-timeout',
        dueAt: '2026-11-23T13:00:02.500Z',
        scheduledAt: NOW.toISOString(),
        bootstrapSessionId: 's-d-timed',
      },
    ]);
    assert.deepEqual(purges.cancelled, []);
  });

  it('a NoSec account has no identity to name, but its purge is scheduled all the same', async () => {
    await handleUplink(ended('d-nosec'), deps);
    assert.equal(purges.scheduled.length, 1);
    assert.equal(purges.scheduled[0]?.pskIdentity, undefined);
    assert.equal(purges.scheduled[0]?.securityInstanceId, 2);
  });

  it('a success whose plan rewrites the account with timeout 0 cancels the pending purge of that account', async () => {
    await handleUplink(ended('d-forever'), deps);
    assert.deepEqual(purges.scheduled, []);
    assert.deepEqual(purges.cancelled, [{ endpoint: 'd-forever', securityInstanceId: 2 }]);
  });

  it('after a re-bootstrap with the timeout removed from the profile, the earlier purge is cancelled', async () => {
    await handleUplink(ended('d-timed'), deps);
    const profile = (await store.getProfile('timed'))!;
    await store.putProfile({ ...profile, bootstrapServer: { uri: profile.bootstrapServer!.uri, instanceId: 2 } });
    await handleUplink(ended('d-timed', { sessionId: 's-again', startedAt: '2026-11-23T12:10:00.000Z', endedAt: '2026-11-23T12:10:01.000Z' }), deps);
    assert.equal(purges.scheduled.length, 1);
    assert.deepEqual(purges.cancelled, [{ endpoint: 'd-timed', securityInstanceId: 2 }]);
  });

  it('without allowNoBootstrapAccount the only account is written with timeout 0, and no purge is scheduled', async () => {
    await store.putDevice(device('d-guarded', 'guarded'));
    const answer = await handleUplink(bootstrapRequested({ endpoint: 'd-guarded', transport: 'udp' }), deps);
    assert.ok(answer.type === 'bootstrap-planned');
    assert.equal(answer.plan.bootstrapServerWrite?.values['/0/2/12'], 0, 'the client keeps its account');
    await handleUplink(ended('d-guarded', { sessionId: answer.sessionId }), deps);
    assert.deepEqual(purges.scheduled, []);
    assert.deepEqual(purges.cancelled, [{ endpoint: 'd-guarded', securityInstanceId: 2 }]);
  });

  it('a plan that leaves the Bootstrap-Server account alone leaves its purge alone', async () => {
    await handleUplink(ended('d-untouched'), deps);
    assert.deepEqual(purges.scheduled, []);
    assert.deepEqual(purges.cancelled, []);
    assert.ok(store.lifecycles.get('d-untouched')?.bootstrappedWith);
  });

  it('a failed bootstrap keeps the mark and schedules nothing', async () => {
    await mark('d-timed');
    await handleUplink(ended('d-timed', { outcome: 'timeout', detail: 'no answer' }), deps);
    assert.deepEqual(store.lifecycles.get('d-timed')?.bootstrapNeeded?.reason, 'operator');
    assert.deepEqual(purges.scheduled, []);
  });

  it('an outcome older than the one the device holds changes neither the lifecycle nor the purges', async () => {
    await store.recordStatus('d-timed', { sessionId: 'newer', outcome: 'success', startedAt: '2026-11-23T12:30:00.000Z', endedAt: '2026-11-23T12:30:01.000Z', kind: 'bs' });
    await mark('d-timed');
    const answer = await handleUplink(ended('d-timed'), deps);
    assert.equal(answer.type === 'bootstrap-recorded' && answer.stored, false);
    assert.equal(store.lifecycles.get('d-timed')?.bootstrapNeeded?.reason, 'operator');
    assert.deepEqual(purges.scheduled, []);
  });

  it('a Bootstrap-Pack served is a success too: it schedules the purge when the outcome is recorded', async () => {
    await store.putDevice(device('d-pack', 'timed-plain'));
    const answer = await handleUplink(bootstrapRequested({ endpoint: 'd-pack', transport: 'udp', kind: 'bspack' }), deps);
    assert.equal(answer.type, 'bootstrap-planned');
    assert.equal(purges.scheduled[0]?.dueAt, '2026-11-23T13:00:05.000Z');
    assert.equal(purges.scheduled[0]?.bootstrapSessionId, answer.type === 'bootstrap-planned' ? answer.sessionId : '');
    assert.ok(store.lifecycles.get('d-pack')?.bootstrappedWith);
  });

  it('without a scheduler a success still clears the mark', async () => {
    await mark('d-timed');
    await handleUplink(ended('d-timed'), { store, newSessionId: () => 'unused', now: () => NOW });
    assert.equal(store.lifecycles.get('d-timed')?.bootstrapNeeded, undefined);
    assert.deepEqual(purges.scheduled, []);
  });
});
