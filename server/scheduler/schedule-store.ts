import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  PutItemCommand,
  ScanCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { accountPurgeSchema, purgeScheduleNameOf, type AccountPurge } from '../../shared/lifecycle/purge.ts';
import { stringAttribute, type Item } from '../store/item-codec.ts';
import { PARTITION_KEY, SORT_KEY } from '../store/table.ts';

/**
 * Pending purges of the local scheduler, in the configuration table so they outlive a restart:
 * `PK=PURGE#<schedule name>`, `SK=PURGE`, `doc` (the AccountPurge as JSON) and `dueAt` (ISO).
 * On AWS EventBridge Scheduler holds them and these items are never written.
 */
export const PURGE_ITEM = { prefix: 'PURGE#', sortKey: 'PURGE' } as const;

export interface PendingPurge {
  readonly name: string;
  readonly purge: AccountPurge;
}

export interface ScheduleStore {
  /** Writes the purge under its schedule name, replacing whatever was pending there. */
  put(purge: AccountPurge): Promise<void>;
  /**
   * Removes the pending purge of that name; with `expected`, only while it is still that one
   * (a purge replaced while the old one ran must survive). False when nothing was removed.
   */
  delete(name: string, expected?: AccountPurge): Promise<boolean>;
  /** Every pending purge; items the schema refuses are reported and skipped. */
  list(): Promise<PendingPurge[]>;
}

export interface DynamoDbScheduleStoreOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Told of items skipped by `list`; names the item key only. */
  readonly onWarning?: (message: string) => void;
}

export class DynamoDbScheduleStore implements ScheduleStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #onWarning: (message: string) => void;

  constructor(options: DynamoDbScheduleStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#onWarning = options.onWarning ?? (() => undefined);
  }

  async put(purge: AccountPurge): Promise<void> {
    const checked = accountPurgeSchema.parse(purge);
    await this.#client.send(
      new PutItemCommand({
        TableName: this.#table,
        Item: { ...key(purgeScheduleNameOf(checked)), doc: { S: JSON.stringify(checked) }, dueAt: { S: checked.dueAt } },
      }),
    );
  }

  async delete(name: string, expected?: AccountPurge): Promise<boolean> {
    try {
      const output = await this.#client.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: key(name),
          ReturnValues: 'ALL_OLD',
          ...(expected !== undefined && {
            ConditionExpression: '#doc = :doc',
            ExpressionAttributeNames: { '#doc': 'doc' },
            // Written by `put` from the same parsed object, so the JSON text compares equal.
            ExpressionAttributeValues: { ':doc': { S: JSON.stringify(accountPurgeSchema.parse(expected)) } },
          }),
        }),
      );
      return output.Attributes !== undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * A Scan filtered on the key prefix reads the whole table. Acceptable here: it runs once, when
   * the local server starts, over a table holding one installation's devices, and a Query by
   * prefix would need an index every purge item and nothing else pays for. On AWS the pending
   * purges live in EventBridge Scheduler and this never runs.
   */
  async list(): Promise<PendingPurge[]> {
    const pending: PendingPurge[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const output = await this.#client.send(
        new ScanCommand({
          TableName: this.#table,
          FilterExpression: 'begins_with(#pk, :prefix) AND #sk = :sk',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY },
          ExpressionAttributeValues: { ':prefix': { S: PURGE_ITEM.prefix }, ':sk': { S: PURGE_ITEM.sortKey } },
          ...(startKey !== undefined && { ExclusiveStartKey: startKey }),
        }),
      );
      for (const item of output.Items ?? []) {
        const found = this.#decode(item);
        if (found !== undefined) pending.push(found);
      }
      startKey = output.LastEvaluatedKey;
    } while (startKey !== undefined);
    return pending;
  }

  #decode(item: Item): PendingPurge | undefined {
    const pk = stringAttribute(item, PARTITION_KEY) ?? '';
    const name = pk.slice(PURGE_ITEM.prefix.length);
    let doc: unknown;
    try {
      doc = JSON.parse(stringAttribute(item, 'doc') ?? '');
    } catch {
      doc = undefined;
    }
    const parsed = accountPurgeSchema.safeParse(doc);
    if (!parsed.success) {
      this.#onWarning(`skipped the pending purge ${pk}: its doc is not a valid AccountPurge`);
      return undefined;
    }
    if (purgeScheduleNameOf(parsed.data) !== name) {
      this.#onWarning(`skipped the pending purge ${pk}: its doc belongs to another schedule name`);
      return undefined;
    }
    return { name, purge: parsed.data };
  }
}

function key(name: string): Item {
  return { [PARTITION_KEY]: { S: `${PURGE_ITEM.prefix}${name}` }, [SORT_KEY]: { S: PURGE_ITEM.sortKey } };
}
