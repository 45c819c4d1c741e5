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
  // A credential being replaced still authenticates until its purge: the device holds it until
  // the Bootstrap-Server Account Timeout, and may need it to reach us meanwhile.
  for (const credentials of [device.bootstrapCredentials, ...(device.retiringBootstrapCredentials ?? [])]) {
    if (credentials?.securityMode !== 'psk' || credentials.identity !== identity || credentials.secretKey === undefined) continue;
    return { endpoint: device.endpoint, key: hexToBytes(credentials.secretKey) };
  }
  return undefined;
}
