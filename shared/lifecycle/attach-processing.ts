import type { DeviceEntry } from '../bootstrap/device.ts';
import type { BootstrapStore } from '../bootstrap/store.ts';
import { decideOnAttach, markForBootstrap, recordBootstrapSuccess, sameCard, type AttachDecision, type AttachPeer, type SimChange } from './attach-decision.ts';
import type { AttachEvent } from './attach-event.ts';
import { emptyLifecycleRecord, type BootstrapNeededReason, type LifecycleRecord } from './lifecycle-record.ts';
import type { LifecycleEventSink } from './lifecycle-events.ts';
import { profileFingerprint } from './profile-fingerprint.ts';
import { applySimChange, simChangedEvent } from './sim-change.ts';

/**
 * The I/O around decideOnAttach (issue 5), shared by every way an attach arrives (the CLI,
 * the local HTTP endpoint, the SQS-fed Lambda): find the device, decide, write the lifecycle
 * record under the store's condition, and push the bootstrap when one is due. Results name
 * endpoints, reasons and cards, never keys.
 */

/** How often a lifecycle write is tried when other writers keep changing the record meanwhile. */
export const LIFECYCLE_WRITE_ATTEMPTS = 3;

export type LifecycleStore = Pick<BootstrapStore, 'getLifecycle' | 'putLifecycle'>;
export type AttachStore = LifecycleStore & Pick<BootstrapStore, 'findDevice' | 'getProfile' | 'putDevice'>;

/** Pushes a Server Initiated Bootstrap to `peer` (the gateway's `bootstrap-initiate`). */
export type InitiateBootstrap = (endpoint: string, peer: AttachPeer, reasons: readonly BootstrapNeededReason[]) => Promise<void>;

export interface AttachDependencies {
  readonly store: AttachStore;
  readonly now: () => Date;
  /** Absent where nothing can reach the device (the CLI without a gateway): the mark waits for its Bootstrap-Request. */
  readonly initiate?: InitiateBootstrap;
  /** Where SimChanged (and later lifecycle events) go; absent, they are not announced. */
  readonly events?: LifecycleEventSink;
}

export type AttachOutcome =
  /** The event id was taken already: nothing written. */
  | 'ignored-duplicate'
  /** A newer attach was taken already: nothing written. */
  | 'ignored-stale'
  /** Where the device is now was recorded; it needs nothing. */
  | 'recorded'
  /** The device is marked for bootstrap but nothing was pushed (no initiator, or it failed): its next Bootstrap-Request is served. */
  | 'marked'
  /** Marked, and the bootstrap was handed to the initiator. */
  | 'initiated'
  /** No device has any of the event's identities: nothing written. */
  | 'unknown-device';

export interface AttachResult {
  readonly outcome: AttachOutcome;
  /** Absent for 'unknown-device'. */
  readonly endpoint?: string;
  /** 'marked' and 'initiated': why the device needs a bootstrap, the reason of its mark first. */
  readonly reasons?: readonly BootstrapNeededReason[];
  /** 'marked' and 'initiated', when this event showed a new card. */
  readonly simChanged?: SimChange;
  /** 'marked' only: why the initiator failed. */
  readonly initiateError?: string;
}

/** Other writers changed the record at every attempt; the caller may try the whole step again later. */
export class LifecycleContentionError extends Error {
  readonly endpoint: string;
  constructor(endpoint: string) {
    super(`the lifecycle record of device ${endpoint} changed under ${LIFECYCLE_WRITE_ATTEMPTS} attempts to write it`);
    this.name = 'LifecycleContentionError';
    this.endpoint = endpoint;
  }
}

/** The device names a profile the store does not have: a configuration error, not a transient one. */
export class MissingProfileError extends Error {
  constructor(endpoint: string, profile: string) {
    super(`device ${endpoint} names profile "${profile}", which does not exist`);
    this.name = 'MissingProfileError';
  }
}

export interface CardAndDeviceIdentities {
  readonly imsi?: string | undefined;
  readonly iccid?: string | undefined;
  readonly imei?: string | undefined;
}

