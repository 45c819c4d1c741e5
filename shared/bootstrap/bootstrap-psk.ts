import type { DeviceEntry } from './device.ts';
import { hexToBytes } from './key-bytes.ts';

/** What a DTLS handshake needs to know about a PSK identity presented to the bootstrap server. */
export interface BootstrapPsk {
  /** The device the identity belongs to: a Bootstrap-Request without `ep` is taken as this one. */
  readonly endpoint: string;
  readonly key: Uint8Array;
}

/**
 * The key a device authenticates its Bootstrap-Server account with, when `identity` is that
 * account's PSK identity. A device whose account is not PSK, or has no key, authenticates
 * nothing over DTLS: the identity is then unknown.
 */
export function bootstrapPskOf(device: DeviceEntry, identity: string): BootstrapPsk | undefined {
  const credentials = device.bootstrapCredentials;
  if (credentials?.securityMode !== 'psk' || credentials.identity !== identity || credentials.secretKey === undefined) return undefined;
  return { endpoint: device.endpoint, key: hexToBytes(credentials.secretKey) };
}
