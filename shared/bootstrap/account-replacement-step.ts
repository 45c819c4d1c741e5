import { createHash } from 'node:crypto';
import type { BootstrapBackendDeps, Delivered } from './backend-deps.ts';
import type { RejectionReason, SecurityInstances } from './contract.ts';
import type { DeviceEntry } from './device.ts';
import { hexToBytes } from './key-bytes.ts';
import type { BootstrapPlan } from './plan.ts';
import type { Profile } from './profile.ts';
import { bootstrapSecurityInstance } from './security-instance.ts';
import type { BootstrapStore } from './store.ts';
import { classifyStoredDeviceKey, reasonsText } from './device-key-classification.ts';
import { treeToJsonView } from '../content/json-view.ts';
import { LIFECYCLE_WRITE_ATTEMPTS, LifecycleContentionError } from '../lifecycle/attach-processing.ts';
import {
  originalAccountDeletes,
  planAccountReplacement,
  promotePendingAccount,
  settlePendingAccount,
  type PendingAccount,
} from '../lifecycle/account-replacement.ts';
import { freshBootstrapPsk, type FreshPsk } from '../lifecycle/fresh-credentials.ts';
import { emptyLifecycleRecord, type LifecycleRecord } from '../lifecycle/lifecycle-record.ts';
import { purgeDueAt } from '../lifecycle/purge.ts';
import { SECURITY_OBJECT } from '../lwm2m/objects/security.ts';

/**
 * How long the original identity of a replaced account keeps authenticating when the profile
 * gives its account no timeout: the client then never purges the original by itself, and only
 * the new account's first session deletes it. A day lets a device that bootstraps daily come
 * back with its new account before the old key stops working, and bounds how long a leaked
 * low-entropy key stays useful to a day.
 */
export const DEFAULT_REPLACED_ACCOUNT_GRACE_SECONDS = 24 * 60 * 60;

// ---- Replacing a low-entropy Bootstrap-Server account (seeds 000 and 002) ----
//
// 1. A DTLS Bootstrap-Request authenticated with a low-entropy PSK gets a plan with a second
//    Bootstrap-Server account holding fresh CSPRNG credentials; they are kept as the lifecycle's
//    `pendingAccount`. A session that fails leaves them there, and the next attempt writes the
//    same ones again: the device never receives two different new keys.
// 2. When that session succeeds, the pending record first takes the instance ids the session
//    really wrote (`bootstrap-ended` securityInstances: Discover may have moved them) and the
//    session's id (`promotedBy`). Then the fresh account becomes the device's credential, the
//    original retires, and its purge (reason 'replaced') is scheduled. The record stays: it is
//    the only place that remembers where the original account is on the device.
// 3. The new account's first session (a request authenticated with it while the record is
//    there) deletes the original instance and rewrites the new account; its success cancels the
//    new account's purge, schedules the original's again (in case step 2 never managed to), then
//    clears the record.
//
// `bootstrap-ended` is delivered at least once: the gateway resends it when no answer comes, and
// Lambda retries an invocation that threw after the outcome was stored, which recordStatus takes
// again. So each success step can run twice: a session that finds the record promoted by itself
// only promotes (a no-op by then) and schedules the purge again, and the new account's first
// session, found by its tag once the record is gone, does nothing more.

const SECURITY = SECURITY_OBJECT.id;

/**
 * The plan to serve, or why the request is refused. `pending` is set when the plan carries a
 * replacement step (the new account, or the original's deletion): the session id must then be
 * replacementSessionId's, by which bootstrap-ended knows what the session delivered.
 */
export type AccountReplacement =
  | { readonly plan: BootstrapPlan; readonly pending?: PendingAccount; readonly step?: ReplacementStep; readonly refusal?: undefined }
  | { readonly refusal: { readonly reason: RejectionReason; readonly detail: string } };

/**
 * Which replacement step a plan carries: writing the new account beside the original, or (the
 * new account's first session) deleting the original. Two sessions of the same device may carry
 * either for the same pending account (a push racing a Bootstrap-Request), and a success must
 * take only the step its session delivered.
 */
export type ReplacementStep = 'write' | 'delete';

/**
 * Applies the replacement to a compiled plan; for every way a bootstrap is planned (a
 * Bootstrap-Request here, a Server Initiated Bootstrap alike), so each serves the same steps.
 */
