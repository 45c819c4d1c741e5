import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { bootstrapPskOf } from '../../shared/bootstrap/bootstrap-psk.ts';
import { deviceEntrySchema, type DeviceEntry } from '../../shared/bootstrap/device.ts';
import { REVOKED_IDENTITIES_KEPT, makePurgeHandler, noSecPurgeMarker, purgeAccount, type PurgeStore } from '../../shared/lifecycle/account-purge.ts';
import { lifecycleEventSchema, type LifecycleEvent } from '../../shared/lifecycle/lifecycle-events.ts';
import type { AccountPurge } from '../../shared/lifecycle/purge.ts';
import { localDynamoDbClient, startDynalite, type RunningDynalite } from '../../server/store/dynalite.ts';
import { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { ensureTable } from '../../server/store/table.ts';

// Distinctive keys, so "no key anywhere" is a search for these digits in everything returned.
const CURRENT_KEY = 'c0ffee00c0ffee00c0ffee00c0ffee01';
const RETIRING_KEY = 'dead0beedead0beedead0beedead0b02';
const KEYS = [CURRENT_KEY, RETIRING_KEY];

const SCHEDULED = '2026-03-01T12:00:00.000Z';
const DUE = '2026-03-01T13:00:00.000Z';
const NOW = new Date('2026-03-01T13:00:01.000Z');

function device(endpoint: string, extra: Record<string, unknown> = {}): DeviceEntry {
  return deviceEntrySchema.parse({
    endpoint,
    profile: 'fleet',
    bootstrapCredentials: { securityMode: 'psk', identity: `bs-new-${endpoint}`, secretKey: CURRENT_KEY },
    retiringBootstrapCredentials: [{ securityMode: 'psk', identity: `bs-old-${endpoint}`, secretKey: RETIRING_KEY, retiredAt: SCHEDULED, reason: 'replaced' }],
    ...extra,
  });
}

function purgeOf(endpoint: string, pskIdentity: string | undefined, reason: AccountPurge['reason'] = 'replaced', sessionId = 'session-7'): AccountPurge {
  return {
    endpoint,
    securityInstanceId: 2,
    ...(pskIdentity !== undefined && { pskIdentity }),
    reason,
    dueAt: DUE,
    scheduledAt: SCHEDULED,
    bootstrapSessionId: sessionId,
  };
}

function assertNoKey(value: unknown): void {
  const text = JSON.stringify(value, (_key, item: unknown) => (item instanceof Error ? { name: item.name, message: item.message, stack: item.stack } : item));
  for (const key of KEYS) assert.ok(!text.toLowerCase().includes(key), 'a key leaked');
}

describe('purgeAccount and makePurgeHandler (over dynalite)', () => {
  let dynalite: RunningDynalite;
  let real: DynamoDbBootstrapStore;
  let writes: number;
  let store: PurgeStore;

  before(async () => {
    dynalite = await startDynalite({});
    const client = localDynamoDbClient(dynalite.endpoint);
    await ensureTable(client, 'purges');
    real = new DynamoDbBootstrapStore({ client, tableName: 'purges' });
    store = {
      getDevice: (endpoint) => real.getDevice(endpoint),
      putDevice: async (entry) => {
        writes += 1;
        await real.putDevice(entry);
      },
    };
  });

  after(async () => {
    await dynalite.close();
  });

  beforeEach(() => {
    writes = 0;
  });

  it('revokes a retiring credential: the PSK lookup stops taking it, the current one still authenticates', async () => {
    await real.putDevice(device('ep-retiring'));
    assert.equal((await real.findDevice('retiringPskIdentity', 'bs-old-ep-retiring'))?.endpoint, 'ep-retiring');

    const result = await purgeAccount(store, purgeOf('ep-retiring', 'bs-old-ep-retiring'), NOW);

    assert.equal(result.outcome, 'purged');
    assert.equal(result.revokedIdentity, 'bs-old-ep-retiring');
    assert.deepEqual(result.event, {
      type: 'AccountPurged',
      endpoint: 'ep-retiring',
      time: NOW.toISOString(),
      securityInstanceId: 2,
      pskIdentity: 'bs-old-ep-retiring',
      reason: 'replaced',
      sessionId: 'session-7',
    });
    lifecycleEventSchema.parse(result.event);
    assertNoKey(result);

    const stored = await real.getDevice('ep-retiring');
    assert.ok(stored);
    assert.equal(stored.retiringBootstrapCredentials, undefined);
    assert.deepEqual(stored.revokedBootstrapIdentities, [{ identity: 'bs-old-ep-retiring', revokedAt: NOW.toISOString(), reason: 'replaced' }]);
    assert.equal(bootstrapPskOf(stored, 'bs-old-ep-retiring'), undefined);
    assert.ok(bootstrapPskOf(stored, 'bs-new-ep-retiring'), 'the current credential is untouched');
    assert.equal(await real.findDevice('retiringPskIdentity', 'bs-old-ep-retiring'), undefined);
    assert.equal((await real.findDevice('pskIdentity', 'bs-new-ep-retiring'))?.endpoint, 'ep-retiring');
  });

  it('is idempotent under double delivery: one write, one event, one cache invalidation', async () => {
    await real.putDevice(device('ep-twice'));
    const events: LifecycleEvent[] = [];
    const forgotten: string[] = [];
    const handler = makePurgeHandler(store, { emit: async (event) => void events.push(event) }, (identity) => void forgotten.push(identity), () => NOW);

    const purge = purgeOf('ep-twice', 'bs-old-ep-twice');
    const outcomes = [await handler(purge), await handler(purge)];

    assert.deepEqual(outcomes, ['purged', 'already-purged']);
    assert.equal(writes, 1);
    assert.equal(events.length, 1);
    assert.deepEqual(forgotten, ['bs-old-ep-twice']);
    assertNoKey(events);
  });

  it('removes the current credential at its account timeout, where the device deletes the account itself', async () => {
    await real.putDevice(device('ep-timeout', { retiringBootstrapCredentials: undefined }));
    const result = await purgeAccount(store, purgeOf('ep-timeout', 'bs-new-ep-timeout', 'account-timeout'), NOW);

    assert.equal(result.outcome, 'purged');
    assert.equal(result.revokedIdentity, 'bs-new-ep-timeout');
    const stored = await real.getDevice('ep-timeout');
    assert.equal(stored?.bootstrapCredentials, undefined);
    assert.equal(await real.findDevice('pskIdentity', 'bs-new-ep-timeout'), undefined);
    assert.equal((await purgeAccount(store, purgeOf('ep-timeout', 'bs-new-ep-timeout', 'account-timeout'), NOW)).outcome, 'already-purged');
    assert.equal(writes, 1);
  });

  it('never removes the credential in use for any other reason', async () => {
    await real.putDevice(device('ep-in-use'));
    const result = await purgeAccount(store, purgeOf('ep-in-use', 'bs-new-ep-in-use', 'replaced'), NOW);
    assert.deepEqual(result, { outcome: 'already-purged' });
    assert.equal(writes, 0);
    assert.ok((await real.getDevice('ep-in-use'))?.bootstrapCredentials);
  });

  it('has nothing to do for an unknown device or an identity the device does not hold', async () => {
    assert.deepEqual(await purgeAccount(store, purgeOf('ep-nobody', 'bs-old-ep-nobody'), NOW), { outcome: 'already-purged' });
    await real.putDevice(device('ep-other'));
    assert.deepEqual(await purgeAccount(store, purgeOf('ep-other', 'bs-someone-else'), NOW), { outcome: 'already-purged' });
    assert.equal(writes, 0);
  });

  it(`keeps the last ${REVOKED_IDENTITIES_KEPT} purged identities, newest last`, async () => {
    const earlier = Array.from({ length: REVOKED_IDENTITIES_KEPT }, (_, index) => ({
      identity: `bs-gone-${index}`,
      revokedAt: `2026-01-01T00:00:${String(index).padStart(2, '0')}.000Z`,
      reason: 'replaced',
    }));
    await real.putDevice(device('ep-full', { revokedBootstrapIdentities: earlier }));

    assert.equal((await purgeAccount(store, purgeOf('ep-full', 'bs-old-ep-full'), NOW)).outcome, 'purged');

    const revoked = (await real.getDevice('ep-full'))?.revokedBootstrapIdentities ?? [];
    assert.equal(revoked.length, REVOKED_IDENTITIES_KEPT);
    assert.equal(revoked[0]?.identity, 'bs-gone-1', 'the oldest made room');
    assert.equal(revoked.at(-1)?.identity, 'bs-old-ep-full');
  });

  it('revokes an identity issued again after an earlier purge revoked it', async () => {
    // Revoked a month before this purge was scheduled: an earlier life of the identity.
    const earlier = [{ identity: 'bs-old-ep-reissued', revokedAt: '2026-02-01T00:00:00.000Z', reason: 'replaced' }];
    await real.putDevice(device('ep-reissued', { revokedBootstrapIdentities: earlier }));

    assert.equal((await purgeAccount(store, purgeOf('ep-reissued', 'bs-old-ep-reissued'), NOW)).outcome, 'purged');
    assert.equal((await purgeAccount(store, purgeOf('ep-reissued', 'bs-old-ep-reissued'), NOW)).outcome, 'already-purged');
    assert.equal(writes, 1);
  });

  it('announces a NoSec account purge once per account and session, recording a marker rather than a credential', async () => {
    await real.putDevice(device('ep-nosec', { bootstrapCredentials: { securityMode: 'nosec' }, retiringBootstrapCredentials: undefined }));
    const events: LifecycleEvent[] = [];
    const forgotten: string[] = [];
    const handler = makePurgeHandler(store, { emit: async (event) => void events.push(event) }, (identity) => void forgotten.push(identity), () => NOW);

    const purge = purgeOf('ep-nosec', undefined, 'account-timeout', 'session-1');
    assert.deepEqual([await handler(purge), await handler(purge)], ['purged', 'already-purged']);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.type === 'AccountPurged' && events[0].pskIdentity, undefined);
    assert.deepEqual(forgotten, [], 'no PSK identity to forget');
    const stored = await real.getDevice('ep-nosec');
    assert.deepEqual(stored?.bootstrapCredentials, { securityMode: 'nosec' }, 'the account itself is left as it is');
    assert.deepEqual(stored?.revokedBootstrapIdentities?.map((revoked) => revoked.identity), [noSecPurgeMarker(purge)]);

    // A later bootstrap's NoSec account at the same instance is another purge.
    assert.equal(await handler(purgeOf('ep-nosec', undefined, 'account-timeout', 'session-2')), 'purged');
    assert.equal(events.length, 2);
    assert.equal(writes, 2);
  });

  it('refuses a purge that carries a key, without quoting it, and writes nothing', async () => {
    await real.putDevice(device('ep-keyed'));
    const keyed = { ...purgeOf('ep-keyed', 'bs-old-ep-keyed'), secretKey: RETIRING_KEY } as AccountPurge;
    const error = await purgeAccount(store, keyed, NOW).then(
      () => assert.fail('a purge carrying a key was taken'),
      (caught: unknown) => caught,
    );
    assertNoKey(error);
    assert.equal(writes, 0);
  });

  it('leaves the credential revoked when the event cannot be emitted; the redelivery finds nothing to do', async () => {
    await real.putDevice(device('ep-bus-down'));
    const forgotten: string[] = [];
    const failing = makePurgeHandler(store, { emit: () => Promise.reject(new Error('bus unavailable')) }, (identity) => void forgotten.push(identity), () => NOW);

    await assert.rejects(failing(purgeOf('ep-bus-down', 'bs-old-ep-bus-down')), /bus unavailable/);
    assert.deepEqual(forgotten, ['bs-old-ep-bus-down'], 'the gateway forgot the identity before the emit was tried');
    assert.equal(bootstrapPskOf((await real.getDevice('ep-bus-down')) as DeviceEntry, 'bs-old-ep-bus-down'), undefined);
    assert.equal(await failing(purgeOf('ep-bus-down', 'bs-old-ep-bus-down')), 'already-purged');
  });
});
