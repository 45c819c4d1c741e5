import type { DeviceEntry, DeviceStatus } from '../../shared/bootstrap/device.ts';
import type { Profile } from '../../shared/bootstrap/profile.ts';
import type { BootstrapStore, BulkWriteResult, DeviceWithProfile, Page } from '../../shared/bootstrap/store.ts';
import { lifecycleRecordSchema, type LifecycleRecord } from '../../shared/lifecycle/lifecycle-record.ts';
import type { StatusEntry, StoredLifecycle } from './dynamodb-store.ts';
import { deviceIdentityValues, deviceKeyFingerprint, isNewerOrSame, newerStatus, stringAttribute, type Item } from './item-codec.ts';
import { OutcomeQueue } from './outcome-queue.ts';
import { BATCH_WRITE_LIMIT, IDENTITY_KINDS, ITEM_KIND, PARTITION_KEY, SORT_KEY, type StoredIdentityKind } from './table.ts';

/** The store of record, able to write outcomes in batches (DynamoDbBootstrapStore). */
export interface BatchingBootstrapStore extends BootstrapStore {
  /** Writes status items unconditionally: the mirror has decided their order. */
  recordStatuses(entries: readonly StatusEntry[]): Promise<void>;
  /** Every device's lifecycle record, a page at a time. */
  listLifecycles(cursor?: string): Promise<Page<StoredLifecycle>>;
}

export interface MirroredStoreOptions {
  /** The store of record (the DynamoDB adapter); every write goes through to it. */
  readonly store: BatchingBootstrapStore;
  /** Outcome batches in flight at once (default 4). */
  readonly outcomeConcurrency?: number;
  /** Outcomes per batch write (default and most 25, BatchWriteItem's limit). */
  readonly outcomeBatchSize?: number;
  /** Waits between attempts of a failed outcome write (default 0.1, 0.5, 2, 5, 10 s). */
  readonly retryDelaysMs?: readonly number[];
  /** Failed outcome writes; messages name endpoints, never keys. */
  readonly log?: (message: string) => void;
}

/**
 * The local server's store: profiles and devices held in memory, so a bootstrap reads no table
 * at all, over the DynamoDB adapter that stays the store of record.
 *
 * - Reads of profiles and devices (and identity lookups) are served from memory; listings go to
 *   the table, as operators page through them rarely.
 * - Configuration writes go through to the table first, then into memory.
 * - Outcomes go into memory at once and to the table behind (OutcomeQueue), in batches of status
 *   items written unconditionally: memory decides which outcome is newest. No other process
 *   writes status items (CLI commands write configuration, which lives in the device item), so
 *   nothing can slip a newer one in between. `flushed()` and `close()` wait for them;
 *   `listDevices` may show an outcome a moment late.
 * - Lifecycle records (issue 5) are held too, as the backend reads one per bootstrap. Writes stay
 *   conditional writes to the table, which is their authority: other processes write them (the
 *   CLI's `device mark-bootstrap`), and a copy gone stale costs a failed write and a re-read,
 *   never a lost change. See `putLifecycle` for what keeps the copy fresh.
 * - Another process (the CLI) writing the same table is seen through `refresh`, which the change
 *   proxy in front of dynalite calls with the keys it wrote.
 *
 * Entries are frozen: callers share them instead of getting copies.
 */
