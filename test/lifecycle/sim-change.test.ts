import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deviceEntrySchema, type DeviceEntry } from '../../shared/bootstrap/device.ts';
import { simChangedEventSchema } from '../../shared/lifecycle/lifecycle-events.ts';
import { applySimChange, simChangedEvent } from '../../shared/lifecycle/sim-change.ts';

const OLD_CARD = '89340701234567890123';
const NEW_CARD = '8934070999999999999F';
const AT = new Date('2026-03-01T12:00:00.000Z');
const SCP03 = { enc: '404142434445464748494a4b4c4d4e4f', mac: '505152535455565758595a5b5c5d5e5f', dek: '606162636465666768696a6b6c6d6e6f' };

function entry(extra: Record<string, unknown> = {}): DeviceEntry {
  return deviceEntrySchema.parse({ endpoint: 'urn:imei:490154203237518', profile: 'fleet', identities: { iccid: OLD_CARD, imsi: '234150999999999' }, ...extra });
}

describe('applySimChange', () => {
  it('disables the smartcard the old card provisioned, naming that card, and records the new card', () => {
    const device = entry({ smartcard: { scp03: SCP03 } });
    const { device: next, disabledSmartcard } = applySimChange(device, { from: OLD_CARD, to: NEW_CARD }, AT);

    assert.equal(disabledSmartcard, true);
    assert.deepEqual(next.smartcard?.disabled, { at: AT.toISOString(), reason: 'sim-changed', iccid: OLD_CARD });
    assert.deepEqual(next.smartcard?.scp03, device.smartcard?.scp03, 'the keys stay, marked as no longer counting');
    assert.deepEqual(next.identities, { iccid: NEW_CARD, imsi: '234150999999999' });
    assert.deepEqual(deviceEntrySchema.parse(next), next, 'the result is a valid entry to write');
    assert.equal(device.identities.iccid, OLD_CARD, 'the input is not changed');
    assert.equal(device.smartcard?.disabled, undefined);
  });

  it('only records the new card on a device without a smartcard', () => {
    const device = entry();
    const { device: next, disabledSmartcard } = applySimChange(device, { from: OLD_CARD, to: NEW_CARD }, AT);
    assert.equal(disabledSmartcard, false);
    assert.equal(next.smartcard, undefined);
    assert.equal(next.identities.iccid, NEW_CARD);
  });

  it('keeps the record of a smartcard an earlier swap disabled', () => {
    const earlier = { at: '2026-01-01T00:00:00.000Z', reason: 'sim-changed', iccid: '89340700000000000001' } as const;
    const device = entry({ smartcard: { scp03: SCP03, disabled: earlier } });
    const { device: next, disabledSmartcard } = applySimChange(device, { from: OLD_CARD, to: NEW_CARD }, AT);
    assert.equal(disabledSmartcard, false);
    assert.deepEqual(next.smartcard?.disabled, earlier);
    assert.equal(next.identities.iccid, NEW_CARD);
  });

  it('disables the smartcard of a device that had no card on record, without naming one', () => {
    const device = entry({ identities: {}, smartcard: { scp03: SCP03 } });
    const { device: next, disabledSmartcard } = applySimChange(device, { to: NEW_CARD }, AT);
    assert.equal(disabledSmartcard, true);
    assert.deepEqual(next.smartcard?.disabled, { at: AT.toISOString(), reason: 'sim-changed' });
  });

  it('refuses a new card that is not an ICCID', () => {
    assert.throws(() => applySimChange(entry(), { from: OLD_CARD, to: 'not-a-card' }, AT), RangeError);
  });
});

describe('simChangedEvent', () => {
  it('builds a valid SimChanged event, with or without the old card', () => {
    const event = simChangedEvent('urn:imei:490154203237518', { from: OLD_CARD, to: NEW_CARD }, true, AT);
    assert.deepEqual(event, { type: 'SimChanged', endpoint: 'urn:imei:490154203237518', time: AT.toISOString(), from: OLD_CARD, to: NEW_CARD, disabledSmartcard: true });
    assert.deepEqual(simChangedEventSchema.parse(event), event);

    const first = simChangedEvent('ep-1', { to: NEW_CARD }, false, AT);
    assert.equal('from' in first, false);
    assert.deepEqual(simChangedEventSchema.parse(first), first);
  });

  it('carries nothing of the smartcard keys', () => {
    const { device, disabledSmartcard } = applySimChange(entry({ smartcard: { scp03: SCP03 } }), { from: OLD_CARD, to: NEW_CARD }, AT);
    const text = JSON.stringify(simChangedEvent(device.endpoint, { from: OLD_CARD, to: NEW_CARD }, disabledSmartcard, AT));
    for (const key of Object.values(SCP03)) assert.ok(!text.includes(key));
  });
});
