import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startLocalServer, type LocalServer } from '../../server/local-server.ts';
import { parseSeedConfig } from '../../server/seed-config.ts';
import { PEPPER_FILE } from '../../server/store/pepper-file.ts';
import { classifyStoredDeviceKey } from '../../shared/bootstrap/device-key-classification.ts';
import { keyFingerprint } from '../../shared/lifecycle/key-fingerprint.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

const SHARED_KEY = randomBytes(16).toString('hex');
const LONE_KEY = randomBytes(16).toString('hex');
const FORGED = 'ab'.repeat(32);
const psk = (endpoint: string, secretKey: string, extra: object = {}): object => ({
  endpoint,
  profile: 'quickstart',
  bootstrapCredentials: { securityMode: 'psk', identity: endpoint, secretKey, ...extra },
});

/** The quick start's shape: a NoSec profile, and PSK devices of which two share a key. */
const SEED = parseSeedConfig({
  profiles: [{ name: 'quickstart', servers: [{ shortServerId: 101, uri: 'coap://127.0.0.1:5685', securityMode: 'nosec' }] }],
  devices: [psk('shared-1', SHARED_KEY), psk('shared-2', SHARED_KEY, { keyFingerprint: FORGED }), psk('lone', LONE_KEY, { keyFingerprint: FORGED }), { endpoint: 'nosec', profile: 'quickstart' }],
});

const logged: string[] = [];

function start(dataDir?: string): Promise<LocalServer> {
  const log = (line: string): number => logged.push(line);
  return startLocalServer({ port: 0, host4: '127.0.0.1', host6: false, coapsPort: false, seed: SEED, log: (event) => log(JSON.stringify(event)), lifecycleLog: log, ...(dataDir !== undefined && { dataDir }) });
}

async function assertSharedKeyDetected(server: LocalServer): Promise<void> {
  const shared1 = (await server.store.getDevice('shared-1'))!;
  const shared2 = (await server.store.getDevice('shared-2'))!;
  const lone = (await server.store.getDevice('lone'))!;
  const fingerprint = shared1.bootstrapCredentials?.keyFingerprint;
  assert.match(fingerprint ?? '', /^[0-9a-f]{64}$/);
  assert.equal(shared2.bootstrapCredentials?.keyFingerprint, fingerprint, 'the fingerprint in the file is replaced');
  assert.notEqual(lone.bootstrapCredentials?.keyFingerprint, FORGED);
  assert.notEqual(lone.bootstrapCredentials?.keyFingerprint, fingerprint);
  assert.equal(await server.store.countDevicesWithKeyFingerprint(fingerprint!, 10), 2);
  for (const device of [shared1, shared2]) {
    const classification = await classifyStoredDeviceKey(server.store, device);
    assert.equal(classification?.entropy, 'low', device.endpoint);
    assert.deepEqual(classification?.reasons.map((reason) => reason.code), ['shared-key']);
  }
  assert.equal((await classifyStoredDeviceKey(server.store, lone))?.entropy, 'high');
  assert.equal((await server.store.getDevice('nosec'))?.bootstrapCredentials, undefined);
}

describe('serve --config: the seed devices carry their key fingerprints (seed 002)', () => {
  const work = mkdtempSync(join(tmpdir(), 'lwm2m-bs-seed-'));
  after(() => {
    rmSync(work, { recursive: true, force: true });
    for (const key of [SHARED_KEY, LONE_KEY]) assert.ok(!logged.join('\n').includes(key), 'a key reached the log');
  });

  it('fingerprints the seed under the data directory pepper, so its devices sharing a key classify low', async () => {
    const dataDir = join(work, 'data');
    const server = await start(dataDir);
    try {
      await assertSharedKeyDetected(server);
      const stored = await server.store.getDevice('shared-1');
      assert.equal(stored?.bootstrapCredentials?.keyFingerprint, keyFingerprint(Buffer.from(SHARED_KEY, 'hex'), readFileSync(join(dataDir, PEPPER_FILE))), 'the pepper file CLI commands use too');
    } finally {
      await server.close();
    }
  });

  it('fingerprints the seed of an in-memory server under a pepper of its own', async () => {
    const server = await start();
    try {
      await assertSharedKeyDetected(server);
    } finally {
      await server.close();
    }
  });
});
