import type { DeviceEntry, DeviceIdentities, DeviceStatus } from './device.ts';
import type { Profile } from './profile.ts';
import type { LifecycleRecord } from '../lifecycle/lifecycle-record.ts';

/** A page of a listing; `cursor` is opaque and absent on the last page. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly cursor?: string;
}

export type IdentityKind = keyof DeviceIdentities | 'pskIdentity' | 'retiringPskIdentity';

/** What a bulk write did: rows it wrote and rows it refused, each with a reason. */
export interface BulkWriteResult {
  readonly written: number;
  readonly rejected: readonly { readonly endpoint: string; readonly reason: string }[];
}

/**
 * The configuration store every edge uses: the DynamoDB adapter on AWS and locally (over
 * dynalite). Values passed in are already validated; values returned are validated again by
 * the adapter, because a table can hold what an older version wrote.
 */
export interface DeviceWithProfile {
  readonly device?: DeviceEntry;
  readonly profile?: Profile;
  readonly lifecycle?: LifecycleRecord | null;
}

export interface BootstrapStore {
  putProfile(profile: Profile): Promise<void>;
  getProfile(name: string): Promise<Profile | undefined>;
  listProfiles(cursor?: string): Promise<Page<Profile>>;
  deleteProfile(name: string): Promise<boolean>;

  putDevice(device: DeviceEntry): Promise<void>;
  /** Writes many devices; callers validate first so nothing is half-imported for bad input. */
  putDevices(devices: readonly DeviceEntry[]): Promise<BulkWriteResult>;
  getDevice(endpoint: string): Promise<DeviceEntry | undefined>;
  listDevices(cursor?: string): Promise<Page<DeviceEntry>>;
  deleteDevice(endpoint: string): Promise<boolean>;
  findDevice(kind: IdentityKind, value: string): Promise<DeviceEntry | undefined>;
  /**
   * How many devices hold a Bootstrap-Server PSK with this fingerprint (KeyFingerprinter),
   * leaving out the endpoints in `except`, counting no further than `limit` (the answer is at
   * most `limit`). A Query on the sparse fingerprint index (one, unless many of the holders are
   * left out); like every index read it is eventually consistent, so a device written a moment
   * ago may not be counted yet.
   */
  countDevicesWithKeyFingerprint(fingerprint: string, limit: number, except?: ReadonlySet<string> | readonly string[]): Promise<number>;

  /**
   * Device and its profile in one round trip (the bootstrap hot path). A store whose read of the
   * device brings the lifecycle record along (same partition) returns it too: null when none is
   * stored, absent when it was not read.
   */
  getDeviceWithProfile(endpoint: string): Promise<DeviceWithProfile>;
  /**
   * Records a bootstrap outcome unless the device already holds a newer one (by `startedAt`);
   * returns whether it was stored.
   */
  recordStatus(endpoint: string, status: DeviceStatus): Promise<boolean>;
  /** Counts a Bootstrap-Request from an endpoint the store does not know. */
  recordUnknownEndpoint(endpoint: string, at: string): Promise<void>;

  /** The device's lifecycle record (issue 5), or undefined before anything was recorded. */
  getLifecycle(endpoint: string): Promise<LifecycleRecord | undefined>;
  /**
   * Writes the lifecycle record only if the stored one is still `expected` (the record the
   * caller read and decided on; null: none stored yet); undefined writes unconditionally.
   * Answers false when another writer got there first: read again and decide again. The whole
   * record is compared, not only `lastAttach`, because an operator's mark and a bootstrap's
   * success change the record without changing the newest attach.
   */
  putLifecycle(endpoint: string, record: LifecycleRecord, expected?: LifecycleRecord | null): Promise<boolean>;
}
