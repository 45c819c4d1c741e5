import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deviceEntrySchema } from '../../shared/bootstrap/device.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { DataDirInUseError } from '../../server/store/data-dir-lock.ts';
import { localDynamoDbClient, startDynalite } from '../../server/store/dynalite.ts';
import { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { openLocalStore, removeServerInfo, writeServerInfo } from '../../server/store/local-store.ts';
import { ensureTable } from '../../server/store/table.ts';

const fleet = profileSchema.parse({ name: 'fleet', servers: [{ shortServerId: 1, uri: 'coap://127.0.0.1:5685' }] });
const sensor = deviceEntrySchema.parse({ endpoint: 'sensor-1', profile: 'fleet', identities: { imsi: '444444444' } });

/** A pid no process has: a child that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('local store', () => {
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lwm2m-bs-store-'));
  });

  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('persists across a dynalite restart on the same data directory', async () => {
    const dir = join(dataDir, 'persist');
    const first = await startDynalite({ dataDir: dir });
    const firstClient = localDynamoDbClient(first.endpoint);
    await ensureTable(firstClient, 'persist');
    const store = new DynamoDbBootstrapStore({ client: firstClient, tableName: 'persist' });
    await store.putProfile(fleet);
    await store.putDevice(sensor);
    firstClient.destroy();
    await first.close();

    const second = await startDynalite({ dataDir: dir });
    const secondClient = localDynamoDbClient(second.endpoint);
    try {
      await ensureTable(secondClient, 'persist');
      const reopened = new DynamoDbBootstrapStore({ client: secondClient, tableName: 'persist' });
      assert.deepEqual(await reopened.getProfile('fleet'), fleet);
      assert.deepEqual(await reopened.getDevice('sensor-1'), sensor);
      assert.equal((await reopened.findDevice('imsi', '444444444'))?.endpoint, 'sensor-1');
    } finally {
      secondClient.destroy();
      await second.close();
    }
    assert.ok((await stat(join(dir, 'dynamodb'))).isDirectory());
  });

  it('tightens an existing data directory that others could read', async () => {
    const dir = join(dataDir, 'loose');
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755);
    await writeServerInfo(dir, { pid: process.pid, dynamodbEndpoint: 'http://127.0.0.1:1' });
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    await removeServerInfo(dir);
  });

  it('writes and removes the server announcement with private permissions', async () => {
    const dir = join(dataDir, 'announce', 'nested');
    await writeServerInfo(dir, { pid: process.pid, dynamodbEndpoint: 'http://127.0.0.1:1' });
    const file = join(dir, 'server.json');
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { pid: process.pid, dynamodbEndpoint: 'http://127.0.0.1:1' });
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    await removeServerInfo(dir);
    await assert.rejects(stat(file), { code: 'ENOENT' });
    await removeServerInfo(dir);
  });

  it("uses a running server's dynalite when it has announced itself", async () => {
    const dir = join(dataDir, 'shared');
    const server = await startDynalite({});
    try {
      await writeServerInfo(dir, { pid: process.pid, dynamodbEndpoint: server.endpoint });
      const local = await openLocalStore({ dataDir: dir });
      try {
        assert.equal(local.embedded, false);
        assert.equal(local.endpoint, server.endpoint);
        await local.store.putProfile(fleet);
      } finally {
        await local.close();
      }
      // The data went to the server's dynalite, under the default table name.
      const client = localDynamoDbClient(server.endpoint);
      try {
        assert.deepEqual(await new DynamoDbBootstrapStore({ client, tableName: 'lwm2m-bootstrap' }).getProfile('fleet'), fleet);
      } finally {
        client.destroy();
      }
    } finally {
      await server.close();
    }
  });

  it('starts an embedded dynalite when the announced server is gone', async () => {
    const dir = join(dataDir, 'stale');
    const server = await startDynalite({});
    const endpoint = server.endpoint;
    try {
      await writeServerInfo(dir, { pid: deadPid(), dynamodbEndpoint: endpoint });
      const local = await openLocalStore({ dataDir: dir, tableName: 'stale' });
      try {
        assert.equal(local.embedded, true);
        assert.notEqual(local.endpoint, endpoint);
        await local.store.putDevice(sensor);
      } finally {
        await local.close();
      }
    } finally {
      await server.close();
    }

    // Alive pid, but nothing answers at the endpoint any more (it was closed above).
    await writeServerInfo(dir, { pid: process.pid, dynamodbEndpoint: endpoint });
    const again = await openLocalStore({ dataDir: dir, tableName: 'stale' });
    try {
      assert.equal(again.embedded, true);
      assert.deepEqual(await again.store.getDevice('sensor-1'), sensor);
    } finally {
      await again.close();
    }
  });

  it('refuses a data directory another opener holds, and takes over a dead one', async () => {
    const dir = join(dataDir, 'locked');
    const holder = await startDynalite({ dataDir: dir });
    try {
      // No announcement: without the lock, dynalite would crash on LevelDB's own lock.
      await assert.rejects(openLocalStore({ dataDir: dir }), (error: unknown) => error instanceof DataDirInUseError && error.pid === process.pid);
    } finally {
      await holder.close();
    }

    const stale = join(dataDir, 'stale-lock');
    await mkdir(stale, { recursive: true });
    await writeFile(join(stale, 'dynamodb.lock'), `${deadPid()}\n`);
    const local = await openLocalStore({ dataDir: stale });
    try {
      assert.equal(local.embedded, true);
      assert.equal(Number.parseInt(await readFile(join(stale, 'dynamodb.lock'), 'utf8'), 10), process.pid);
    } finally {
      await local.close();
    }
    await assert.rejects(stat(join(stale, 'dynamodb.lock')), { code: 'ENOENT' });
  });
});
