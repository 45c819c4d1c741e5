import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { deviceEntrySchema, type DeviceEntryInput } from '../../shared/bootstrap/device.ts';
import { profileSchema, type Profile } from '../../shared/bootstrap/profile.ts';
import type { AttachPeer } from '../../shared/lifecycle/attach-decision.ts';
import { attachEventSchema, type AttachEvent } from '../../shared/lifecycle/attach-event.ts';
import {
  findDeviceByAnyIdentity,
  LifecycleContentionError,
  markDeviceForBootstrap,
  MissingProfileError,
  onBootstrapSucceeded,
  processAttach,
  type AttachDependencies,
  type InitiateBootstrap,
} from '../../shared/lifecycle/attach-processing.ts';
import type { BootstrapNeededReason, LifecycleRecord } from '../../shared/lifecycle/lifecycle-record.ts';
import type { LifecycleEvent } from '../../shared/lifecycle/lifecycle-events.ts';
import { profileFingerprint } from '../../shared/lifecycle/profile-fingerprint.ts';
import { MemoryStore } from '../fixtures/memory-store.ts';

const KEY = '00112233445566778899aabbccddeeff';
const CARD_A = '89340701234567890123';
const CARD_B = '89340709876543210987';
const IMEI = '356938035643809';
const ENDPOINT = `urn:imei:${IMEI}`;
const NOW = new Date('2026-11-23T12:00:00.000Z');

const PROFILE: Profile = profileSchema.parse({ name: 'meters', servers: [{ shortServerId: 101, uri: 'coaps://lwm2m.example:5684', securityMode: 'psk' }] });

function device(input: Partial<DeviceEntryInput> = {}) {
  return deviceEntrySchema.parse({
    endpoint: ENDPOINT,
    profile: 'meters',
    identities: { imei: IMEI, iccid: CARD_A, imsi: '001010123456789' },
    serverCredentials: { '101': { identity: 'dm-1', secretKey: KEY } },
    ...input,
  });
}

function attach(eventId: string, eventTime: string, change: Partial<AttachEvent> = {}): AttachEvent {
  return attachEventSchema.parse({ eventId, eventTime, carrier: 'example-mno', iccid: CARD_A, imei: IMEI, address: '2001:db8::17', port: 56830, ...change });
}

interface Initiated {
  readonly endpoint: string;
  readonly peer: AttachPeer;
  readonly reasons: readonly BootstrapNeededReason[];
}

