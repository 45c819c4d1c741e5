import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { deviceEntrySchema, type DeviceEntryInput, type DeviceStatus } from '../../shared/bootstrap/device.ts';
import { profileSchema, type ProfileInput } from '../../shared/bootstrap/profile.ts';
import { localDynamoDbClient, startDynalite, type RunningDynalite } from '../../server/store/dynalite.ts';
import { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { InvalidCursorError } from '../../server/store/cursor.ts';
import { StoreCorruptionError } from '../../server/store/item-codec.ts';
import { ensureTable } from '../../server/store/table.ts';

const SECRET = '00112233445566778899aabbccddeeff';

function profile(name: string, input: Partial<ProfileInput> = {}) {
  return profileSchema.parse({ name, servers: [{ shortServerId: 101, uri: 'coaps://lwm2m.example:5684', securityMode: 'psk' }], ...input });
}

function device(endpoint: string, input: Partial<DeviceEntryInput> = {}) {
  return deviceEntrySchema.parse({ endpoint, profile: 'fleet', ...input });
}

function status(startedAt: string, outcome: DeviceStatus['outcome'] = 'success'): DeviceStatus {
  return { sessionId: `s-${startedAt}`, outcome, startedAt, endedAt: startedAt, kind: 'bs' };
}

/** Records the command name of every request the client sends. */
function countRequests(client: DynamoDBClient): string[] {
  const sent: string[] = [];
  client.middlewareStack.add(
    (next, context) => (args) => {
      sent.push(context.commandName ?? 'unknown');
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
  return sent;
}

describe('DynamoDbBootstrapStore over dynalite', () => {
  let dynalite: RunningDynalite;
  let client: DynamoDBClient;
  let store: DynamoDbBootstrapStore;
  let sent: string[];
  let tables = 0;

  /** A fresh table per test group keeps listings and counts independent. */
  async function freshStore(options: { profileCacheTtlMs?: number; now?: () => number; unprocessedRetryDelaysMs?: number[] } = {}): Promise<DynamoDbBootstrapStore> {
    const tableName = `store-test-${(tables += 1)}`;
    await ensureTable(client, tableName);
    return new DynamoDbBootstrapStore({ client, tableName, ...options });
  }

  before(async () => {
    dynalite = await startDynalite({});
    client = localDynamoDbClient(dynalite.endpoint);
    sent = countRequests(client);
    store = await freshStore();
  });

  after(async () => {
    client.destroy();
    await dynalite.close();
  });

  it('ensureTable is idempotent', async () => {
    await ensureTable(client, 'store-test-1');
  });

  it('round-trips profiles and reports deletes', async () => {
    const fleet = profile('fleet', { description: 'ünïcode ✓', acl: [{ objectId: 3, objectInstanceId: 0, rights: { '101': ['read', 'write'] }, owner: 101 }], contentFormat: 'senml-cbor' });
    await store.putProfile(fleet);
    assert.deepEqual(await store.getProfile('fleet'), fleet);
    assert.equal(await store.getProfile('absent'), undefined);

    const changed = profile('fleet', { description: 'second' });
    await store.putProfile(changed);
    assert.deepEqual(await store.getProfile('fleet'), changed);

    await store.putProfile(profile('other'));
    const page = await store.listProfiles();
    assert.deepEqual(page.items.map((item) => item.name).sort(), ['fleet', 'other']);
    assert.equal(page.cursor, undefined);

    assert.equal(await store.deleteProfile('other'), true);
    assert.equal(await store.deleteProfile('other'), false);
    assert.equal(await store.getProfile('other'), undefined);
  });

  it('round-trips devices with credentials and deletes them', async () => {
    const entry = device('urn:imei:490154203237518', {
      identities: { imsi: '310150123456789', iccid: '89014103211118510720', imei: '490154203237518' },
      bootstrapCredentials: { securityMode: 'psk', identity: 'dev-1', secretKey: SECRET.toUpperCase() },
      serverCredentials: { '101': { identity: 'dev-1@lwm2m', secretKey: SECRET } },
      oscore: { '101': { masterSecret: SECRET, senderId: '01', recipientId: '02' } },
      overrides: { servers: { '101': { lifetime: 300 } }, contentFormat: 112 },
    });
    await store.putDevice(entry);
    const stored = await store.getDevice(entry.endpoint);
    assert.deepEqual(stored, entry);
    assert.equal(stored?.bootstrapCredentials?.secretKey, SECRET);
    assert.equal(await store.getDevice('absent'), undefined);
    assert.equal(await store.deleteDevice(entry.endpoint), true);
    assert.equal(await store.deleteDevice(entry.endpoint), false);
    assert.equal(await store.getDevice(entry.endpoint), undefined);
  });

  it('keeps the recorded status when a device is imported again, and ignores a status on the entry', async () => {
    await store.putDevice(device('keeper', { identities: { imsi: '111111111' } }));
    assert.equal(await store.recordStatus('keeper', status('2024-05-01T10:00:00Z')), true);
    await store.putDevice({ ...device('keeper', { profile: 'fleet-2' }), status: status('2030-01-01T00:00:00Z', 'timeout') });
    const stored = await store.getDevice('keeper');
    assert.equal(stored?.profile, 'fleet-2');
    assert.deepEqual(stored?.status, status('2024-05-01T10:00:00Z'));
    assert.deepEqual(stored?.identities, {});
  });

  it('records an outcome only when it is not older than the stored one', async () => {
    await store.putDevice(device('ordered'));
    assert.equal(await store.recordStatus('ordered', status('2024-05-01T10:00:00.500Z')), true);
    // Older, and written with a different precision that sorts after it as text.
    assert.equal(await store.recordStatus('ordered', status('2024-05-01T10:00:00Z', 'timeout')), false);
    assert.equal((await store.getDevice('ordered'))?.status?.outcome, 'success');
    assert.equal(await store.recordStatus('ordered', status('2024-05-01T10:00:01Z', 'finish-failed')), true);
    assert.equal((await store.getDevice('ordered'))?.status?.outcome, 'finish-failed');
    // The same session reporting again is accepted.
    assert.equal(await store.recordStatus('ordered', status('2024-05-01T10:00:01Z', 'cancelled')), true);
  });

  it('keeps the status in its own item, which configuration writes and the indexes never touch', async () => {
    const table = await freshStoreTableName();
    const target = new DynamoDbBootstrapStore({ client, tableName: table });
    const entry = device('split', { identities: { imsi: '444444444' }, bootstrapCredentials: { securityMode: 'psk', identity: 'split-id', secretKey: SECRET } });
    await target.putDevice(entry);
    assert.equal(await target.recordStatus('split', status('2024-05-01T10:00:00.5Z')), true);
    const raw = async (sk: string) => (await client.send(new GetItemCommand({ TableName: table, Key: { PK: { S: 'DEVICE#split' }, SK: { S: sk } }, ConsistentRead: true }))).Item;
    const deviceItem = await raw('DEVICE');
    assert.equal(deviceItem?.status, undefined);
    assert.equal(deviceItem?.statusStartedAt, undefined);
    assert.deepEqual(Object.keys((await raw('STATUS')) ?? {}).sort(), ['PK', 'SK', 'status', 'statusStartedAt']);
    assert.deepEqual((await raw('STATUS'))?.statusStartedAt, { S: '2024-05-01T10:00:00.500Z' });

    // A configuration write leaves the status item alone, and the status does not disturb lookups.
    await target.putDevice({ ...entry, profile: 'fleet-2' });
    assert.deepEqual((await target.getDevice('split'))?.status, status('2024-05-01T10:00:00.5Z'));
    assert.deepEqual(await target.findDevice('imsi', '444444444'), { ...entry, profile: 'fleet-2' });
    assert.equal((await target.listDevices()).items.length, 1);

    // Deleting the device deletes both items.
    assert.equal(await target.deleteDevice('split'), true);
    assert.equal(await raw('DEVICE'), undefined);
    assert.equal(await raw('STATUS'), undefined);
  });

  it('writes a status for an unknown endpoint without checking, and never reads it as a device', async () => {
    const orphans = await freshStore();
    await orphans.putProfile(profile('fleet'));
    // No condition can look at the device item: the write is accepted, and stays invisible.
    assert.equal(await orphans.recordStatus('nobody', status('2024-05-01T10:00:00Z')), true);
    await orphans.recordStatuses([{ endpoint: 'nobody-2', status: status('2024-05-01T10:00:00Z') }]);
    assert.equal(await orphans.getDevice('nobody'), undefined);
    assert.deepEqual(await orphans.getDeviceWithProfile('nobody'), {});
    assert.deepEqual((await orphans.listDevices()).items, []);
    // A device deleted while its outcome was on the way does not come back.
    await orphans.putDevice(device('gone'));
    await orphans.deleteDevice('gone');
    await orphans.recordStatus('gone', status('2024-05-01T10:00:00Z'));
    assert.equal(await orphans.getDevice('gone'), undefined);
    assert.equal(await orphans.deleteDevice('gone'), false);
  });

  it('reads a status an earlier version kept on the device item, preferring the newer record', async () => {
    const table = await freshStoreTableName();
    const target = new DynamoDbBootstrapStore({ client, tableName: table });
    const legacy = (endpoint: string, outcome: DeviceStatus) =>
      client.send(
        new PutItemCommand({
          TableName: table,
          Item: {
            PK: { S: `DEVICE#${endpoint}` },
            SK: { S: 'DEVICE' },
            doc: { S: JSON.stringify({ endpoint, profile: 'fleet', identities: { imsi: '555555555' } }) },
            imsi: { S: '555555555' },
            status: { S: JSON.stringify(outcome) },
            statusStartedAt: { S: outcome.startedAt },
          },
        }),
      );
    await legacy('old-only', status('2024-01-01T00:00:00.000Z', 'timeout'));
    assert.deepEqual((await target.getDevice('old-only'))?.status, status('2024-01-01T00:00:00.000Z', 'timeout'));

    await legacy('old-then-new', status('2024-01-01T00:00:00.000Z', 'timeout'));
    assert.equal(await target.recordStatus('old-then-new', status('2024-02-01T00:00:00.000Z')), true);
    assert.deepEqual((await target.getDevice('old-then-new'))?.status, status('2024-02-01T00:00:00.000Z'));

    // A late outcome of an older session is written to the status item, but the newer legacy one still shows.
    await legacy('new-then-old', status('2024-03-01T00:00:00.000Z', 'finish-failed'));
    await target.recordStatus('new-then-old', status('2024-02-01T00:00:00.000Z'));
    assert.equal((await target.getDevice('new-then-old'))?.status?.outcome, 'finish-failed');

    const listed = new Map((await target.listDevices()).items.map((entry) => [entry.endpoint, entry.status?.outcome]));
    assert.deepEqual(Object.fromEntries(listed), { 'old-only': 'timeout', 'old-then-new': 'success', 'new-then-old': 'finish-failed' });
    // Re-importing keeps the legacy record readable; index lookups carry no status either way.
    await target.putDevice(device('old-only', { identities: { imsi: '555555556' } }));
    assert.equal((await target.getDevice('old-only'))?.status?.outcome, 'timeout');
    assert.equal((await target.findDevice('imsi', '555555556'))?.status, undefined);
  });

  it('writes statuses in batches of 25, unconditionally, the latest session per endpoint', async () => {
    const batched = await freshStore();
    const endpoints = Array.from({ length: 60 }, (_, index) => `batched-${index}`);
    await batched.putDevices(endpoints.map((endpoint) => device(endpoint)));
    await batched.recordStatus('batched-0', status('2030-01-01T00:00:00Z'));
    const start = sent.length;
    await batched.recordStatuses([
      // Twice for one endpoint, the later session first: it is the one written.
      { endpoint: 'batched-1', status: status('2024-06-01T00:00:02Z', 'timeout') },
      ...endpoints.map((endpoint) => ({ endpoint, status: status('2024-06-01T00:00:01Z') })),
    ]);
    assert.deepEqual(sent.slice(start), Array(3).fill('BatchWriteItemCommand'));
    // The caller decided the order: an older outcome replaces a newer one.
    assert.equal((await batched.getDevice('batched-0'))?.status?.startedAt, '2024-06-01T00:00:01Z');
    assert.equal((await batched.getDevice('batched-1'))?.status?.outcome, 'timeout');
    const page = await batched.listDevices();
    assert.equal(page.items.length, 60);
    assert.ok(page.items.every((entry) => entry.status !== undefined));
    await batched.recordStatuses([]);
  });

  it('re-sends the writes a BatchWriteItem leaves unprocessed, and fails when they stay so', async () => {
    const table = await freshStoreTableName();
    const throttled = localDynamoDbClient(dynalite.endpoint);
    // Makes dynalite look throttled: a BatchWriteItem writes only its first `throughput` items
    // and hands the rest back as unprocessed.
    let throughput = 10;
    let batchWrites = 0;
    throttled.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'BatchWriteItemCommand') return next(args);
        batchWrites += 1;
        const input = args.input as { RequestItems: Record<string, unknown[]> };
        const writes = input.RequestItems[table] ?? [];
        const rest = writes.slice(throughput);
        // Nothing processed: answer without dynalite, which refuses an empty request.
        if (throughput === 0) return { output: { UnprocessedItems: { [table]: rest }, $metadata: {} }, response: {} } as Awaited<ReturnType<typeof next>>;
        const result = await next({ ...args, input: { ...input, RequestItems: { [table]: writes.slice(0, throughput) } } });
        if (rest.length > 0) (result.output as { UnprocessedItems?: unknown }).UnprocessedItems = { [table]: rest };
        return result;
      },
      { step: 'initialize', name: 'throttle' },
    );
    try {
      const target = new DynamoDbBootstrapStore({ client: throttled, tableName: table, unprocessedRetryDelaysMs: [1, 1, 1] });
      const endpoints = Array.from({ length: 25 }, (_, index) => `throttled-${index}`);
      await target.putDevices(endpoints.map((endpoint) => device(endpoint)));
      await target.recordStatuses(endpoints.map((endpoint) => ({ endpoint, status: status('2024-07-01T00:00:00Z') })));
      assert.equal(batchWrites, 3);
      for (const endpoint of endpoints) assert.equal((await target.getDevice(endpoint))?.status?.startedAt, '2024-07-01T00:00:00Z', endpoint);

      throughput = 0;
      batchWrites = 0;
      await assert.rejects(target.recordStatuses([{ endpoint: 'throttled-0', status: status('2024-07-02T00:00:00Z') }]), /left 1 of 1 writes unprocessed after 4 attempts/);
      assert.equal(batchWrites, 4);
    } finally {
      throttled.destroy();
    }
  });

  it('counts unknown endpoints', async () => {
    const counting = await freshStore();
    await counting.recordUnknownEndpoint('stranger', '2024-05-01T10:00:00.000Z');
    await counting.recordUnknownEndpoint('stranger', '2024-05-01T10:05:00.000Z');
    await counting.recordUnknownEndpoint('other', '2024-05-01T11:00:00.000Z');
    const page = await counting.listUnknownEndpoints();
    const byName = new Map(page.items.map((item) => [item.endpoint, item]));
    assert.deepEqual(byName.get('stranger'), { endpoint: 'stranger', count: 2, firstSeen: '2024-05-01T10:00:00.000Z', lastSeen: '2024-05-01T10:05:00.000Z' });
    assert.equal(byName.get('other')?.count, 1);
    assert.equal(await counting.getDevice('stranger'), undefined);
    assert.deepEqual((await counting.listDevices()).items, []);
  });

  it('finds devices by IMSI, ICCID, IMEI and PSK identity, and forgets removed identities', async () => {
    const entry = device('findable', {
      identities: { imsi: '222222222', iccid: '8901410321111851072F', imei: '35209900176148' },
      bootstrapCredentials: { securityMode: 'psk', identity: 'find-me', secretKey: SECRET },
    });
    await store.putDevice(entry);
    await store.recordStatus('findable', status('2024-05-01T10:00:00Z'));
    for (const [kind, value] of [['imsi', '222222222'], ['iccid', '8901410321111851072F'], ['imei', '35209900176148'], ['pskIdentity', 'find-me']] as const) {
      // Index items carry the configuration, not the status.
      assert.deepEqual(await store.findDevice(kind, value), entry, kind);
    }
    assert.equal(await store.findDevice('imsi', '999999999'), undefined);

    // A non-PSK identity is not a PSK identity.
    await store.putDevice(device('findable', { identities: { imsi: '222222222' }, bootstrapCredentials: { securityMode: 'x509', identity: 'find-me' } }));
    assert.equal((await store.findDevice('imsi', '222222222'))?.endpoint, 'findable');
    assert.equal(await store.findDevice('iccid', '8901410321111851072F'), undefined);
    assert.equal(await store.findDevice('imei', '35209900176148'), undefined);
    assert.equal(await store.findDevice('pskIdentity', 'find-me'), undefined);

    await store.deleteDevice('findable');
    assert.equal(await store.findDevice('imsi', '222222222'), undefined);
  });

  it('refuses an identity two devices share, naming them', async () => {
    await store.putDevice(device('twin-a', { identities: { imsi: '333333333' } }));
    await store.putDevice(device('twin-b', { identities: { imsi: '333333333' } }));
    await assert.rejects(store.findDevice('imsi', '333333333'), /more than one device has this imsi: twin-[ab], twin-[ab]/);
  });

  it('pages through more than one page of devices, and refuses a bad cursor', async () => {
    const listing = await freshStore();
    const endpoints = Array.from({ length: 230 }, (_, index) => `paged-${index}`);
    const result = await listing.putDevices(endpoints.map((endpoint) => device(endpoint)));
    assert.deepEqual(result, { written: 230, rejected: [] });
    await listing.putProfile(profile('fleet'));
    await listing.recordUnknownEndpoint('stranger', '2024-05-01T10:00:00Z');
    // Status items for every other device, and one without a device: none of them is listed.
    const withStatus = endpoints.filter((_, index) => index % 2 === 0);
    await listing.recordStatuses([...withStatus, 'paged-orphan'].map((endpoint) => ({ endpoint, status: status('2024-05-01T10:00:00Z') })));

    const seen: string[] = [];
    const statused: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    const start = sent.length;
    do {
      const page = await listing.listDevices(cursor);
      assert.ok(page.items.length <= 100);
      seen.push(...page.items.map((item) => item.endpoint));
      statused.push(...page.items.filter((item) => item.status?.outcome === 'success').map((item) => item.endpoint));
      cursor = page.cursor;
      pages += 1;
    } while (cursor !== undefined);
    assert.equal(pages, 3);
    assert.deepEqual(seen.sort(), [...endpoints].sort());
    assert.deepEqual(statused.sort(), [...withStatus].sort());
    assert.equal(sent.slice(start).filter((command) => command === 'BatchGetItemCommand').length, 3, 'one BatchGetItem of status items per page');

    const first = await listing.listDevices();
    assert.equal(first.items.length, 100);
    assert.ok(first.cursor);
    for (const bad of ['not a cursor', 'e30', Buffer.from('{"PK":{"S":"x"}}').toString('base64url'), Buffer.from('{"PK":{"N":"1"},"SK":{"S":"x"}}').toString('base64url')]) {
      await assert.rejects(listing.listDevices(bad), InvalidCursorError, bad);
    }
  });

  it('imports 500 devices with bounded parallel writes', async () => {
    const bulk = await freshStore();
    const devices = Array.from({ length: 500 }, (_, index) =>
      device(`bulk-${index}`, { identities: { imsi: String(100_000_000 + index) }, bootstrapCredentials: { securityMode: 'psk', identity: `bulk-id-${index}`, secretKey: SECRET } }),
    );
    const result = await bulk.putDevices(devices);
    assert.deepEqual(result, { written: 500, rejected: [] });
    assert.equal((await bulk.findDevice('pskIdentity', 'bulk-id-499'))?.endpoint, 'bulk-499');
    assert.equal((await bulk.getDevice('bulk-250'))?.identities.imsi, '100000250');
  });

  it('reports rows a bulk write could not store', async () => {
    const bulk = await freshStore();
    const huge = device('huge', { overrides: { servers: { '101': { uri: 'coap://x' } } } });
    // Over DynamoDB's 400 KB item limit: the store refuses it, the other rows are written.
    const oversized = { ...huge, serverCredentials: Object.fromEntries(Array.from({ length: 1700 }, (_, index) => [String(index + 1), { secretKey: SECRET.repeat(8) }])) };
    const result = await bulk.putDevices([device('fine-1'), oversized, device('fine-2')]);
    assert.equal(result.written, 2);
    assert.equal(result.rejected.length, 1);
    assert.equal(result.rejected[0]?.endpoint, 'huge');
    assert.doesNotMatch(result.rejected[0]?.reason ?? '', new RegExp(SECRET, 'i'));
  });

  it('names the key of a corrupted item, never its content', async () => {
    const table = await freshStoreTableName();
    const put = (item: Record<string, { S: string }>) => client.send(new PutItemCommand({ TableName: table, Item: item }));
    const target = new DynamoDbBootstrapStore({ client, tableName: table });

    await put({ PK: { S: 'DEVICE#broken' }, SK: { S: 'DEVICE' }, doc: { S: JSON.stringify({ endpoint: 'broken', profile: 'fleet', bootstrapCredentials: { securityMode: 'psk', secretKey: `${SECRET}zz` } }) } });
    await assert.rejects(target.getDevice('broken'), (error: unknown) => {
      assert.ok(error instanceof StoreCorruptionError);
      assert.equal(error.itemKey, 'DEVICE#broken/DEVICE');
      assert.match(error.message, /DEVICE#broken.*bootstrapCredentials\.secretKey/);
      assert.doesNotMatch(error.message, new RegExp(SECRET));
      return true;
    });
    await assert.rejects(target.listDevices(), StoreCorruptionError);

    await put({ PK: { S: 'DEVICE#truncated' }, SK: { S: 'DEVICE' }, doc: { S: `{"endpoint":"truncated","secretKey":"${SECRET}` } });
    await assert.rejects(target.getDevice('truncated'), (error: unknown) => {
      assert.ok(error instanceof StoreCorruptionError);
      assert.match(error.message, /DEVICE#truncated.*not valid JSON/);
      assert.doesNotMatch(error.message, new RegExp(SECRET));
      return true;
    });

    await put({ PK: { S: 'DEVICE#moved' }, SK: { S: 'DEVICE' }, doc: { S: JSON.stringify({ endpoint: 'elsewhere', profile: 'fleet' }) } });
    await assert.rejects(target.getDevice('moved'), /DEVICE#moved.*does not match/);

    await put({ PK: { S: 'PROFILE#odd' }, SK: { S: 'PROFILE' }, doc: { S: JSON.stringify({ name: 'odd', servers: [] }) } });
    await assert.rejects(target.getProfile('odd'), /PROFILE#odd\/PROFILE.*servers/);
  });

  it('reads a device whose recorded status the schema refuses without that status, and warns naming the key', async () => {
    const table = await freshStoreTableName();
    const warnings: string[] = [];
    const target = new DynamoDbBootstrapStore({ client, tableName: table, onWarning: (message) => warnings.push(message) });
    await target.putProfile(profile('fleet'));
    const doc = (endpoint: string) => ({ S: JSON.stringify({ endpoint, profile: 'fleet', bootstrapCredentials: { securityMode: 'psk', identity: endpoint, secretKey: SECRET } }) });
    const put = (endpoint: string, status: { S: string } | { N: string }) =>
      client.send(new PutItemCommand({ TableName: table, Item: { PK: { S: `DEVICE#${endpoint}` }, SK: { S: 'DEVICE' }, doc: doc(endpoint), status, pskIdentity: { S: endpoint } } }));
    // What an older version might have written: another outcome name and a field since renamed.
    await put('old-status', { S: JSON.stringify({ sessionId: 's-0', outcome: 'maybe', startedAt: '2024-01-01T00:00:00Z', endedAt: '2024-01-01T00:00:01Z', kind: 'bs', note: SECRET }) });
    await put('torn-status', { S: `{"sessionId":"${SECRET}` });
    await put('number-status', { N: '1' });

    for (const endpoint of ['old-status', 'torn-status', 'number-status']) {
      const stored = await target.getDevice(endpoint);
      assert.equal(stored?.endpoint, endpoint);
      assert.equal(stored?.status, undefined);
      assert.equal(stored?.bootstrapCredentials?.secretKey, SECRET);
    }
    assert.equal(warnings.length, 3);
    assert.match(warnings[0]!, /^stored item DEVICE#old-status\/DEVICE is corrupted: attribute status: outcome: Invalid option.*; \(root\): Unrecognized key: "note"; device read without its last bootstrap outcome$/);
    assert.match(warnings[1]!, /DEVICE#torn-status\/DEVICE.*attribute status is not valid JSON/);
    assert.match(warnings[2]!, /DEVICE#number-status\/DEVICE.*attribute status is not a string/);
    for (const warning of warnings) assert.ok(!warning.includes(SECRET) && !warning.includes('maybe'), warning);

    // The hot path and listings read it too, and the next bootstrap's outcome wins over the bad one.
    assert.equal((await target.getDeviceWithProfile('old-status')).profile?.name, 'fleet');
    assert.equal((await target.listDevices()).items.length, 3);
    assert.equal(await target.recordStatus('old-status', status('2025-01-01T00:00:00.000Z')), true);
    assert.equal((await target.getDevice('old-status'))?.status?.outcome, 'success');
    // Without a listener the status is dropped all the same.
    assert.equal((await new DynamoDbBootstrapStore({ client, tableName: table }).getDevice('torn-status'))?.status, undefined);

    // A status item the schema refuses is dropped the same way, naming that item.
    warnings.length = 0;
    await client.send(new PutItemCommand({ TableName: table, Item: { PK: { S: 'DEVICE#torn-status' }, SK: { S: 'STATUS' }, status: { S: `{"detail":"${SECRET}` } } }));
    const torn = await target.getDevice('torn-status');
    assert.equal(torn?.status, undefined);
    assert.equal(torn?.bootstrapCredentials?.secretKey, SECRET);
    assert.equal(warnings.length, 2);
    assert.match(warnings[1]!, /DEVICE#torn-status\/STATUS.*attribute status is not valid JSON/);
    assert.ok(warnings.every((warning) => !warning.includes(SECRET)));
  });

  it('loads device (with its status) and profile in two requests, one while the profile is cached', async () => {
    let now = 1_000;
    const cached = await freshStore({ profileCacheTtlMs: 5_000, now: () => now });
    await cached.putProfile(profile('fleet'));
    await cached.putDevice(device('hot'));
    await cached.putDevice(device('orphan', { profile: 'missing' }));

    const requestsFor = async (work: () => Promise<unknown>): Promise<string[]> => {
      const start = sent.length;
      await work();
      return sent.slice(start);
    };
    let loaded: Awaited<ReturnType<typeof cached.getDeviceWithProfile>> | undefined;
    assert.deepEqual(await requestsFor(async () => (loaded = await cached.getDeviceWithProfile('hot'))), ['QueryCommand', 'GetItemCommand']);
    assert.equal(loaded?.device?.endpoint, 'hot');
    assert.equal(loaded?.profile?.name, 'fleet');
    assert.deepEqual(await requestsFor(() => cached.getDeviceWithProfile('hot')), ['QueryCommand']);
    assert.deepEqual(await requestsFor(() => cached.recordStatus('hot', status('2024-05-01T10:00:00Z'))), ['PutItemCommand']);
    assert.deepEqual(await requestsFor(async () => (loaded = await cached.getDeviceWithProfile('hot'))), ['QueryCommand']);
    assert.equal(loaded?.device?.status?.startedAt, '2024-05-01T10:00:00Z');

    // A profile written through the store is not served stale.
    await cached.putProfile(profile('fleet', { description: 'new' }));
    assert.equal((await cached.getDeviceWithProfile('hot')).profile?.description, 'new');
    now += 5_001;
    assert.deepEqual(await requestsFor(() => cached.getDeviceWithProfile('hot')), ['QueryCommand', 'GetItemCommand']);

    assert.deepEqual(await cached.getDeviceWithProfile('nobody'), {});
    const orphan = await cached.getDeviceWithProfile('orphan');
    assert.equal(orphan.device?.endpoint, 'orphan');
    assert.equal('profile' in orphan, false);

    // Without a cache, every call reads the profile.
    assert.deepEqual(await requestsFor(() => store.getDeviceWithProfile('ordered')), ['QueryCommand', 'GetItemCommand']);
  });

  async function freshStoreTableName(): Promise<string> {
    const tableName = `store-test-${(tables += 1)}`;
    await ensureTable(client, tableName);
    return tableName;
  }
});
