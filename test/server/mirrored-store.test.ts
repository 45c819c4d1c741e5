import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deviceEntrySchema, type DeviceEntryInput, type DeviceStatus } from '../../shared/bootstrap/device.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { startChangeProxy, type RunningChangeProxy } from '../../server/store/change-proxy.ts';
import { localDynamoDbClient, startDynalite, type RunningDynalite } from '../../server/store/dynalite.ts';
import { DynamoDbBootstrapStore, type StatusEntry } from '../../server/store/dynamodb-store.ts';
import { MirroredStore } from '../../server/store/mirrored-store.ts';
import { ensureTable } from '../../server/store/table.ts';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** The real adapter with its `recordStatuses` replaced, as a failing or slow table would behave. */
function withRecordStatuses(table: DynamoDbBootstrapStore, recordStatuses: (entries: readonly StatusEntry[]) => Promise<void>): DynamoDbBootstrapStore {
  return new Proxy(table, {
    get(target, property) {
      if (property === 'recordStatuses') return recordStatuses;
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The item counts of the BatchWriteItems a client sends. */
function countBatchWrites(client: DynamoDBClient, tableName: string): number[] {
  const sizes: number[] = [];
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'BatchWriteItemCommand') sizes.push((args.input as { RequestItems: Record<string, unknown[]> }).RequestItems[tableName]?.length ?? 0);
      return next(args);
    },
    { step: 'initialize', name: 'countBatchWrites' },
  );
  return sizes;
}

const TABLE = 'mirror-test';

function device(endpoint: string, input: Partial<DeviceEntryInput> = {}) {
  return deviceEntrySchema.parse({ endpoint, profile: 'fleet', ...input });
}

function status(startedAt: string, sessionId = `s-${startedAt}`): DeviceStatus {
  return { sessionId, outcome: 'success', startedAt, endedAt: startedAt, kind: 'bs' };
}

const fleet = profileSchema.parse({ name: 'fleet', servers: [{ shortServerId: 101, uri: 'coap://lwm2m.example:5683', securityMode: 'nosec' }] });

describe('MirroredStore over dynalite, with the change proxy', () => {
  let dynalite: RunningDynalite;
  let proxy: RunningChangeProxy;
  let serverClient: DynamoDBClient;
  let cliClient: DynamoDBClient;
  let table: DynamoDbBootstrapStore;
  let cli: DynamoDbBootstrapStore;
  let mirror: MirroredStore;
  let batchWrites: number[];
  const logged: string[] = [];

  before(async () => {
    dynalite = await startDynalite();
    serverClient = localDynamoDbClient(dynalite.endpoint);
    batchWrites = countBatchWrites(serverClient, TABLE);
    await ensureTable(serverClient, TABLE);
    table = new DynamoDbBootstrapStore({ client: serverClient, tableName: TABLE });
    await table.putProfile(fleet);
    await table.putDevice(device('preloaded', { identities: { imsi: '001010000000001' } }));
    mirror = await MirroredStore.open({ store: table, log: (message) => logged.push(message) });
    proxy = await startChangeProxy({ target: dynalite.endpoint, tableName: TABLE, onChange: (keys) => mirror.refresh(keys) });
    // A second process's client (the CLI), which only knows the proxy's endpoint.
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

  it('loads what the table held at start and serves the hot path from memory', async () => {
    const { device: found, profile } = await mirror.getDeviceWithProfile('preloaded');
    assert.equal(found?.endpoint, 'preloaded');
    assert.equal(profile?.name, 'fleet');
    assert.equal((await mirror.findDevice('imsi', '001010000000001'))?.endpoint, 'preloaded');
    // Shared, so frozen: a caller cannot change the mirror behind its back.
    assert.throws(() => {
      (found as { profile: string }).profile = 'other';
    }, TypeError);
  });

  it('sees a device another client writes through the proxy as soon as that write returns', async () => {
    assert.equal(await mirror.getDevice('from-cli'), undefined);
    await cli.putDevice(device('from-cli', { identities: { iccid: '8988303000000000001' } }));
    assert.equal((await mirror.getDevice('from-cli'))?.profile, 'fleet');
    assert.equal((await mirror.findDevice('iccid', '8988303000000000001'))?.endpoint, 'from-cli');

    await cli.putDevice(device('from-cli', { profile: 'other' }));
    assert.equal((await mirror.getDevice('from-cli'))?.profile, 'other');
    assert.equal(await mirror.findDevice('iccid', '8988303000000000001'), undefined, 'the dropped identity is no longer indexed');
  });

  it('sees profiles written and devices and profiles deleted through the proxy', async () => {
    await cli.putProfile({ ...fleet, name: 'late' });
    assert.equal((await mirror.getProfile('late'))?.name, 'late');
    await cli.deleteProfile('late');
    assert.equal(await mirror.getProfile('late'), undefined);

    await cli.putDevice(device('doomed'));
    assert.ok(await mirror.getDevice('doomed'));
    assert.equal(await cli.deleteDevice('doomed'), true);
    assert.equal(await mirror.getDevice('doomed'), undefined);
    assert.deepEqual(await mirror.getDeviceWithProfile('doomed'), {});
  });

  it('records outcomes in memory at once and in the table after flushing', async () => {
    await mirror.putDevice(device('outcome-1'));
    assert.equal(await mirror.recordStatus('outcome-1', status('2026-01-01T00:00:01Z')), true);
    assert.equal((await mirror.getDevice('outcome-1'))?.status?.startedAt, '2026-01-01T00:00:01Z');
    await mirror.flushed();
    assert.equal((await table.getDevice('outcome-1'))?.status?.sessionId, 's-2026-01-01T00:00:01Z');
    assert.equal(await mirror.recordStatus('nobody', status('2026-01-01T00:00:01Z')), false, 'unknown endpoints are refused like the table refuses them');
  });

  it('keeps outcomes of one endpoint in session order, in memory and in the table', async () => {
    await mirror.putDevice(device('ordered'));
    const outcomes = Array.from({ length: 20 }, (_, index) => status(`2026-02-01T00:00:${String(index).padStart(2, '0')}Z`));
    for (const outcome of outcomes) assert.equal(await mirror.recordStatus('ordered', outcome), true);
    // An older session's late outcome loses, from memory, without waiting for the table.
    assert.equal(await mirror.recordStatus('ordered', status('2026-02-01T00:00:05Z', 'late')), false);
    const writesBefore = batchWrites.length;
    await mirror.flushed();
    assert.equal((await table.getDevice('ordered'))?.status?.sessionId, outcomes.at(-1)!.sessionId);
    assert.equal((await mirror.getDevice('ordered'))?.status?.sessionId, outcomes.at(-1)!.sessionId);
    // One in flight, the newest waiting: the ones in between were never written.
    assert.ok(batchWrites.length - writesBefore <= 2, `${batchWrites.length - writesBefore} writes`);
  });

  it('keeps an outcome not yet written when another client rewrites the device, and the table keeps both', async () => {
    await mirror.putDevice(device('rewritten'));
    await mirror.recordStatus('rewritten', status('2026-03-01T00:00:00Z'));
    await cli.putDevice(device('rewritten', { identities: { imei: '490154203237518' } }));
    const seen = await mirror.getDevice('rewritten');
    assert.equal(seen?.identities.imei, '490154203237518');
    assert.equal(seen?.status?.startedAt, '2026-03-01T00:00:00Z');
    await mirror.flushed();
    const stored = await table.getDevice('rewritten');
    assert.equal(stored?.identities.imei, '490154203237518');
    assert.equal(stored?.status?.startedAt, '2026-03-01T00:00:00Z');
  });

  it('writes outcomes in batches of at most 25 while earlier batches are in flight', async () => {
    const endpoints = Array.from({ length: 200 }, (_, index) => `batched-${index}`);
    await mirror.putDevices(endpoints.map((endpoint) => device(endpoint)));
    await mirror.flushed();
    const writesBefore = batchWrites.length;
    for (const endpoint of endpoints) await mirror.recordStatus(endpoint, status('2026-03-02T00:00:00Z', `batch-${endpoint}`));
    await mirror.flushed();
    const sizes = batchWrites.slice(writesBefore);
    assert.equal(sizes.reduce((sum, size) => sum + size, 0), 200);
    assert.ok(sizes.every((size) => size <= 25));
    assert.ok(sizes.length <= 20, `${sizes.length} requests for 200 outcomes`);
    const page = await table.listDevices();
    const written = page.items.filter((entry) => entry.endpoint.startsWith('batched-'));
    assert.ok(written.every((entry) => entry.status?.sessionId === `batch-${entry.endpoint}`));
  });

  it('writes every queued outcome before close() resolves', async () => {
    const endpoints = Array.from({ length: 60 }, (_, index) => `closing-${index}`);
    await mirror.putDevices(endpoints.map((endpoint) => device(endpoint)));
    for (const endpoint of endpoints) await mirror.recordStatus(endpoint, status('2026-04-01T00:00:00Z', `close-${endpoint}`));
    assert.ok(mirror.size.pendingOutcomes > 0, 'outcomes are written behind');
    await mirror.close();
    for (const endpoint of endpoints) assert.equal((await table.getDevice(endpoint))?.status?.sessionId, `close-${endpoint}`);
    // Closed, it writes straight through with the table's condition.
    assert.equal(await mirror.recordStatus('closing-0', status('2026-04-01T00:00:01Z', 'after-close')), true);
    assert.equal((await table.getDevice('closing-0'))?.status?.sessionId, 'after-close');
    assert.equal(await mirror.recordStatus('closing-0', status('2026-03-01T00:00:00Z')), false);
    assert.deepEqual(logged, []);
  });
});

describe('MirroredStore outcome write failures', () => {
  let dynalite: RunningDynalite;
  let client: DynamoDBClient;
  let table: DynamoDbBootstrapStore;
  let tables = 0;

  before(async () => {
    dynalite = await startDynalite();
    client = localDynamoDbClient(dynalite.endpoint, { maxAttempts: 1 });
  });

  after(async () => {
    client.destroy();
    await dynalite.close();
  });

  async function freshTable(endpoints: readonly string[]): Promise<void> {
    const tableName = `${TABLE}-${(tables += 1)}`;
    await ensureTable(client, tableName);
    table = new DynamoDbBootstrapStore({ client, tableName });
    await table.putProfile(fleet);
    for (const endpoint of endpoints) await table.putDevice(device(endpoint));
  }

  it('retries a failed batch and logs it, and logs (never drops silently) outcomes it gives up', async () => {
    await freshTable(['flaky', 'hopeless']);
    let failures = 0;
    const flaky = withRecordStatuses(table, async (entries) => {
      if (entries.some((entry) => entry.endpoint === 'hopeless') || failures++ < 2) throw new Error('ThrottlingException: slow down');
      return table.recordStatuses(entries);
    });
    const logged: string[] = [];
    const mirror = await MirroredStore.open({ store: flaky, retryDelaysMs: [1, 1], log: (message) => logged.push(message) });
    await mirror.recordStatus('flaky', status('2026-05-01T00:00:00Z'));
    await mirror.flushed();
    await mirror.recordStatus('hopeless', status('2026-05-01T00:00:00Z'));
    await mirror.close();
    assert.equal((await table.getDevice('flaky'))?.status?.startedAt, '2026-05-01T00:00:00Z');
    assert.equal((await table.getDevice('hopeless'))?.status, undefined);
    assert.ok(logged.some((line) => line.includes('flaky') && line.includes('retrying')));
    assert.ok(logged.some((line) => line.includes('hopeless') && line.includes('NOT recorded after 3 attempts')));
  });

  it('writes the rest of a batch the table refuses for one outcome, and logs that one', async () => {
    const endpoints = Array.from({ length: 30 }, (_, index) => `mixed-${index}`);
    await freshTable(endpoints);
    let blocked: Promise<void> | undefined = new Promise((resolve) => setTimeout(resolve, 50));
    // The first batch is held back a moment, so the other outcomes queue up behind it as one batch.
    const slow = withRecordStatuses(table, async (entries) => {
      const wait = blocked;
      blocked = undefined;
      await wait;
      return table.recordStatuses(entries);
    });
    const logged: string[] = [];
    const mirror = await MirroredStore.open({ store: slow, outcomeConcurrency: 1, retryDelaysMs: [1, 1], log: (message) => logged.push(message) });
    // Over DynamoDB's 400 KB item limit: a ValidationException for the whole BatchWriteItem.
    const oversized: DeviceStatus = { ...status('2026-06-01T00:00:00Z', 'too-big'), reads: { '/3/0': 'x'.repeat(410_000) } };
    for (const [index, endpoint] of endpoints.entries()) await mirror.recordStatus(endpoint, index === 10 ? oversized : status('2026-06-01T00:00:00Z'));
    await mirror.close();
    for (const [index, endpoint] of endpoints.entries()) {
      assert.equal((await table.getDevice(endpoint))?.status?.sessionId, index === 10 ? undefined : 's-2026-06-01T00:00:00Z', endpoint);
    }
    assert.ok(logged.some((line) => line.includes('writing each alone')));
    assert.deepEqual(
      logged.filter((line) => line.includes('NOT recorded')),
      ['outcome of mixed-10 (session too-big) NOT recorded after 1 attempts: ValidationException: Item size has exceeded the maximum allowed size'],
    );
  });

  it('drops an outcome still waiting when its device is deleted', async () => {
    await freshTable(['doomed']);
    const written: string[] = [];
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = withRecordStatuses(table, async (entries) => {
      written.push(...entries.map((entry) => entry.status.sessionId));
      await held;
      return table.recordStatuses(entries);
    });
    const mirror = await MirroredStore.open({ store: slow, log: () => undefined });
    await mirror.recordStatus('doomed', status('2026-07-01T00:00:00Z', 'in-flight'));
    await mirror.recordStatus('doomed', status('2026-07-01T00:00:01Z', 'waiting'));
    assert.equal(mirror.size.pendingOutcomes, 2);
    assert.equal(await mirror.deleteDevice('doomed'), true);
    assert.equal(mirror.size.pendingOutcomes, 1);
    release();
    await mirror.close();
    assert.deepEqual(written, ['in-flight']);
    assert.equal(await table.getDevice('doomed'), undefined);
  });
});
