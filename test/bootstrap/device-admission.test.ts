import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { admitDevice, type DeviceAdmission, type DeviceRefusal } from '../../shared/bootstrap/device-admission.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { MemoryStore } from '../fixtures/memory-store.ts';

const KEY = '00112233445566778899aabbccddeeff';
const OTHER_KEY = 'ffeeddccbbaa99887766554433221100';
const SHORT_KEY = '0011223344556677'; // 8 bytes: below the checker's PSK minimum

function device(endpoint: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { endpoint, profile: 'fleet', serverCredentials: { '101': { identity: endpoint, secretKey: KEY } }, ...overrides };
}

const psk = (identity: string, secretKey = KEY) => ({ bootstrapCredentials: { securityMode: 'psk', identity, secretKey } });

async function fleetStore(): Promise<MemoryStore> {
  const store = new MemoryStore();
  await store.putProfile(profileSchema.parse({ name: 'fleet', servers: [{ shortServerId: 101, uri: 'coaps://dm.example.com', securityMode: 'psk' }] }));
  return store;
}

function refusalOf(admission: DeviceAdmission): DeviceRefusal {
  assert.ok(!admission.admitted, 'expected a refusal');
  assert.ok(!JSON.stringify(admission.refusal).includes(KEY) && !JSON.stringify(admission.refusal).includes(OTHER_KEY), 'a key reached the refusal');
  return admission.refusal;
}

describe('admitDevice', () => {
  it('admits a valid entry as the schema parsed it, without writing it', async () => {
    const store = await fleetStore();
    const admission = await admitDevice(store, device('ep-1', psk('ep-1-bs')));
    assert.ok(admission.admitted);
    assert.equal(admission.device.bootstrapCredentials?.identity, 'ep-1-bs');
    assert.equal(store.writes, 0);
  });

  it('refuses a document the schema refuses, naming every field', async () => {
    const refusal = refusalOf(await admitDevice(await fleetStore(), { ...device('ep-1'), colour: 'red', serverCredentials: { '101': { identity: 'x', secretKey: `zz${KEY}` } } }));
    assert.equal(refusal.reason, 'invalid-document');
    assert.deepEqual(refusal.issues.map((issue) => issue.field).sort(), ['colour', 'serverCredentials.101.secretKey']);
  });

  it('refuses an entry naming another endpoint than the one addressed, before reading the store', async () => {
    const store = await fleetStore();
    store.fault = (call) => assert.fail(`the store was asked (${call})`);
    const refusal = refusalOf(await admitDevice(store, device('ep-2', { profile: 'ghost' }), { expectedEndpoint: { endpoint: 'ep-1', from: 'path' } }));
    assert.deepEqual(refusal, { reason: 'invalid-document', issues: [{ field: 'endpoint', message: 'does not match the path' }] });
  });

  it('refuses an entry whose profile is not stored', async () => {
    const refusal = refusalOf(await admitDevice(await fleetStore(), device('ep-1', { profile: 'ghost' })));
    assert.deepEqual(refusal, { reason: 'unknown-profile', endpoint: 'ep-1', profile: 'ghost', issues: [{ field: 'profile', message: 'no such profile' }] });
  });

  it('refuses an entry that would not bootstrap with its profile, with the checker issues', async () => {
    const refusal = refusalOf(await admitDevice(await fleetStore(), device('ep-1', { serverCredentials: { '101': { identity: 'ep-1', secretKey: SHORT_KEY } } })));
    assert.equal(refusal.reason, 'invalid-configuration');
    assert.ok(refusal.issues.length > 0);
    assert.ok(refusal.issues.every((issue) => issue.field.startsWith('device.serverCredentials.101')), JSON.stringify(refusal.issues));
  });

  it('refuses a bootstrap PSK identity another device holds, but not the one the device already holds', async () => {
    const store = await fleetStore();
    const holder = await admitDevice(store, device('ep-1', psk('shared-bs')));
    assert.ok(holder.admitted);
    await store.putDevice(holder.device);

    const again = await admitDevice(store, device('ep-1', psk('shared-bs', OTHER_KEY)));
    assert.ok(again.admitted, 'putting a device again keeps its identity');

    const refusal = refusalOf(await admitDevice(store, device('ep-2', psk('shared-bs', OTHER_KEY))));
    assert.deepEqual(refusal, {
      reason: 'psk-identity-held',
      endpoint: 'ep-2',
      holder: 'ep-1',
      issues: [{ field: 'bootstrapCredentials.identity', message: 'already the bootstrap PSK identity of device ep-1' }],
    });
    // No bootstrap PSK identity, nothing to look up.
    store.fault = (call) => assert.fail(`the store was asked (${call})`);
    const certificate = await admitDevice(store, device('ep-3'));
    assert.ok(certificate.admitted);
  });

  it('lets a failing identity lookup fail the admission rather than admit blindly', async () => {
    const store = await fleetStore();
    store.fault = (call) => {
      if (call === 'findDevice') throw Object.assign(new Error('more than one device has this pskIdentity'), { name: 'StoreError' });
    };
    await assert.rejects(admitDevice(store, device('ep-1', psk('ep-1-bs'))), /more than one device/);
  });
});
