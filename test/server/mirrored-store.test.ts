import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deviceEntrySchema, type DeviceEntryInput, type DeviceStatus } from '../../shared/bootstrap/device.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { startChangeProxy, type RunningChangeProxy } from '../../server/store/change-proxy.ts';
import { localDynamoDbClient, startDynalite, type RunningDynalite } from '../../server/store/dynalite.ts';
import { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { MirroredStore } from '../../server/store/mirrored-store.ts';
import { ensureTable } from '../../server/store/table.ts';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

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
  const logged: string[] = [];

  before(async () => {
    dynalite = await startDynalite();
    serverClient = localDynamoDbClient(dynalite.endpoint);
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
    await mirror.flushed();
    assert.equal((await table.getDevice('ordered'))?.status?.sessionId, outcomes.at(-1)!.sessionId);
    assert.equal((await mirror.getDevice('ordered'))?.status?.sessionId, outcomes.at(-1)!.sessionId);
  });

  it('keeps an outcome not yet written when another client rewrites the device', async () => {
    await mirror.putDevice(device('rewritten'));
    await mirror.recordStatus('rewritten', status('2026-03-01T00:00:00Z'));
    await cli.putDevice(device('rewritten', { identities: { imei: '490154203237518' } }));
    const seen = await mirror.getDevice('rewritten');
    assert.equal(seen?.identities.imei, '490154203237518');
    assert.equal(seen?.status?.startedAt, '2026-03-01T00:00:00Z');
  });

  it('writes every queued outcome before close() resolves', async () => {
    const endpoints = Array.from({ length: 60 }, (_, index) => `closing-${index}`);
    await mirror.putDevices(endpoints.map((endpoint) => device(endpoint)));
    for (const endpoint of endpoints) await mirror.recordStatus(endpoint, status('2026-04-01T00:00:00Z', `close-${endpoint}`));
    assert.ok(mirror.size.pendingOutcomes > 0, 'outcomes are written behind');
    await mirror.close();
    for (const endpoint of endpoints) assert.equal((await table.getDevice(endpoint))?.status?.sessionId, `close-${endpoint}`);
    assert.deepEqual(logged, []);
  });
});

describe('MirroredStore outcome write failures', () => {
  it('retries a failed write and logs it, and logs (never drops silently) an outcome it gives up', async () => {
    const dynalite = await startDynalite();
    const client = localDynamoDbClient(dynalite.endpoint, { maxAttempts: 1 });
    try {
      await ensureTable(client, TABLE);
      const table = new DynamoDbBootstrapStore({ client, tableName: TABLE });
      await table.putProfile(fleet);
      await table.putDevice(device('flaky'));
      await table.putDevice(device('hopeless'));
      let failures = 0;
      const recordStatus = async (endpoint: string, outcome: DeviceStatus): Promise<boolean> => {
        if (endpoint === 'hopeless' || failures++ < 2) throw new Error('ThrottlingException: slow down');
        return table.recordStatus(endpoint, outcome);
      };
      // The real adapter, with outcome writes that fail as a throttled table would.
      const flaky = new Proxy(table, {
        get(target, property) {
          if (property === 'recordStatus') return recordStatus;
          const value: unknown = Reflect.get(target, property);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
      const logged: string[] = [];
      const mirror = await MirroredStore.open({ store: flaky, retryDelaysMs: [1, 1], log: (message) => logged.push(message) });
      await mirror.recordStatus('flaky', status('2026-05-01T00:00:00Z'));
      await mirror.recordStatus('hopeless', status('2026-05-01T00:00:00Z'));
      await mirror.close();
      assert.equal((await table.getDevice('flaky'))?.status?.startedAt, '2026-05-01T00:00:00Z');
      assert.ok(logged.some((line) => line.includes('flaky') && line.includes('retrying')));
      assert.ok(logged.some((line) => line.includes('hopeless') && line.includes('NOT recorded')));
    } finally {
      client.destroy();
      await dynalite.close();
    }
  });
});
