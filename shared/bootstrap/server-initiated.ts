import type { BootstrapNeededReason } from '../lifecycle/lifecycle-record.ts';
import type { BootstrapBackendDeps } from './backend-deps.ts';
import { planDeviceBootstrap } from './device-plan.ts';
import { withKnownLifecycle } from './remembered-lifecycle.ts';
import { ConfigurationError } from './configuration-error.ts';
import { CONTRACT_VERSION, type BootstrapInitiate, type Peer, type RejectionReason } from './contract.ts';
import type { DeviceEntry, DeviceStatus } from './device.ts';
import { planCarriesSecrets } from './plan-secrets.ts';

/**
 * Server Initiated Bootstrap (LwM2M Core §5.2.2.3): the backend learns that a device is ready
 * (a carrier attach, an operator) and plans its bootstrap without a Bootstrap-Request. The plan
 * and its refusals are those of a Bootstrap-Request, so a device gets the same configuration
 * whichever side starts; only the transport is the server's choice here, and it follows the
 * device's Bootstrap-Server account: NoSec over plain CoAP, PSK over DTLS.
 */
export type ServerInitiatedPlan =
  | { readonly ok: true; readonly downlink: BootstrapInitiate }
  | { readonly ok: false; readonly reason: RejectionReason; readonly detail: string };

export interface ServerInitiatedOptions {
  /** The gateway that will run it, written into the downlink. */
  readonly gatewayId?: string;
}

/**
 * Loads the device and its profile and compiles the plan. A refusal of a known device is
 * recorded on it as for a Bootstrap-Request (outcome `rejected`, kind `bs`), so `status`
 * explains why nothing was pushed; an unknown endpoint records nothing (no request came in).
 */
export async function planServerInitiated(
  backend: BootstrapBackendDeps,
  endpoint: string,
  peer: Peer,
  reason: BootstrapNeededReason,
  options: ServerInitiatedOptions = {},
): Promise<ServerInitiatedPlan> {
  const { device, profile, lifecycle } = await backend.store.getDeviceWithProfile(endpoint);
  const deps = withKnownLifecycle(backend, endpoint, lifecycle);
  if (!device) return { ok: false, reason: 'unknown-endpoint', detail: `no device entry for endpoint ${endpoint}` };
  const refuse = (why: RejectionReason, detail: string) => recordRefusal(deps, device, why, detail);
  if (!profile) return refuse('unknown-profile', `profile ${device.profile} does not exist`);

  const mode = device.bootstrapCredentials?.securityMode ?? 'nosec';
  if (mode !== 'nosec' && mode !== 'psk') {
    return refuse('unavailable', `the device bootstraps with ${mode}; a server-initiated bootstrap runs over NoSec or DTLS with PSK only`);
  }
  const transport = mode === 'psk' ? 'dtls' : 'udp';
  const pskIdentity = device.bootstrapCredentials?.identity;
  if (transport === 'dtls' && pskIdentity === undefined) {
    return refuse('invalid-configuration', 'the device bootstraps with psk but has no PSK identity');
  }
  try {
    // The plan a Bootstrap-Request would get: a device reached only by attach events would
    // otherwise keep its low-entropy account for ever.
    const planned = await planDeviceBootstrap(deps, device, profile, { transport, kind: 'bs' });
    if (planned.refusal !== undefined) return refuse(planned.refusal.reason, planned.refusal.detail);
    const { plan } = planned;
    // Over DTLS the keys travel inside the session the device opened; whether the gateway holds
    // one is only known there, and it records 'no DTLS session' itself when it does not.
    if (transport === 'udp' && profile.allowSecretsOverNoSec !== true && planCarriesSecrets(plan)) {
      return refuse('insecure-transport', 'the plan carries secret keys and the device bootstraps over NoSec (profile allowSecretsOverNoSec is off)');
    }
    return {
      ok: true,
      downlink: {
        v: CONTRACT_VERSION,
        type: 'bootstrap-initiate',
        sessionId: planned.newSessionId(),
        ...(options.gatewayId !== undefined && { gatewayId: options.gatewayId }),
        endpoint: device.endpoint,
        peer: { address: peer.address, port: peer.port },
        transport,
        ...(transport === 'dtls' && pskIdentity !== undefined && { pskIdentity }),
        plan,
        reason,
      },
    };
  } catch (error) {
    if (error instanceof ConfigurationError) return refuse('invalid-configuration', error.message);
    throw error;
  }
}

async function recordRefusal(deps: BootstrapBackendDeps, device: DeviceEntry, reason: RejectionReason, detail: string): Promise<ServerInitiatedPlan> {
  const at = deps.now().toISOString();
  const status: DeviceStatus = {
    sessionId: deps.newSessionId(),
    outcome: 'rejected',
    startedAt: at,
    endedAt: at,
    kind: 'bs',
    detail: `${reason}: ${detail}`.slice(0, 1024),
  };
  await deps.store.recordStatus(device.endpoint, status);
  return { ok: false, reason, detail: detail.slice(0, 1024) };
}
