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
import { onBootstrapSucceeded } from '../lifecycle/attach-processing.ts';
import { purgeDueAt, type PurgeScheduler } from '../lifecycle/purge.ts';
import { SecurityResource } from '../lwm2m/objects/security.ts';

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
}

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
    return rejectAndRecord(request, device, deps, 'identity-mismatch', "the DTLS identity is not this device's bootstrap identity");
  }
  // A device provisioned with DTLS credentials that turns up on plain CoAP is someone else
  // using its endpoint name: answering would hand its configuration to them.
  if (request.transport !== 'dtls' && bootstrapMode !== 'nosec') {
    return rejectAndRecord(request, device, deps, 'insecure-transport', `the device bootstraps with ${bootstrapMode}, the request came over NoSec`);
  }
  try {
    const plan = compileBootstrapPlan(profile, device);
    if (request.transport !== 'dtls' && profile.allowSecretsOverNoSec !== true && planCarriesSecrets(plan)) {
      return rejectAndRecord(
        request,
        device,
        deps,
        'insecure-transport',
        'the plan carries secret keys and the request came over NoSec (profile allowSecretsOverNoSec is off)',
      );
    }
    const sessionId = deps.newSessionId();
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
  const status: DeviceStatus = {
    sessionId: ended.sessionId,
    outcome: ended.outcome,
    startedAt: ended.startedAt,
    endedAt: ended.endedAt,
    kind: ended.kind,
    ...(ended.clientVersion !== undefined && { clientVersion: ended.clientVersion }),
    ...(ended.contentFormat !== undefined && { contentFormat: ended.contentFormat }),
    ...(ended.detail !== undefined && { detail: ended.detail }),
    ...(ended.reads !== undefined && { reads: ended.reads }),
  };
  const stored = await deps.store.recordStatus(ended.endpoint, status);
  // An outcome older than the one the device holds changes nothing else either: the newer
  // bootstrap already cleared the mark and set (or cancelled) the purge.
  if (stored && ended.outcome === 'success') await afterSuccessOf(ended, deps);
  return { v: CONTRACT_VERSION, type: 'bootstrap-recorded', sessionId: ended.sessionId, endpoint: ended.endpoint, stored };
}

/**
 * The plan at `bootstrap-ended` is compiled again from the current profile and device rather
 * than carried from `bootstrap-requested`: the backend stays stateless (two Lambda calls share
 * nothing), the contract keeps its shape, and compiling is a pure function of the two items
 * the lifecycle step reads anyway. The cost is that a profile edited during the session is taken
 * as delivered, the same choice onBootstrapSucceeded makes for the fingerprint. An entry or
 * profile gone since, or no longer compiling, leaves the lifecycle and purges as they are.
 */
async function afterSuccessOf(ended: BootstrapEnded, deps: BootstrapBackendDeps): Promise<void> {
  const { device, profile } = await deps.store.getDeviceWithProfile(ended.endpoint);
  if (device === undefined || profile === undefined) return;
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
 * A bootstrap succeeded: its lifecycle mark is cleared, and the account timeout it wrote
 * becomes a pending purge. Both are idempotent, so a redelivered `bootstrap-ended` is harmless.
 */
async function afterSuccess(deps: BootstrapBackendDeps, sessionId: string, endedAt: string, delivered: Delivered): Promise<void> {
  const { store } = deps;
  const { device, profile, plan } = delivered;
  // The device and profile were just read: onBootstrapSucceeded gets them without a second read.
  await onBootstrapSucceeded(
    { getLifecycle: (endpoint) => store.getLifecycle(endpoint), putLifecycle: (...args) => store.putLifecycle(...args), getDeviceWithProfile: () => Promise.resolve({ device, profile }) },
    device.endpoint,
    endedAt,
  );
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
