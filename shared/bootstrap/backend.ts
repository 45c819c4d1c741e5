import { createHash } from 'node:crypto';
import { compileBootstrapPlan } from './config.ts';
import { ConfigurationError } from './configuration-error.ts';
import { planCarriesSecrets } from './plan-secrets.ts';
import { BOOTSTRAP_PACK_FORMATS } from './bspack.ts';
import { ContentFormat } from '../content/format.ts';
import {
  CONTRACT_VERSION,
  uplinkSchema,
  type BootstrapEnded,
  type BootstrapRequested,
  type Downlink,
  type RejectionReason,
} from './contract.ts';
import type { DeviceEntry, DeviceStatus } from './device.ts';
import type { BootstrapPlan, PlanWrite } from './plan.ts';
import type { Profile } from './profile.ts';
import type { BootstrapStore } from './store.ts';
import { treeToJsonView } from '../content/json-view.ts';
import { LIFECYCLE_WRITE_ATTEMPTS, LifecycleContentionError, onBootstrapSucceeded } from '../lifecycle/attach-processing.ts';
import { originalAccountDeletes, planAccountReplacement, promotePendingAccount, type PendingAccount } from '../lifecycle/account-replacement.ts';
import { freshBootstrapPsk, type FreshPsk, type FreshPskOptions } from '../lifecycle/fresh-credentials.ts';
import { classifyBootstrapKey, type KeyClassification } from '../lifecycle/key-entropy.ts';
import { emptyLifecycleRecord, type LifecycleRecord } from '../lifecycle/lifecycle-record.ts';
import { purgeDueAt, type PurgeScheduler } from '../lifecycle/purge.ts';
import { SECURITY_OBJECT, SecurityResource } from '../lwm2m/objects/security.ts';
import { hexToBytes } from './key-bytes.ts';
import { bootstrapSecurityInstance } from './security-instance.ts';

/**
 * The backend half of the gateway contract: stateless, so the same code runs in the local
 * server and in Lambda. A bootstrap costs it two calls (requested, ended) and three store
 * requests (device, profile, outcome).
 */
export interface BootstrapBackendDeps {
  readonly store: BootstrapStore;
  readonly newSessionId: () => string;
  readonly now: () => Date;
  /**
   * Where account-timeout purges are scheduled (issue 5): EventBridge Scheduler on AWS, the
   * table locally. Absent, a success schedules and cancels nothing.
   */
  readonly purges?: PurgeScheduler;
  /**
   * Mints the credentials of a Bootstrap-Server account that replaces a low-entropy one
   * (freshBootstrapPsk, node:crypto's CSPRNG, by default); tests pass a predictable one.
   */
  readonly freshPsk?: (options: FreshPskOptions) => FreshPsk;
}

/**
 * How long the original identity of a replaced account keeps authenticating when the profile
 * gives its account no timeout: the client then never purges the original by itself, and only
 * the new account's first session deletes it. A day lets a device that bootstraps daily come
 * back with its new account before the old key stops working, and bounds how long a leaked
 * low-entropy key stays useful to a day.
 */
export const DEFAULT_REPLACED_ACCOUNT_GRACE_SECONDS = 24 * 60 * 60;

/** Thrown for an uplink that does not match the contract; the message names the field. */
export class ContractError extends Error {
  override readonly name = 'ContractError';
}

export async function handleUplink(input: unknown, deps: BootstrapBackendDeps): Promise<Downlink> {
  const parsed = uplinkSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ContractError(`invalid uplink at ${issue?.path.join('.') || '(message)'}: ${issue?.message ?? 'unknown'}`);
  }
  const uplink = parsed.data;
  return uplink.type === 'bootstrap-requested' ? planBootstrap(uplink, deps) : recordBootstrap(uplink, deps);
}