/**
 * The device holding any of the identities, tried ICCID, then IMSI, then IMEI:
 * - ICCID first: it is the card's serial and never changes, while one card can present several
 *   IMSIs over its life (multi-IMSI roaming cards, eUICC profile switches, IMSI re-assignment);
 * - the card's identities before the IMEI: the carrier reports them from its own subscriber
 *   records, while the IMEI is what the handset declared, and is often missing from events;
 * - the IMEI last, as the fallback that still finds a device whose card was replaced, when
 *   neither card identity is known yet: exactly the SIM change decideOnAttach must see.
 * The first hit wins; a device found by the card whose IMEI belongs to another device (a card
 * moved between devices) is not looked for.
 */
export async function findDeviceByAnyIdentity(store: Pick<BootstrapStore, 'findDevice'>, identities: CardAndDeviceIdentities): Promise<DeviceEntry | undefined> {
  const lookups = [
    ['iccid', identities.iccid],
    ['imsi', identities.imsi],
    ['imei', identities.imei],
  ] as const;
  for (const [kind, value] of lookups) {
    if (value === undefined) continue;
    const device = await store.findDevice(kind, value);
    if (device !== undefined) return device;
  }
  return undefined;
}

/**
 * Takes one (already parsed) attach event. A device that needs a bootstrap is marked first and
 * the bootstrap pushed after, so a push that fails, or never comes, loses nothing: the mark
 * stays until a bootstrap succeeds, and the next Bootstrap-Request serves it.
 *
 * Store errors, a missing profile and LifecycleContentionError reject; a queue consumer lets
 * the message be delivered again, which is safe, as a taken event is then a duplicate.
 */
export async function processAttach(deps: AttachDependencies, event: AttachEvent): Promise<AttachResult> {
  const { store } = deps;
  const device = await findDeviceByAnyIdentity(store, event);
  if (device === undefined) return { outcome: 'unknown-device' };
  const endpoint = device.endpoint;
  const profile = await store.getProfile(device.profile);
  if (profile === undefined) throw new MissingProfileError(endpoint, device.profile);

  const decision = await updateLifecycle<AttachDecision>(store, endpoint, (lifecycle) => {
    const decided = decideOnAttach({ device, profile, lifecycle, event, now: deps.now() });
    return decided.decision === 'ignore' ? { result: decided } : { write: decided.lifecycle, result: decided };
  });

  switch (decision.decision) {
    case 'ignore':
      if (decision.reason === 'duplicate') await finishSimChange(deps, device);
      return { outcome: decision.reason === 'duplicate' ? 'ignored-duplicate' : 'ignored-stale', endpoint };
    case 'record':
      return { outcome: 'recorded', endpoint };
    case 'initiate': {
      if (decision.simChanged !== undefined) await onSimChanged(deps, device, decision.simChanged);
      const marked = { endpoint, reasons: decision.reasons, ...(decision.simChanged !== undefined && { simChanged: decision.simChanged }) };
      if (deps.initiate === undefined) return { outcome: 'marked', ...marked };
      try {
        await deps.initiate(endpoint, decision.peer, decision.reasons);
      } catch (error) {
        return { outcome: 'marked', ...marked, initiateError: error instanceof Error ? error.message : 'the initiator failed' };
      }
      return { outcome: 'initiated', ...marked };
    }
  }
}

/**
 * Seeds 000 and 001: what the old card provisioned no longer counts. Server side that is the
 * device's smartcard (its SCP03 keys and the accounts its bootstrap file carried), disabled
 * here; the device entry takes the new ICCID, and SimChanged tells the LwM2M server side, which
 * holds those accounts. Runs after the lifecycle write, which reports a change once; a
 * redelivered event finishes a step that failed (finishSimChange).
 */
async function onSimChanged(deps: AttachDependencies, device: DeviceEntry, change: SimChange): Promise<void> {
  const at = deps.now();
  const changed = applySimChange(device, change, at);
  // Announce before recording: if recording fails, the redelivery finds the entry unchanged and
  // runs the step again (announcing twice, at least once); the other order could lose the event.
  await deps.events?.emit(simChangedEvent(device.endpoint, change, changed.disabledSmartcard, at));
  await deps.store.putDevice(changed.device);
}

