import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { deviceEntrySchema } from '../../shared/bootstrap/device.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import type { LifecycleRecord } from '../../shared/lifecycle/lifecycle-record.ts';
import { startChangeProxy, type RunningChangeProxy } from '../../server/store/change-proxy.ts';
import { localDynamoDbClient, startDynalite, type RunningDynalite } from '../../server/store/dynalite.ts';
import { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { deviceLifecycleKey, StoreCorruptionError } from '../../server/store/item-codec.ts';
import { MirroredStore } from '../../server/store/mirrored-store.ts';
import { ensureTable } from '../../server/store/table.ts';

const TABLE = 'mirror-lifecycle-memory';
const fleet = profileSchema.parse({ name: 'fleet', servers: [{ shortServerId: 101, uri: 'coap://lwm2m.example:5683', securityMode: 'nosec' }] });
const device = (endpoint: string) => deviceEntrySchema.parse({ endpoint, profile: 'fleet' });

function seen(eventId: string, eventTime: string): LifecycleRecord {
  return {
    lastAttach: { eventId, eventTime, address: '192.0.2.7', port: 5683, carrier: 'example-mno' },
    recentEventIds: [eventId],
    simChanges: [],
  };
}

function marked(record: LifecycleRecord, since: string): LifecycleRecord {
  return { ...record, bootstrapNeeded: { reason: 'operator', since } };
}

/** The names of the commands a client sends, as the SDK's middleware sees them. */
function recordCommands(client: DynamoDBClient): string[] {
  const sent: string[] = [];
  client.middlewareStack.add(
    (next, context) => (args) => {
      sent.push(context.commandName ?? '?');
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  return sent;
}

describe('MirroredStore holds lifecycle records in memory', () => {
  let dynalite: RunningDynalite;
  let proxy: RunningChangeProxy;
  let serverClient: DynamoDBClient;
  let cliClient: DynamoDBClient;
  let table: DynamoDbBootstrapStore;
  let cli: DynamoDbBootstrapStore;
  let mirror: MirroredStore;
  let sent: string[];
  const warnings: string[] = [];
  const first = seen('e1', '2026-11-23T10:00:00Z');

  before(async () => {
    dynalite = await startDynalite();
    serverClient = localDynamoDbClient(dynalite.endpoint);
    sent = recordCommands(serverClient);
    await ensureTable(serverClient, TABLE);
    // A page size of 2 makes the load at open read several listing pages.
    table = new DynamoDbBootstrapStore({ client: serverClient, tableName: TABLE, pageSize: 2, onWarning: (message) => warnings.push(message) });
    await table.putProfile(fleet);
    for (const endpoint of ['held', 'none', 'corrupt', 'raced', 'doomed', 'p1', 'p2', 'p3']) await table.putDevice(device(endpoint));
    for (const endpoint of ['held', 'doomed', 'p1', 'p2', 'p3']) assert.equal(await table.putLifecycle(endpoint, first, null), true);
    // Written by a version whose record the schema now refuses.
    await serverClient.send(new PutItemCommand({ TableName: TABLE, Item: { ...deviceLifecycleKey('corrupt'), doc: { S: '{"recentEventIds":"not-a-list"}' } } }));
    mirror = await MirroredStore.open({ store: table, log: () => undefined });
    proxy = await startChangeProxy({ target: dynalite.endpoint, tableName: TABLE, onChange: (keys) => mirror.refresh(keys) });
    // Another process (the CLI), which reaches the table through the proxy only.
    cliClient = localDynamoDbClient(proxy.endpoint);
    cli = new DynamoDbBootstrapStore({ client: cliClient, tableName: TABLE });
  });

  beforeEach(() => {
    sent.length = 0;
  });

  after(async () => {
    await mirror.close();
    await proxy.close();
    cliClient.destroy();
    serverClient.destroy();
    await dynalite.close();
  });

  it('loads every record at open and answers from memory: the record, or null for a device without one', async () => {
    assert.equal(mirror.size.lifecycles, 5);
    const held = await mirror.getDeviceWithProfile('held');
    assert.equal(held.device?.endpoint, 'held');
    assert.equal(held.profile?.name, 'fleet');
    assert.deepEqual(held.lifecycle, first);
    const none = await mirror.getDeviceWithProfile('none');
    assert.equal(none.device?.endpoint, 'none');
    assert.equal(none.lifecycle, null);
    assert.deepEqual(await mirror.getLifecycle('held'), first);
    assert.equal(await mirror.getLifecycle('none'), undefined);
    assert.deepEqual(await mirror.getDeviceWithProfile('stranger'), {});
    assert.deepEqual(sent, [], 'no request to the table');
  });

  it('leaves out a record that does not decode, so the backend reads it from the table and fails as there', async () => {
    assert.ok(warnings.some((line) => line.includes('DEVICE#corrupt/LIFECYCLE') && line.includes('listed without its lifecycle record')));
    const result = await mirror.getDeviceWithProfile('corrupt');
    assert.equal(result.device?.endpoint, 'corrupt');
    assert.equal('lifecycle' in result, false);
    await assert.rejects(mirror.getLifecycle('corrupt'), StoreCorruptionError);
    assert.deepEqual(sent, ['GetItemCommand']);
  });

  it("keeps its own successful write, still conditional in the table, and hands out a copy the caller cannot change", async () => {
    const record = seen('n1', '2026-11-23T11:00:00Z');
    assert.equal(await mirror.putLifecycle('none', record, null), true);
    assert.deepEqual(sent, ['PutItemCommand']);
    assert.deepEqual(await table.getLifecycle('none'), record, 'in the table when the write returns');
    sent.length = 0;
    record.recentEventIds.push('changed-after');
    const { lifecycle } = await mirror.getDeviceWithProfile('none');
    assert.deepEqual(lifecycle?.recentEventIds, ['n1']);
    assert.ok(Object.isFrozen(lifecycle));
    assert.equal(await mirror.putLifecycle('none', seen('n2', '2026-11-23T12:00:00Z'), null), false, 'the condition still holds');
    assert.deepEqual(await mirror.getLifecycle('none'), seen('n1', '2026-11-23T11:00:00Z'));
    assert.deepEqual(sent, ['PutItemCommand', 'GetItemCommand']);
  });

  it("sees another process's write and delete through the change proxy, without reading on a bootstrap", async () => {
    const operatorMark = marked(first, '2026-11-23T10:05:00.000Z');
    assert.equal(await cli.putLifecycle('held', operatorMark, first), true);
    sent.length = 0;
    assert.deepEqual((await mirror.getDeviceWithProfile('held')).lifecycle, operatorMark);
    assert.deepEqual(await mirror.getLifecycle('held'), operatorMark);
    assert.deepEqual(sent, []);

    assert.equal(await cli.deleteDevice('doomed'), true);
    assert.deepEqual(await mirror.getDeviceWithProfile('doomed'), {});
    assert.equal(await mirror.getLifecycle('doomed'), undefined);
  });

  it('re-reads the record when its conditional write is lost to a write it never heard of', async () => {
    // Straight to dynalite, past the proxy: the one way memory can go stale.
    const unseen = marked(first, '2026-11-23T10:06:00.000Z');
    assert.equal(await table.putLifecycle('p1', unseen, first), true);
    assert.deepEqual(await mirror.getLifecycle('p1'), first, 'stale until a write fails');
    sent.length = 0;
    assert.equal(await mirror.putLifecycle('p1', seen('e2', '2026-11-23T11:00:00Z'), first), false);
    assert.deepEqual(sent, ['PutItemCommand', 'GetItemCommand']);
    sent.length = 0;
    assert.deepEqual((await mirror.getDeviceWithProfile('p1')).lifecycle, unseen, 'the winner, read before the answer');
    assert.deepEqual(sent, []);
    const next = { ...unseen, lastAttach: seen('e2', '2026-11-23T11:00:00Z').lastAttach };
    assert.equal(await mirror.putLifecycle('p1', next, unseen), true, 'deciding again on the re-read record succeeds');
    assert.deepEqual(await table.getLifecycle('p1'), next);
  });

  it('drops the record of a device it deletes', async () => {
    const before = mirror.size.lifecycles;
    assert.equal(await mirror.deleteDevice('p2'), true);
    assert.equal(await mirror.getLifecycle('p2'), undefined);
    assert.deepEqual(await mirror.getDeviceWithProfile('p2'), {});
    assert.equal(mirror.size.lifecycles, before - 1);
    assert.equal(await table.getLifecycle('p2'), undefined);
  });

  it('reads from the table after a write that failed, as it may have landed or not', async () => {
    // The adapter writes, then the answer is lost (a timeout after the table took the write).
    const flaky = new Proxy(table, {
      get(target, property) {
        if (property === 'putLifecycle') {
          return async (...args: Parameters<DynamoDbBootstrapStore['putLifecycle']>) => {
            await target.putLifecycle(...args);
            throw new Error('TimeoutError: no answer');
          };
        }
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const other = await MirroredStore.open({ store: flaky, log: () => undefined });
    const landed = seen('lost-answer', '2026-11-23T13:00:00Z');
    await assert.rejects(other.putLifecycle('raced', landed, null), /TimeoutError/);
    sent.length = 0;
    assert.equal('lifecycle' in (await other.getDeviceWithProfile('raced')), false, 'not handed out as known');
    assert.deepEqual(await other.getLifecycle('raced'), landed);
    assert.deepEqual(sent, ['GetItemCommand']);
    assert.deepEqual((await other.getDeviceWithProfile('raced')).lifecycle, landed, 'held again once read');
    await other.close();
  });

  it('ends with the table record after its writes race another process over the same record', async () => {
    let current = await mirror.getLifecycle('p3');
    for (let round = 0; round < 10; round += 1) {
      const expected = current ?? null;
      const ours = seen(`ours-${round}`, `2026-11-24T00:00:${String(round).padStart(2, '0')}Z`);
      const theirs = marked(ours, `2026-11-24T01:00:${String(round).padStart(2, '0')}.000Z`);
      const [wrote, theyWrote] = await Promise.all([mirror.putLifecycle('p3', ours, expected), cli.putLifecycle('p3', theirs, expected)]);
      assert.equal(Number(wrote) + Number(theyWrote), 1, 'one writer wins');
      current = await mirror.getLifecycle('p3');
      assert.deepEqual(current, await table.getLifecycle('p3'), `round ${round}`);
    }
  });
});
