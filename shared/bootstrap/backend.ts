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
import type { BootstrapPlan } from './plan.ts';
import type { Profile } from './profile.ts';
import type { BootstrapBackendDeps } from './backend-deps.ts';
import { afterSuccess } from './after-success.ts';
import { keptLowEntropyNote } from './device-key-classification.ts';
import { withKnownLifecycle } from './remembered-lifecycle.ts';
import { keepBootstrapAccount } from './bootstrap-account-guard.ts';
import { planDeviceBootstrap } from './device-plan.ts';

export type { BootstrapBackendDeps } from './backend-deps.ts';

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

async function planBootstrap(request: BootstrapRequested, backend: BootstrapBackendDeps): Promise<Downlink> {
  const { device, profile, lifecycle } = await backend.store.getDeviceWithProfile(request.endpoint);
  const deps = withKnownLifecycle(backend, request.endpoint, lifecycle);
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
    const planned = await planDeviceBootstrap(deps, device, profile, request);
    if (planned.refusal !== undefined) return rejectAndRecord(request, device, deps, planned.refusal.reason, planned.refusal.detail);
    const { plan } = planned;
    if (request.transport !== 'dtls' && profile.allowSecretsOverNoSec !== true && planCarriesSecrets(plan)) {
      return rejectAndRecord(
        request,
        device,
        deps,
        'insecure-transport',
        'the plan carries secret keys and the request came over NoSec (profile allowSecretsOverNoSec is off)',
      );
    }
    const sessionId = planned.newSessionId();
    if (request.kind === 'bspack') {
      // A pack is one request and one answer: record it now and spare the gateway a second
      // call (on AWS, a second invocation and two more IoT messages per bootstrap).
      const format = request.accept ?? ContentFormat.SENML_CBOR;
      if (!BOOTSTRAP_PACK_FORMATS.includes(format)) {
        return rejectAndRecord(request, device, deps, 'not-acceptable', `Accept ${format} cannot carry a Bootstrap-Pack`);
      }
      const endedAt = deps.now().toISOString();
      await deps.store.recordStatus(device.endpoint, {
        sessionId,
        outcome: 'success',
        startedAt: request.receivedAt,
        endedAt,
        kind: 'bspack',
        clientVersion: '1.2',
        contentFormat: format,
      });
      await afterSuccess(deps, { sessionId, startedAt: request.receivedAt, endedAt }, { device, profile, plan });
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

async function recordBootstrap(ended: BootstrapEnded, backend: BootstrapBackendDeps): Promise<Downlink> {
  // Read first: the status says when a low-entropy key was kept, and a success needs both anyway.
  const { device, profile, lifecycle } = await backend.store.getDeviceWithProfile(ended.endpoint);
  const deps = withKnownLifecycle(backend, ended.endpoint, lifecycle);
  const kept = device !== undefined && profile !== undefined ? await keptLowEntropyNote(deps.store, device, profile) : undefined;
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
    plan = keepBootstrapAccount(compileBootstrapPlan(profile, device), profile);
  } catch (error) {
    if (error instanceof ConfigurationError) return;
    throw error;
  }
  await afterSuccess(
    deps,
    { sessionId: ended.sessionId, startedAt: ended.startedAt, endedAt: ended.endedAt, ...(ended.securityInstances !== undefined && { securityInstances: ended.securityInstances }) },
    { device, profile, plan },
  );
}
