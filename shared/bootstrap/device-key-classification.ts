import { classifyBootstrapKey, type KeyClassification } from '../lifecycle/key-entropy.ts';
import type { DeviceEntry } from './device.ts';
import { hexToBytes } from './key-bytes.ts';
import type { Profile } from './profile.ts';

/** The device's PSK bootstrap key classified; undefined when it has none. The store cannot count sharers here. */
export function classifyDeviceKey(device: DeviceEntry): KeyClassification | undefined {
  const credentials = device.bootstrapCredentials;
  if (credentials?.securityMode !== 'psk' || credentials.secretKey === undefined) return undefined;
  return classifyBootstrapKey({
    key: hexToBytes(credentials.secretKey),
    ...(credentials.identity !== undefined && { identity: credentials.identity }),
    device: { endpoint: device.endpoint, identities: device.identities },
    ...(credentials.keyOrigin !== undefined && { declaredOrigin: credentials.keyOrigin }),
    devicesSharingKey: 1,
  });
}

/** For a status: the low-entropy key a profile chose to keep (allowNoBootstrapAccount, no bootstrapServer). */
export function keptLowEntropyNote(device: DeviceEntry, profile: Profile): string | undefined {
  if (profile.bootstrapServer !== undefined || profile.allowNoBootstrapAccount !== true) return undefined;
  const classification = classifyDeviceKey(device);
  if (classification?.entropy !== 'low') return undefined;
  return `the Bootstrap-Server account key is low entropy (${reasonsText(classification)}) and was not replaced: profile ${profile.name} sets no bootstrapServer and allows a device without a Bootstrap-Server account`;
}

export function reasonsText(classification: KeyClassification): string {
  return classification.reasons.map((reason) => reason.text).join('; ');
}