async function planBootstrap(request: BootstrapRequested, deps: BootstrapBackendDeps): Promise<Downlink> {
  const { device, profile } = await deps.store.getDeviceWithProfile(request.endpoint);
  if (!device) {
    await deps.store.recordUnknownEndpoint(request.endpoint, request.receivedAt);
    return rejected(request, 'unknown-endpoint', `no device entry for endpoint ${request.endpoint}`);
  }
  if (!profile) {
    return rejectAndRecord(request, device, deps, 'unknown-profile', `profile ${device.profile} does not exist`);
  }
  const bootstrapMode = device.bootstrapCredentials?.securityMode ?? 'nosec';
  if (request.transport === 'dtls' && device.bootstrapCredentials?.identity !== request.pskIdentity) {
    // A replaced identity is the low-entropy one: serving it would hand its replacement's key to
    // whoever guessed it. It authenticates until its purge only so the device is never locked out.
    const retiring = device.retiringBootstrapCredentials?.some((credentials) => credentials.identity === request.pskIdentity) === true;
    const detail = retiring
      ? 'the DTLS identity is a retiring Bootstrap-Server credential; the device must bootstrap with its new account'
      : "the DTLS identity is not this device's bootstrap identity";
    return rejectAndRecord(request, device, deps, 'identity-mismatch', detail);
  }
  // A device provisioned with DTLS credentials that turns up on plain CoAP is someone else
  // using its endpoint name: answering would hand its configuration to them.
  if (request.transport !== 'dtls' && bootstrapMode !== 'nosec') {
    return rejectAndRecord(request, device, deps, 'insecure-transport', `the device bootstraps with ${bootstrapMode}, the request came over NoSec`);
  }
  try {
    const replacement = await replaceLowEntropyAccount(deps, device, profile, compileBootstrapPlan(profile, device), request);
    if (replacement.refusal !== undefined) return rejectAndRecord(request, device, deps, replacement.refusal.reason, replacement.refusal.detail);
    const { plan } = replacement;
    if (request.transport !== 'dtls' && profile.allowSecretsOverNoSec !== true && planCarriesSecrets(plan)) {
      return rejectAndRecord(
        request,
        device,
        deps,
        'insecure-transport',
        'the plan carries secret keys and the request came over NoSec (profile allowSecretsOverNoSec is off)',
      );
    }
    const sessionId = replacement.pending === undefined ? deps.newSessionId() : replacementSessionId(deps.newSessionId(), replacement.pending);
    if (request.kind === 'bspack') {
      // A pack is one request and one answer: record it now and spare the gateway a second
      // call (on AWS, a second invocation and two more IoT messages per bootstrap).
      const format = request.accept ?? ContentFormat.SENML_CBOR;
      if (!BOOTSTRAP_PACK_FORMATS.includes(format)) {
        return rejectAndRecord(request, device, deps, 'not-acceptable', `Accept ${format} cannot carry a Bootstrap-Pack`);
      }
      await deps.store.recordStatus(device.endpoint, {
        sessionId,
        outcome: 'success',
        startedAt: request.receivedAt,
        endedAt: deps.now().toISOString(),
        kind: 'bspack',
        clientVersion: '1.2',
        contentFormat: format,
      });
      await afterSuccess(deps, sessionId, deps.now().toISOString(), { device, profile, plan });
      return { v: CONTRACT_VERSION, type: 'bootstrap-planned', requestId: request.requestId, sessionId, endpoint: request.endpoint, plan, outcomeRecorded: true };
    }
    return { v: CONTRACT_VERSION, type: 'bootstrap-planned', requestId: request.requestId, sessionId, endpoint: request.endpoint, plan };
  } catch (error) {
    if (error instanceof ConfigurationError) {
      return rejectAndRecord(request, device, deps, 'invalid-configuration', error.message);
    }
    throw error;
  }
}

/** A refusal of a known device is recorded on it, so `status` explains why it got 4.00. */
async function rejectAndRecord(
  request: BootstrapRequested,
  device: DeviceEntry,
  deps: BootstrapBackendDeps,
  reason: RejectionReason,
  detail: string,
): Promise<Downlink> {
  const status: DeviceStatus = {
    sessionId: deps.newSessionId(),
    outcome: 'rejected',
    startedAt: request.receivedAt,
    endedAt: deps.now().toISOString(),
    kind: request.kind,
    detail: `${reason}: ${detail}`.slice(0, 1024),
  };
  await deps.store.recordStatus(device.endpoint, status);
  return rejected(request, reason, detail);
}

