import type { SecurityInstances } from './contract.ts';
import type { PlanWrite } from './plan.ts';
import type { DeviceEntry } from './device.ts';
import type { BootstrapBackendDeps, Delivered } from './backend-deps.ts';
import { accountReplacementStep } from './account-replacement-step.ts';
import { promoteServerCredentials } from './server-credential-step.ts';
import { onBootstrapSucceeded } from '../lifecycle/attach-processing.ts';
import { purgeDueAt } from '../lifecycle/purge.ts';
import { SecurityResource } from '../lwm2m/objects/security.ts';

/** The session whose success is being taken, as `bootstrap-ended` (or a recorded pack) gives it. */
export interface SucceededSession {
  readonly sessionId: string;
  readonly startedAt: string;
  readonly endedAt: string;
  /** Where the session wrote the plan's Security instances, when the gateway says. */
  readonly securityInstances?: SecurityInstances;
}

/**
 * A bootstrap succeeded: minted server credentials become the device's (see
 * promoteServerCredentials), an account replacement moves on a step (see accountReplacementStep),
 * its lifecycle mark is cleared and what it delivered recorded, and the account timeout it wrote
 * becomes a pending purge. All are idempotent, so a redelivered `bootstrap-ended` is harmless.
 */
export async function afterSuccess(deps: BootstrapBackendDeps, session: SucceededSession, delivered: Delivered): Promise<void> {
  const { sessionId, endedAt, securityInstances } = session;
  const { store } = deps;
  const { profile } = delivered;
  let device = delivered.device;
  // Free when the device read brought it along (remembered-lifecycle.ts). The steps below each
  // read it again before writing; this copy only says what is pending.
  const lifecycle = await store.getLifecycle(device.endpoint);
  if (profile.mintServerCredentials === true) device = await promoteServerCredentials(deps, sessionId, endedAt, device, lifecycle?.pendingServerCredentials);
  const plan = await accountReplacementStep(deps, sessionId, endedAt, { ...delivered, device }, lifecycle?.pendingAccount, securityInstances);
  // The fingerprint recorded is that of what the device now holds: taken from the entry before a
  // promotion (minted credentials, a replacement account), the next attach would find the device
  // changed and push a bootstrap it does not need, and for minted credentials at every attach.
  const current = plan === undefined ? ((await store.getDevice(device.endpoint)) ?? device) : device;
  await onBootstrapSucceeded(
    {
      getLifecycle: (endpoint) => store.getLifecycle(endpoint),
      putLifecycle: (...args) => store.putLifecycle(...args),
      getDeviceWithProfile: () => Promise.resolve({ device: current, profile }),
    },
    device.endpoint,
    endedAt,
    session.startedAt,
  );
  if (plan !== undefined) await scheduleAccountPurge(deps, sessionId, endedAt, device, plan.bootstrapServerWrite);
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