describe('processAttach', () => {
  let store: MemoryStore;
  let initiated: Initiated[];
  let initiate: InitiateBootstrap;
  let deps: AttachDependencies;

  beforeEach(async () => {
    store = new MemoryStore();
    await store.putProfile(PROFILE);
    await store.putDevice(device());
    initiated = [];
    initiate = async (endpoint, peer, reasons) => {
      initiated.push({ endpoint, peer, reasons });
    };
    deps = { store, now: () => NOW, initiate };
  });

  /** The device bootstrapped with the current profile after attaching once at 10:00. */
  async function settle(): Promise<void> {
    await processAttach({ store, now: () => NOW }, attach('e0', '2026-11-23T10:00:00Z'));
    assert.equal(await onBootstrapSucceeded(store, ENDPOINT, '2026-11-23T10:00:05Z'), true);
  }

  it('an event for no known device writes nothing and initiates nothing', async () => {
    const result = await processAttach(deps, attach('e1', '2026-11-23T10:00:00Z', { iccid: CARD_B, imei: '490154203237518', imsi: '001019999999999' }));
    assert.deepEqual(result, { outcome: 'unknown-device' });
    assert.equal(store.lifecycleWrites, 0);
    assert.deepEqual(initiated, []);
  });

  it('a device never bootstrapped is marked, and the bootstrap pushed to the address and port of the event', async () => {
    const result = await processAttach(deps, attach('e1', '2026-11-23T10:00:00Z', { address: '10.45.3.17', port: 5683 }));
    assert.deepEqual(result, { outcome: 'initiated', endpoint: ENDPOINT, reasons: ['never-bootstrapped'] });
    assert.deepEqual(initiated, [{ endpoint: ENDPOINT, peer: { address: '10.45.3.17', port: 5683 }, reasons: ['never-bootstrapped'] }]);
    const record = store.lifecycles.get(ENDPOINT);
    assert.deepEqual(record?.bootstrapNeeded, { reason: 'never-bootstrapped', since: NOW.toISOString() });
    assert.equal(record?.lastAttach?.address, '10.45.3.17');
    assert.doesNotMatch(JSON.stringify(result), new RegExp(KEY, 'i'), 'no key in a result');
  });

  it('without an initiator the device is marked for its next Bootstrap-Request', async () => {
    const result = await processAttach({ store, now: () => NOW }, attach('e1', '2026-11-23T10:00:00Z'));
    assert.deepEqual(result, { outcome: 'marked', endpoint: ENDPOINT, reasons: ['never-bootstrapped'] });
    assert.equal(store.lifecycles.get(ENDPOINT)?.bootstrapNeeded?.reason, 'never-bootstrapped');
  });

  it('a redelivered event and one older than the last taken change nothing', async () => {
    await processAttach(deps, attach('e2', '2026-11-23T11:00:00Z'));
    const writes = store.lifecycleWrites;
    const before = store.lifecycles.get(ENDPOINT);
    assert.deepEqual(await processAttach(deps, attach('e2', '2026-11-23T11:00:00Z')), { outcome: 'ignored-duplicate', endpoint: ENDPOINT });
    assert.deepEqual(await processAttach(deps, attach('e1', '2026-11-23T10:59:59.999+00:00')), { outcome: 'ignored-stale', endpoint: ENDPOINT });
    assert.equal(store.lifecycleWrites, writes, 'nothing written');
    assert.deepEqual(store.lifecycles.get(ENDPOINT), before);
    assert.equal(initiated.length, 1, 'pushed once, for the first delivery only');
  });

  it('a device bootstrapped with its current profile and card is recorded where it is, and nothing pushed', async () => {
    await settle();
    const record = store.lifecycles.get(ENDPOINT);
    assert.equal(record?.bootstrapNeeded, undefined, 'the success cleared the mark');
    assert.deepEqual(record?.bootstrappedWith, { profileFingerprint: profileFingerprint(PROFILE, device()), iccid: CARD_A, at: '2026-11-23T10:00:05.000Z' });

    const result = await processAttach(deps, attach('e1', '2026-11-23T11:00:00Z', { address: '192.0.2.44' }));
    assert.deepEqual(result, { outcome: 'recorded', endpoint: ENDPOINT });
    assert.deepEqual(initiated, []);
    assert.equal(store.lifecycles.get(ENDPOINT)?.lastAttach?.address, '192.0.2.44');
  });

  it('a changed profile, and an operator mark, lead to a push', async () => {
    await settle();
    await store.putProfile({ ...PROFILE, servers: [{ ...PROFILE.servers[0]!, uri: 'coaps://lwm2m-2.example:5684' }] });
    assert.deepEqual((await processAttach(deps, attach('e1', '2026-11-23T11:00:00Z'))).reasons, ['profile-changed']);

    await store.putProfile(PROFILE);
    await onBootstrapSucceeded(store, ENDPOINT, '2026-11-23T11:00:05Z');
    assert.deepEqual(await markDeviceForBootstrap(store, ENDPOINT, 'operator', NOW), {
      outcome: 'marked',
      bootstrapNeeded: { reason: 'operator', since: NOW.toISOString() },
    });
    assert.equal((await markDeviceForBootstrap(store, ENDPOINT, 'operator', new Date('2026-11-23T13:00:00Z'))).outcome, 'already-marked');
    assert.deepEqual(await processAttach(deps, attach('e2', '2026-11-23T12:00:00Z')), { outcome: 'initiated', endpoint: ENDPOINT, reasons: ['operator'] });
    assert.deepEqual(await markDeviceForBootstrap(store, 'urn:imei:000000000000000', 'operator', NOW), { outcome: 'unknown-device' });
  });

  it('a new card: the device is found by its IMEI, and the change reported with the push', async () => {
    await settle();
    const result = await processAttach(deps, attach('e1', '2026-11-23T11:00:00Z', { iccid: CARD_B, imsi: '001019999999999' }));
    assert.deepEqual(result, { outcome: 'initiated', endpoint: ENDPOINT, reasons: ['sim-changed'], simChanged: { from: CARD_A, to: CARD_B } });
  });

  it('a new card disables the old card server side and is announced once (seeds 000, 001)', async () => {
    const scp03 = { keyVersion: 0x30, enc: KEY, mac: KEY, dek: KEY };
    await store.putDevice(device({ smartcard: { scp03 } }));
    await settle();
    const events: LifecycleEvent[] = [];
    const announcing: AttachDependencies = { ...deps, events: { emit: async (event) => void events.push(event) } };
    await processAttach(announcing, attach('e1', '2026-11-23T11:00:00Z', { iccid: CARD_B }));
    const changed = await store.getDevice(ENDPOINT);
    assert.equal(changed?.identities.iccid, CARD_B);
    assert.deepEqual(changed?.smartcard?.disabled, { at: NOW.toISOString(), reason: 'sim-changed', iccid: CARD_A });
    assert.deepEqual(events, [{ type: 'SimChanged', endpoint: ENDPOINT, time: NOW.toISOString(), from: CARD_A, to: CARD_B, disabledSmartcard: true }]);
    await processAttach(announcing, attach('e2', '2026-11-23T11:05:00Z', { iccid: CARD_B }));
    assert.equal(events.length, 1, 'the same new card again is no new change');
  });

  it('a SIM change step that failed runs again when the queue delivers the event again', async () => {
    await store.putDevice(device({ smartcard: { scp03: { keyVersion: 0x30, enc: KEY, mac: KEY, dek: KEY } } }));
    await settle();
    const events: LifecycleEvent[] = [];
    let failNext = true;
    const flaky: AttachDependencies = {
      ...deps,
      events: {
        emit: async (event) => {
          if (failNext) {
            failNext = false;
            throw new Error('the bus is unavailable');
          }
          events.push(event);
        },
      },
    };
    const event = attach('e1', '2026-11-23T11:00:00Z', { iccid: CARD_B });
    await assert.rejects(processAttach(flaky, event), /the bus is unavailable/);
    assert.equal((await store.getDevice(ENDPOINT))?.identities.iccid, CARD_A, 'nothing recorded before the announcement went out');
    assert.equal((await processAttach(flaky, event)).outcome, 'ignored-duplicate');
    assert.equal((await store.getDevice(ENDPOINT))?.identities.iccid, CARD_B);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.type, 'SimChanged');
  });

  it('a push that fails keeps the mark, and the next Bootstrap-Request serves it', async () => {
    const failing: AttachDependencies = {
      store,
      now: () => NOW,
      initiate: async () => {
        throw new Error('gateway unreachable');
      },
    };
    const result = await processAttach(failing, attach('e1', '2026-11-23T10:00:00Z'));
    assert.deepEqual(result, { outcome: 'marked', endpoint: ENDPOINT, reasons: ['never-bootstrapped'], initiateError: 'gateway unreachable' });
    assert.equal(store.lifecycles.get(ENDPOINT)?.bootstrapNeeded?.reason, 'never-bootstrapped');
    // The redelivery a queue would make finds the event taken: the mark, not the event, carries the need.
    assert.equal((await processAttach(failing, attach('e1', '2026-11-23T10:00:00Z'))).outcome, 'ignored-duplicate');
    await onBootstrapSucceeded(store, ENDPOINT, '2026-11-23T10:30:00Z');
    assert.equal(store.lifecycles.get(ENDPOINT)?.bootstrapNeeded, undefined);
  });

  it('a write that lost the race is decided again on the winner record', async () => {
    await settle();
    let raced = false;
    store.fault = (call) => {
      if (call !== 'putLifecycle' || raced) return;
      raced = true;
      // Another handler took another attach of the same second and an operator marked the device.
      const held = store.lifecycles.get(ENDPOINT)!;
      const winner: LifecycleRecord = {
        ...held,
        lastAttach: { ...held.lastAttach!, eventId: 'other' },
        recentEventIds: [...held.recentEventIds, 'other'],
        bootstrapNeeded: { reason: 'operator', since: NOW.toISOString() },
      };
      store.lifecycles.set(ENDPOINT, winner);
    };
    const result = await processAttach(deps, attach('e1', '2026-11-23T10:00:00Z'));
    assert.deepEqual(result, { outcome: 'initiated', endpoint: ENDPOINT, reasons: ['operator'] }, 'the second decision saw the mark');
    assert.deepEqual(store.lifecycles.get(ENDPOINT)?.recentEventIds, ['e0', 'other', 'e1'], 'the winner event kept');
  });

  it('gives up after 3 lost races, initiating nothing', async () => {
    let attempts = 0;
    store.fault = (call) => {
      if (call !== 'putLifecycle') return;
      attempts += 1;
      store.lifecycles.set(ENDPOINT, { recentEventIds: [`rival-${attempts}`], simChanges: [] });
    };
    await assert.rejects(processAttach(deps, attach('e1', '2026-11-23T10:00:00Z')), LifecycleContentionError);
    assert.equal(attempts, 3);
    assert.deepEqual(initiated, []);
  });

  it('a device whose profile is gone is a configuration error', async () => {
    await store.deleteProfile('meters');
    await assert.rejects(processAttach(deps, attach('e1', '2026-11-23T10:00:00Z')), MissingProfileError);
    assert.equal(store.lifecycleWrites, 0);
  });

  it('onBootstrapSucceeded records a device that never attached, and refuses an unknown one', async () => {
    assert.equal(await onBootstrapSucceeded(store, 'nobody', '2026-11-23T10:00:00Z'), false);
    assert.equal(await onBootstrapSucceeded(store, ENDPOINT, '2026-11-23T10:00:00+02:00'), true);
    assert.deepEqual(store.lifecycles.get(ENDPOINT), {
      recentEventIds: [],
      simChanges: [],
      bootstrappedWith: { profileFingerprint: profileFingerprint(PROFILE, device()), at: '2026-11-23T08:00:00.000Z' },
    });
    // So its first attach finds nothing to do.
    assert.equal((await processAttach(deps, attach('e1', '2026-11-23T11:00:00Z'))).outcome, 'recorded');
  });
});

