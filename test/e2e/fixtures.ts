import type { DeviceEntry } from '../../shared/bootstrap/device.ts';
import type { Profile } from '../../shared/bootstrap/profile.ts';

/** A NoSec profile pointing at a test LwM2M server, and devices using it. */
export function nosecProfile(name: string, lwm2mPort: number, overrides: Partial<Profile> = {}): Profile {
  return {
    name,
    servers: [
      { shortServerId: 101, uri: `coap://127.0.0.1:${lwm2mPort}`, securityMode: 'nosec', credentialSource: 'profile', lifetime: 120, binding: 'U', notificationStoring: false },
    ],
    acl: [],
    deletes: ['/0', '/1'],
    reads: [],
    discover: true,
    ...overrides,
  };
}

export function device(endpoint: string, profile: string): DeviceEntry {
  return { endpoint, profile, identities: {}, serverCredentials: {}, oscore: {}, overrides: {} };
}

/** Polls until `check` returns a value or the time runs out. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
