import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  type CreateTableCommandInput,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import type { IdentityKind } from '../../shared/bootstrap/store.ts';

/**
 * The single-table data model as plain data, so the CDK stack and the adapter cannot drift.
 *
 * Items (every one keyed by `PK` and `SK`):
 * - profile: `PK=PROFILE#<name>`, `SK=PROFILE`, `doc` (the profile as JSON).
 * - device: `PK=DEVICE#<endpoint>`, `SK=DEVICE`, `doc` (the entry without its status, as JSON),
 *   and one attribute per identity the device has (`imsi`, `iccid`, `imei`, `pskIdentity`,
 *   `retiringPskIdentity`), and `keyFingerprint` when its Bootstrap-Server credential is a PSK
 *   whose fingerprint a writer took (KEY_FINGERPRINT_INDEX).
 *   Items an earlier version wrote may also hold `status` and `statusStartedAt`; they are still
 *   read (the newer of the two records wins) but no longer written.
 * - device status: `PK=DEVICE#<endpoint>`, `SK=STATUS`, `status` (the last bootstrap outcome as
 *   JSON) and `statusStartedAt` (ISO time, compared as a string). Apart from the device item so
 *   outcome writes never touch the configuration a CLI command may be writing at the same time,
 *   and can be batched. It carries no identity attribute, so no index holds it.
 * - device lifecycle: `PK=DEVICE#<endpoint>`, `SK=LIFECYCLE`, `doc` (the LifecycleRecord as
 *   canonical JSON: sorted keys, so equal records are equal text) and `lastEventTime` (the newest
 *   attach's time in UTC, for operators reading the table; absent before the first attach).
 *   Written with a condition that `doc` is still the text the writer read (or that the item
 *   does not exist), so of two racing writers one wins and the other reads and decides again.
 *   Beside `STATUS` in the device's partition; no identity attribute, so no index holds it.
 * - unknown endpoint: `PK=UNKNOWN#<endpoint>`, `SK=UNKNOWN`, `endpoint`, `count`, `firstSeen`, `lastSeen`.
 * - pending purge (the local scheduler only; on AWS EventBridge Scheduler holds them):
 *   `PK=PURGE#<schedule name>`, `SK=PURGE`, `doc` (the AccountPurge as JSON), `dueAt` (ISO time).
 */
export const DEFAULT_TABLE_NAME = 'lwm2m-bootstrap';

export const PARTITION_KEY = 'PK';
export const SORT_KEY = 'SK';

export const ITEM_KIND = {
  profile: { prefix: 'PROFILE#', sortKey: 'PROFILE' },
  device: { prefix: 'DEVICE#', sortKey: 'DEVICE' },
  /** Shares the device's partition, so one Query reads both. */
  deviceStatus: { prefix: 'DEVICE#', sortKey: 'STATUS' },
  deviceLifecycle: { prefix: 'DEVICE#', sortKey: 'LIFECYCLE' },
  unknownEndpoint: { prefix: 'UNKNOWN#', sortKey: 'UNKNOWN' },
} as const;

/**
 * Attributes of device and status items besides their keys: `doc` on the device item, `status`
 * and `statusStartedAt` on the status item (and on device items of earlier versions).
 */
export const DEVICE_ATTRIBUTE = {
  doc: 'doc',
  status: 'status',
  statusStartedAt: 'statusStartedAt',
} as const;

/** Attributes of the lifecycle item besides its keys. */
export const LIFECYCLE_ATTRIBUTE = {
  doc: 'doc',
  lastEventTime: 'lastEventTime',
} as const;

/** BatchWriteItem takes at most this many writes per request. */
export const BATCH_WRITE_LIMIT = 25;
/** BatchGetItem takes at most this many keys per request. */
export const BATCH_GET_LIMIT = 100;

/**
 * Every identity the table indexes: the store contract's kinds, and the PSK identity of a
 * Bootstrap-Server credential on its way out (replaced, still authenticating until its purge).
 */
export type StoredIdentityKind = IdentityKind | 'retiringPskIdentity';

export interface IdentityIndex {
  readonly indexName: string;
  /** The device item attribute holding the identity; only devices that have it are indexed. */
  readonly attribute: string;
}

/**
 * One sparse GSI per identity a device can be found by. IMEI gets an index too rather than a
 * filtered Scan: a Scan reads the whole table for one device, an index costs a write only for
 * devices that carry an IMEI.
 *
 * Projection is INCLUDE [`doc`], between the two usual choices: KEYS_ONLY would cost a GetItem
 * after every lookup (the PSK identity lookup sits on the DTLS handshake path), ALL would copy
 * the `status` device items of earlier versions still hold. With `doc` alone a lookup is one
 * Query; the price is that a device found this way comes without its status. Status items
 * carry no identity attribute, so outcome writes never touch an index.
 */
