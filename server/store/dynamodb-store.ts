import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
  type DynamoDBClient,
  type PutItemCommandInput,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { DeviceEntry, DeviceStatus } from '../../shared/bootstrap/device.ts';
import type { Profile } from '../../shared/bootstrap/profile.ts';
import type { BootstrapStore, BulkWriteResult, DeviceWithProfile, Page } from '../../shared/bootstrap/store.ts';
import type { LifecycleRecord } from '../../shared/lifecycle/lifecycle-record.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import {
  comparableTime,
  decodeDevice,
  decodeLifecycle,
  decodeProfile,
  deviceDoc,
  deviceIdentityValues,
  deviceKey,
  deviceKeyFingerprint,
  deviceLifecycleKey,
  deviceStatusKey,
  encodeDeviceStatus,
  encodeLifecycle,
  encodeProfile,
  isNewerOrSame,
  lifecycleDoc,
  numberAttribute,
  profileKey,
  stringAttribute,
  StoreCorruptionError,
  unknownEndpointKey,
  type Item,
  type StoreWarning,
} from './item-codec.ts';
import { ProfileCache } from './profile-cache.ts';
import {
  BATCH_GET_LIMIT,
  BATCH_WRITE_LIMIT,
  DEVICE_ATTRIBUTE,
  IDENTITY_INDEX,
  IDENTITY_KINDS,
  ITEM_KIND,
  KEY_FINGERPRINT_INDEX,
  LIFECYCLE_ATTRIBUTE,
  PARTITION_KEY,
  SORT_KEY,
  type StoredIdentityKind,
} from './table.ts';

export interface DynamoDbBootstrapStoreOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /**
   * How long the bootstrap hot path may reuse a profile it read, saving one GetItem per
   * bootstrap; 0 (the default) reads it every time. Writes through this store invalidate it.
   */
  readonly profileCacheTtlMs?: number;
  /** Items per listing page. */
  readonly pageSize?: number;
  /** UpdateItems in flight during a bulk write; BatchWriteItems in flight in `recordStatuses`. */
  readonly writeConcurrency?: number;
  /**
   * Waits before re-sending the writes (or keys) a batch request left unprocessed (throttling);
   * past the last one the call fails. Default 25 ms doubling to 1.6 s, each with jitter.
   */
  readonly unprocessedRetryDelaysMs?: readonly number[];
  readonly now?: () => number;
  /**
   * Told when a stored value is skipped rather than failing the read (a device's recorded
   * bootstrap outcome the current schema refuses). Messages name the item key, never values.
   */
  readonly onWarning?: (message: string) => void;
}

/** Counts of Bootstrap-Requests from endpoints the store does not know, for operators. */
export interface UnknownEndpoint {
  readonly endpoint: string;
  readonly count: number;
  readonly firstSeen?: string;
  readonly lastSeen?: string;
}

/** An outcome whose ordering the caller decided (see `recordStatuses`). */
export interface StatusEntry {
  readonly endpoint: string;
  readonly status: DeviceStatus;
}

/** One stored lifecycle record, as `listLifecycles` reads it; `record` is absent when the item does not decode. */
export interface StoredLifecycle {
  readonly endpoint: string;
  readonly record?: LifecycleRecord;
}

/** A listing reads at most this many Scan pages before handing back a cursor. */
const MAX_SCANS_PER_PAGE = 20;

const UNPROCESSED_RETRY_DELAYS_MS: readonly number[] = [25, 50, 100, 200, 400, 800, 1_600];

/**
 * The configuration store over one DynamoDB table (dynalite locally). No transactions: dynalite
 * has none, and every write here stands alone. A bootstrap costs 3 requests: one Query for the
 * device and its status item, a GetItem for its profile (none while cached) and a PutItem of
 * the outcome.
 *
 * A device's outcome lives in its own status item (see table.ts), which configuration writes
 * never touch. A condition cannot look at another item, so `recordStatus` does not check that
 * the device exists (that would cost a read per bootstrap): a status item without its device
 * item is never read as a device, and `deleteDevice` removes both.
 */
