import { replaceLowEntropyAccount } from './account-replacement-step.ts';
import type { BootstrapBackendDeps } from './backend-deps.ts';
import { keepBootstrapAccount } from './bootstrap-account-guard.ts';
import { compileBootstrapPlan } from './config.ts';
import type { RejectionReason } from './contract.ts';
import type { DeviceEntry } from './device.ts';
import type { BootstrapPlan } from './plan.ts';
import type { Profile } from './profile.ts';
import { planServerCredentials } from './server-credential-step.ts';
import { taggedSessionId } from './session-tags.ts';

export type DevicePlan =
  | {
      readonly plan: BootstrapPlan;
      /** Draws the session id, tagged with the lifecycle steps the plan carries. */
      readonly newSessionId: () => string;
      readonly refusal?: undefined;
    }
  | { readonly refusal: { readonly reason: RejectionReason; readonly detail: string } };

/**
 * What a device is served, whoever starts the bootstrap (a Bootstrap-Request, a Server Initiated
 * Bootstrap): the profile compiled with any minted LwM2M Server credentials, the low-entropy
 * account replacement, and the only Bootstrap-Server account kept. Throws ConfigurationError
 * for a profile that does not compile.
 */
export async function planDeviceBootstrap(
  deps: BootstrapBackendDeps,
  device: DeviceEntry,
  profile: Profile,
  request: { readonly transport: 'udp' | 'dtls'; readonly kind: 'bs' | 'bspack' },
): Promise<DevicePlan> {
  const serverCredentials = await planServerCredentials(deps, profile, device);
  const replacement = await replaceLowEntropyAccount(deps, device, profile, compileBootstrapPlan(profile, serverCredentials.device), request);
  if (replacement.refusal !== undefined) return { refusal: replacement.refusal };
  const plan = replacement.pending === undefined ? keepBootstrapAccount(replacement.plan, profile) : replacement.plan;
  return { plan, newSessionId: () => taggedSessionId(deps.newSessionId(), serverCredentials.pending, replacement) };
}
