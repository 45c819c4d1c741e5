import { iccid, type DeviceEntry } from '../bootstrap/device.ts';
import type { SimChangedEvent } from './lifecycle-events.ts';

/**
 * A device attached with another card (seeds 000 and 001). What the old card's bootstrap file
 * provisioned no longer counts: the smartcard record (the SCP03 keys the device shares with
 * that UICC, and through it the accounts it provisioned) is disabled server side, and the
 * entry names the new card. The device is marked for bootstrap elsewhere (decideOnAttach);
 * the LwM2M server side, which holds those accounts, acts on `SimChanged`.
 */

export interface SimCardChange {
  /** The card on record; absent when the device had none. */
  readonly from?: string;
  readonly to: string;
}

export interface SimChangeResult {
  readonly device: DeviceEntry;
  /** Whether this change disabled the smartcard; false without one, or when it was disabled already. */
  readonly disabledSmartcard: boolean;
}

/**
 * A smartcard disabled by an earlier change keeps that record: it names the card the keys
 * belong to and when they stopped counting, which a second swap does not change.
 */
export function applySimChange(device: DeviceEntry, change: SimCardChange, at: Date): SimChangeResult {
  const to = iccid.safeParse(change.to);
  if (!to.success) throw new RangeError('the new card\'s ICCID is not 18 to 22 digits');
  const next: DeviceEntry = { ...device, identities: { ...device.identities, iccid: to.data } };
  const smartcard = device.smartcard;
  if (smartcard === undefined || smartcard.disabled !== undefined) return { device: next, disabledSmartcard: false };
  next.smartcard = {
    ...smartcard,
    disabled: { at: at.toISOString(), reason: 'sim-changed', ...(change.from !== undefined && { iccid: change.from }) },
  };
  return { device: next, disabledSmartcard: true };
}

export function simChangedEvent(endpoint: string, change: SimCardChange, disabledSmartcard: boolean, at: Date): SimChangedEvent {
  return {
    type: 'SimChanged',
    endpoint,
    time: at.toISOString(),
    ...(change.from !== undefined && { from: change.from }),
    to: change.to,
    disabledSmartcard,
  };
}
