import { createHmac } from 'node:crypto';

/**
 * The bench's device keys: derived from the endpoint name under a fixed bench-only secret, so the
 * server's device entries and the fleet's thread agree without passing keys between threads.
 * Never a pattern for real keys, which come from a CSPRNG.
 */
export function benchPsk(endpoint: string): { identity: string; key: Uint8Array } {
  return { identity: `${endpoint}-id`, key: new Uint8Array(createHmac('sha256', 'lwm2m-bs bench only').update(endpoint).digest().subarray(0, 16)) };
}
