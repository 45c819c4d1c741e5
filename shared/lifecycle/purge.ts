import { createHash } from 'node:crypto';
import { z } from 'zod';
import { endpointName } from '../bootstrap/device.ts';

/**
 * A pending purge of one Bootstrap-Server account the server wrote: at `dueAt` its credential
 * is revoked server side. The reason says why: the account timeout (/0/x/12) ran out, a
 * re-bootstrap replaced the account, or the card that provisioned it was swapped.
 *
 * It names the account by identifiers only (endpoint, Security instance, PSK identity), never
 * by key: it travels as a schedule's input and sits in the table, neither of which may hold a
 * secret. The object is strict so a key added by mistake is refused, not carried along.
 */
export const purgeReason = z.enum(['account-timeout', 'replaced', 'sim-changed']);
export type PurgeReason = z.infer<typeof purgeReason>;

export const accountPurgeSchema = z.strictObject({
  endpoint: endpointName,
  /** The Security Object (/0) instance of the account; 65535 is reserved (Core 7.1). */
  securityInstanceId: z.number().int().min(0).max(65534),
  pskIdentity: z.string().min(1).max(128).optional(),
  reason: purgeReason,
  dueAt: z.iso.datetime(),
  scheduledAt: z.iso.datetime(),
  /** The bootstrap session that wrote the account, for an operator tracing a purge back. */
  bootstrapSessionId: z.string().min(1).max(64),
});
export type AccountPurge = z.infer<typeof accountPurgeSchema>;

/** EventBridge Scheduler's rule for schedule names. */
export const SCHEDULE_NAME_PATTERN = /^[0-9a-zA-Z\-_.]{1,64}$/;

const ENDPOINT_HASH_HEX_DIGITS = 40;

/**
 * The one schedule name of an account's purge, so a re-bootstrap finds and replaces (or cancels)
 * the schedule an earlier one made without remembering anything. At most 6 + 40 + 1 + 5 + 2 = 54
 * characters.
 *
 * A replaced account's purge has a name of its own (`-r`): later sessions write the new account
 * at the instance the original had, and their account-timeout schedule or cancellation must not
 * touch the purge that revokes the original, low-entropy key.
 *
 * The endpoint is hashed rather than written out: Endpoint Client Names may hold any printable
 * ASCII (`:`, `/`, `+`, `@`, ...) and be 255 bytes long, which Scheduler names refuse, and they
 * are device identifiers (often an IMEI) that should not be scattered over AWS resource names,
 * which show up in CloudTrail, the console and metrics. 160 bits of SHA-256 leave collisions out
 * of reach.
 */
export function purgeScheduleName(endpoint: string, securityInstanceId: number, reason: PurgeReason = 'account-timeout'): string {
  if (!Number.isInteger(securityInstanceId) || securityInstanceId < 0 || securityInstanceId > 65534) {
    throw new RangeError(`a Security instance id is an integer from 0 to 65534, not ${securityInstanceId}`);
  }
  const hash = createHash('sha256').update(endpoint, 'utf8').digest('hex').slice(0, ENDPOINT_HASH_HEX_DIGITS);
  return `purge-${hash}-${securityInstanceId}${reason === 'replaced' ? '-r' : ''}`;
}

/** The name of the schedule a purge belongs to. */
export function purgeScheduleNameOf(purge: Pick<AccountPurge, 'endpoint' | 'securityInstanceId' | 'reason'>): string {
  return purgeScheduleName(purge.endpoint, purge.securityInstanceId, purge.reason);
}

/**
 * When a purge is due: the finish of the bootstrap that wrote the account plus its Bootstrap-
 * Server Account Timeout (/0/x/12, in seconds). 0 means the account never times out, so there
 * is nothing to schedule and asking is a caller's mistake.
 */
export function purgeDueAt(finishedAt: string | Date, accountTimeoutSeconds: number): string {
  if (!Number.isInteger(accountTimeoutSeconds) || accountTimeoutSeconds <= 0) {
    throw new RangeError(`an account timeout to schedule is a whole number of seconds above 0, not ${accountTimeoutSeconds}`);
  }
  const finished = typeof finishedAt === 'string' ? Date.parse(finishedAt) : finishedAt.getTime();
  if (Number.isNaN(finished)) throw new RangeError('the bootstrap finish time is not a valid time');
  return new Date(finished + accountTimeoutSeconds * 1000).toISOString();
}

/**
 * Where purges wait until they are due: EventBridge Scheduler on AWS, the table locally.
 * Keyed by `purgeScheduleName`, so there is at most one pending purge per account and reason
 * (account timeout or replacement).
 */
export interface PurgeScheduler {
  /** Creates the schedule of that name, or replaces the one already there. */
  schedule(purge: AccountPurge): Promise<void>;
  /** Removes the pending account-timeout purge of the account (never a replaced one's); false when there was none. */
  cancel(endpoint: string, securityInstanceId: number): Promise<boolean>;
}

export type PurgeOutcome = 'purged' | 'already-purged';

/**
 * Runs a due purge. Schedulers deliver at least once (a retry, a crash before the schedule was
 * removed), so it must be idempotent: a second run finds the credential revoked and says so.
 */
export type PurgeHandler = (purge: AccountPurge) => Promise<PurgeOutcome>;
