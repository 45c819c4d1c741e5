import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { handleUplink, type BootstrapBackendDeps } from '../../shared/bootstrap/backend.ts';
import type { BootstrapStore } from '../../shared/bootstrap/store.ts';
import { rememberingLifecycle } from '../../shared/bootstrap/remembered-lifecycle.ts';
import { emptyLifecycleRecord } from '../../shared/lifecycle/lifecycle-record.ts';
import type { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { device, nosecProfile } from '../e2e/fixtures.ts';
import { startDynaliteStore } from '../fixtures/dynalite-store.ts';
import { bootstrapEnded, bootstrapRequested, plannedOf } from '../fixtures/uplinks.ts';

/** The store, counting the calls made to it by name. */
function counted(store: BootstrapStore, calls: Map<string, number>): BootstrapStore {
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(property), (calls.get(String(property)) ?? 0) + 1);
        return (value as (...args: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

// The lifecycle record comes with the device's Query on DynamoDB; the backend reads it from
// there instead of a GetItem per lifecycle step. Over dynalite.
describe('the lifecycle record the device read brought along', () => {
  let close: () => Promise<void>;
  let table: DynamoDbBootstrapStore;
  let sessions = 0;

  before(async () => {
    ({ store: table, close } = await startDynaliteStore('remembered'));
    await table.putProfile(nosecProfile('plain', 5685, { bootstrapServer: { uri: 'coaps://bs.example:5684', instanceId: 0 } }));
    await table.putDevice({ ...device('dev', 'plain'), bootstrapCredentials: { securityMode: 'psk', identity: 'dev-bs', secretKey: randomBytes(16).toString('hex') } });
  });
  after(() => close());

  it('is returned by getDeviceWithProfile: null before any, the record after', async () => {
    assert.equal((await table.getDeviceWithProfile('dev')).lifecycle, null);
    await table.putLifecycle('other', emptyLifecycleRecord(), null);
    assert.equal((await table.getDeviceWithProfile('nobody')).lifecycle, undefined, 'no device, nothing');
  });

  it('spares every lifecycle read of a DTLS bootstrap, and a routine re-bootstrap writes nothing', async () => {
    for (let round = 0; round < 2; round += 1) {
      const calls = new Map<string, number>();
      const deps: BootstrapBackendDeps = { store: counted(table, calls), newSessionId: () => `00000000-0000-4000-8000-${String(++sessions).padStart(12, '0')}`, now: () => new Date('2026-11-23T12:00:05.000Z') };
      const receivedAt = `2026-11-23T12:0${round}:00.000Z`;
      const { sessionId } = plannedOf(await handleUplink(bootstrapRequested({ endpoint: 'dev', requestId: `r${round}`, pskIdentity: 'dev-bs', receivedAt }), deps));
      await handleUplink(bootstrapEnded({ endpoint: 'dev', sessionId, startedAt: receivedAt }), deps);
      assert.equal(calls.get('getLifecycle') ?? 0, 0, 'no GetItem of the lifecycle item');
      assert.equal(calls.get('putLifecycle') ?? 0, round === 0 ? 1 : 0, 'the first success records the fingerprint; the same again writes nothing');
    }
    assert.ok((await table.getLifecycle('dev'))?.bootstrappedWith !== undefined);
  });

  it('forgets the record when a conditional write loses, so the next read is the table', async () => {
    const calls = new Map<string, number>();
    const base = counted(table, calls);
    const stored = (await table.getLifecycle('dev')) ?? null;
    const store = rememberingLifecycle(base, 'dev', stored);
    assert.deepEqual(await store.getLifecycle('dev'), stored ?? undefined);
    assert.equal(calls.get('getLifecycle') ?? 0, 0);
    // Another writer changes the record under us.
    const theirs = { ...emptyLifecycleRecord(), bootstrapNeeded: { reason: 'operator' as const, since: '2026-11-23T13:00:00.000Z' } };
    assert.equal(await table.putLifecycle('dev', theirs), true);
    assert.equal(await store.putLifecycle('dev', emptyLifecycleRecord(), stored), false);
    assert.deepEqual(await store.getLifecycle('dev'), theirs, 'read again from the table');
    assert.equal(calls.get('getLifecycle'), 1);
    // A write that lands is remembered.
    const ours = { ...theirs, recentEventIds: ['e1'] };
    assert.equal(await store.putLifecycle('dev', ours, theirs), true);
    assert.deepEqual(await store.getLifecycle('dev'), ours);
    assert.equal(calls.get('getLifecycle'), 1);
    // Another device's record is never answered from memory.
    await store.getLifecycle('other');
    assert.equal(calls.get('getLifecycle'), 2);
  });
});