/**
 * A redelivered event (a queue retrying after the SIM change step failed) is a duplicate, so the
 * decision reports nothing new: the lifecycle record's last SIM change not yet in the device
 * entry is the sign that step did not finish, and it runs again.
 */
async function finishSimChange(deps: AttachDependencies, device: DeviceEntry): Promise<void> {
  const last = (await deps.store.getLifecycle(device.endpoint))?.simChanges.at(-1);
  const current = device.identities.iccid;
  if (last === undefined || (current !== undefined && sameCard(current, last.to))) return;
  const from = last.from ?? current;
  if (from === undefined) return;
  await onSimChanged(deps, device, { from, to: last.to });
}

export interface MarkResult {
  readonly outcome: 'marked' | 'already-marked' | 'unknown-device';
  /** The mark the device carries now: an earlier one keeps its reason and time. */
  readonly bootstrapNeeded?: NonNullable<LifecycleRecord['bootstrapNeeded']>;
}

/** An operator (or the account replacement) asks for a bootstrap at the device's next chance. */
export async function markDeviceForBootstrap(
  store: LifecycleStore & Pick<BootstrapStore, 'getDevice'>,
  endpoint: string,
  reason: BootstrapNeededReason,
  at: Date,
): Promise<MarkResult> {
  if ((await store.getDevice(endpoint)) === undefined) return { outcome: 'unknown-device' };
  return updateLifecycle<MarkResult>(store, endpoint, (lifecycle) => {
    if (lifecycle.bootstrapNeeded !== undefined) return { result: { outcome: 'already-marked', bootstrapNeeded: lifecycle.bootstrapNeeded } };
    const next = markForBootstrap(lifecycle, reason, at.toISOString());
    return { write: next, result: { outcome: 'marked', bootstrapNeeded: next.bootstrapNeeded! } };
  });
}

/**
 * A bootstrap of `endpoint` succeeded at `at` (ISO time): clears its mark and records the
 * fingerprint of its current profile and entry, and the card of its newest attach. Returns
 * false, writing nothing, when the device or its profile is gone. The fingerprint is taken
 * now, not when the plan was compiled: a profile changed during the session is taken as
 * delivered, and only the next change marks the device again.
 */
export async function onBootstrapSucceeded(
  store: LifecycleStore & Pick<BootstrapStore, 'getDeviceWithProfile'>,
  endpoint: string,
  at: string,
  startedAt?: string,
): Promise<boolean> {
  const { device, profile } = await store.getDeviceWithProfile(endpoint);
  if (device === undefined || profile === undefined) return false;
  const success = {
    profileFingerprint: profileFingerprint(profile, device),
    at: new Date(at).toISOString(),
    ...(startedAt !== undefined && { startedAt: new Date(startedAt).toISOString() }),
  };
  // Unchanged means no write: a routine re-bootstrap costs one read here, not a read and a write.
  await updateLifecycle<true>(store, endpoint, (lifecycle) => {
    const next = recordBootstrapSuccess(lifecycle, success);
    return next === lifecycle ? { result: true } : { write: next, result: true };
  });
  return true;
}

interface LifecycleStep<T> {
  /** The record to store; absent when the step changes nothing. */
  readonly write?: LifecycleRecord;
  readonly result: T;
}

/**
 * Reads the record, lets `step` decide on it, and writes what it returns on the condition that
 * the record is still the one read; on a lost race, reads and decides again.
 */
async function updateLifecycle<T>(store: LifecycleStore, endpoint: string, step: (lifecycle: LifecycleRecord) => LifecycleStep<T>): Promise<T> {
  for (let attempt = 0; attempt < LIFECYCLE_WRITE_ATTEMPTS; attempt += 1) {
    const stored = await store.getLifecycle(endpoint);
    const { write, result } = step(stored ?? emptyLifecycleRecord());
    if (write === undefined) return result;
    if (await store.putLifecycle(endpoint, write, stored ?? null)) return result;
  }
  throw new LifecycleContentionError(endpoint);
}