export async function replaceLowEntropyAccount(
  deps: BootstrapBackendDeps,
  device: DeviceEntry,
  profile: Profile,
  plan: BootstrapPlan,
  request: { readonly transport: 'udp' | 'dtls'; readonly kind: 'bs' | 'bspack' },
): Promise<AccountReplacement> {
  const credentials = device.bootstrapCredentials;
  // Over NoSec a fresh key would travel in clear; such a request was refused already or has no key.
  if (request.transport !== 'dtls' || credentials?.securityMode !== 'psk' || credentials.secretKey === undefined) return { plan };
  const lifecycle = await deps.store.getLifecycle(device.endpoint);
  const pending = lifecycle?.pendingAccount;
  if (pending !== undefined && pending.identity === credentials.identity) {
    if (request.kind === 'bspack') return packRefusal('the new Bootstrap-Server account deletes the original one in its first session');
    return { plan: newAccountFirstSession(plan, pending, profile, device), pending, step: 'delete' };
  }
  const classification = await classifyStoredDeviceKey(deps.store, device);
  if (classification?.entropy !== 'low') return { plan };
  const why = reasonsText(classification);
  if (profile.bootstrapServer === undefined) {
    if (profile.allowNoBootstrapAccount === true) return { plan };
    return {
      refusal: {
        reason: 'invalid-configuration',
        detail: `the Bootstrap-Server account key is low entropy (${why}) and profile ${profile.name} sets no bootstrapServer to write its replacement with; set bootstrapServer, or allowNoBootstrapAccount to bootstrap the device without replacing it`,
      },
    };
  }
  if (request.kind === 'bspack') return packRefusal(`the Bootstrap-Server account key is low entropy (${why}) and is replaced`);
  try {
    const planned = await planReplacement(device, profile, plan, lifecycle, deps);
    return planned.refusal === undefined && planned.pending !== undefined ? { ...planned, step: 'write' } : planned;
  } catch (error) {
    // planAccountReplacement's refusals name profile fields and sizes, never key bytes.
    if (error instanceof RangeError) return { refusal: { reason: 'invalid-configuration', detail: error.message } };
    throw error;
  }
}

const REPLACEMENT_TAG_HEX_DIGITS = 12;
const SESSION_ID_MAX = 64;

/**
 * A session id that says the session carried a replacement step for `pending`, and which one:
 * `bootstrap-ended` carries no plan, and without this a server-initiated bootstrap that succeeded
 * after the replacement session failed would promote credentials the device never received, and
 * lock it out at the original's purge. The tag is a hash of the new PSK identity, not secret.
 */
export function replacementSessionId(sessionId: string, pending: PendingAccount, step: ReplacementStep): string {
  const tag = replacementTag(pending.identity, step);
  return `${sessionId.slice(0, SESSION_ID_MAX - tag.length)}${tag}`;
}

/** Whether the session carried that replacement step for the account whose new identity is `identity`. */
function carriesReplacement(sessionId: string, identity: string, step: ReplacementStep): boolean {
  return sessionId.endsWith(replacementTag(identity, step));
}

function replacementTag(identity: string, step: ReplacementStep): string {
  return `.${step === 'write' ? 'r' : 'd'}${createHash('sha256').update(identity, 'utf8').digest('hex').slice(0, REPLACEMENT_TAG_HEX_DIGITS)}`;
}

/** 4.06 to a Bootstrap-Pack-Request: the client falls back to a Bootstrap-Request session. */
function packRefusal(why: string): AccountReplacement {
  return { refusal: { reason: 'not-acceptable', detail: `${why} in a Bootstrap-Request session (/bs), which a Bootstrap-Pack cannot hold` } };
}

/**
 * The plan with the replacement account, and its pending record stored under the lifecycle's
 * condition. Pending credentials written for this original account are reused; a record that
 * changed meanwhile (a concurrent request minted first) is read again and reused in turn.
 */
async function planReplacement(device: DeviceEntry, profile: Profile, plan: BootstrapPlan, read: LifecycleRecord | undefined, deps: BootstrapBackendDeps): Promise<AccountReplacement> {
  let stored = read;
  for (let attempt = 0; attempt < LIFECYCLE_WRITE_ATTEMPTS; attempt += 1) {
    const reusable = stored?.pendingAccount?.originalIdentity === device.bootstrapCredentials?.identity ? stored?.pendingAccount : undefined;
    const fresh = reusable === undefined ? await mintUnique(device, deps) : { identity: reusable.identity, key: hexToBytes(reusable.secretKey) };
    const replacement = planAccountReplacement({ plan, device, profile, fresh, now: deps.now() });
    if (replacement === undefined) return { plan };
    const pending = reusable === undefined ? replacement.pending : { ...replacement.pending, createdAt: reusable.createdAt };
    if (reusable !== undefined && samePendingAccount(reusable, pending)) return { plan: replacement.plan, pending };
    const next: LifecycleRecord = { ...(stored ?? emptyLifecycleRecord()), pendingAccount: pending };
    if (await deps.store.putLifecycle(device.endpoint, next, stored ?? null)) return { plan: replacement.plan, pending };
    stored = await deps.store.getLifecycle(device.endpoint);
  }
  throw new LifecycleContentionError(device.endpoint);
}

