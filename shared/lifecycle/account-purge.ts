import type { DeviceEntry } from '../bootstrap/device.ts';
import type { BootstrapStore } from '../bootstrap/store.ts';
import type { AccountPurgedEvent, LifecycleEvent, LifecycleEventSink } from './lifecycle-events.ts';
import { accountPurgeSchema, type AccountPurge, type PurgeHandler, type PurgeOutcome } from './purge.ts';

/**
 * The purge of one Bootstrap-Server account when it is due (issue 5): its credential stops
 * authenticating server side, the device entry keeps the identity (never the key) in
 * `revokedBootstrapIdentities`, and `AccountPurged` is emitted. Schedulers deliver at least
 * once, so a purge that finds nothing left to revoke writes nothing and emits nothing.
 */

/** How many purged identities a device entry keeps (the schema's bound), newest last. */
export const REVOKED_IDENTITIES_KEPT = 16;

export type PurgeStore = Pick<BootstrapStore, 'getDevice' | 'putDevice'>;

export interface AccountPurgeResult {
  readonly outcome: PurgeOutcome;
  /** 'purged' only. */
  readonly event?: LifecycleEvent;
  /** 'purged' of a PSK credential only: the identity the gateway must forget. */
  readonly revokedIdentity?: string;
}

type Revoked = NonNullable<DeviceEntry['revokedBootstrapIdentities']>[number];

/**
 * A NoSec account has no credential to revoke, but its purge must still be announced once.
 * The entry remembers it under this marker in `revokedBootstrapIdentities`: the session that
 * wrote the account and its instance name that one purge, which the scheduler may deliver
 * twice. `nosec:` plus up to 5 digits and a 64-character session id fits the 128 the list
 * allows. A PSK identity spelled the same is harmless: the list is only consulted here, and
 * never authenticates anything.
 */
export function noSecPurgeMarker(purge: Pick<AccountPurge, 'securityInstanceId' | 'bootstrapSessionId'>): string {
  return `nosec:${purge.securityInstanceId}:${purge.bootstrapSessionId}`;
}

export async function purgeAccount(store: PurgeStore, purge: AccountPurge, now: Date): Promise<AccountPurgeResult> {
  const due = accountPurgeSchema.parse(purge);
  const device = await store.getDevice(due.endpoint);
  if (device === undefined) return { outcome: 'already-purged' };

  const revokedAt = now.toISOString();
  const identity = due.pskIdentity;
  if (identity === undefined) {
    const marker = noSecPurgeMarker(due);
    if (wasRevokedBy(device, marker, due)) return { outcome: 'already-purged' };
    await store.putDevice(withRevoked(device, { identity: marker, revokedAt, reason: due.reason }));
    return { outcome: 'purged', event: accountPurgedEvent(due, revokedAt) };
  }

  // An identity this very purge revoked, issued again since, is not this purge's to revoke.
  if (wasRevokedBy(device, identity, due)) return { outcome: 'already-purged' };
  const revoked = revokeCredential(device, identity, due);
  if (revoked === undefined) return { outcome: 'already-purged' };
  await store.putDevice(withRevoked(revoked, { identity, revokedAt, reason: due.reason }));
  return { outcome: 'purged', event: accountPurgedEvent(due, revokedAt), revokedIdentity: identity };
}

/**
 * The device without the credential, or undefined when it no longer holds it. A retiring
 * credential is what a purge is for. The current one goes only at its Account Timeout: the
 * device deletes that account itself then (Core E.1, /0/x/12), so the server must stop taking
 * it; a purge for another reason never removes the account the device is using now.
 */
function revokeCredential(device: DeviceEntry, identity: string, purge: AccountPurge): DeviceEntry | undefined {
  const retiring = device.retiringBootstrapCredentials ?? [];
  const remaining = retiring.filter((credentials) => credentials.identity !== identity);
  if (remaining.length < retiring.length) {
    const next: DeviceEntry = { ...device, retiringBootstrapCredentials: remaining };
    if (remaining.length === 0) delete next.retiringBootstrapCredentials;
    return next;
  }
  if (purge.reason === 'account-timeout' && device.bootstrapCredentials?.identity === identity) {
    const next: DeviceEntry = { ...device };
    delete next.bootstrapCredentials;
    return next;
  }
  return undefined;
}

/**
 * Whether this purge already ran: the identity was revoked at or after the purge was scheduled.
 * A revocation from before the schedule was an earlier life of the identity.
 */
function wasRevokedBy(device: DeviceEntry, identity: string, purge: AccountPurge): boolean {
  const scheduledAt = Date.parse(purge.scheduledAt);
  return (device.revokedBootstrapIdentities ?? []).some((revoked) => revoked.identity === identity && Date.parse(revoked.revokedAt) >= scheduledAt);
}

function withRevoked(device: DeviceEntry, revoked: Revoked): DeviceEntry {
  return { ...device, revokedBootstrapIdentities: [...(device.revokedBootstrapIdentities ?? []), revoked].slice(-REVOKED_IDENTITIES_KEPT) };
}

function accountPurgedEvent(purge: AccountPurge, time: string): AccountPurgedEvent {
  return {
    type: 'AccountPurged',
    endpoint: purge.endpoint,
    time,
    securityInstanceId: purge.securityInstanceId,
    ...(purge.pskIdentity !== undefined && { pskIdentity: purge.pskIdentity }),
    reason: purge.reason,
    sessionId: purge.bootstrapSessionId,
  };
}

/**
 * The purge function's body, for the Lambda Scheduler invokes and the local scheduler alike:
 * revoke and record, let the gateway forget the identity (`onRevoked`: its PSK cache, through
 * the gateway topic on AWS), then announce. The order is revocation first: a failure after the
 * write leaves the credential revoked; the cost is that an event whose emit failed is not sent
 * again by the redelivery, which finds nothing left to do.
 */
export function makePurgeHandler(
  store: PurgeStore,
  sink: LifecycleEventSink,
  onRevoked: (identity: string) => void | Promise<void>,
  now: () => Date,
): PurgeHandler {
  return async (purge) => {
    const result = await purgeAccount(store, purge, now());
    if (result.revokedIdentity !== undefined) await onRevoked(result.revokedIdentity);
    if (result.event !== undefined) await sink.emit(result.event);
    return result.outcome;
  };
}