describe('findDeviceByAnyIdentity', () => {
  it('tries the ICCID, then the IMSI, then the IMEI', async () => {
    const store = new MemoryStore();
    await store.putDevice(device({ endpoint: 'by-card', identities: { iccid: CARD_A } }));
    await store.putDevice(device({ endpoint: 'by-imsi', identities: { imsi: '001010123456789' } }));
    await store.putDevice(device({ endpoint: 'by-imei', identities: { imei: IMEI } }));
    const asked: string[] = [];
    store.fault = (call, subject) => {
      if (call === 'findDevice') asked.push(subject);
    };
    const all = { iccid: CARD_A, imsi: '001010123456789', imei: IMEI };
    assert.equal((await findDeviceByAnyIdentity(store, all))?.endpoint, 'by-card');
    assert.equal((await findDeviceByAnyIdentity(store, { ...all, iccid: CARD_B }))?.endpoint, 'by-imsi');
    assert.equal((await findDeviceByAnyIdentity(store, { imei: IMEI, imsi: '001019999999999' }))?.endpoint, 'by-imei');
    assert.equal(await findDeviceByAnyIdentity(store, {}), undefined);
    assert.deepEqual(asked, [CARD_A, CARD_B, '001010123456789', '001019999999999', IMEI]);
  });
});
