import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { deviceEntrySchema } from '../../shared/bootstrap/device.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { attachEventSchema } from '../../shared/lifecycle/attach-event.ts';
import { processAttach, type AttachStore } from '../../shared/lifecycle/attach-processing.ts';
import { emptyLifecycleRecord, type LifecycleRecord } from '../../shared/lifecycle/lifecycle-record.ts';
import { startChangeProxy, type RunningChangeProxy } from '../../server/store/change-proxy.ts';
import { localDynamoDbClient, startDynalite, type RunningDynalite } from '../../server/store/dynalite.ts';
import { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { StoreCorruptionError } from '../../server/store/item-codec.ts';
import { MirroredStore } from '../../server/store/mirrored-store.ts';
import { ensureTable } from '../../server/store/table.ts';

const CARD = '89340701234567890123';
const fleet = profileSchema.parse({ name: 'fleet', servers: [{ shortServerId: 101, uri: 'coap://lwm2m.example:5683', securityMode: 'nosec' }] });
const device = (endpoint: string, iccid?: string) => deviceEntrySchema.parse({ endpoint, profile: 'fleet', ...(iccid !== undefined && { identities: { iccid } }) });

function seen(eventId: string, eventTime: string): LifecycleRecord {
  return {
    lastAttach: { eventId, eventTime, iccid: CARD, address: '192.0.2.7', port: 5683, carrier: 'example-mno' },
    recentEventIds: [eventId],
    simChanges: [],
  };
}

function attach(eventId: string, eventTime: string) {
  return attachEventSchema.parse({ eventId, eventTime, carrier: 'example-mno', iccid: CARD, address: '192.0.2.7', port: 5683 });
}

/** Holds each reader's first getLifecycle answer until `count` readers have one: they decide on the same record. */
function readersMeet(store: DynamoDbBootstrapStore, count: number): AttachStore & { lost: number } {
  let waiting: (() => void)[] = [];
  let met = false;
  const wrapped = {
    lost: 0,
    findDevice: store.findDevice.bind(store),
    getProfile: store.getProfile.bind(store),
    putDevice: store.putDevice.bind(store),
    async getLifecycle(endpoint: string) {
      const record = await store.getLifecycle(endpoint);
      if (!met) {
        await new Promise<void>((resolve) => {
          waiting.push(resolve);
          if (waiting.length === count) {
            met = true;
            for (const release of waiting) release();
            waiting = [];
          }
        });
      }
      return record;
    },
    async putLifecycle(endpoint: string, record: LifecycleRecord, expected?: LifecycleRecord | null) {
      const written = await store.putLifecycle(endpoint, record, expected);
      if (!written) wrapped.lost += 1;
      return written;
    },
  };
  return wrapped;
}

describe('lifecycle items over dynalite', () => {
  let dynalite: RunningDynalite;
  let client: DynamoDBClient;
  let store: DynamoDbBootstrapStore;
  const TABLE = 'lifecycle-test';

  const raw = async (endpoint: string, sortKey: string) =>
    (await client.send(new GetItemCommand({ TableName: TABLE, Key: { PK: { S: `DEVICE#${endpoint}` }, SK: { S: sortKey } }, ConsistentRead: true }))).Item;

  before(async () => {
    dynalite = await startDynalite({});
    client = localDynamoDbClient(dynalite.endpoint);
    await ensureTable(client, TABLE);
    store = new DynamoDbBootstrapStore({ client, tableName: TABLE });
    await store.putProfile(fleet);
  });

  after(async () => {
    client.destroy();
    await dynalite.close();
  });

  it('round-trips a record beside the device, which reads and lists as before', async () => {
    await store.putDevice(device('rt-1', CARD));
    assert.equal(await store.getLifecycle('rt-1'), undefined);
    const record: LifecycleRecord = {
      ...seen('e1', '2026-11-23T10:00:00.000001+01:00'),
      bootstrapNeeded: { reason: 'never-bootstrapped', since: '2026-11-23T09:00:01.000Z' },
      simChanges: [{ from: CARD, to: '89340709876543210987', at: '2026-11-23T09:00:01.000Z' }],
    };
    assert.equal(await store.putLifecycle('rt-1', record, null), true);
    assert.deepEqual(await store.getLifecycle('rt-1'), record);

    const item = await raw('rt-1', 'LIFECYCLE');
    assert.deepEqual(Object.keys(item ?? {}).sort(), ['PK', 'SK', 'doc', 'lastEventTime']);
    assert.deepEqual(item?.['lastEventTime'], { S: '2026-11-23T09:00:00.000Z' }, 'in UTC, for operators reading the table');

    // The partition now holds three kinds of item; the device reads and lists as before.
    assert.equal((await store.getDevice('rt-1'))?.endpoint, 'rt-1');
    assert.equal((await store.findDevice('iccid', CARD))?.endpoint, 'rt-1');
    const listed: string[] = [];
    for (let cursor: string | undefined, first = true; first || cursor !== undefined; first = false) {
      const page = await store.listDevices(cursor);
      listed.push(...page.items.map((entry) => entry.endpoint));
      cursor = page.cursor;
    }
    assert.deepEqual(listed, ['rt-1']);
  });

  it('writes on the condition that the stored record is the one the writer read', async () => {
    const first = seen('e1', '2026-11-23T10:00:00Z');
    assert.equal(await store.putLifecycle('cond-1', first, null), true);
    assert.equal(await store.putLifecycle('cond-1', seen('x', '2026-11-23T11:00:00Z'), null), false, 'null: only when none is stored');

    // Read back, its keys in another order: the same record, so the write goes in.
    const read = (await store.getLifecycle('cond-1'))!;
    const reordered: LifecycleRecord = { simChanges: read.simChanges, recentEventIds: read.recentEventIds, ...(read.lastAttach && { lastAttach: { ...read.lastAttach } }) };
    const marked: LifecycleRecord = { ...first, bootstrapNeeded: { reason: 'operator', since: '2026-11-23T10:30:00.000Z' } };
    assert.equal(await store.putLifecycle('cond-1', marked, reordered), true);

    // The same last attach but another record (the mark): the whole record is compared.
    assert.equal(await store.putLifecycle('cond-1', first, first), false, 'an operator mark is not overwritten by a writer that read before it');
    assert.deepEqual(await store.getLifecycle('cond-1'), marked);

    assert.equal(await store.putLifecycle('cond-1', emptyLifecycleRecord()), true, 'no expectation: unconditional');
    assert.deepEqual(await store.getLifecycle('cond-1'), emptyLifecycleRecord());
    assert.deepEqual(Object.keys((await raw('cond-1', 'LIFECYCLE')) ?? {}).sort(), ['PK', 'SK', 'doc'], 'no lastEventTime before an attach');
  });

  it('of two writers racing from the same record, exactly one wins', async () => {
    for (const [round, expected] of [null, seen('base', '2026-11-23T08:00:00Z')].entries()) {
      const endpoint = `race-${round}`;
      if (expected !== null) await store.putLifecycle(endpoint, expected, null);
      const results = await Promise.all(
        ['a', 'b', 'c', 'd'].map((writer) => store.putLifecycle(endpoint, seen(writer, '2026-11-23T09:00:00Z'), expected)),
      );
      assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${results.join(',')}`);
      const winner = ['a', 'b', 'c', 'd'][results.indexOf(true)]!;
      assert.equal((await store.getLifecycle(endpoint))?.lastAttach?.eventId, winner);
    }
  });

  it('two attach handlers deciding on the same record: the loser decides again, and both events are taken', async () => {
    await store.putDevice(device('racer', '89340705555555555555'));
    const racing = readersMeet(store, 2);
    const event = (id: string) => ({ ...attach(id, '2026-11-23T12:00:00Z'), iccid: '89340705555555555555' });
    const results = await Promise.all([processAttach({ store: racing, now: () => new Date('2026-11-23T12:00:01Z') }, event('ev-1')), processAttach({ store: racing, now: () => new Date('2026-11-23T12:00:01Z') }, event('ev-2'))]);
    assert.equal(racing.lost, 1, 'one write lost the race');
    assert.deepEqual(
      results.map((result) => result.outcome),
      ['marked', 'marked'],
    );
    const record = await store.getLifecycle('racer');
    assert.deepEqual([...(record?.recentEventIds ?? [])].sort(), ['ev-1', 'ev-2'], 'neither event was lost');
    assert.equal(record?.lastAttach?.eventId, 'ev-2', 'the greater id of one instant is the last attach');
  });

  it('deleting a device deletes its lifecycle, so an endpoint imported again starts afresh', async () => {
    await store.putDevice(device('gone'));
    await store.putLifecycle('gone', seen('e1', '2026-11-23T10:00:00Z'));
    assert.equal(await store.deleteDevice('gone'), true);
    assert.equal(await store.getLifecycle('gone'), undefined);
    assert.equal(await raw('gone', 'LIFECYCLE'), undefined);
  });

  it('a stored record the schema refuses is reported by item key and field, without values', async () => {
    await client.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: { PK: { S: 'DEVICE#bad' }, SK: { S: 'LIFECYCLE' }, doc: { S: JSON.stringify({ recentEventIds: [], simChanges: [], bootstrapNeeded: { reason: 'whim', since: 'secret-ish' } }) } },
      }),
    );
    await assert.rejects(store.getLifecycle('bad'), (error) => {
      assert.ok(error instanceof StoreCorruptionError);
      assert.match(error.message, /DEVICE#bad\/LIFECYCLE/);
      assert.match(error.message, /bootstrapNeeded/);
      assert.doesNotMatch(error.message, /secret-ish|whim/);
      return true;
    });
  });
});

describe('lifecycle through the MirroredStore', () => {
  let dynalite: RunningDynalite;
  let proxy: RunningChangeProxy;
  let serverClient: DynamoDBClient;
  let cliClient: DynamoDBClient;
  let table: DynamoDbBootstrapStore;
  let cli: DynamoDbBootstrapStore;
  let mirror: MirroredStore;
  const TABLE = 'mirror-lifecycle';

  before(async () => {
    dynalite = await startDynalite();
    serverClient = localDynamoDbClient(dynalite.endpoint);
    await ensureTable(serverClient, TABLE);
    table = new DynamoDbBootstrapStore({ client: serverClient, tableName: TABLE });
    await table.putProfile(fleet);
    await table.putDevice(device('m-1', CARD));
    mirror = await MirroredStore.open({ store: table, log: () => undefined });
    proxy = await startChangeProxy({ target: dynalite.endpoint, tableName: TABLE, onChange: (keys) => mirror.refresh(keys) });
    cliClient = localDynamoDbClient(proxy.endpoint);
    cli = new DynamoDbBootstrapStore({ client: cliClient, tableName: TABLE });
  });

  after(async () => {
    await mirror.close();
    await proxy.close();
    cliClient.destroy();
    serverClient.destroy();
    await dynalite.close();
  });

  it('writes through at once and reads what another process wrote', async () => {
    const first = seen('e1', '2026-11-23T10:00:00Z');
    assert.equal(await mirror.putLifecycle('m-1', first, null), true);
    assert.deepEqual(await table.getLifecycle('m-1'), first, 'in the table when the write returns, not behind');

    // The CLI (through the change proxy) marks the device; the mirror reads its record, not a stale copy.
    const marked: LifecycleRecord = { ...first, bootstrapNeeded: { reason: 'operator', since: '2026-11-23T10:05:00.000Z' } };
    assert.equal(await cli.putLifecycle('m-1', marked, first), true);
    assert.deepEqual(await mirror.getLifecycle('m-1'), marked);
    assert.equal(await mirror.putLifecycle('m-1', seen('e2', '2026-11-23T11:00:00Z'), first), false, 'the condition holds through the mirror');

    // The proxy's refresh of the partition leaves the mirrored device as it was.
    assert.equal((await mirror.getDevice('m-1'))?.endpoint, 'm-1');
    assert.equal((await mirror.findDevice('iccid', CARD))?.endpoint, 'm-1');
  });
});