function rejected(request: BootstrapRequested, reason: RejectionReason, detail: string): Downlink {
  return {
    v: CONTRACT_VERSION,
    type: 'bootstrap-rejected',
    requestId: request.requestId,
    endpoint: request.endpoint,
    reason,
    detail: detail.slice(0, 1024),
  };
}

async function recordBootstrap(ended: BootstrapEnded, deps: BootstrapBackendDeps): Promise<Downlink> {
  // Read first: the status says when a low-entropy key was kept, and a success needs both anyway.
  const { device, profile } = await deps.store.getDeviceWithProfile(ended.endpoint);
  const kept = device !== undefined && profile !== undefined ? keptLowEntropyNote(device, profile) : undefined;
  const detail = [ended.detail, kept].filter((text) => text !== undefined).join('; ');
  const status: DeviceStatus = {
    sessionId: ended.sessionId,
    outcome: ended.outcome,
    startedAt: ended.startedAt,
    endedAt: ended.endedAt,
    kind: ended.kind,
    ...(ended.clientVersion !== undefined && { clientVersion: ended.clientVersion }),
    ...(ended.contentFormat !== undefined && { contentFormat: ended.contentFormat }),
    ...(detail.length > 0 && { detail: detail.slice(0, 1024) }),
    ...(ended.reads !== undefined && { reads: ended.reads }),
  };
  const stored = await deps.store.recordStatus(ended.endpoint, status);
  // An outcome older than the one the device holds changes nothing else either: the newer
  // bootstrap already cleared the mark and set (or cancelled) the purge.
  if (stored && ended.outcome === 'success' && device !== undefined && profile !== undefined) await afterSuccessOf(ended, deps, device, profile);
  return { v: CONTRACT_VERSION, type: 'bootstrap-recorded', sessionId: ended.sessionId, endpoint: ended.endpoint, stored };
}

/**
 * The plan at `bootstrap-ended` is compiled again from the current profile and device rather
 * than carried from `bootstrap-requested`: the backend stays stateless (two Lambda calls share
 * nothing), the contract keeps its shape, and compiling is a pure function of the two items
 * the lifecycle step reads anyway. The cost is that a profile edited during the session is taken
 * as delivered, the same choice onBootstrapSucceeded makes for the fingerprint. A profile no
 * longer compiling leaves the lifecycle and purges as they are.
 */
async function afterSuccessOf(ended: BootstrapEnded, deps: BootstrapBackendDeps, device: DeviceEntry, profile: Profile): Promise<void> {
  let plan: BootstrapPlan;
  try {
    plan = compileBootstrapPlan(profile, device);
  } catch (error) {
    if (error instanceof ConfigurationError) return;
    throw error;
  }
  await afterSuccess(deps, ended.sessionId, ended.endedAt, { device, profile, plan });
}

interface Delivered {
  readonly device: DeviceEntry;
  readonly profile: Profile;
  readonly plan: BootstrapPlan;
}

/**
 * A bootstrap succeeded: its lifecycle mark is cleared, an account replacement moves on a step
 * (see accountReplacementStep), and the account timeout it wrote becomes a pending purge. All
 * are idempotent, so a redelivered `bootstrap-ended` is harmless.
 */
