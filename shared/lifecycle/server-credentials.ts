import type { DeviceEntry } from '../bootstrap/device.ts';
import type { ServerCredentials } from '../bootstrap/credentials.ts';
import { hexToBytes } from '../bootstrap/key-bytes.ts';
import type { Profile } from '../bootstrap/profile.ts';
import { resolveServerAccounts } from '../bootstrap/server-accounts.ts';
import type { FreshPsk } from './fresh-credentials.ts';
import { MIN_HIGH_ENTROPY_KEY_BYTES } from './key-entropy.ts';
import { parseLifecycleEvent, type ServerCredentialsIssuedEvent } from './lifecycle-events.ts';

/**
 * Fresh LwM2M Server credentials at every bootstrap (issue 5, profile `mintServerCredentials`).
 * The device entry is the record of what the client was told, so the new keys replace
 * `device.serverCredentials` before the plan is compiled; the LwM2M server side learns them
 * from that store, or from a ServerCredentialsIssued event that holds the key sealed, never
 * in the clear.
 */

/** Credentials just minted for one account. `secretKey` is hex, as the device entry keeps it. */
export interface IssuedServerCredentials {
  readonly shortServerId: number;
  readonly identity: string;
  readonly secretKey: string;
}

/**
 * Draws the credentials for one account: `freshServerPsk` with the device's endpoint in
 * production, a scripted source in tests. `taken` says which identities the device already
 * uses, so the draw can avoid them.
 */
export type FreshServerPskSource = (shortServerId: number, taken: (identity: string) => boolean) => FreshPsk;

export interface MintServerCredentialsInput {
  readonly profile: Profile;
  readonly device: DeviceEntry;
  readonly fresh: FreshServerPskSource;
}

export interface MintedServerCredentials {
  /** The entry with the new credentials in place; the input when nothing was minted. */
  readonly device: DeviceEntry;
  /** In profile order; empty when the profile does not mint or has no account to mint for. */
  readonly issued: readonly IssuedServerCredentials[];
}

/**
 * New PSK credentials for every account the device supplies PSK credentials for (security
 * mode `psk`, `credentialSource: device`, after the device's overrides). Accounts with the
 * profile's credentials, or another mode, keep theirs: a fleet-wide value is not the device's
 * to replace. Every identity is new to the device, so a server that looks keys up by identity
 * never confuses an account with another, or the new key with the old.
 */
export function mintServerCredentials(input: MintServerCredentialsInput): MintedServerCredentials {
  const { profile, device, fresh } = input;
  if (profile.mintServerCredentials !== true) return { device, issued: [] };

  const targets = resolveServerAccounts(profile, device)
    .map(({ account }) => account)
    .filter((account) => account.securityMode === 'psk' && account.credentialSource === 'device');
  if (targets.length === 0) return { device, issued: [] };

  const taken = identitiesOf(profile, device);
  const issued: IssuedServerCredentials[] = [];
  const serverCredentials: Record<string, ServerCredentials> = { ...device.serverCredentials };
  for (const { shortServerId } of targets) {
    const psk = fresh(shortServerId, (identity) => taken.has(identity));
    // Checked here as well as offered to the source: an identity two accounts share would let
    // the server side hand one account's key to the other. Messages name the account only.
    if (psk.identity.length === 0 || psk.identity.length > 128) {
      throw new RangeError(`the fresh PSK identity for Short Server ID ${shortServerId} is not 1..128 characters`);
    }
    if (taken.has(psk.identity)) {
      throw new Error(`the fresh PSK identity for Short Server ID ${shortServerId} is already used by this device`);
    }
    // Seed 000's high-entropy bar: a source handing out less is broken, not a choice.
    if (psk.key.length < MIN_HIGH_ENTROPY_KEY_BYTES) {
      throw new RangeError(`the fresh PSK key for Short Server ID ${shortServerId} has fewer than ${MIN_HIGH_ENTROPY_KEY_BYTES} bytes`);
    }
    taken.add(psk.identity);
    const secretKey = Buffer.from(psk.key).toString('hex');
    serverCredentials[String(shortServerId)] = { identity: psk.identity, secretKey };
    issued.push({ shortServerId, identity: psk.identity, secretKey });
  }
  return { device: { ...device, serverCredentials }, issued };
}

/**
 * Every PSK identity the device has or had: its Bootstrap-Server account's (current, retiring,
 * revoked) and every server account's, the ones about to be replaced included.
 */
function identitiesOf(profile: Profile, device: DeviceEntry): Set<string> {
  const identities = [
    device.bootstrapCredentials?.identity,
    ...(device.retiringBootstrapCredentials ?? []).map((retiring) => retiring.identity),
    ...(device.revokedBootstrapIdentities ?? []).map((revoked) => revoked.identity),
    ...Object.values(device.serverCredentials).map((credentials) => credentials.identity),
    ...resolveServerAccounts(profile, device).map(({ credentials }) => credentials?.identity),
  ];
  return new Set(identities.filter((identity): identity is string => identity !== undefined));
}

/** Which account a sealed key belongs to; a KMS sealer binds the ciphertext to it. */
export interface KeySealContext {
  readonly endpoint: string;
  readonly shortServerId: number;
}

/**
 * Encrypts a key for the LwM2M server side (KMS on AWS). The ciphertext must be useless for any
 * other account, which is what the context is for.
 */
export interface KeySealer {
  /** Base64 of the ciphertext. */
  seal(plaintext: Uint8Array, context: KeySealContext): Promise<string>;
}

/**
 * One ServerCredentialsIssued event per minted account. With a sealer the event carries the
 * key as the sealer's ciphertext; without one (the local server) it carries no key at all, and
 * that absence is the message: the LwM2M server side reads the key from the store (the local
 * sink logs it as `keyEncrypted: false`). Each event is validated as the sinks do, so a sealer
 * that handed back the key in hex is refused here, before anything is emitted.
 */
export async function issuedEvents(
  endpoint: string,
  issued: readonly IssuedServerCredentials[],
  sealer: KeySealer | undefined,
  at: string,
): Promise<ServerCredentialsIssuedEvent[]> {
  const events: ServerCredentialsIssuedEvent[] = [];
  for (const { shortServerId, identity, secretKey } of issued) {
    const secretKeyCiphertext = sealer === undefined ? undefined : await sealer.seal(hexToBytes(secretKey), { endpoint, shortServerId });
    const event = parseLifecycleEvent({
      type: 'ServerCredentialsIssued',
      endpoint,
      time: at,
      shortServerId,
      identity,
      ...(secretKeyCiphertext !== undefined && { secretKeyCiphertext }),
    });
    if (event.type !== 'ServerCredentialsIssued') throw new Error('unreachable: a ServerCredentialsIssued event parsed as another type');
    events.push(event);
  }
  return events;
}
