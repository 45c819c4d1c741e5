import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deviceEntrySchema } from '../../shared/bootstrap/device.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { DataDirInUseError } from '../../server/store/data-dir-lock.ts';
import { localDynamoDbClient, startDynalite, type StartDynaliteOptions } from '../../server/store/dynalite.ts';
import { DynamoDbBootstrapStore } from '../../server/store/dynamodb-store.ts';
import { ensureTable } from '../../server/store/table.ts';

const fleet = profileSchema.parse({ name: 'fleet', servers: [{ shortServerId: 1, uri: 'coap://127.0.0.1:5685' }] });
const sensor = deviceEntrySchema.parse({ endpoint: 'sensor-1', profile: 'fleet', identities: { imsi: '444444444' } });

/** Runs `use` against a store on a threaded dynalite, closing both whatever happens. */
async function withThreadedStore<T>(options: StartDynaliteOptions, use: (store: DynamoDbBootstrapStore) => Promise<T>): Promise<T> {
  const dynalite = await startDynalite({ ...options, thread: true });
  const client = localDynamoDbClient(dynalite.endpoint);
  try {
    await ensureTable(client, 'threaded');
    return await use(new DynamoDbBootstrapStore({ client, tableName: 'threaded' }));
  } finally {
    client.destroy();
    await dynalite.close();
  }
}

describe('dynalite on a worker thread', () => {
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lwm2m-bs-thread-'));
  });

  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves the adapter: put, get, find, delete', async () => {
    await withThreadedStore({}, async (store) => {
      await store.putProfile(fleet);
      await store.putDevice(sensor);
      assert.deepEqual(await store.getProfile('fleet'), fleet);
      assert.deepEqual(await store.getDevice('sensor-1'), sensor);
      assert.equal((await store.findDevice('imsi', '444444444'))?.endpoint, 'sensor-1');
      assert.equal(await store.deleteDevice('sensor-1'), true);
      assert.equal(await store.getDevice('sensor-1'), undefined);
      assert.equal(await store.findDevice('imsi', '444444444'), undefined);
    });
  });

  it('persists in LevelDB across a restart on a new worker, and the process holds the data-dir lock', async () => {
    const dir = join(dataDir, 'persist');
    await withThreadedStore({ dataDir: dir }, async (store) => {
      await store.putProfile(fleet);
      await store.putDevice(sensor);
      // The lock is this process's, though LevelDB is open on another thread.
      assert.equal((await readFile(join(dir, 'dynamodb.lock'), 'utf8')).trim(), String(process.pid));
      await assert.rejects(startDynalite({ dataDir: dir, thread: true }), DataDirInUseError);
    });
    await assert.rejects(stat(join(dir, 'dynamodb.lock')), { code: 'ENOENT' });
    assert.ok((await stat(join(dir, 'dynamodb', 'CURRENT'))).isFile());

    await withThreadedStore({ dataDir: dir }, async (store) => {
      assert.deepEqual(await store.getProfile('fleet'), fleet);
      assert.deepEqual(await store.getDevice('sensor-1'), sensor);
      assert.equal((await store.findDevice('imsi', '444444444'))?.endpoint, 'sensor-1');
    });
    // And a dynalite on this thread reads what the worker wrote: the same files.
    const here = await startDynalite({ dataDir: dir });
    const client = localDynamoDbClient(here.endpoint);
    try {
      assert.deepEqual(await new DynamoDbBootstrapStore({ client, tableName: 'threaded' }).getDevice('sensor-1'), sensor);
    } finally {
      client.destroy();
      await here.close();
    }
  });

  it('rejects a port in use with its code and releases the data-dir lock', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    assert.ok(address !== null && typeof address === 'object');
    const dir = join(dataDir, 'busy');
    try {
      await assert.rejects(startDynalite({ dataDir: dir, port: address.port, thread: true }), { code: 'EADDRINUSE' });
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
    await assert.rejects(stat(join(dir, 'dynamodb.lock')), { code: 'ENOENT' });
    // LevelDB was closed too: the directory opens again.
    await withThreadedStore({ dataDir: dir }, async (store) => assert.equal(await store.getProfile('fleet'), undefined));
  });

  it('close() twice is one close, and leaves nothing holding the process open', () => {
    // A child process that must exit by itself once closed: a live worker, socket or LevelDB
    // handle would keep it running until the timeout.
    const dir = join(dataDir, 'exit');
    const script = `
      import { startDynalite, localDynamoDbClient } from ${JSON.stringify(new URL('../../server/store/dynalite.ts', import.meta.url).href)};
      import { ensureTable } from ${JSON.stringify(new URL('../../server/store/table.ts', import.meta.url).href)};
      const dynalite = await startDynalite({ dataDir: ${JSON.stringify(dir)}, thread: true });
      const client = localDynamoDbClient(dynalite.endpoint);
      await ensureTable(client, 'exit');
      client.destroy();
      await Promise.all([dynalite.close(), dynalite.close()]);
      await dynalite.close();
      console.log('closed');
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...process.env },
    });
    assert.equal(child.signal, null, `the process did not exit by itself: ${child.stderr}`);
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), 'closed');
  });
});
