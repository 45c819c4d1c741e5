import { z } from 'zod';
import { treeToJsonView } from '../content/json-view.ts';
import type { InstanceNode } from '../content/tree.ts';
import { SECURITY_OBJECT } from '../lwm2m/objects/security.ts';
import { hexKey } from '../bootstrap/credentials.ts';
import type { DeviceEntry, RetiringBootstrapCredentials } from '../bootstrap/device.ts';
import type { SecurityInstances } from '../bootstrap/contract.ts';
import { securityInstancesOf } from '../bootstrap/instance-remap.ts';
import type { BootstrapPlan, PlanWrite } from '../bootstrap/plan.ts';
import type { Profile } from '../bootstrap/profile.ts';
import { bootstrapSecurityInstance } from '../bootstrap/security-instance.ts';
import { serverUriProblem } from '../bootstrap/server-uri.ts';
import { MIN_HIGH_ENTROPY_KEY_BYTES } from './key-entropy.ts';
import type { FreshPsk } from './fresh-credentials.ts';

/**
 * Replacing a low-entropy Bootstrap-Server account (seeds 000 and 002): the bootstrap that finds
 * one also writes a second Bootstrap-Server account with a fresh key, the server remembers it as
 * pending, and once that bootstrap succeeds the fresh account becomes the device's and the
 * original one retires. The new account's first session then deletes the original instance on
 * the device; server side the original stops authenticating at its purge (finish + Account
 * Timeout). At no point is the device left without a Bootstrap-Server account: the original is
 * only deleted by a session that the new account opened.
 */

const SECURITY = SECURITY_OBJECT.id;
/** The highest Object Instance ID a plan may use (65535 is reserved). */
const MAX_INSTANCE_ID = 65534;

const pskIdentityText = z.string().min(1).max(128);
const instanceId = z.number().int().min(0).max(MAX_INSTANCE_ID);

/** The replacement account while its first session is due (LifecycleRecord `pendingAccount`). */
export const pendingAccountSchema = z.strictObject({
  identity: pskIdentityText,
  /** The fresh PSK as hex, like every stored key; redact it wherever the record is shown. */
  secretKey: hexKey,
  /** The Security instance the plan wrote it to; once promoted, the one the session wrote it to. */
  instanceId,
  /** The PSK identity of the account being replaced, when it had one. */
  originalIdentity: pskIdentityText.optional(),
  /**
   * Where the plan expected the original account; once promoted, where the session found it
   * (settlePendingAccount). The instance the new account's first session deletes.
   */
  originalInstanceId: instanceId,
  createdAt: z.iso.datetime(),
  /**
   * The session whose success promoted it: a redelivered `bootstrap-ended` of that session is
   * told from the new account's first session by it, and only (re)schedules the original's purge.
   */
  promotedBy: z.string().min(1).max(64).optional(),
});
export type PendingAccount = z.infer<typeof pendingAccountSchema>;

export interface AccountReplacementInput {
  readonly plan: BootstrapPlan;
  readonly device: DeviceEntry;
  readonly profile: Profile;
  /** From freshBootstrapPsk: the CSPRNG stays with the caller, so this stays pure. */
  readonly fresh: FreshPsk;
  readonly now: Date;
}

export interface AccountReplacement {
  readonly plan: BootstrapPlan;
  readonly pending: PendingAccount;
}

/**
 * The plan with a second Bootstrap-Server account holding `fresh`, and the pending record to
 * keep until the session succeeds. Undefined when the profile configures no Bootstrap-Server
 * account: there is then no URI to write, and the caller must refuse the replacement unless the
 * profile allows a device without one.
 *
 * The new account sits at the lowest instance id that neither a planned Security instance nor
 * the original account's planned instance uses; should Bootstrap-Discover find the original
 * account elsewhere, on that id, arrangeWrites moves the new one off it like any other planned
 * Security instance. Its Account Timeout is 0: the profile's timeout is for the account being
 * replaced (the client purges that one after it, seed 000), and the same timeout on the fresh
 * account would have the client purge both and keep none.
 */
