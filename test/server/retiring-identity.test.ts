import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { deviceEntrySchema, type DeviceEntry } from '../../shared/bootstrap/device.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { promotePendingAccount, type PendingAccount } from '../../shared/lifecycle/account-replacement.ts';
import { localDynamoDbClient, startDynalite, type RunningDynalite } from '../../server/store/dynalite.ts';
import { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { deviceIdentityValues } from '../../server/store/item-codec.ts';
import { MirroredStore } from '../../server/store/mirrored-store.ts';
import { ensureTable, IDENTITY_INDEX } from '../../server/store/table.ts';

const TABLE = 'retiring-identity-test';
const ORIGINAL_KEY = '31323334313233343132333431323334';
const fleet = profileSchema.parse({
  name: 'fleet',
  servers: [{ shortServerId: 101, uri: 'coap://lwm2m.example:5683' }],
  bootstrapServer: { uri: 'coaps://bs.example:5684' },
});

function original(endpoint: string): DeviceEntry {
  return deviceEntrySchema.parse({
    endpoint,
    profile: 'fleet',
    bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-bs`, secretKey: ORIGINAL_KEY, keyOrigin: 'pin' },
  });
}

function pendingFor(endpoint: string): PendingAccount {
  return {
    identity: `${endpoint}#bs-fresh`,
    secretKey: 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
    instanceId: 1,
    originalIdentity: `${endpoint}-bs`,
    originalInstanceId: 0,
    createdAt: '2026-11-23T10:00:00.000Z',
  };
}

const promoted = (endpoint: string): DeviceEntry => promotePendingAccount(original(endpoint), pendingFor(endpoint), new Date('2026-11-23T10:00:05.000Z'));

describe('deviceIdentityValues', () => {
  it('indexes the first retiring PSK identity beside the current one', () => {
    const values = deviceIdentityValues(promoted('ep-a'));
    assert.equal(values.pskIdentity, 'ep-a#bs-fresh');
    assert.equal(values.retiringPskIdentity, 'ep-a-bs');
    assert.equal(deviceIdentityValues(original('ep-a')).retiringPskIdentity, undefined);
  });
});

describe('the retiring PSK identity in the store', () => {
  let dynalite: RunningDynalite;
  let client: DynamoDBClient;
  let table: DynamoDbBootstrapStore;
  let mirror: MirroredStore;

  before(async () => {
    dynalite = await startDynalite();
    client = localDynamoDbClient(dynalite.endpoint);
    await ensureTable(client, TABLE);
    table = new DynamoDbBootstrapStore({ client, tableName: TABLE });
    await table.putProfile(fleet);
    await table.putDevice(promoted('preloaded'));
    mirror = await MirroredStore.open({ store: table, log: () => undefined });
  });

  after(async () => {
    await mirror.close();
    client.destroy();
    await dynalite.close();
  });

  it('creates the sparse ByRetiringPskIdentity index', async () => {
    const described = await client.send(new DescribeTableCommand({ TableName: TABLE }));
    const index = described.Table?.GlobalSecondaryIndexes?.find((candidate) => candidate.IndexName === IDENTITY_INDEX.retiringPskIdentity.indexName);
    assert.deepEqual(index?.KeySchema, [{ AttributeName: 'retiringPskIdentity', KeyType: 'HASH' }]);
  });

  it('finds a device by its retiring identity in DynamoDB, and stops when the credential leaves', async () => {
    await table.putDevice(promoted('ep-1'));
    assert.equal((await table.findDevice('retiringPskIdentity', 'ep-1-bs'))?.endpoint, 'ep-1');
    assert.equal((await table.findDevice('pskIdentity', 'ep-1#bs-fresh'))?.endpoint, 'ep-1');
    // The old identity is no longer the current one.
    assert.equal(await table.findDevice('pskIdentity', 'ep-1-bs'), undefined);

    const purged = { ...promoted('ep-1'), retiringBootstrapCredentials: undefined };
    await table.putDevice(purged);
    assert.equal(await table.findDevice('retiringPskIdentity', 'ep-1-bs'), undefined, 'the attribute is removed with the credential');
  });

  it('finds it in the mirror, loaded at start and after a write', async () => {
    assert.equal((await mirror.findDevice('retiringPskIdentity', 'preloaded-bs'))?.endpoint, 'preloaded');
    await mirror.putDevice(original('ep-2'));
    assert.equal(await mirror.findDevice('retiringPskIdentity', 'ep-2-bs'), undefined);
    await mirror.putDevice(promoted('ep-2'));
    assert.equal((await mirror.findDevice('retiringPskIdentity', 'ep-2-bs'))?.endpoint, 'ep-2');
    assert.equal((await mirror.findDevice('pskIdentity', 'ep-2#bs-fresh'))?.endpoint, 'ep-2');
    await mirror.putDevice({ ...promoted('ep-2'), retiringBootstrapCredentials: undefined });
    assert.equal(await mirror.findDevice('retiringPskIdentity', 'ep-2-bs'), undefined);
    // And through to the table.
    await mirror.putDevice(promoted('ep-3'));
    assert.equal((await table.findDevice('retiringPskIdentity', 'ep-3-bs'))?.endpoint, 'ep-3');
  });
});
