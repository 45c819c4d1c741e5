import type { DeviceEntry } from '../bootstrap/device.ts';
import type { Profile } from '../bootstrap/profile.ts';
import { compareEventTimes, type AttachEvent } from './attach-event.ts';
import { RECENT_EVENT_IDS, SIM_CHANGES_KEPT, type BootstrapNeededReason, type LifecycleRecord } from './lifecycle-record.ts';
import { profileFingerprint } from './profile-fingerprint.ts';

/**
 * What a carrier attach leads to (issue 5): nothing, a note of where the device is now, or a
 * Server Initiated Bootstrap pushed to the address in the event (LwM2M Core 5.2.2.3). Pure: the
 * caller found the device by one of the event's identities, and writes `lifecycle` back.
 */

export interface AttachPeer {
  readonly address: string;
  readonly port: number;
}

/** The card the device was known by, and the one it attached with. */
export interface SimChange {
  readonly from: string;
  readonly to: string;
}

export type AttachDecision =
  /** Nothing to write: the event was seen already, or a newer one was. */
  | { readonly decision: 'ignore'; readonly reason: 'duplicate' | 'stale' }
  /** The device is where the event says and needs nothing. */
  | { readonly decision: 'record'; readonly lifecycle: LifecycleRecord }
  /** Push the bootstrap to `peer`; `reasons` first is the one the mark was made for. */
  | {
      readonly decision: 'initiate';
      readonly lifecycle: LifecycleRecord;
      readonly peer: AttachPeer;
      readonly reasons: readonly BootstrapNeededReason[];
      /** Present when this event showed a new card: emit `SimChanged` and disable its accounts. */
      readonly simChanged?: SimChange;
    };

export interface AttachContext {
  readonly device: DeviceEntry;
  readonly profile: Profile;
  readonly lifecycle: LifecycleRecord;
  readonly event: AttachEvent;
  readonly now: Date;
}

/**
 * Events are ordered by (event time, event id). One older than the newest taken is stale; one
 * with the newest's time but another id is a separate attach and is taken (carriers stamp to
 * the second), though `lastAttach` moves only to the greater id, so the order of delivery
 * never decides which attach is last.
 */
export function decideOnAttach({ device, profile, lifecycle, event, now }: AttachContext): AttachDecision {
  const last = lifecycle.lastAttach;
  if (last?.eventId === event.eventId || lifecycle.recentEventIds.includes(event.eventId)) {
    return { decision: 'ignore', reason: 'duplicate' };
  }
  const order = last === undefined ? 1 : compareEventTimes(event.eventTime, last.eventTime);
  if (order < 0) return { decision: 'ignore', reason: 'stale' };

  const at = now.toISOString();
  const newest = last === undefined || order > 0 || event.eventId > last.eventId;
  let next: LifecycleRecord = {
    ...lifecycle,
    lastAttach: newest ? attachOf(event) : last,
    recentEventIds: appendBounded(lifecycle.recentEventIds, event.eventId, RECENT_EVENT_IDS),
  };

  const simChanged = simChangeOf(device, lifecycle, event);
  if (simChanged !== undefined) {
    next = { ...next, simChanges: appendBounded(lifecycle.simChanges, { ...simChanged, at }, SIM_CHANGES_KEPT) };
  }

  const reasons = bootstrapReasons(device, profile, lifecycle, simChanged !== undefined);
  const [first] = reasons;
  if (first === undefined) return { decision: 'record', lifecycle: next };
  return {
    decision: 'initiate',
    lifecycle: markForBootstrap(next, first, at),
    peer: { address: event.address, port: event.port },
    reasons,
    ...(simChanged !== undefined && { simChanged }),
  };
}

/**
 * Marks a device for bootstrap (an operator, an account replacement). A device already marked
 * keeps its first reason and time: the mark says how long it has been waiting, and why.
 */
export function markForBootstrap(lifecycle: LifecycleRecord, reason: BootstrapNeededReason, at: string): LifecycleRecord {
  if (lifecycle.bootstrapNeeded !== undefined) return lifecycle;
  return { ...lifecycle, bootstrapNeeded: { reason, since: at } };
}

