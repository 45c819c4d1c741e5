import { classifyBootstrapKey, type KeyClassification } from '../lifecycle/key-entropy.ts';
import type { KeyFingerprinter } from '../lifecycle/key-fingerprint.ts';
import type { DeviceEntry } from './device.ts';
import { hexToBytes } from './key-bytes.ts';
import type { Profile } from './profile.ts';
import type { BootstrapStore } from './store.ts';

/** The store's part in counting the devices that share a key. */
export type KeySharingStore = Pick<BootstrapStore, 'countDevicesWithKeyFingerprint'>;

/**
 * The device's PSK bootstrap key classified; undefined when it has none. `devicesSharingKey` is
 * how many devices hold the key, this one included: 1 (the default) when the caller did not
 * count them, as this function cannot ask the store (classifyStoredDeviceKey does).
 */
export function classifyDeviceKey(device: DeviceEntry, devicesSharingKey = 1): KeyClassification | undefined {
  const credentials = device.bootstrapCredentials;
  if (credentials?.securityMode !== 'psk' || credentials.secretKey === undefined) return undefined;
  return classifyBootstrapKey({
    key: hexToBytes(credentials.secretKey),
    ...(credentials.identity !== undefined && { identity: credentials.identity }),
    device: { endpoint: device.endpoint, identities: device.identities },
    ...(credentials.keyOrigin !== undefined && { declaredOrigin: credentials.keyOrigin }),
    devicesSharingKey,
  });
}

/**
 * How many devices the sharing check looks for at bootstrap: two (this one and another) are
 * enough to call the key low, so the Query reads at most two index items.
 */
export const SHARED_KEY_PROBE = 2;

/**
 * The stored device's PSK bootstrap key classified, the devices sharing it counted through the
 * store's fingerprint index (seed 002, "a global secret stored on multiple devices"). The index
 * is asked only when the key is not low for another reason, and with one Query reading at most
 * two items, so a shared key reads "on 2 devices" however many hold it. A device written without
 * a fingerprint (by a writer that takes none) counts as the only holder.
 */
export async function classifyStoredDeviceKey(store: KeySharingStore, device: DeviceEntry): Promise<KeyClassification | undefined> {
  const alone = classifyDeviceKey(device);
  const fingerprint = device.bootstrapCredentials?.keyFingerprint;
  if (alone === undefined || alone.entropy === 'low' || fingerprint === undefined) return alone;
  // This device is in the index too (unless the index has not caught up with its write).
  const holders = await store.countDevicesWithKeyFingerprint(fingerprint, SHARED_KEY_PROBE);
  return holders > 1 ? classifyDeviceKey(device, holders) : alone;
}

/**
 * The device with `bootstrapCredentials.keyFingerprint` taken from its PSK, or removed when it
 * has no PSK key: a fingerprint sent in by a caller (copied from an export, from another
 * installation, or simply wrong) is never stored as if the writer had taken it.
 */
export async function withKeyFingerprint(device: DeviceEntry, fingerprinter: KeyFingerprinter): Promise<DeviceEntry> {
  const credentials = device.bootstrapCredentials;
  if (credentials === undefined) return device;
  if (credentials.securityMode !== 'psk' || credentials.secretKey === undefined) {
    if (credentials.keyFingerprint === undefined) return device;
    const rest = { ...credentials };
    delete rest.keyFingerprint;
    return { ...device, bootstrapCredentials: rest };
  }
  const keyFingerprint = await fingerprinter.fingerprint(hexToBytes(credentials.secretKey));
  return { ...device, bootstrapCredentials: { ...credentials, keyFingerprint } };
}

/** How far a writer counts the stored devices sharing a key: enough for an operator to tell "a few" from "many". */
export const SHARED_KEY_COUNT_LIMIT = 100;

/**
 * For a writer of one device (admin API `PUT /devices/{endpoint}`): the device's key classified
 * with the other stored devices that hold it, the device's own stored version left out. The
 * device must carry its fingerprint already (withKeyFingerprint).
 */
export async function classifyWrittenDeviceKey(store: KeySharingStore, device: DeviceEntry): Promise<KeyClassification | undefined> {
  const alone = classifyDeviceKey(device);
  const fingerprint = device.bootstrapCredentials?.keyFingerprint;
  if (alone === undefined || fingerprint === undefined) return alone;
  const others = await store.countDevicesWithKeyFingerprint(fingerprint, SHARED_KEY_COUNT_LIMIT, [device.endpoint]);
  return others > 0 ? classifyDeviceKey(device, 1 + others) : alone;
}

/** For a status: the low-entropy key a profile chose to keep (allowNoBootstrapAccount, no bootstrapServer). */
export async function keptLowEntropyNote(store: KeySharingStore, device: DeviceEntry, profile: Profile): Promise<string | undefined> {
  if (profile.bootstrapServer !== undefined || profile.allowNoBootstrapAccount !== true) return undefined;
  const classification = await classifyStoredDeviceKey(store, device);
  if (classification?.entropy !== 'low') return undefined;
  return `the Bootstrap-Server account key is low entropy (${reasonsText(classification)}) and was not replaced: profile ${profile.name} sets no bootstrapServer and allows a device without a Bootstrap-Server account`;
}

export function reasonsText(classification: KeyClassification): string {
  return classification.reasons.map((reason) => reason.text).join('; ');
}