export class DynamoDbBootstrapStore implements BootstrapStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #pageSize: number;
  readonly #writeConcurrency: number;
  readonly #unprocessedRetryDelaysMs: readonly number[];
  readonly #profiles: ProfileCache;
  readonly #decodeDevice: (item: Item, statusItem?: Item) => DeviceEntry;
  readonly #onWarning: StoreWarning | undefined;

  constructor(options: DynamoDbBootstrapStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#pageSize = options.pageSize ?? 100;
    this.#writeConcurrency = options.writeConcurrency ?? 16;
    this.#unprocessedRetryDelaysMs = options.unprocessedRetryDelaysMs ?? UNPROCESSED_RETRY_DELAYS_MS;
    this.#profiles = new ProfileCache(options.profileCacheTtlMs ?? 0, options.now ?? Date.now);
    const onWarning: StoreWarning | undefined = options.onWarning;
    this.#onWarning = onWarning;
    this.#decodeDevice = (item, statusItem) => decodeDevice(item, onWarning, statusItem);
  }

  async putProfile(profile: Profile): Promise<void> {
    await this.#client.send(new PutItemCommand({ TableName: this.#table, Item: encodeProfile(profile) }));
    this.#profiles.forget(profile.name);
  }

  async getProfile(name: string): Promise<Profile | undefined> {
    const item = await this.#get(profileKey(name));
    return item ? decodeProfile(item) : undefined;
  }

  listProfiles(cursor?: string): Promise<Page<Profile>> {
    return this.#scanPage(ITEM_KIND.profile.sortKey, cursor, decodeProfile);
  }

  async deleteProfile(name: string): Promise<boolean> {
    const deleted = await this.#deleteExisting(profileKey(name));
    this.#profiles.forget(name);
    return deleted;
  }

  /**
   * Writes the configuration and the attributes the indexes read (identities, key fingerprint),
   * removing those the device no longer has. An UpdateItem rather than a PutItem so a status an earlier version
   * kept on the device item survives a re-import; a `status` on the entry is ignored, as
   * outcomes belong to `recordStatus`.
   */
  async putDevice(device: DeviceEntry): Promise<void> {
    const identities = deviceIdentityValues(device);
    const names: Record<string, string> = { '#doc': DEVICE_ATTRIBUTE.doc };
    const values: Item = { ':doc': { S: deviceDoc(device) } };
    const set = ['#doc = :doc'];
    const remove: string[] = [];
    for (const kind of IDENTITY_KINDS) {
      const placeholder = `#${kind}`;
      names[placeholder] = IDENTITY_INDEX[kind].attribute;
      const value = identities[kind];
      if (value === undefined) {
        remove.push(placeholder);
      } else {
        values[`:${kind}`] = { S: value };
        set.push(`${placeholder} = :${kind}`);
      }
    }
    const fingerprint = deviceKeyFingerprint(device);
    names['#keyFingerprint'] = KEY_FINGERPRINT_INDEX.attribute;
    if (fingerprint === undefined) remove.push('#keyFingerprint');
    else {
      values[':keyFingerprint'] = { S: fingerprint };
      set.push('#keyFingerprint = :keyFingerprint');
    }
    await this.#client.send(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: deviceKey(device.endpoint),
        UpdateExpression: `SET ${set.join(', ')}${remove.length > 0 ? ` REMOVE ${remove.join(', ')}` : ''}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  async putDevices(devices: readonly DeviceEntry[]): Promise<BulkWriteResult> {
    let written = 0;
    const rejected: { endpoint: string; reason: string }[] = [];
    await forEachBounded(devices, this.#writeConcurrency, async (device) => {
      try {
        await this.putDevice(device);
        written += 1;
      } catch (error) {
        // SDK errors name the failure (throttling, item size), never the values written.
        rejected.push({ endpoint: device.endpoint, reason: error instanceof Error ? `${error.name}: ${error.message}` : 'write failed' });
      }
    });
    return { written, rejected };
  }

  /** One strongly consistent Query on the device's partition: the device and its status item. */
  async getDevice(endpoint: string): Promise<DeviceEntry | undefined> {
    return (await this.#devicePartition(endpoint)).device;
  }

  /** The device's partition in one Query: the entry, its status and its lifecycle record. */
  async #devicePartition(endpoint: string): Promise<{ device?: DeviceEntry; lifecycleItem?: Item }> {
    const output = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': PARTITION_KEY },
        ExpressionAttributeValues: { ':pk': { S: ITEM_KIND.device.prefix + endpoint } },
        ConsistentRead: true,
      }),
    );
    const items = output.Items ?? [];
    const bySortKey = (sortKey: string) => items.find((item) => stringAttribute(item, SORT_KEY) === sortKey);
    const item = bySortKey(ITEM_KIND.device.sortKey);
    const lifecycleItem = bySortKey(ITEM_KIND.deviceLifecycle.sortKey);
    // A status item alone is an outcome that landed after its device was deleted: no device.
    if (!item) return {};
    const device = this.#decodeDevice(item, bySortKey(ITEM_KIND.deviceStatus.sortKey));
    return lifecycleItem === undefined ? { device } : { device, lifecycleItem };
  }

  /**
   * A page of device items (the Scan skips status items), then their status items in one
   * BatchGetItem per page: a Scan returning both kinds would have to stitch a device to a status
   * item the next page holds, and a page cut between them would show a device without status.
   */
  async listDevices(cursor?: string): Promise<Page<DeviceEntry>> {
    const page = await this.#scanPage(ITEM_KIND.device.sortKey, cursor, (item) => item);
    const statuses = await this.#getAll(page.items.map(statusKeyOf));
    const items = page.items.map((item) => this.#decodeDevice(item, statuses.get(stringAttribute(item, PARTITION_KEY) ?? '')));
    return page.cursor === undefined ? { items } : { items, cursor: page.cursor };
  }

  /**
   * Deletes the device item (whether it existed is the answer), then its status and lifecycle
   * items. An outcome landing between the two is deleted with it; one landing later stays as a
   * status item without a device, which no read returns (an endpoint imported again later would
   * show it as its last bootstrap). The lifecycle goes too: kept, it would tell a device imported
   * again under the same endpoint that it had been bootstrapped already.
   */
  async deleteDevice(endpoint: string): Promise<boolean> {
    const deleted = await this.#deleteExisting(deviceKey(endpoint));
    await Promise.all([
      this.#client.send(new DeleteItemCommand({ TableName: this.#table, Key: deviceStatusKey(endpoint) })),
      this.#client.send(new DeleteItemCommand({ TableName: this.#table, Key: deviceLifecycleKey(endpoint) })),
    ]);
    return deleted;
  }

  /**
   * One Query on the identity's index. Index items carry the configuration but not the status
   * (see IDENTITY_INDEX), so the device comes without `status`; `getDevice` has it. Two devices
   * sharing an identity is a configuration error, and reported as one.
   */
  async findDevice(kind: StoredIdentityKind, value: string): Promise<DeviceEntry | undefined> {
    const index = IDENTITY_INDEX[kind];
    const output = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        IndexName: index.indexName,
        KeyConditionExpression: '#identity = :value',
        ExpressionAttributeNames: { '#identity': index.attribute },
        ExpressionAttributeValues: { ':value': { S: value } },
        Limit: 2,
      }),
    );
    const items = output.Items ?? [];
    if (items.length > 1) {
      const endpoints = items.map((item) => this.#decodeDevice(item).endpoint);
      throw new Error(`more than one device has this ${kind}: ${endpoints.join(', ')}`);
    }
    const item = items[0];
    return item ? this.#decodeDevice(item) : undefined;
  }

  /**
   * Counts on the KEYS_ONLY fingerprint index, no further than `limit`: `Select COUNT` when no
   * endpoint is left out; otherwise the holders' table keys (all a KEYS_ONLY index item has
   * besides the fingerprint), as a count cannot say whose items it counted.
   */
  async countDevicesWithKeyFingerprint(fingerprint: string, limit: number, except: ReadonlySet<string> | readonly string[] = []): Promise<number> {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
    const excluded: ReadonlySet<string> = except instanceof Set ? except : new Set(except);
    const names = { '#fingerprint': KEY_FINGERPRINT_INDEX.attribute };
    let counted = 0;
    let startKey: Item | undefined;
    do {
      const output = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          IndexName: KEY_FINGERPRINT_INDEX.indexName,
          KeyConditionExpression: '#fingerprint = :fingerprint',
          ExpressionAttributeValues: { ':fingerprint': { S: fingerprint } },
          // Left-out holders are read too; past 100 of them the loop reads further pages.
          Limit: limit - counted + Math.min(excluded.size, 100),
          ...(excluded.size === 0
            ? { Select: 'COUNT' as const, ExpressionAttributeNames: names }
            : { ProjectionExpression: '#pk', ExpressionAttributeNames: { ...names, '#pk': PARTITION_KEY } }),
          ...(startKey !== undefined && { ExclusiveStartKey: startKey }),
        }),
      );
      counted +=
        excluded.size === 0
          ? (output.Count ?? 0)
          : (output.Items ?? []).filter((item) => !excluded.has((stringAttribute(item, PARTITION_KEY) ?? '').slice(ITEM_KIND.device.prefix.length))).length;
      startKey = output.LastEvaluatedKey;
    } while (counted < limit && startKey !== undefined);
    return Math.min(counted, limit);
  }

  async getDeviceWithProfile(endpoint: string): Promise<DeviceWithProfile> {
    // A Query then a GetItem, not one BatchGetItem: the profile's name is only known from the device.
    // The Query returns the lifecycle item too (same partition), which spares the backend a read.
    const { device, lifecycleItem } = await this.#devicePartition(endpoint);
    if (!device) return {};
    // Decoded here only: a bad lifecycle item must not make the device unreadable elsewhere.
    const lifecycle = lifecycleItem === undefined ? null : decodeLifecycle(lifecycleItem);
    let profile = this.#profiles.get(device.profile);
    if (!profile) {
      profile = await this.getProfile(device.profile);
      if (profile) this.#profiles.set(profile);
    }
    return profile ? { device, profile, lifecycle } : { device, lifecycle };
  }

  /**
   * Stores the outcome unless the status item holds one from a later session (by `startedAt`),
   * in one conditional PutItem, so a late `bootstrap-ended` never overwrites a newer outcome.
   *
   * The device's existence is not checked (see the class comment): for an unknown endpoint this
   * writes a status item no read returns, and answers true. The gateway only reports sessions
   * the backend planned, so the device existed when the session started. A status an earlier
   * version kept on the device item is not compared either; reads keep the newer of the two.
   */
  async recordStatus(endpoint: string, status: DeviceStatus): Promise<boolean> {
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: encodeDeviceStatus(endpoint, status),
          ConditionExpression: 'attribute_not_exists(#startedAt) OR #startedAt <= :startedAt',
          ExpressionAttributeNames: { '#startedAt': DEVICE_ATTRIBUTE.statusStartedAt },
          ExpressionAttributeValues: { ':startedAt': { S: comparableTime(status.startedAt) } },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Not part of BootstrapStore: writes outcomes whose ordering the caller decided (the local
   * mirror), unconditionally, with BatchWriteItem, 25 status items a request and up to
   * `writeConcurrency` requests in flight. Of several entries for one endpoint the latest
   * session's is written (a request may not name a key twice). Writes a request leaves
   * unprocessed are re-sent with backoff; the call fails if some remain after the last wait,
   * or if a request fails, and may then have written part of the entries. Writing them again
   * is harmless, as long as the caller has no newer outcome in flight for the same endpoint.
   * Like `recordStatus`, it does not check that the devices exist.
   */
  async recordStatuses(entries: readonly StatusEntry[]): Promise<void> {
    const latest = new Map<string, DeviceStatus>();
    for (const { endpoint, status } of entries) {
      const held = latest.get(endpoint);
      if (held === undefined || isNewerOrSame(status, held)) latest.set(endpoint, status);
    }
    const requests: WriteRequest[] = [...latest].map(([endpoint, status]) => ({ PutRequest: { Item: encodeDeviceStatus(endpoint, status) } }));
    const batches: WriteRequest[][] = [];
    for (let start = 0; start < requests.length; start += BATCH_WRITE_LIMIT) batches.push(requests.slice(start, start + BATCH_WRITE_LIMIT));
    await forEachBounded(batches, this.#writeConcurrency, (batch) => this.#batchWrite(batch));
  }

  async recordUnknownEndpoint(endpoint: string, at: string): Promise<void> {
    await this.#client.send(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: unknownEndpointKey(endpoint),
        UpdateExpression: 'SET #endpoint = :endpoint, #lastSeen = :at, #firstSeen = if_not_exists(#firstSeen, :at) ADD #count :one',
        ExpressionAttributeNames: { '#endpoint': 'endpoint', '#lastSeen': 'lastSeen', '#firstSeen': 'firstSeen', '#count': 'count' },
        ExpressionAttributeValues: { ':endpoint': { S: endpoint }, ':at': { S: at }, ':one': { N: '1' } },
      }),
    );
  }

  /** Strongly consistent, so a writer decides on the record its conditional write compares with. */
  async getLifecycle(endpoint: string): Promise<LifecycleRecord | undefined> {
    const item = await this.#get(deviceLifecycleKey(endpoint));
    return item ? decodeLifecycle(item) : undefined;
  }

  /**
   * One PutItem, conditional on the stored `doc` being the canonical text of `expected` (or on
   * no item, for null): the table compares the whole record, so no reader-writer interleaving
   * loses another writer's change. Like `recordStatus`, it does not check that the device exists.
   */
  async putLifecycle(endpoint: string, record: LifecycleRecord, expected?: LifecycleRecord | null): Promise<boolean> {
    const condition: Pick<PutItemCommandInput, 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'> =
      expected === undefined
        ? {}
        : expected === null
          ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': PARTITION_KEY } }
          : {
              ConditionExpression: '#doc = :expected',
              ExpressionAttributeNames: { '#doc': LIFECYCLE_ATTRIBUTE.doc },
              ExpressionAttributeValues: { ':expected': { S: lifecycleDoc(expected) } },
            };
    try {
      await this.#client.send(new PutItemCommand({ TableName: this.#table, Item: encodeLifecycle(endpoint, record), ...condition }));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Not part of BootstrapStore: every device's lifecycle record, a page at a time (the local
   * mirror loads them at start). An item that does not decode comes without `record`, told to
   * `onWarning`, rather than failing the listing: `getLifecycle` still reports it when asked.
   */
  listLifecycles(cursor?: string): Promise<Page<StoredLifecycle>> {
    return this.#scanPage(ITEM_KIND.deviceLifecycle.sortKey, cursor, (item) => {
      const endpoint = (stringAttribute(item, PARTITION_KEY) ?? '').slice(ITEM_KIND.deviceLifecycle.prefix.length);
      try {
        return { endpoint, record: decodeLifecycle(item) };
      } catch (error) {
        if (!(error instanceof StoreCorruptionError)) throw error;
        this.#onWarning?.(`${error.message}; listed without its lifecycle record`);
        return { endpoint };
      }
    });
  }

  /** Not part of BootstrapStore: what `recordUnknownEndpoint` counted, for operators. */
  listUnknownEndpoints(cursor?: string): Promise<Page<UnknownEndpoint>> {
    return this.#scanPage(ITEM_KIND.unknownEndpoint.sortKey, cursor, (item) => {
      const firstSeen = stringAttribute(item, 'firstSeen');
      const lastSeen = stringAttribute(item, 'lastSeen');
      return {
        endpoint: stringAttribute(item, 'endpoint') ?? (stringAttribute(item, PARTITION_KEY) ?? '').slice(ITEM_KIND.unknownEndpoint.prefix.length),
        count: numberAttribute(item, 'count') ?? 0,
        ...(firstSeen !== undefined && { firstSeen }),
        ...(lastSeen !== undefined && { lastSeen }),
      };
    });
  }

  async #get(key: Item): Promise<Item | undefined> {
    // Strongly consistent: a device imported a moment ago must bootstrap.
    const output = await this.#client.send(new GetItemCommand({ TableName: this.#table, Key: key, ConsistentRead: true }));
    return output.Item;
  }

  async #batchWrite(requests: readonly WriteRequest[]): Promise<void> {
    let pending = requests;
    for (let attempt = 0; ; attempt += 1) {
      const output = await this.#client.send(new BatchWriteItemCommand({ RequestItems: { [this.#table]: [...pending] } }));
      pending = output.UnprocessedItems?.[this.#table] ?? [];
      if (pending.length === 0) return;
      const delay = this.#unprocessedRetryDelaysMs[attempt];
      if (delay === undefined) throw new Error(`BatchWriteItem left ${pending.length} of ${requests.length} writes unprocessed after ${attempt + 1} attempts`);
      await sleep(jitter(delay));
    }
  }

  /** Strongly consistent BatchGetItem of any number of keys; the items found, by partition key. */
  async #getAll(keys: readonly Item[]): Promise<Map<string, Item>> {
    const found = new Map<string, Item>();
    for (let start = 0; start < keys.length; start += BATCH_GET_LIMIT) {
      let pending = keys.slice(start, start + BATCH_GET_LIMIT);
      for (let attempt = 0; pending.length > 0; attempt += 1) {
        const output = await this.#client.send(new BatchGetItemCommand({ RequestItems: { [this.#table]: { Keys: pending, ConsistentRead: true } } }));
        for (const item of output.Responses?.[this.#table] ?? []) found.set(stringAttribute(item, PARTITION_KEY) ?? '', item);
        pending = output.UnprocessedKeys?.[this.#table]?.Keys ?? [];
        if (pending.length === 0) break;
        const delay = this.#unprocessedRetryDelaysMs[attempt];
        if (delay === undefined) throw new Error(`BatchGetItem left ${pending.length} keys unprocessed after ${attempt + 1} attempts`);
        await sleep(jitter(delay));
      }
    }
    return found;
  }

  async #deleteExisting(key: Item): Promise<boolean> {
    try {
      await this.#client.send(
        new DeleteItemCommand({ TableName: this.#table, Key: key, ConditionExpression: 'attribute_exists(#pk)', ExpressionAttributeNames: { '#pk': PARTITION_KEY } }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * One page of the items of one kind. A Scan's Limit counts items read before the filter, so
   * pages are filled over several Scans; when a page fills mid-Scan the cursor is the last
   * returned item's key, which a Scan accepts as its start like any LastEvaluatedKey.
   */
  async #scanPage<T>(sortKey: string, cursor: string | undefined, decode: (item: Item) => T): Promise<Page<T>> {
    let startKey = cursor === undefined ? undefined : decodeCursor(cursor);
    const items: T[] = [];
    for (let scans = 0; scans < MAX_SCANS_PER_PAGE; scans += 1) {
      const output = await this.#client.send(
        new ScanCommand({
          TableName: this.#table,
          FilterExpression: '#sk = :sk',
          ExpressionAttributeNames: { '#sk': SORT_KEY },
          ExpressionAttributeValues: { ':sk': { S: sortKey } },
          Limit: this.#pageSize,
          ...(startKey !== undefined && { ExclusiveStartKey: startKey }),
        }),
      );
      const found = output.Items ?? [];
      for (const [position, item] of found.entries()) {
        items.push(decode(item));
        if (items.length < this.#pageSize) continue;
        const lastOfTable = position === found.length - 1 && output.LastEvaluatedKey === undefined;
        return lastOfTable ? { items } : { items, cursor: encodeCursor(tableKeyOf(item)) };
      }
      if (output.LastEvaluatedKey === undefined) return { items };
      startKey = output.LastEvaluatedKey;
    }
    return startKey === undefined ? { items } : { items, cursor: encodeCursor(startKey) };
  }
}

function tableKeyOf(item: Item): Item {
  const pk = item[PARTITION_KEY];
  const sk = item[SORT_KEY];
  if (pk === undefined || sk === undefined) throw new Error('scanned item without its table key');
  return { [PARTITION_KEY]: pk, [SORT_KEY]: sk };
}

/** The status item's key beside a device item: same partition, the status sort key. */
function statusKeyOf(deviceItem: Item): Item {
  const pk = deviceItem[PARTITION_KEY];
  if (pk === undefined) throw new Error('scanned item without its table key');
  return { [PARTITION_KEY]: pk, [SORT_KEY]: { S: ITEM_KIND.deviceStatus.sortKey } };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Spreads retries of requests that were throttled together. */
function jitter(ms: number): number {
  return ms * (0.5 + Math.random());
}

async function forEachBounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < items.length; index = next++) await work(items[index] as T);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