async function afterSuccess(deps: BootstrapBackendDeps, sessionId: string, endedAt: string, delivered: Delivered): Promise<void> {
  const { store } = deps;
  const { device, profile } = delivered;
  let lifecycle: LifecycleRecord | undefined;
  // The device and profile were just read: onBootstrapSucceeded gets them without a second read,
  // and the lifecycle record it reads tells whether a replacement is under way.
  await onBootstrapSucceeded(
    {
      getLifecycle: async (endpoint) => (lifecycle = await store.getLifecycle(endpoint)),
      putLifecycle: (...args) => store.putLifecycle(...args),
      getDeviceWithProfile: () => Promise.resolve({ device, profile }),
    },
    device.endpoint,
    endedAt,
  );
  const plan = await accountReplacementStep(deps, sessionId, endedAt, delivered, lifecycle?.pendingAccount);
  if (plan === undefined) return;
  await scheduleAccountPurge(deps, sessionId, endedAt, device, plan.bootstrapServerWrite);
}

/**
 * The client deletes its Bootstrap-Server account once the Account Timeout (/0/x/12) written
 * with it runs out (Core E.1), so the server stops taking its credential then too. A plan that
 * rewrites the account without a timeout (or with 0, "never") cancels the purge an earlier
 * bootstrap scheduled; one with a timeout replaces it, as the client restarts its timer on the
 * new write. A plan that leaves the account alone leaves its purge alone.
 *
 * The instance is the plan's: the session may move the write to the instance Discover reports,
 * but the schedule name only needs to be the same for every bootstrap of the account, and the
 * server-side revocation goes by PSK identity.
 */
async function scheduleAccountPurge(deps: BootstrapBackendDeps, sessionId: string, endedAt: string, device: DeviceEntry, account: PlanWrite | undefined): Promise<void> {
  if (deps.purges === undefined || account === undefined) return;
  const securityInstanceId = Number(account.path.split('/')[2]);
  const timeout = accountTimeoutOf(account);
  if (timeout === undefined || timeout <= 0) {
    await deps.purges.cancel(device.endpoint, securityInstanceId);
    return;
  }
  const credentials = device.bootstrapCredentials;
  await deps.purges.schedule({
    endpoint: device.endpoint,
    securityInstanceId,
    ...(credentials?.securityMode === 'psk' && credentials.identity !== undefined && { pskIdentity: credentials.identity }),
    reason: 'account-timeout',
    dueAt: purgeDueAt(endedAt, timeout),
    scheduledAt: deps.now().toISOString(),
    bootstrapSessionId: sessionId,
  });
}

/** /0/x/12 as the JSON view of the write holds it: bare, or tagged `{ integer }`. */
function accountTimeoutOf(write: PlanWrite): number | undefined {
  const value = write.values[`${write.path}/${SecurityResource.BOOTSTRAP_SERVER_ACCOUNT_TIMEOUT}`];
  if (typeof value === 'number') return value;
  const tagged = typeof value === 'object' ? (value.integer ?? value.unsigned) : undefined;
  return tagged === undefined ? undefined : Number(tagged);
}

// ---- Replacing a low-entropy Bootstrap-Server account (seeds 000 and 002) ----
//
// 1. A DTLS Bootstrap-Request authenticated with a low-entropy PSK gets a plan with a second
//    Bootstrap-Server account holding fresh CSPRNG credentials; they are kept as the lifecycle's
//    `pendingAccount`. A session that fails leaves them there, and the next attempt writes the
//    same ones again: the device never receives two different new keys.
// 2. When that session succeeds, the fresh account becomes the device's credential and the
//    original retires; its purge (reason 'replaced') is scheduled. The pending record stays: it
//    is the only place that remembers where the original account is on the device.
// 3. The new account's first session (a request authenticated with it while the record is
//    there) deletes the original instance and rewrites the new account; its success clears the
//    record.

const SECURITY = SECURITY_OBJECT.id;

/**
 * The plan to serve, or why the request is refused. `pending` is set when the plan carries a
 * replacement step (the new account, or the original's deletion): the session id must then be
 * replacementSessionId's, by which bootstrap-ended knows what the session delivered.
 */