export const IDENTITY_INDEX: Readonly<Record<StoredIdentityKind, IdentityIndex>> = {
  imsi: { indexName: 'ByImsi', attribute: 'imsi' },
  iccid: { indexName: 'ByIccid', attribute: 'iccid' },
  imei: { indexName: 'ByImei', attribute: 'imei' },
  pskIdentity: { indexName: 'ByPskIdentity', attribute: 'pskIdentity' },
  /**
   * The first retiring Bootstrap-Server PSK identity: a device whose low-entropy account was
   * replaced still handshakes with the old identity until the client switches or the purge
   * runs, and the PSK lookup must find it then. Only devices in that window carry it.
   */
  retiringPskIdentity: { indexName: 'ByRetiringPskIdentity', attribute: 'retiringPskIdentity' },
};

export const IDENTITY_KINDS = Object.keys(IDENTITY_INDEX) as readonly StoredIdentityKind[];

export const INDEX_PROJECTED_ATTRIBUTES: readonly string[] = [DEVICE_ATTRIBUTE.doc];

/**
 * The sparse GSI over the fingerprint of each device's Bootstrap-Server PSK (seed 002: a key
 * "stored on multiple devices" is low entropy). It is only ever counted (Query, Select COUNT),
 * so KEYS_ONLY: the index copies no configuration, and no key material, beside the fingerprint.
 * Only devices whose current credential is a PSK with a key and a fingerprint carry the
 * attribute. Queries on a GSI are eventually consistent: a device written a moment ago may not
 * be counted yet.
 */
export const KEY_FINGERPRINT_INDEX: IdentityIndex = { indexName: 'ByKeyFingerprint', attribute: 'keyFingerprint' };

/** Every GSI of the table, for checks and grants. */
export const ALL_INDEXES: readonly IdentityIndex[] = [...Object.values(IDENTITY_INDEX), KEY_FINGERPRINT_INDEX];

/** CreateTable input for the whole model; on-demand billing, as a bootstrap fleet is bursty. */
export function createTableInput(tableName: string): CreateTableCommandInput {
  const indexes = Object.values(IDENTITY_INDEX);
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: PARTITION_KEY, AttributeType: 'S' },
      { AttributeName: SORT_KEY, AttributeType: 'S' },
      ...ALL_INDEXES.map((index) => ({ AttributeName: index.attribute, AttributeType: 'S' as const })),
    ],
    KeySchema: [
      { AttributeName: PARTITION_KEY, KeyType: 'HASH' },
      { AttributeName: SORT_KEY, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      ...indexes.map((index) => ({
        IndexName: index.indexName,
        KeySchema: [{ AttributeName: index.attribute, KeyType: 'HASH' as const }],
        Projection: { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: [...INDEX_PROJECTED_ATTRIBUTES] },
      })),
      {
        IndexName: KEY_FINGERPRINT_INDEX.indexName,
        KeySchema: [{ AttributeName: KEY_FINGERPRINT_INDEX.attribute, KeyType: 'HASH' as const }],
        Projection: { ProjectionType: 'KEYS_ONLY' as const },
      },
    ],
  };
}

export interface EnsureTableOptions {
  /** How long to wait for the table and its indexes to become ACTIVE. */
  readonly timeoutMs?: number;
  readonly pollMs?: number;
}

/**
 * Creates the table when it is missing and waits until it and its indexes are ACTIVE. An
 * existing table without one of the model's indexes is an error: the adapter's lookups would
 * fail later with a less helpful message.
 */
export async function ensureTable(client: DynamoDBClient, tableName: string, options: EnsureTableOptions = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  const pollMs = options.pollMs ?? 500;
  let table = await describe(client, tableName);
  if (!table) {
    try {
      await client.send(new CreateTableCommand(createTableInput(tableName)));
    } catch (error) {
      // Someone else created it between our describe and create: wait for theirs.
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    table = await describe(client, tableName);
  }
  for (;;) {
    if (table) {
      checkIndexes(table, tableName);
      if (isActive(table)) return;
    }
    if (Date.now() >= deadline) throw new Error(`table ${tableName} did not become ACTIVE in time`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    table = await describe(client, tableName);
  }
}

async function describe(client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

function isActive(table: TableDescription): boolean {
  return table.TableStatus === 'ACTIVE' && (table.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === undefined || index.IndexStatus === 'ACTIVE');
}

function checkIndexes(table: TableDescription, tableName: string): void {
  const present = new Set((table.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  const missing = ALL_INDEXES.filter((index) => !present.has(index.indexName));
  if (missing.length > 0) {
    throw new Error(
      `table ${tableName} lacks the index(es) ${missing.map((index) => index.indexName).join(', ')}; it was created by another tool or an earlier version ` +
        '(a local data directory from before: export what you need with `device list --show-secrets` and start a new one)',
    );
  }
}