export class MirroredStore implements BootstrapStore {
  readonly #store: BatchingBootstrapStore;
  readonly #profiles = new Map<string, Profile>();
  readonly #devices = new Map<string, DeviceEntry>();
  /** Identity kind → value → endpoints holding it (more than one is a configuration error). */
  readonly #identities = new Map<StoredIdentityKind, Map<string, Set<string>>>(IDENTITY_KINDS.map((kind) => [kind, new Map()]));
  /** Bootstrap PSK fingerprint → endpoints holding it, as the table's ByKeyFingerprint index. */
  readonly #fingerprints = new Map<string, Set<string>>();
  readonly #outcomes: OutcomeQueue;
  /** Per item key, the refresh in progress; a refresh asked meanwhile runs after it. */
  readonly #refreshing = new Map<string, Promise<void>>();
  /** Endpoint → the lifecycle record the table holds for it; no entry: none stored. */
  readonly #lifecycles = new Map<string, LifecycleRecord>();
  /** Endpoints whose record memory does not hold (it did not decode, or a re-read failed): asked of the table. */
  readonly #lifecyclesUnread = new Set<string>();
  /** Per endpoint, the lifecycle write or re-read in progress; one asked meanwhile runs after it. */
  readonly #lifecycleWork = new Map<string, Promise<void>>();
  #closed = false;