/** How often an identity is drawn again when the store already has it (64 random bits: never, in practice). */
const FRESH_IDENTITY_DRAWS = 3;

async function mintUnique(device: DeviceEntry, deps: BootstrapBackendDeps): Promise<FreshPsk> {
  const mint = deps.freshPsk ?? freshBootstrapPsk;
  for (let draw = 0; draw < FRESH_IDENTITY_DRAWS; draw += 1) {
    const fresh = mint({ endpoint: device.endpoint, device: { endpoint: device.endpoint, identities: device.identities } });
    const owner = (await deps.store.findDevice('pskIdentity', fresh.identity)) ?? (await deps.store.findDevice('retiringPskIdentity', fresh.identity));
    if (owner === undefined) return fresh;
  }
  throw new Error(`no unused PSK identity for the replacement account of ${device.endpoint} in ${FRESH_IDENTITY_DRAWS} draws`);
}

function samePendingAccount(a: PendingAccount, b: PendingAccount): boolean {
  return a.identity === b.identity && a.secretKey === b.secretKey && a.instanceId === b.instanceId && a.originalInstanceId === b.originalInstanceId;
}

/**
 * The new account's first session: the original instance is deleted, and the new account is
 * rewritten where it was written, with an Account Timeout of 0. The profile's timeout was for
 * the original; on the new account the client would purge its last Bootstrap-Server account.
 * Bootstrap-Discover lists two Bootstrap-Server accounts here, which names neither (see
 * bootstrapServerInstanceIds), so both paths are sent as recorded; a client whose own timer
 * already purged the original answers the delete 4.04, which a delete takes as done.
 */
export function newAccountFirstSession(plan: BootstrapPlan, pending: PendingAccount, profile: Profile, device: DeviceEntry): BootstrapPlan {
  const deletes = [...plan.deletes, originalAccountDeletes(pending)];
  const options = profile.bootstrapServer;
  if (options === undefined) return { ...plan, deletes };
  const account = bootstrapSecurityInstance({ ...options, instanceId: pending.instanceId, accountTimeout: 0 }, device.bootstrapCredentials);
  return { ...plan, deletes, bootstrapServerWrite: { path: `/${SECURITY}/${pending.instanceId}`, values: treeToJsonView([{ id: SECURITY, instances: [account] }]) } };
}

/**
 * What a successful session does to a replacement under way; returns the plan whose
 * Bootstrap-Server write the account-timeout purge goes by, or undefined when the purge is
 * already settled here. `written` is the session's `bootstrap-ended` securityInstances, absent
 * from older gateways. Safe to run again for the same session (see the header).
 */
