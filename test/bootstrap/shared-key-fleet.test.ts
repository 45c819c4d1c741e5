import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { handleUplink, type BootstrapBackendDeps } from '../../shared/bootstrap/backend.ts';
import { classifyStoredDeviceKey, withKeyFingerprint } from '../../shared/bootstrap/device-key-classification.ts';
import type { BootstrapStore } from '../../shared/bootstrap/store.ts';
import { generatePepper, PepperKeyFingerprinter } from '../../shared/lifecycle/key-fingerprint.ts';
import { profileFingerprint } from '../../shared/lifecycle/profile-fingerprint.ts';
import { MirroredStore } from '../../server/store/mirrored-store.ts';
import { device, nosecProfile } from '../e2e/fixtures.ts';
import { startDynaliteStore } from '../fixtures/dynalite-store.ts';
import { bootstrapEnded, bootstrapRequested, plannedOf } from '../fixtures/uplinks.ts';

// A fleet that shares one random-looking Bootstrap-Server key (seed 002's "global secret stored
// on multiple devices"): nothing but the count of holders makes it low entropy. Each device's
// bootstrap replaces it; the last ones must not find themselves its only holder once the
// others were replaced. Over the DynamoDB store on dynalite and over the local server's mirror.
for (const kind of ['dynamodb', 'mirror'] as const) {
  describe(`a key shared by a fleet, replaced device by device (${kind})`, () => {
    let close: () => Promise<void>;
    let store: BootstrapStore;
    let deps: BootstrapBackendDeps;
    const sharedKey = randomBytes(16).toString('hex');
    const fleet = ['fleet-1', 'fleet-2', 'fleet-3'];
    const fingerprinter = new PepperKeyFingerprinter(generatePepper());
    let sessions = 0;

    before(async () => {
      const { store: table, close: closeTable } = await startDynaliteStore(`shared-${kind}`);
      const mirror = kind === 'mirror' ? await MirroredStore.open({ store: table, log: () => undefined }) : undefined;
      store = mirror ?? table;
      await store.putProfile(nosecProfile('replacing', 5685, { bootstrapServer: { uri: 'coaps://bs.example:5684', instanceId: 0 } }));
      for (const endpoint of fleet) {
        await store.putDevice(await withKeyFingerprint({ ...device(endpoint, 'replacing'), bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-bs`, secretKey: sharedKey } }, fingerprinter));
      }
      deps = { store, newSessionId: () => `00000000-0000-4000-8000-${String(++sessions).padStart(12, '0')}`, now: () => new Date('2026-11-23T12:00:05.000Z') };
      close = async () => {
        await mirror?.close();
        await closeTable();
      };
    });
    after(() => close());

    it('every device of the fleet, the last one included, gets a fresh account', async () => {
      for (const endpoint of fleet) {
        const before = await store.getDevice(endpoint);
        assert.ok(before !== undefined);
        const classification = await classifyStoredDeviceKey(store, before);
        assert.equal(classification?.entropy, 'low', `${endpoint} holds a key others held`);
        assert.ok(classification?.reasons.some((reason) => /devices/.test(reason.text)), JSON.stringify(classification?.reasons));

        const { sessionId } = plannedOf(await handleUplink(bootstrapRequested({ endpoint, pskIdentity: `${endpoint}-bs` }), deps));
        assert.ok((await store.getLifecycle(endpoint))?.pendingAccount !== undefined, `${endpoint} is given a replacement account`);
        await handleUplink(bootstrapEnded({ endpoint, sessionId }), deps);
        const promoted = await store.getDevice(endpoint);
        assert.equal(promoted?.bootstrapCredentials?.keyOrigin, 'random');
        assert.notEqual(promoted?.bootstrapCredentials?.secretKey, sharedKey);
        assert.equal(promoted?.replacedKeyFingerprint, before.bootstrapCredentials?.keyFingerprint);
        assert.equal((await classifyStoredDeviceKey(store, promoted!))?.entropy, 'high', 'the fresh key is its own');
      }
    });

    it('the store keeps its fingerprint out of the profile fingerprint', async () => {
      const profile = await store.getProfile('replacing');
      const entry = await store.getDevice('fleet-1');
      assert.ok(profile !== undefined && entry?.bootstrapCredentials !== undefined);
      const withoutFingerprint = { ...entry, bootstrapCredentials: { ...entry.bootstrapCredentials, keyFingerprint: undefined } };
      const refingerprinted = await withKeyFingerprint(entry, new PepperKeyFingerprinter(generatePepper()));
      assert.equal(profileFingerprint(profile, refingerprinted), profileFingerprint(profile, withoutFingerprint));
    });
  });
}