  private constructor(options: MirroredStoreOptions) {
    this.#store = options.store;
    const log = options.log ?? ((message: string) => console.error(message));
    this.#outcomes = new OutcomeQueue({
      write: (batch) => this.#store.recordStatuses(batch),
      batchSize: Math.min(options.outcomeBatchSize ?? BATCH_WRITE_LIMIT, BATCH_WRITE_LIMIT),
      concurrency: options.outcomeConcurrency ?? 4,
      retryDelaysMs: options.retryDelaysMs ?? [100, 500, 2_000, 5_000, 10_000],
      // The table refuses the request as a whole (an item over 400 KB): no retry cures it.
      isPermanent: (error) => error instanceof Error && error.name === 'ValidationException',
      log,
    });
  }

  /** Loads every profile, device and lifecycle record from the store of record. */
  static async open(options: MirroredStoreOptions): Promise<MirroredStore> {
    const mirror = new MirroredStore(options);
    for (let cursor: string | undefined, first = true; first || cursor !== undefined; first = false) {
      const page = await options.store.listProfiles(cursor);
      for (const profile of page.items) mirror.#setProfile(profile);
      cursor = page.cursor;
    }
    for (let cursor: string | undefined, first = true; first || cursor !== undefined; first = false) {
      const page = await options.store.listDevices(cursor);
      for (const device of page.items) mirror.#setDevice(device);
      cursor = page.cursor;
    }
    for (let cursor: string | undefined, first = true; first || cursor !== undefined; first = false) {
      const page = await options.store.listLifecycles(cursor);
      for (const { endpoint, record } of page.items) mirror.#setLifecycle(endpoint, record === undefined ? 'unread' : record);
      cursor = page.cursor;
    }
    return mirror;
  }

  get size(): { profiles: number; devices: number; lifecycles: number; pendingOutcomes: number } {
    return { profiles: this.#profiles.size, devices: this.#devices.size, lifecycles: this.#lifecycles.size, pendingOutcomes: this.#outcomes.size };
  }

  async putProfile(profile: Profile): Promise<void> {
    await this.#store.putProfile(profile);
    this.#setProfile(profile);
  }

  async getProfile(name: string): Promise<Profile | undefined> {
    return this.#profiles.get(name);
  }

  listProfiles(cursor?: string): Promise<Page<Profile>> {
    return this.#store.listProfiles(cursor);
  }

  async deleteProfile(name: string): Promise<boolean> {
    const deleted = await this.#store.deleteProfile(name);
    this.#profiles.delete(name);
    return deleted;
  }

  async putDevice(device: DeviceEntry): Promise<void> {
    await this.#store.putDevice(device);
    this.#setDevice(device);
  }

  async putDevices(devices: readonly DeviceEntry[]): Promise<BulkWriteResult> {
    const result = await this.#store.putDevices(devices);
    const refused = new Set(result.rejected.map((rejection) => rejection.endpoint));
    for (const device of devices) if (!refused.has(device.endpoint)) this.#setDevice(device);
    return result;
  }

  async getDevice(endpoint: string): Promise<DeviceEntry | undefined> {
    return this.#devices.get(endpoint);
  }

  listDevices(cursor?: string): Promise<Page<DeviceEntry>> {
    return this.#store.listDevices(cursor);
  }

  async deleteDevice(endpoint: string): Promise<boolean> {
    const deleted = await this.#store.deleteDevice(endpoint);
    this.#removeDevice(endpoint);
    // The adapter deleted the lifecycle item too. Queued behind a write in flight, so that write
    // lands in memory first and the drop after it, as in the table (unless the write reached
    // the table after the delete: then the next write's condition fails and re-reads).
    await this.#lifecycleTask(endpoint, async () => this.#setLifecycle(endpoint, undefined));
    return deleted;
  }

  /** Like the adapter's index lookup: the device without its status; a shared identity is an error. */
  async findDevice(kind: StoredIdentityKind, value: string): Promise<DeviceEntry | undefined> {
    const endpoints = this.#identities.get(kind)?.get(value);
    if (endpoints === undefined || endpoints.size === 0) return undefined;
    if (endpoints.size > 1) throw new Error(`more than one device has this ${kind}: ${[...endpoints].join(', ')}`);
    const device = this.#devices.get([...endpoints][0]!);
    if (device === undefined) return undefined;
    return withoutStatus(device);
  }

  /** From memory, like the other lookups: the bootstrap path asks this and must not read the table. */
  async countDevicesWithKeyFingerprint(fingerprint: string, limit: number, except: ReadonlySet<string> | readonly string[] = []): Promise<number> {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
    const excluded: ReadonlySet<string> = except instanceof Set ? except : new Set(except);
    let counted = 0;
    for (const endpoint of this.#fingerprints.get(fingerprint) ?? []) {
      if (!excluded.has(endpoint)) counted += 1;
      if (counted >= limit) break;
    }
    return counted;
  }

  /** With the lifecycle record from memory (null: none stored), so the backend reads no table either. */
  async getDeviceWithProfile(endpoint: string): Promise<DeviceWithProfile> {
    const device = this.#devices.get(endpoint);
    if (device === undefined) return {};
    const profile = this.#profiles.get(device.profile);
    // Not held: left out, and the backend asks getLifecycle, which goes to the table.
    if (this.#lifecyclesUnread.has(endpoint)) return profile === undefined ? { device } : { device, profile };
    const lifecycle = this.#lifecycles.get(endpoint) ?? null;
    return profile === undefined ? { device, lifecycle } : { device, profile, lifecycle };
  }

  /**
   * Decides from memory, as the table's conditional write would, and writes behind without a
   * condition: memory holds the newest outcome the table has (loaded at start, re-read after
   * other processes' writes) and every one written since.
   */
  async recordStatus(endpoint: string, status: DeviceStatus): Promise<boolean> {
    // Once closed and drained, straight through; while draining, queued behind the same
    // endpoint's unconditional write, which could otherwise land after it.
    if (this.#closed && this.#outcomes.size === 0) return this.#store.recordStatus(endpoint, status);
    const device = this.#devices.get(endpoint);
    if (device === undefined) return false;
    if (device.status !== undefined && !isNewerOrSame(status, device.status)) return false;
    this.#devices.set(endpoint, deepFreeze({ ...device, status }));
    this.#outcomes.add(endpoint, status);
    return true;
  }

  recordUnknownEndpoint(endpoint: string, at: string): Promise<void> {
    // A counter increment: nothing to serve from memory, and each one must count.
    return this.#store.recordUnknownEndpoint(endpoint, at);
  }

  /**
   * From memory: the record the table held after the last write this process made or heard of.
   * A writer deciding on it is safe even if another process's write is still on its way here:
   * its conditional write then fails, which re-reads the record (see `putLifecycle`).
   */
  async getLifecycle(endpoint: string): Promise<LifecycleRecord | undefined> {
    if (this.#lifecyclesUnread.has(endpoint)) await this.#refreshLifecycle(endpoint);
    return this.#lifecycles.get(endpoint);
  }

  /**
   * Written through, conditionally (see BootstrapStore), then into memory; when the condition
   * fails the record is re-read before the answer, so the caller's next read sees the winner's.
   *
   * What keeps memory the table's record: this process's writes, re-reads and drops for one
   * endpoint run one after another (a re-read started before a write could otherwise land after
   * it with the older record); other processes' writes reach `refresh` through the change proxy
   * before their writer hears back. What could still leave it stale: a write that bypasses the
   * proxy (nothing here does; the CLI is given the proxy's address). A write or re-read that
   * fails leaves the record unread instead, so the next ask reads the table.
   */
  putLifecycle(endpoint: string, record: LifecycleRecord, expected?: LifecycleRecord | null): Promise<boolean> {
    return this.#lifecycleTask(endpoint, async () => {
      let written: boolean;
      try {
        written = await this.#store.putLifecycle(endpoint, record, expected);
      } catch (error) {
        // The write may have landed or not: memory cannot tell, the table can.
        this.#setLifecycle(endpoint, 'unread');
        throw error;
      }
      if (!written) {
        await this.#rereadLifecycle(endpoint);
        return false;
      }
      // Parsed, as a read from the table returns it (defaults filled in); also a copy the caller cannot change.
      this.#setLifecycle(endpoint, lifecycleRecordSchema.parse(record));
      return true;
    });
  }

  /**
   * Re-reads the items another process wrote (table keys, as the change proxy reports them).
   * Resolves once memory matches what the table held after those writes.
   */
  async refresh(keys: readonly Item[]): Promise<void> {
    // A device's item and status item share a partition, and one re-read covers both; its
    // lifecycle item, in the same partition, is read on its own.
    const partitions = new Set<string | undefined>();
    const lifecycles = new Set<string>();
    for (const key of keys) {
      const partitionKey = stringAttribute(key, PARTITION_KEY);
      if (partitionKey?.startsWith(ITEM_KIND.deviceLifecycle.prefix) && stringAttribute(key, SORT_KEY) === ITEM_KIND.deviceLifecycle.sortKey) {
        lifecycles.add(partitionKey.slice(ITEM_KIND.deviceLifecycle.prefix.length));
      } else {
        partitions.add(partitionKey);
      }
    }
    await Promise.all([...[...partitions].map((partitionKey) => this.#refreshKey(partitionKey)), ...[...lifecycles].map((endpoint) => this.#refreshLifecycle(endpoint))]);
  }

  /** Resolves once every outcome recorded so far is in the table (or given up and logged). */
  flushed(): Promise<void> {
    return this.#outcomes.flushed();
  }

  /** Flushes outcomes; later outcomes are written straight through. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#outcomes.flushed();
  }

  #refreshKey(partitionKey: string | undefined): Promise<void> {
    if (partitionKey === undefined) return Promise.resolve();
    // A read started before the latest write could return the older item: chain them per key.
    return runInTurn(this.#refreshing, partitionKey, () => this.#reread(partitionKey));
  }

  #refreshLifecycle(endpoint: string): Promise<void> {
    return this.#lifecycleTask(endpoint, () => this.#rereadLifecycle(endpoint));
  }

  #lifecycleTask<T>(endpoint: string, work: () => Promise<T>): Promise<T> {
    return runInTurn(this.#lifecycleWork, endpoint, work);
  }

  /** Only inside a lifecycle task. A failed read leaves the record unread: the next ask goes to the table. */
  async #rereadLifecycle(endpoint: string): Promise<void> {
    let record: LifecycleRecord | undefined;
    try {
      record = await this.#store.getLifecycle(endpoint);
    } catch (error) {
      this.#setLifecycle(endpoint, 'unread');
      throw error;
    }
    this.#setLifecycle(endpoint, record);
  }

  #setLifecycle(endpoint: string, record: LifecycleRecord | 'unread' | undefined): void {
    if (record === 'unread') {
      this.#lifecycles.delete(endpoint);
      this.#lifecyclesUnread.add(endpoint);
      return;
    }
    this.#lifecyclesUnread.delete(endpoint);
    if (record === undefined) this.#lifecycles.delete(endpoint);
    else this.#lifecycles.set(endpoint, deepFreeze(record));
  }

  async #reread(partitionKey: string): Promise<void> {
    if (partitionKey.startsWith(ITEM_KIND.profile.prefix)) {
      const name = partitionKey.slice(ITEM_KIND.profile.prefix.length);
      const profile = await this.#store.getProfile(name);
      if (profile === undefined) this.#profiles.delete(name);
      else this.#setProfile(profile);
    } else if (partitionKey.startsWith(ITEM_KIND.device.prefix)) {
      const endpoint = partitionKey.slice(ITEM_KIND.device.prefix.length);
      const device = await this.#store.getDevice(endpoint);
      if (device === undefined) this.#removeDevice(endpoint);
      else this.#setDevice(device);
    }
  }

  #setProfile(profile: Profile): void {
    this.#profiles.set(profile.name, deepFreeze(structuredClone(profile)));
  }

  /** Stores the configuration, keeping whichever outcome is newer: ours may not be written yet. */
  #setDevice(device: DeviceEntry): void {
    const held = this.#devices.get(device.endpoint);
    const { status: incoming, ...configuration } = structuredClone(device);
    const status = newerStatus(held?.status, incoming);
    this.#unindex(held);
    const entry: DeviceEntry = deepFreeze(status === undefined ? configuration : { ...configuration, status });
    this.#devices.set(device.endpoint, entry);
    const values = deviceIdentityValues(entry);
    for (const kind of IDENTITY_KINDS) {
      const value = values[kind];
      if (value === undefined) continue;
      const byValue = this.#identities.get(kind)!;
      const endpoints = byValue.get(value) ?? new Set<string>();
      endpoints.add(entry.endpoint);
      byValue.set(value, endpoints);
    }
    const fingerprint = deviceKeyFingerprint(entry);
    if (fingerprint !== undefined) this.#fingerprints.set(fingerprint, (this.#fingerprints.get(fingerprint) ?? new Set<string>()).add(entry.endpoint));
  }

  #removeDevice(endpoint: string): void {
    this.#unindex(this.#devices.get(endpoint));
    this.#devices.delete(endpoint);
    // Written now, it would be a status item without its device.
    this.#outcomes.forget(endpoint);
  }

  #unindex(device: DeviceEntry | undefined): void {
    if (device === undefined) return;
    const values = deviceIdentityValues(device);
    for (const kind of IDENTITY_KINDS) {
      const value = values[kind];
      if (value === undefined) continue;
      const byValue = this.#identities.get(kind)!;
      const endpoints = byValue.get(value);
      endpoints?.delete(device.endpoint);
      if (endpoints?.size === 0) byValue.delete(value);
    }
    const fingerprint = deviceKeyFingerprint(device);
    const holders = fingerprint === undefined ? undefined : this.#fingerprints.get(fingerprint);
    holders?.delete(device.endpoint);
    if (fingerprint !== undefined && holders?.size === 0) this.#fingerprints.delete(fingerprint);
  }
}

/** Runs `work` once the work queued before it under `key` has settled; the queue forgets idle keys. */
function runInTurn<T>(queue: Map<string, Promise<void>>, key: string, work: () => Promise<T>): Promise<T> {
  const previous = queue.get(key) ?? Promise.resolve();
  const next = previous.then(work);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  queue.set(key, settled);
  void settled.then(() => {
    if (queue.get(key) === settled) queue.delete(key);
  });
  return next;
}

function withoutStatus(device: DeviceEntry): DeviceEntry {
  const configuration: DeviceEntry = { ...device };
  delete configuration.status;
  return configuration;
}

/** Shared entries must not be changed by a caller; a write to a frozen object throws in strict code. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value) && !ArrayBuffer.isView(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