export async function accountReplacementStep(
  deps: BootstrapBackendDeps,
  sessionId: string,
  endedAt: string,
  delivered: Delivered,
  pending: PendingAccount | undefined,
  written?: SecurityInstances,
): Promise<BootstrapPlan | undefined> {
  const { device, profile, plan } = delivered;
  const current = device.bootstrapCredentials;
  if (current?.securityMode !== 'psk' || current.identity === undefined) return plan;
  if (pending === undefined) {
    // Tagged with the device's own identity and nothing pending: the new account's first session
    // again, whose first delivery cleared the record. Its compiled plan is not what it delivered.
    return carriesReplacement(sessionId, current.identity, 'delete') ? undefined : plan;
  }
  const wrote = carriesReplacement(sessionId, pending.identity, 'write');
  // A session planned without the replacement step (one that ran before it, a server-initiated
  // one planned elsewhere) delivered none of it: the record waits for one that did.
  if (!wrote && !carriesReplacement(sessionId, pending.identity, 'delete')) return plan;
  if (wrote) {
    // Another session that wrote the same new account promoted it first (a push racing a
    // Bootstrap-Request): this one wrote the same credentials again, and left the original where
    // it was, so the record stays for the new account's first session to delete it.
    if (current.identity !== pending.originalIdentity && pending.promotedBy !== sessionId) return undefined;
    // The session that wrote the new account: it becomes the device's, the original retires.
    // Its purge names the instance the original is at, under a schedule of its own (`-r`); an
    // account-timeout purge of the original scheduled before still runs, earlier, which only
    // shortens the original's grace.
    const promoted = await markPromoted(deps.store, device.endpoint, pending, sessionId, written);
    if (promoted === undefined) return plan;
    // From a fresh read, not the entry read when the outcome came in: a purge that revoked a
    // retiring credential meanwhile must not be written back over.
    const fresh = (await deps.store.getDevice(device.endpoint)) ?? device;
    const next = promotePendingAccount(fresh, promoted, new Date(endedAt));
    if (next !== fresh) await deps.store.putDevice(next);
    await scheduleReplacedPurge(deps, sessionId, endedAt, device.endpoint, promoted, profile);
    return undefined;
  }
  if (current.identity !== pending.identity) return plan;
  // The new account's first session wrote it with Account Timeout 0 (newAccountFirstSession), so
  // no purge of it stays. Cancelled before the record goes, which holds its instance.
  if (deps.purges !== undefined && profile.bootstrapServer !== undefined) await deps.purges.cancel(device.endpoint, pending.instanceId);
  // The original's purge once more, the same as at promotion (an update in place): had every
  // delivery of that success failed to schedule it, the original key would authenticate for ever,
  // and after this the record that says where the original was is gone.
  const retired = pending.originalIdentity === undefined ? undefined : device.retiringBootstrapCredentials?.find((credentials) => credentials.identity === pending.originalIdentity);
  if (retired !== undefined) await scheduleReplacedPurge(deps, pending.promotedBy ?? sessionId, retired.retiredAt, device.endpoint, pending, profile);
  await clearPendingAccount(deps.store, device.endpoint, pending);
  return undefined;
}

/**
 * The pending record settled on the ids the session wrote and marked as promoted by it, stored
 * before the device is promoted: a redelivery then finds it so, and a crash in between leaves a
 * record the redelivery completes. Undefined when the record moved on meanwhile.
 */
async function markPromoted(store: BootstrapStore, endpoint: string, pending: PendingAccount, sessionId: string, written: SecurityInstances | undefined): Promise<PendingAccount | undefined> {
  for (let attempt = 0; attempt < LIFECYCLE_WRITE_ATTEMPTS; attempt += 1) {
    const stored = await store.getLifecycle(endpoint);
    const held = stored?.pendingAccount;
    if (stored === undefined || held?.identity !== pending.identity) return undefined;
    // Settled once only: the written ids are keyed by the planned ones.
    if (held.promotedBy === sessionId) return held;
    const promoted: PendingAccount = { ...settlePendingAccount(held, written), promotedBy: sessionId };
    if (await store.putLifecycle(endpoint, { ...stored, pendingAccount: promoted }, stored)) return promoted;
  }
  throw new LifecycleContentionError(endpoint);
}

/**
 * The original identity stops authenticating at finish + the profile's Account Timeout, when the
 * client purges the original itself (Core E.1, /0/x/12); without one, after a day (see
 * DEFAULT_REPLACED_ACCOUNT_GRACE_SECONDS).
 */
async function scheduleReplacedPurge(deps: BootstrapBackendDeps, sessionId: string, endedAt: string, endpoint: string, pending: PendingAccount, profile: Profile): Promise<void> {
  if (deps.purges === undefined) return;
  const timeout = profile.bootstrapServer?.accountTimeout;
  const seconds = timeout !== undefined && timeout > 0 ? timeout : DEFAULT_REPLACED_ACCOUNT_GRACE_SECONDS;
  await deps.purges.schedule({
    endpoint,
    securityInstanceId: pending.originalInstanceId,
    ...(pending.originalIdentity !== undefined && { pskIdentity: pending.originalIdentity }),
    reason: 'replaced',
    dueAt: purgeDueAt(endedAt, seconds),
    scheduledAt: deps.now().toISOString(),
    bootstrapSessionId: sessionId,
  });
}

async function clearPendingAccount(store: BootstrapStore, endpoint: string, pending: PendingAccount): Promise<void> {
  for (let attempt = 0; attempt < LIFECYCLE_WRITE_ATTEMPTS; attempt += 1) {
    const stored = await store.getLifecycle(endpoint);
    if (stored?.pendingAccount?.identity !== pending.identity) return;
    const next: LifecycleRecord = { ...stored };
    delete next.pendingAccount;
    if (await store.putLifecycle(endpoint, next, stored)) return;
  }
  throw new LifecycleContentionError(endpoint);
}
