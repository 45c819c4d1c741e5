import { createHash } from 'node:crypto';
import type { DeviceEntry } from '../bootstrap/device.ts';
import type { Profile } from '../bootstrap/profile.ts';

/**
 * A short, stable digest of what a bootstrap of this device leaves on it. A device whose
 * fingerprint differs from the one recorded at its last successful bootstrap needs another.
 *
 * In, because they change the instances written or deleted:
 *  - profile: `servers` (every field, credentials included), `bootstrapServer`, `acl`, `deletes`;
 *  - device: `serverCredentials`, `oscore`, `overrides.servers`, and `bootstrapCredentials`
 *    when the profile rewrites the Bootstrap-Server account (`bootstrapServer` is set).
 * Out, because the client ends up with the same values:
 *  - profile: `name` (a rename, or moving to an identical profile, writes the same), `description`,
 *    `reads` and `discover` (what the session asks, not what it writes), `contentFormat` and the
 *    device's `overrides.contentFormat` (the encoding only), `allowSecretsOverNoSec` (a policy
 *    that refuses a bootstrap, never changes it);
 *  - device: `endpoint`, `profile`, `identities` (a new card is the SIM-change rule's business),
 *    `smartcard` (the card's SCP03 keys, never written by a bootstrap), `status`.
 *
 * Input is the parsed (defaulted, lowercase-hex) profile and entry, so spelling a default out or
 * writing a key in capitals changes nothing. Keys go into the hash, so changing one changes the
 * fingerprint; the digest is one-way, but it is as guessable as the weakest key it covers (a
 * PIN-derived key with everything else known), so it is stored, never published.
 */
export function profileFingerprint(profile: Profile, device: DeviceEntry): string {
  const rewritesBootstrapAccount = profile.bootstrapServer !== undefined;
  const covered = {
    profile: {
      servers: profile.servers,
      bootstrapServer: profile.bootstrapServer,
      acl: profile.acl,
      deletes: profile.deletes,
    },
    device: {
      serverCredentials: device.serverCredentials,
      oscore: device.oscore,
      // `{}` and no overrides at all write the same.
      overrideServers: Object.keys(device.overrides.servers ?? {}).length > 0 ? device.overrides.servers : undefined,
      // keyFingerprint is the store's bookkeeping, not something written to the device.
      bootstrapCredentials: rewritesBootstrapAccount && device.bootstrapCredentials !== undefined ? { ...device.bootstrapCredentials, keyFingerprint: undefined } : undefined,
    },
  };
  return createHash('sha256')
    .update('lwm2m-bs profile-fingerprint v1\n')
    .update(canonicalJson(covered))
    .digest('hex')
    .slice(0, 32);
}

/**
 * JSON with object keys sorted and undefined members left out, so two equal values give the
 * same text whatever order their keys were written in. Array order is kept: it decides
 * instance ids and the order of writes.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonicalJson: not a finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item: unknown) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  if (typeof value === 'object') {
    const members = Object.entries(value)
      .filter(([, member]) => member !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, member]) => `${JSON.stringify(key)}:${canonicalJson(member)}`);
    return `{${members.join(',')}}`;
  }
  throw new TypeError(`canonicalJson: cannot encode a ${typeof value}`);
}
