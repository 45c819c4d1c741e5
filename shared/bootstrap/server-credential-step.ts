import type { BootstrapBackendDeps } from './backend-deps.ts';
import type { DeviceEntry } from './device.ts';
import type { Profile } from './profile.ts';
import type { BootstrapStore } from './store.ts';
import { LIFECYCLE_WRITE_ATTEMPTS, LifecycleContentionError } from '../lifecycle/attach-processing.ts';
import { freshServerPsk } from '../lifecycle/fresh-credentials.ts';
import { emptyLifecycleRecord, type LifecycleRecord } from '../lifecycle/lifecycle-record.ts';
import {
  carriesServerCredentials,
  issuedFromPending,
  pendingCoversAccounts,
  pendingFromIssued,
  samePendingServerCredentials,
  serverCredentialsPromoted,
  withServerCredentials,
  type PendingServerCredentials,
} from '../lifecycle/server-credential-rotation.ts';
import { issuedEvents, mintServerCredentials, type FreshServerPskSource } from '../lifecycle/server-credentials.ts';

/**
 * Fresh LwM2M Server credentials at every bootstrap (profile `mintServerCredentials`), in two
 * steps around the session:
 * 1. planning (a Bootstrap-Request, a Server Initiated Bootstrap) mints them, or takes the ones
 *    an earlier attempt minted and no session delivered yet, keeps them as the lifecycle's
 *    `pendingServerCredentials`, and plans with them;
 * 2. the success of a session that carried them (see mintSessionId) emits one
 *    ServerCredentialsIssued per account, puts them on the device entry, and clears the record.
 * Each of step 2's writes is repeated harmlessly, so a redelivered success finishes what a failed
 * one began; the events are at least once.
 */

export interface PlannedServerCredentials {
  /** The device to compile the plan from: its new credentials in place when some are pending. */
  readonly device: DeviceEntry;
  readonly pending?: PendingServerCredentials;
}

export async function planServerCredentials(deps: BootstrapBackendDeps, profile: Profile, device: DeviceEntry): Promise<PlannedServerCredentials> {
  if (profile.mintServerCredentials !== true) return { device };
  const minted = mintServerCredentials({ profile, device, fresh: deps.freshServerPsk ?? defaultSource(device) });
  if (minted.issued.length === 0) return { device };
  const accounts = minted.issued.map(({ shortServerId }) => shortServerId);
  let stored = await deps.store.getLifecycle(device.endpoint);
  for (let attempt = 0; attempt < LIFECYCLE_WRITE_ATTEMPTS; attempt += 1) {
    const earlier = stored?.pendingServerCredentials;
    if (earlier !== undefined && pendingCoversAccounts(earlier, accounts)) {
      return { device: withServerCredentials(device, earlier), pending: earlier };
    }
    const pending = pendingFromIssued(minted.issued, deps.now());
    const next: LifecycleRecord = { ...(stored ?? emptyLifecycleRecord()), pendingServerCredentials: pending };
    if (await deps.store.putLifecycle(device.endpoint, next, stored ?? null)) return { device: withServerCredentials(device, pending), pending };
    stored = await deps.store.getLifecycle(device.endpoint);
  }
  throw new LifecycleContentionError(device.endpoint);
}

/**
 * Step 2 for a successful session; returns the device entry as it now stands, for the steps
 * after this one to build on rather than overwrite.
 */
export async function promoteServerCredentials(
  deps: BootstrapBackendDeps,
  sessionId: string,
  endedAt: string,
  device: DeviceEntry,
  pending: PendingServerCredentials | undefined,
): Promise<DeviceEntry> {
  if (pending === undefined || !carriesServerCredentials(sessionId, pending)) return device;
  // From a fresh read, not the entry read when the outcome came in: a purge that revoked a
  // retiring credential meanwhile must not be written back over.
  const current = (await deps.store.getDevice(device.endpoint)) ?? device;
  let promoted = current;
  if (!serverCredentialsPromoted(current, pending)) {
    // Events before the entry: a failure between the two repeats the events on redelivery,
    // the other order could leave the LwM2M server side never told.
    if (deps.events !== undefined) {
      for (const event of await issuedEvents(device.endpoint, issuedFromPending(pending), deps.keySealer, endedAt)) await deps.events.emit(event);
    }
    promoted = withServerCredentials(current, pending);
    await deps.store.putDevice(promoted);
  }
  await clearPendingServerCredentials(deps.store, device.endpoint, pending);
  return promoted;
}

async function clearPendingServerCredentials(store: BootstrapStore, endpoint: string, pending: PendingServerCredentials): Promise<void> {
  for (let attempt = 0; attempt < LIFECYCLE_WRITE_ATTEMPTS; attempt += 1) {
    const stored = await store.getLifecycle(endpoint);
    const current = stored?.pendingServerCredentials;
    if (stored === undefined || current === undefined || !samePendingServerCredentials(current, pending)) return;
    const next: LifecycleRecord = { ...stored };
    delete next.pendingServerCredentials;
    if (await store.putLifecycle(endpoint, next, stored)) return;
  }
  throw new LifecycleContentionError(endpoint);
}

function defaultSource(device: DeviceEntry): FreshServerPskSource {
  return (shortServerId, taken) =>
    freshServerPsk({ endpoint: device.endpoint, shortServerId, taken, device: { endpoint: device.endpoint, identities: device.identities } });
}