export function planAccountReplacement(input: AccountReplacementInput): AccountReplacement | undefined {
  const { plan, device, profile, fresh, now } = input;
  const options = profile.bootstrapServer;
  if (options === undefined) return undefined;
  // The fresh account is PSK: a coap:// Bootstrap-Server could never be reached with it.
  const uriProblem = serverUriProblem(options.uri, 'psk');
  if (uriProblem !== undefined) throw new RangeError(`profile ${profile.name}: bootstrapServer.uri ${uriProblem}; a replacement account cannot be written`);
  if (fresh.key.length < MIN_HIGH_ENTROPY_KEY_BYTES) {
    throw new RangeError(`a replacement Bootstrap-Server key needs ${MIN_HIGH_ENTROPY_KEY_BYTES} bytes at least, the fresh one has ${fresh.key.length}`);
  }
  const original = device.bootstrapCredentials;
  const originalIdentity = original?.securityMode === 'psk' ? original.identity : undefined;
  if (!pskIdentityText.safeParse(fresh.identity).success) throw new RangeError('the fresh PSK identity must have 1 to 128 characters');
  if (fresh.identity === originalIdentity) throw new RangeError(`the fresh PSK identity of ${device.endpoint} is the one it replaces`);

  const originalInstanceId = plan.bootstrapServerWrite === undefined ? options.instanceId : instanceIdOf(plan.bootstrapServerWrite.path);
  const taken = new Set([originalInstanceId, ...plan.writes.filter((write) => objectIdOf(write.path) === SECURITY).map((write) => instanceIdOf(write.path))]);
  let newInstanceId = 0;
  while (taken.has(newInstanceId)) newInstanceId += 1;
  // Only a plan with 65535 Security instances could get here, and the plan schema cannot hold one.
  if (newInstanceId > MAX_INSTANCE_ID) throw new RangeError(`no free Security instance id for the replacement account of ${device.endpoint}`);

  const secretKey = Buffer.from(fresh.key).toString('hex');
  const instance = bootstrapSecurityInstance(
    {
      uri: options.uri,
      instanceId: newInstanceId,
      ...(options.clientHoldOffTime !== undefined && { clientHoldOffTime: options.clientHoldOffTime }),
      accountTimeout: 0,
    },
    { securityMode: 'psk', identity: fresh.identity, secretKey },
  );
  // Security instances come first in a plan; the new account goes after the planned ones, so a
  // client that stops half-way holds the servers before it holds a second bootstrap account.
  const afterSecurity = plan.writes.findLastIndex((write) => objectIdOf(write.path) === SECURITY) + 1;
  const writes = [...plan.writes.slice(0, afterSecurity), securityWrite(instance), ...plan.writes.slice(afterSecurity)];
  return {
    plan: { ...plan, writes },
    pending: {
      identity: fresh.identity,
      secretKey,
      instanceId: newInstanceId,
      ...(originalIdentity !== undefined && { originalIdentity }),
      originalInstanceId,
      createdAt: now.toISOString(),
    },
  };
}

/**
 * The pending account with the instance ids the replacement session really used, from its
 * `bootstrap-ended` (`securityInstances`): Bootstrap-Discover may have moved the new account off
 * the original's instance, and found the original somewhere other than planned, where the plan's
 * Bootstrap-Server rewrite then went. Record this, not the planned ids, before promoting: the new
 * account's first session deletes `originalInstanceId`. Without it (a gateway from before the
 * field, a session without Discover) the planned ids stand. Apply it to the record as planned
 * only: the ids are keyed by the plan's.
 */
export function settlePendingAccount(pending: PendingAccount, written: SecurityInstances | undefined): PendingAccount;
/** The same from what arrangeWrites made of `plan`, as the session computes `securityInstances`. */
export function settlePendingAccount(pending: PendingAccount, plan: BootstrapPlan, arranged: readonly PlanWrite[]): PendingAccount;
export function settlePendingAccount(pending: PendingAccount, source: SecurityInstances | BootstrapPlan | undefined, arranged?: readonly PlanWrite[]): PendingAccount {
  const written = source !== undefined && 'v' in source ? securityInstancesOf(source, arranged ?? []) : source;
  if (written === undefined) return pending;
  const instanceId = written.writes[String(pending.instanceId)] ?? pending.instanceId;
  const originalInstanceId = written.bootstrapServer ?? pending.originalInstanceId;
  // Both on one instance can only be a gateway's mistake; deleting it would delete the new account.
  if (instanceId === originalInstanceId) return pending;
  return instanceId === pending.instanceId && originalInstanceId === pending.originalInstanceId ? pending : { ...pending, instanceId, originalInstanceId };
}

/** How many retiring credentials a device entry holds (its schema's limit). */
export const MAX_RETIRING_CREDENTIALS = 4;

/**
 * The device once the session that wrote `pending` succeeded: the fresh account is its
 * Bootstrap-Server credential (keyOrigin `random`, our CSPRNG's), and the one it replaces
 * retires, still authenticating until its purge. Promoting twice changes nothing. Should the
 * device already hold the most retiring credentials its entry takes, the oldest gives way: it
 * is the nearest to its own purge.
 */
export function promotePendingAccount(device: DeviceEntry, pending: PendingAccount, at: Date): DeviceEntry {
  const current = device.bootstrapCredentials;
  if (current?.securityMode === 'psk' && current.identity === pending.identity) return device;
  const retiring: RetiringBootstrapCredentials[] = [...(device.retiringBootstrapCredentials ?? [])];
  // A NoSec account has no credential that could authenticate, so nothing of it retires.
  if (current !== undefined && current.securityMode !== 'nosec') retiring.push({ ...current, retiredAt: at.toISOString(), reason: 'replaced' });
  const kept = retiring.slice(-MAX_RETIRING_CREDENTIALS);
  const replacedKeyFingerprint = current?.keyFingerprint ?? device.replacedKeyFingerprint;
  return {
    ...device,
    bootstrapCredentials: { securityMode: 'psk', identity: pending.identity, secretKey: pending.secretKey, keyOrigin: 'random' },
    ...(kept.length > 0 && { retiringBootstrapCredentials: kept }),
    ...(replacedKeyFingerprint !== undefined && { replacedKeyFingerprint }),
  };
}

/** The Bootstrap-Delete the new account's first session sends: the original account's instance. */
export function originalAccountDeletes(pending: PendingAccount): string {
  return `/${SECURITY}/${pending.originalInstanceId}`;
}

function securityWrite(instance: InstanceNode): PlanWrite {
  return { path: `/${SECURITY}/${instance.id}`, values: treeToJsonView([{ id: SECURITY, instances: [instance] }]) };
}

function objectIdOf(path: string): number {
  return Number(path.split('/')[1]);
}

function instanceIdOf(path: string): number {
  return Number(path.split('/')[2]);
}
