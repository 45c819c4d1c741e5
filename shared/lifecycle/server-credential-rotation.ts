import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { DeviceEntry } from '../bootstrap/device.ts';
import type { IssuedServerCredentials } from './server-credentials.ts';

/**
 * LwM2M Server credentials minted for a device (profile `mintServerCredentials`) between the
 * bootstrap that carries them and its success. They live in the lifecycle record, not on the
 * device entry, until the device has them: the LwM2M server side looks keys up in the store,
 * and taking the new key there before the client holds it would lock the client out with the
 * key it has. Every attempt until a success writes the same ones, so a client that kept the
 * writes of a failed session and one that did not end up with the same key.
 */
export const pendingServerCredentialsSchema = z.strictObject({
  /** By Short Server ID, as `serverCredentials` on the device entry. Holds keys: never print it. */
  credentials: z.record(
    z.string().regex(/^\d+$/, 'a Short Server ID'),
    z.strictObject({ identity: z.string().min(1).max(128), secretKey: z.string().regex(/^([0-9a-f]{2})+$/, 'hex') }),
  ),
  createdAt: z.iso.datetime(),
});
export type PendingServerCredentials = z.infer<typeof pendingServerCredentialsSchema>;

export function pendingFromIssued(issued: readonly IssuedServerCredentials[], now: Date): PendingServerCredentials {
  const credentials: Record<string, { identity: string; secretKey: string }> = {};
  for (const { shortServerId, identity, secretKey } of issued) credentials[String(shortServerId)] = { identity, secretKey };
  return { credentials, createdAt: now.toISOString() };
}

export function issuedFromPending(pending: PendingServerCredentials): IssuedServerCredentials[] {
  return Object.entries(pending.credentials).map(([shortServerId, { identity, secretKey }]) => ({ shortServerId: Number(shortServerId), identity, secretKey }));
}

/**
 * Whether the pending credentials are for exactly the accounts a mint would target now. A profile
 * that gained or lost an account since they were minted gets a new set, not a partial one.
 */
export function pendingCoversAccounts(pending: PendingServerCredentials, shortServerIds: readonly number[]): boolean {
  const pendingIds = Object.keys(pending.credentials).map(Number).sort((a, b) => a - b);
  const wanted = [...shortServerIds].sort((a, b) => a - b);
  return pendingIds.length === wanted.length && pendingIds.every((id, index) => id === wanted[index]);
}

/** The device as the client will hold it once the session succeeds. */
export function withServerCredentials(device: DeviceEntry, pending: PendingServerCredentials): DeviceEntry {
  return { ...device, serverCredentials: { ...device.serverCredentials, ...pending.credentials } };
}

/** True when the device entry already holds every pending credential: the promotion happened. */
export function serverCredentialsPromoted(device: DeviceEntry, pending: PendingServerCredentials): boolean {
  return Object.entries(pending.credentials).every(([id, credentials]) => {
    const held = device.serverCredentials[id];
    return held?.identity === credentials.identity && held.secretKey === credentials.secretKey;
  });
}

/** The same minted set: same accounts, identities and keys. */
export function samePendingServerCredentials(a: PendingServerCredentials, b: PendingServerCredentials): boolean {
  const ids = Object.keys(a.credentials);
  return (
    ids.length === Object.keys(b.credentials).length &&
    ids.every((id) => a.credentials[id]?.identity === b.credentials[id]?.identity && a.credentials[id]?.secretKey === b.credentials[id]?.secretKey)
  );
}

const MINT_TAG_HEX_DIGITS = 12;
const SESSION_ID_MAX = 64;

/**
 * A session id that says the session wrote these pending credentials. `bootstrap-ended` carries
 * no plan; a session planned before they were minted (a concurrent one) delivered the old keys,
 * and its success must not promote the new ones. The tag hashes the identities, which are not
 * secret; it goes before any account-replacement tag, which is matched at the end.
 */
export function mintSessionId(sessionId: string, pending: PendingServerCredentials): string {
  const tag = mintTag(pending);
  return `${sessionId.slice(0, SESSION_ID_MAX - tag.length)}${tag}`;
}

export function carriesServerCredentials(sessionId: string, pending: PendingServerCredentials): boolean {
  return sessionId.includes(mintTag(pending));
}

function mintTag(pending: PendingServerCredentials): string {
  const identities = Object.entries(pending.credentials)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([id, { identity }]) => `${id}=${identity}`)
    .join('\n');
  return `.m${createHash('sha256').update(identities, 'utf8').digest('hex').slice(0, MINT_TAG_HEX_DIGITS)}`;
}