export interface BootstrapSuccess {
  /** profileFingerprint() of the profile and entry the plan was compiled from. */
  readonly profileFingerprint: string;
  /** The card the device holds; the card of the newest attach when the caller does not know. */
  readonly iccid?: string;
  /** When the session ended. */
  readonly at: string;
  /** When the session started: a mark set after it is for something the session did not deliver. */
  readonly startedAt?: string;
}

/**
 * A bootstrap succeeded: the device has what the fingerprint covers, on this card. Without
 * the fallback to the last attach's card, a device whose entry still names its old card would
 * look SIM-changed at every attach and be bootstrapped forever.
 *
 * The record comes back unchanged (the same object) when there is nothing to write: the same
 * fingerprint and card as recorded and no mark to clear, which is every routine re-bootstrap.
 * `bootstrappedWith.at` is thus the last success that changed the record. A success older than the
 * recorded one changes nothing, and a mark set after the session started stays.
 */
export function recordBootstrapSuccess(lifecycle: LifecycleRecord, success: BootstrapSuccess): LifecycleRecord {
  const done = lifecycle.bootstrappedWith;
  if (done !== undefined && Date.parse(done.at) > Date.parse(success.at)) return lifecycle;
  const iccid = success.iccid ?? lifecycle.lastAttach?.iccid;
  const mark = lifecycle.bootstrapNeeded;
  const markStays = mark !== undefined && success.startedAt !== undefined && Date.parse(mark.since) > Date.parse(success.startedAt);
  const sameContent = done !== undefined && done.profileFingerprint === success.profileFingerprint && done.iccid === iccid;
  if (sameContent && (mark === undefined || markStays)) return lifecycle;
  const next: LifecycleRecord = {
    ...lifecycle,
    bootstrappedWith: { profileFingerprint: success.profileFingerprint, ...(iccid !== undefined && { iccid }), at: success.at },
  };
  if (!markStays) delete next.bootstrapNeeded;
  return next;
}

function bootstrapReasons(device: DeviceEntry, profile: Profile, lifecycle: LifecycleRecord, simChanged: boolean): BootstrapNeededReason[] {
  const reasons: BootstrapNeededReason[] = [];
  if (lifecycle.bootstrapNeeded !== undefined) reasons.push(lifecycle.bootstrapNeeded.reason);
  const done = lifecycle.bootstrappedWith;
  if (done === undefined) reasons.push('never-bootstrapped');
  else if (profileFingerprint(profile, device) !== done.profileFingerprint) reasons.push('profile-changed');
  if (simChanged) reasons.push('sim-changed');
  return [...new Set(reasons)];
}

/**
 * The card is compared with the one the device was bootstrapped with (else the one its entry
 * names), and a change is reported once: an event with the card of the newest attach says
 * nothing new, even while the re-bootstrap is still pending.
 */
function simChangeOf(device: DeviceEntry, lifecycle: LifecycleRecord, event: AttachEvent): SimChange | undefined {
  const to = event.iccid;
  if (to === undefined) return undefined;
  const lastSeen = lifecycle.lastAttach?.iccid;
  const from = lifecycle.bootstrappedWith?.iccid ?? device.identities.iccid ?? lastSeen;
  if (from === undefined || sameCard(from, to) || (lastSeen !== undefined && sameCard(lastSeen, to))) return undefined;
  return { from, to };
}

/** ICCIDs are stored with or without the trailing filler digit F of EF_ICCID's BCD. */
export function sameCard(a: string, b: string): boolean {
  return a.replace(/F$/, '') === b.replace(/F$/, '');
}

function attachOf(event: AttachEvent): NonNullable<LifecycleRecord['lastAttach']> {
  return {
    eventId: event.eventId,
    eventTime: event.eventTime,
    ...(event.iccid !== undefined && { iccid: event.iccid }),
    address: event.address,
    port: event.port,
    carrier: event.carrier,
  };
}

function appendBounded<T>(items: readonly T[], item: T, limit: number): T[] {
  return [...items, item].slice(-limit);
}
