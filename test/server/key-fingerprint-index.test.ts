import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { deviceEntrySchema, type DeviceEntry } from '../../shared/bootstrap/device.ts';
import { classifyStoredDeviceKey } from '../../shared/bootstrap/device-key-classification.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { generatePepper, PepperKeyFingerprinter } from '../../shared/lifecycle/key-fingerprint.ts';
import { localDynamoDbClient, startDynalite, type RunningDynalite } from '../../server/store/dynalite.ts';
import { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { MirroredStore } from '../../server/store/mirrored-store.ts';
import { createTableInput, ensureTable, KEY_FINGERPRINT_INDEX } from '../../server/store/table.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

const TABLE = 'key-fingerprint-test';
const fleet = profileSchema.parse({ name: 'fleet', servers: [{ shortServerId: 101, uri: 'coap://lwm2m.example:5683' }], bootstrapServer: { uri: 'coaps://bs.example:5684' } });
const fingerprinter = new PepperKeyFingerprinter(generatePepper());
const randomKey = (): string => randomBytes(16).toString('hex');

async function pskDevice(endpoint: string, secretKey: string): Promise<DeviceEntry> {
  const keyFingerprint = await fingerprinter.fingerprint(Buffer.from(secretKey, 'hex'));
  return deviceEntrySchema.parse({ endpoint, profile: 'fleet', bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-bs`, secretKey, keyFingerprint } });
}

describe('the ByKeyFingerprint index', () => {
  let dynalite: RunningDynalite;
  let client: DynamoDBClient;
  let table: DynamoDbBootstrapStore;
  let mirror: MirroredStore;
  const shared = randomKey();
  let sharedFingerprint: string;

  before(async () => {
    dynalite = await startDynalite({});
    client = localDynamoDbClient(dynalite.endpoint);
    await ensureTable(client, TABLE, { pollMs: 20 });
    table = new DynamoDbBootstrapStore({ client, tableName: TABLE });
    await table.putProfile(fleet);
    // Loaded by the mirror at start: it must index what the table held before it opened.
    await table.putDevice(await pskDevice('preloaded', shared));
    mirror = await MirroredStore.open({ store: table, log: () => undefined });
    sharedFingerprint = await fingerprinter.fingerprint(Buffer.from(shared, 'hex'));
  });

  after(async () => {
    await mirror.close();
    client.destroy();
    await dynalite.close();
  });

  it('is a sparse keys-only index on keyFingerprint', async () => {
    const described = await client.send(new DescribeTableCommand({ TableName: TABLE }));
    const index = described.Table?.GlobalSecondaryIndexes?.find((candidate) => candidate.IndexName === 'ByKeyFingerprint');
    assert.deepEqual(index?.KeySchema, [{ AttributeName: KEY_FINGERPRINT_INDEX.attribute, KeyType: 'HASH' }]);
    assert.equal(index?.Projection?.ProjectionType, 'KEYS_ONLY');
  });

  for (const which of ['table', 'mirror'] as const) {
    it(`counts the devices holding a fingerprint, up to the limit and leaving out the endpoints asked (${which})`, async () => {
      const store = which === 'table' ? table : mirror;
      const prefix = `${which}-`;
      const key = randomKey();
      const fingerprint = await fingerprinter.fingerprint(Buffer.from(key, 'hex'));
      assert.equal(await store.countDevicesWithKeyFingerprint(fingerprint, 2), 0);
      for (const name of ['a', 'b', 'c']) await store.putDevice(await pskDevice(`${prefix}${name}`, key));
      await store.putDevice(await pskDevice(`${prefix}other`, randomKey()));
      assert.equal(await store.countDevicesWithKeyFingerprint(fingerprint, 2), 2, 'stops at the limit');
      assert.equal(await store.countDevicesWithKeyFingerprint(fingerprint, 10), 3);
      assert.equal(await store.countDevicesWithKeyFingerprint(fingerprint, 10, [`${prefix}a`]), 2);
      assert.equal(await store.countDevicesWithKeyFingerprint(fingerprint, 1, new Set([`${prefix}a`, `${prefix}b`])), 1);
      assert.equal(await store.countDevicesWithKeyFingerprint(fingerprint, 10, [`${prefix}a`, `${prefix}b`, `${prefix}c`]), 0);

      // A new key leaves the index under the old fingerprint; a device without a PSK key is not in it.
      await store.putDevice(await pskDevice(`${prefix}b`, randomKey()));
      await store.putDevice(deviceEntrySchema.parse({ endpoint: `${prefix}c`, profile: 'fleet', bootstrapCredentials: { securityMode: 'nosec' } }));
      assert.equal(await store.countDevicesWithKeyFingerprint(fingerprint, 10), 1);
      // A fingerprint left beside a non-PSK credential is not indexed either.
      const rpk = deviceEntrySchema.parse({
        endpoint: `${prefix}rpk`,
        profile: 'fleet',
        bootstrapCredentials: { securityMode: 'rpk', secretKey: key, publicKey: '04', serverPublicKey: '04', keyFingerprint: fingerprint },
      });
      await store.putDevice(rpk);
      assert.equal(await store.countDevicesWithKeyFingerprint(fingerprint, 10), 1);
      assert.ok(await store.deleteDevice(`${prefix}a`));
      assert.equal(await store.countDevicesWithKeyFingerprint(fingerprint, 10), 0);
      await assert.rejects(store.countDevicesWithKeyFingerprint(fingerprint, 0), RangeError);
    });
  }

  it('counts past a page of left-out holders', async () => {
    const key = randomKey();
    const fingerprint = await fingerprinter.fingerprint(Buffer.from(key, 'hex'));
    const holders = Array.from({ length: 105 }, (_, index) => `many-${index}`);
    await table.putDevices(await Promise.all(holders.map((endpoint) => pskDevice(endpoint, key))));
    // 103 of 105 left out: more than the 100 a Query reads beyond the limit, so it reads on.
    assert.equal(await table.countDevicesWithKeyFingerprint(fingerprint, 5, new Set(holders.slice(0, 103))), 2);
    assert.equal(await table.countDevicesWithKeyFingerprint(fingerprint, 200), 105);
  });

  it('classifies a stored device whose key another device holds as low entropy (shared-key), with one count', async () => {
    const preloaded = (await table.getDevice('preloaded'))!;
    assert.equal((await classifyStoredDeviceKey(table, preloaded))?.entropy, 'high', 'alone in the index');
    await mirror.putDevice(await pskDevice('copy', shared));
    for (const store of [table, mirror]) {
      const classification = await classifyStoredDeviceKey(store, preloaded);
      assert.equal(classification?.entropy, 'low');
      assert.deepEqual(classification?.reasons.map((reason) => reason.code), ['shared-key']);
      assert.deepEqual(classification?.reasons[0], { code: 'shared-key', devices: 2, text: 'the same key is on 2 devices' });
    }
    let counts = 0;
    const counting = { countDevicesWithKeyFingerprint: (...args: Parameters<DynamoDbBootstrapStore['countDevicesWithKeyFingerprint']>) => ((counts += 1), table.countDevicesWithKeyFingerprint(...args)) };
    await classifyStoredDeviceKey(counting, preloaded);
    assert.equal(counts, 1);
    assert.equal(await table.countDevicesWithKeyFingerprint(sharedFingerprint, 10), 2);
  });

  it('does not ask the index when the key is low already, or when the device has no fingerprint or no PSK', async () => {
    let counts = 0;
    const counting = { countDevicesWithKeyFingerprint: async () => ((counts += 1), 5) };
    const low = await pskDevice('low', '00000000000000000000000000000000');
    assert.deepEqual((await classifyStoredDeviceKey(counting, low))?.reasons.map((reason) => reason.code), ['repeated-pattern']);
    const unfingerprinted = deviceEntrySchema.parse({ endpoint: 'plain', profile: 'fleet', bootstrapCredentials: { securityMode: 'psk', identity: 'plain-bs', secretKey: randomKey() } });
    assert.equal((await classifyStoredDeviceKey(counting, unfingerprinted))?.entropy, 'high');
    assert.equal(await classifyStoredDeviceKey(counting, deviceEntrySchema.parse({ endpoint: 'nosec', profile: 'fleet' })), undefined);
    assert.equal(counts, 0);
  });
});

describe('a data directory from before the ByKeyFingerprint index', () => {
  it('is refused with the same advice as for the earlier indexes', async () => {
    const dynalite = await startDynalite({});
    const client = localDynamoDbClient(dynalite.endpoint);
    try {
      const input = createTableInput('old-table');
      await client.send(
        new CreateTableCommand({
          ...input,
          GlobalSecondaryIndexes: input.GlobalSecondaryIndexes?.filter((index) => index.IndexName !== KEY_FINGERPRINT_INDEX.indexName),
          AttributeDefinitions: input.AttributeDefinitions?.filter((definition) => definition.AttributeName !== KEY_FINGERPRINT_INDEX.attribute),
        }),
      );
      await assert.rejects(ensureTable(client, 'old-table', { pollMs: 20 }), (error: Error) => {
        assert.match(error.message, /^table old-table lacks the index\(es\) ByKeyFingerprint; it was created by another tool or an earlier version/);
        assert.match(error.message, /export what you need with `device list --show-secrets` and start a new one/);
        return true;
      });
    } finally {
      client.destroy();
      await dynalite.close();
    }
  });
});