export type AccountReplacement =
  | { readonly plan: BootstrapPlan; readonly pending?: PendingAccount; readonly refusal?: undefined }
  | { readonly refusal: { readonly reason: RejectionReason; readonly detail: string } };

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
    return { plan: newAccountFirstSession(plan, pending, profile, device), pending };
  }
  const classification = classifyDeviceKey(device);
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
    return await planReplacement(device, profile, plan, lifecycle, deps);
  } catch (error) {
    // planAccountReplacement's refusals name profile fields and sizes, never key bytes.
    if (error instanceof RangeError) return { refusal: { reason: 'invalid-configuration', detail: error.message } };
    throw error;
  }
}

const REPLACEMENT_TAG_HEX_DIGITS = 12;
const SESSION_ID_MAX = 64;

/**
 * A session id that says the session carried a replacement step for `pending`: `bootstrap-ended`
 * carries no plan, and without this a server-initiated bootstrap that succeeded after the
 * replacement session failed would promote credentials the device never received, and lock it
 * out at the original's purge. The tag is a hash of the new PSK identity, not secret.
 */
export function replacementSessionId(sessionId: string, pending: PendingAccount): string {
  const tag = replacementTag(pending);
  return `${sessionId.slice(0, SESSION_ID_MAX - tag.length)}${tag}`;
}

function carriesReplacement(sessionId: string, pending: PendingAccount): boolean {
  return sessionId.endsWith(replacementTag(pending));
}

function replacementTag(pending: PendingAccount): string {
  return `.r${createHash('sha256').update(pending.identity, 'utf8').digest('hex').slice(0, REPLACEMENT_TAG_HEX_DIGITS)}`;
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
 * already settled here.
 */
async function accountReplacementStep(
  deps: BootstrapBackendDeps,
  sessionId: string,
  endedAt: string,
  delivered: Delivered,
  pending: PendingAccount | undefined,
): Promise<BootstrapPlan | undefined> {
  const { device, profile, plan } = delivered;
  const current = device.bootstrapCredentials;
  // A session planned without the replacement step (one that ran before it, a server-initiated
  // one planned elsewhere) delivered none of it: the record waits for one that did.
  if (pending === undefined || current?.securityMode !== 'psk' || !carriesReplacement(sessionId, pending)) return plan;
  if (current.identity === pending.originalIdentity) {
    // The session that wrote the new account: it becomes the device's, the original retires.
    // Its purge has the name the original's account-timeout purge would have, and replaces it.
    await deps.store.putDevice(promotePendingAccount(device, pending, new Date(endedAt)));
    await scheduleReplacedPurge(deps, sessionId, endedAt, device.endpoint, pending, profile);
    return undefined;
  }
  if (current.identity !== pending.identity) return plan;
  await clearPendingAccount(deps.store, device.endpoint, pending);
  return newAccountFirstSession(plan, pending, profile, device);
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

/** The device's PSK bootstrap key classified; undefined when it has none. The store cannot count sharers here. */
function classifyDeviceKey(device: DeviceEntry): KeyClassification | undefined {
  const credentials = device.bootstrapCredentials;
  if (credentials?.securityMode !== 'psk' || credentials.secretKey === undefined) return undefined;
  return classifyBootstrapKey({
    key: hexToBytes(credentials.secretKey),
    ...(credentials.identity !== undefined && { identity: credentials.identity }),
    device: { endpoint: device.endpoint, identities: device.identities },
    ...(credentials.keyOrigin !== undefined && { declaredOrigin: credentials.keyOrigin }),
    devicesSharingKey: 1,
  });
}

/** For a status: the low-entropy key a profile chose to keep (allowNoBootstrapAccount, no bootstrapServer). */
function keptLowEntropyNote(device: DeviceEntry, profile: Profile): string | undefined {
  if (profile.bootstrapServer !== undefined || profile.allowNoBootstrapAccount !== true) return undefined;
  const classification = classifyDeviceKey(device);
  if (classification?.entropy !== 'low') return undefined;
  return `the Bootstrap-Server account key is low entropy (${reasonsText(classification)}) and was not replaced: profile ${profile.name} sets no bootstrapServer and allows a device without a Bootstrap-Server account`;
}

function reasonsText(classification: KeyClassification): string {
  return classification.reasons.map((reason) => reason.text).join('; ');
}
