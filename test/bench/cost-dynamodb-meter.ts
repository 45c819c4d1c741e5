import { DescribeTableCommand, DynamoDBClient, type AttributeValue, type ConsumedCapacity } from '@aws-sdk/client-dynamodb';

/**
 * Counts what DynamoDB would bill the clients of a process: requests by operation, and read and
 * write request units.
 *
 * The uplink handler builds its own DynamoDBClient inside the module, so the meter reaches it the
 * only way it can without changing the handler: `DynamoDBClient.prototype.send` is wrapped, and
 * a client's first request adds a middleware to that client's own stack. The middleware asks
 * for `ReturnConsumedCapacity: TOTAL` when the request does not, and adds up what the answer
 * says. dynalite computes it by DynamoDB's size rules (reads: 4 KB a unit strongly consistent,
 * half that eventually consistent, a Query summing its items before rounding; writes: 1 KB a unit,
 * the larger of the old and the new item). It leaves out index writes, so the meter adds them
 * itself for PutItem: one write per GSI the new item carries the key of, 1 KB a unit of the
 * projected item. (UpdateItem and DeleteItem index writes are not estimated; they are counted
 * in `unestimatedIndexWrites` so a table can say so.)
 */
export interface DynamoDbUsage {
  readonly requests: Record<string, number>;
  readonly readUnits: number;
  readonly writeUnits: number;
  /** Of writeUnits: the index writes the meter estimated (dynalite reports none). */
  readonly indexWriteUnits: number;
  readonly failed: number;
  readonly unestimatedIndexWrites: number;
}

interface IndexShape {
  readonly keys: readonly string[];
  /** undefined: ALL. */
  readonly projected: readonly string[] | undefined;
}

const READ_OPERATIONS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
const WRITE_OPERATIONS = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

export class DynamoDbMeter {
  readonly #ignored = new WeakSet<DynamoDBClient>();
  readonly #attached = new WeakSet<DynamoDBClient>();
  #usage = emptyUsage();
  #tableKeys: readonly string[] = [];
  #indexes: readonly IndexShape[] = [];
  #restore: (() => void) | undefined;

  /** Reads the table's keys and indexes, then meters every DynamoDBClient but `own`. */
  async install(own: DynamoDBClient, tableName: string): Promise<void> {
    this.#ignored.add(own);
    const { Table } = await own.send(new DescribeTableCommand({ TableName: tableName }));
    this.#tableKeys = (Table?.KeySchema ?? []).map((key) => key.AttributeName ?? '');
    this.#indexes = (Table?.GlobalSecondaryIndexes ?? []).map((index) => ({
      keys: (index.KeySchema ?? []).map((key) => key.AttributeName ?? ''),
      projected: index.Projection?.ProjectionType === 'ALL' ? undefined : (index.Projection?.NonKeyAttributes ?? []),
    }));
    const prototype = DynamoDBClient.prototype as unknown as { send: (this: DynamoDBClient, ...args: unknown[]) => unknown };
    const original = prototype.send;
    const attach = (client: DynamoDBClient): void => this.#attach(client);
    prototype.send = function (this: DynamoDBClient, ...args: unknown[]) {
      attach(this);
      return original.apply(this, args);
    };
    this.#restore = () => {
      prototype.send = original;
    };
  }

  uninstall(): void {
    this.#restore?.();
    this.#restore = undefined;
  }

  /** What was counted since the last take, and a fresh start. */
  take(): DynamoDbUsage {
    const usage = this.#usage;
    this.#usage = emptyUsage();
    return usage;
  }

  #attach(client: DynamoDBClient): void {
    if (this.#ignored.has(client) || this.#attached.has(client)) return;
    this.#attached.add(client);
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        const input = args.input as Record<string, unknown>;
        const metered = READ_OPERATIONS.has(operation) || WRITE_OPERATIONS.has(operation);
        const request = metered && input['ReturnConsumedCapacity'] === undefined ? { ...args, input: { ...input, ReturnConsumedCapacity: 'TOTAL' } } : args;
        const usage = this.#usage;
        usage.requests[operation] = (usage.requests[operation] ?? 0) + 1;
        try {
          const result = await next(request);
          this.#addCapacity(usage, operation, (result.output as { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] }).ConsumedCapacity);
          if (operation === 'PutItem') this.#addIndexWrites(usage, input['Item'] as Record<string, AttributeValue> | undefined);
          else if (operation !== 'BatchWriteItem' && WRITE_OPERATIONS.has(operation) && this.#indexes.length > 0) usage.unestimatedIndexWrites += 1;
          return result;
        } catch (error) {
          usage.failed += 1;
          // A refused conditional write is billed as a write of the item's size.
          if (error instanceof Error && error.name === 'ConditionalCheckFailedException' && operation === 'PutItem') {
            usage.writeUnits += Math.max(1, Math.ceil(itemSize(input['Item'] as Record<string, AttributeValue>) / 1024));
          }
          throw error;
        }
      },
      { step: 'initialize', name: 'costMeter' },
    );
  }

  #addCapacity(usage: MutableUsage, operation: string, consumed: ConsumedCapacity | ConsumedCapacity[] | undefined): void {
    const units = (Array.isArray(consumed) ? consumed : consumed === undefined ? [] : [consumed]).reduce((sum, entry) => sum + (entry.CapacityUnits ?? 0), 0);
    if (READ_OPERATIONS.has(operation)) usage.readUnits += units;
    else usage.writeUnits += units;
  }

  #addIndexWrites(usage: MutableUsage, item: Record<string, AttributeValue> | undefined): void {
    if (item === undefined) return;
    for (const index of this.#indexes) {
      if (!index.keys.every((key) => item[key] !== undefined)) continue;
      const names = index.projected === undefined ? Object.keys(item) : [...new Set([...this.#tableKeys, ...index.keys, ...index.projected])];
      const projected = Object.fromEntries(names.filter((name) => item[name] !== undefined).map((name) => [name, item[name]!]));
      const units = Math.max(1, Math.ceil(itemSize(projected) / 1024));
      usage.writeUnits += units;
      usage.indexWriteUnits += units;
    }
  }
}

type MutableUsage = { -readonly [K in keyof DynamoDbUsage]: DynamoDbUsage[K] };

function emptyUsage(): MutableUsage {
  return { requests: {}, readUnits: 0, writeUnits: 0, indexWriteUnits: 0, failed: 0, unestimatedIndexWrites: 0 };
}

/** An item's size as DynamoDB counts it: names and values in bytes (numbers about half their digits). */
export function itemSize(item: Record<string, AttributeValue>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name) + valueSize(value);
  return size;
}

function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((sum, entry) => sum + Buffer.byteLength(entry), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, entry) => sum + numberSize(entry), 0);
  if (value.BS !== undefined) return value.BS.reduce((sum, entry) => sum + entry.byteLength, 0);
  if (value.L !== undefined) return 3 + value.L.reduce((sum, entry) => sum + 1 + valueSize(entry), 0);
  if (value.M !== undefined) return 3 + Object.entries(value.M).reduce((sum, [name, entry]) => sum + 1 + Buffer.byteLength(name) + valueSize(entry), 0);
  return 0;
}

function numberSize(text: string): number {
  const significant = text.replace(/[eE].*$/, '').replace(/[-+.]/g, '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(significant.length, 1) / 2) + 1;
}
