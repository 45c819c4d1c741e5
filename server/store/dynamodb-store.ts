import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { DeviceEntry, DeviceStatus } from '../../shared/bootstrap/device.ts';
import type { Profile } from '../../shared/bootstrap/profile.ts';
import type { BootstrapStore, BulkWriteResult, IdentityKind, Page } from '../../shared/bootstrap/store.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import {
  comparableTime,
  decodeDevice,
  decodeProfile,
  deviceDoc,
  deviceIdentityValues,
  deviceKey,
  encodeProfile,
  numberAttribute,
  profileKey,
  stringAttribute,
  unknownEndpointKey,
  type Item,
  type StoreWarning,
} from './item-codec.ts';
import { ProfileCache } from './profile-cache.ts';
import { DEVICE_ATTRIBUTE, IDENTITY_INDEX, IDENTITY_KINDS, ITEM_KIND, PARTITION_KEY, SORT_KEY } from './table.ts';

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
  /** UpdateItems in flight during a bulk write. */
  readonly writeConcurrency?: number;
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

/** A listing reads at most this many Scan pages before handing back a cursor. */
const MAX_SCANS_PER_PAGE = 20;

/**
 * The configuration store over one DynamoDB table (dynalite locally). No transactions: dynalite
 * has none, and every operation here is a single-item write. A bootstrap costs 3 requests: the
 * device, its profile (none while cached) and the outcome.
 */
export class DynamoDbBootstrapStore implements BootstrapStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #pageSize: number;
  readonly #writeConcurrency: number;
  readonly #profiles: ProfileCache;
  readonly #decodeDevice: (item: Item) => DeviceEntry;

  constructor(options: DynamoDbBootstrapStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#pageSize = options.pageSize ?? 100;
    this.#writeConcurrency = options.writeConcurrency ?? 16;
    this.#profiles = new ProfileCache(options.profileCacheTtlMs ?? 0, options.now ?? Date.now);
    const onWarning: StoreWarning | undefined = options.onWarning;
    this.#decodeDevice = (item) => decodeDevice(item, onWarning);
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
   * Writes the configuration and the identity attributes the indexes read, removing those the
   * device no longer has. An UpdateItem rather than a PutItem so the recorded status survives a
   * re-import; a `status` on the entry is ignored, as outcomes belong to `recordStatus`.
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

  async getDevice(endpoint: string): Promise<DeviceEntry | undefined> {
    const item = await this.#get(deviceKey(endpoint));
    return item ? this.#decodeDevice(item) : undefined;
  }

  listDevices(cursor?: string): Promise<Page<DeviceEntry>> {
    return this.#scanPage(ITEM_KIND.device.sortKey, cursor, this.#decodeDevice);
  }

  deleteDevice(endpoint: string): Promise<boolean> {
    return this.#deleteExisting(deviceKey(endpoint));
  }

  /**
   * One Query on the identity's index. Index items carry the configuration but not the status
   * (see IDENTITY_INDEX), so the device comes without `status`; `getDevice` has it. Two devices
   * sharing an identity is a configuration error, and reported as one.
   */
  async findDevice(kind: IdentityKind, value: string): Promise<DeviceEntry | undefined> {
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

  async getDeviceWithProfile(endpoint: string): Promise<{ device?: DeviceEntry; profile?: Profile }> {
    // Two GetItems, not one BatchGetItem: the profile's name is only known from the device.
    const device = await this.getDevice(endpoint);
    if (!device) return {};
    let profile = this.#profiles.get(device.profile);
    if (!profile) {
      profile = await this.getProfile(device.profile);
      if (profile) this.#profiles.set(profile);
    }
    return profile ? { device, profile } : { device };
  }

  /**
   * Stores the outcome unless the device holds one from a later session (by `startedAt`), in
   * one conditional UpdateItem, so a late `bootstrap-ended` never overwrites a newer outcome.
   * An unknown endpoint is refused the same way.
   */
  async recordStatus(endpoint: string, status: DeviceStatus): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: deviceKey(endpoint),
          UpdateExpression: 'SET #status = :status, #startedAt = :startedAt',
          ConditionExpression: 'attribute_exists(#pk) AND (attribute_not_exists(#startedAt) OR #startedAt <= :startedAt)',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#status': DEVICE_ATTRIBUTE.status, '#startedAt': DEVICE_ATTRIBUTE.statusStartedAt },
          ExpressionAttributeValues: { ':status': { S: JSON.stringify(status) }, ':startedAt': { S: comparableTime(status.startedAt) } },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
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

async function forEachBounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < items.length; index = next++) await work(items[index] as T);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
