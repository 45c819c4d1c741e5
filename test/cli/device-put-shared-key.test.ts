import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deviceCommand } from '../../cli/commands/device.ts';
import { classifyStoredDeviceKey } from '../../shared/bootstrap/device-key-classification.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import { keyFingerprint } from '../../shared/lifecycle/key-fingerprint.ts';
import { openLocalStore } from '../../server/store/local-store.ts';
import { PEPPER_FILE } from '../../server/store/pepper-file.ts';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

const PROFILE = profileSchema.parse({ name: 'fleet', servers: [{ shortServerId: 101, uri: 'coap://dm.example.com:5683' }], bootstrapServer: { uri: 'coaps://bs.example.com:5684' } });
const randomKey = (): string => randomBytes(16).toString('hex');
const SHARED_KEY = randomKey();
const LONE_KEY = randomKey();
const device = (endpoint: string, secretKey: string, extra: object = {}): object => ({
  endpoint,
  profile: 'fleet',
  bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-bs`, secretKey, ...extra },
});

/**
 * `lwm2m-bs device put` in process against a real data directory (embedded dynalite, the pepper
 * file): each put opens and closes the store, as an operator's runs do.
 */
describe('lwm2m-bs device put: the key fingerprint (seed 002, a key shared across the store)', () => {
  const work = mkdtempSync(join(tmpdir(), 'lwm2m-bs-device-put-'));
  const dataDir = join(work, 'data');
  after(() => rmSync(work, { recursive: true, force: true }));

  async function put(document: object, flags: string[] = []): Promise<{ stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const io = { stdout: (text: string) => (stdout += text), stderr: (text: string) => (stderr += text), readStdin: async () => JSON.stringify(document) };
    await deviceCommand(['put', '-', '--data-dir', dataDir, ...flags], io);
    for (const key of [SHARED_KEY, LONE_KEY]) {
      assert.ok(!`${stdout}${stderr}`.toLowerCase().includes(key), 'a key reached the output');
      assert.ok(!`${stdout}${stderr}`.includes(Buffer.from(key, 'hex').toString('base64')), 'a key reached the output as base64');
    }
    return { stdout, stderr };
  }

  async function withStore<T>(work: (store: Awaited<ReturnType<typeof openLocalStore>>['store']) => Promise<T>): Promise<T> {
    const local = await openLocalStore({ dataDir });
    try {
      return await work(local.store);
    } finally {
      await local.close();
    }
  }

  const pepper = (): Buffer => readFileSync(join(dataDir, PEPPER_FILE));
  const fingerprintOf = (key: string): string => keyFingerprint(Buffer.from(key, 'hex'), pepper());

  before(async () => {
    await withStore(async (store) => {
      await store.putProfile(PROFILE);
      await store.putProfile({ ...PROFILE, name: 'plain', bootstrapServer: undefined });
    });
  });

  it('stores the first holder of a key with its fingerprint under the data directory pepper, and warns of nothing', async () => {
    assert.deepEqual(await put(device('dev-1', SHARED_KEY)), { stdout: 'device dev-1 stored (profile fleet)\n', stderr: '' });
    const stored = await withStore((store) => store.getDevice('dev-1'));
    assert.equal(stored?.bootstrapCredentials?.keyFingerprint, fingerprintOf(SHARED_KEY));
  });

  it('warns on stderr that the second holder shares the key, naming the reason, and counts both holders', async () => {
    const { stdout, stderr } = await put(device('dev-2', SHARED_KEY));
    assert.equal(stdout, 'device dev-2 stored (profile fleet)\n');
    assert.equal(
      stderr,
      'lwm2m-bs: warning: device dev-2: low-entropy bootstrap key (shared-key): the same key is on 2 devices; stored all the same, its Bootstrap-Server account is replaced at its next bootstrap\n',
    );
    await withStore(async (store) => {
      assert.equal(await store.countDevicesWithKeyFingerprint(fingerprintOf(SHARED_KEY), 10), 2);
      for (const endpoint of ['dev-1', 'dev-2']) {
        const classification = await classifyStoredDeviceKey(store, (await store.getDevice(endpoint))!);
        assert.deepEqual(classification?.reasons.map((reason) => reason.code), ['shared-key'], endpoint);
      }
    });
  });

  it('does not count a device put again as sharing the key with its own stored version', async () => {
    assert.deepEqual(await put(device('lone', LONE_KEY)), { stdout: 'device lone stored (profile fleet)\n', stderr: '' });
    assert.deepEqual(await put(device('lone', LONE_KEY)), { stdout: 'device lone stored (profile fleet)\n', stderr: '' });
    assert.equal(await withStore((store) => store.countDevicesWithKeyFingerprint(fingerprintOf(LONE_KEY), 10)), 1);
  });

  it('replaces a fingerprint sent in the document with the one taken from the key', async () => {
    // A forged fingerprint equal to the shared key's would make a lone key look shared, and the reverse.
    const { stderr } = await put(device('forged', randomKey(), { keyFingerprint: fingerprintOf(SHARED_KEY) }));
    assert.equal(stderr, '');
    const stored = await withStore((store) => store.getDevice('forged'));
    assert.match(stored?.bootstrapCredentials?.keyFingerprint ?? '', /^[0-9a-f]{64}$/);
    assert.notEqual(stored?.bootstrapCredentials?.keyFingerprint, fingerprintOf(SHARED_KEY));
    assert.equal(await withStore((store) => store.countDevicesWithKeyFingerprint(fingerprintOf(SHARED_KEY), 10)), 2);
  });

  it('drops a fingerprint sent for a device without a PSK key', async () => {
    await put({ endpoint: 'nosec', profile: 'plain', bootstrapCredentials: { securityMode: 'nosec', keyFingerprint: fingerprintOf(SHARED_KEY) } });
    const stored = await withStore((store) => store.getDevice('nosec'));
    assert.equal(stored?.bootstrapCredentials?.keyFingerprint, undefined);
  });

  it('answers --json with the low-entropy reasons as the admin API does, and still warns on stderr', async () => {
    const { stdout, stderr } = await put(device('dev-3', SHARED_KEY), ['--json']);
    assert.deepEqual(JSON.parse(stdout), { stored: 'device', endpoint: 'dev-3', profile: 'fleet', lowEntropy: [{ code: 'shared-key', devices: 3, text: 'the same key is on 3 devices' }] });
    assert.match(stderr, /^lwm2m-bs: warning: device dev-3: low-entropy bootstrap key \(shared-key\)/);
  });

  it('names every reason of a key low for more than sharing, never the key', async () => {
    const patterned = '0102030405060708090a0b0c0d0e0f10';
    const file = join(work, 'patterned.json');
    writeFileSync(file, JSON.stringify(device('patterned', patterned)));
    let stderr = '';
    await deviceCommand(['put', file, '--data-dir', dataDir], { stdout: () => undefined, stderr: (text) => (stderr += text), readStdin: async () => '' });
    assert.match(stderr, /^lwm2m-bs: warning: device patterned: low-entropy bootstrap key \([a-z-]+(, [a-z-]+)*\): .+\n$/);
    assert.ok(!stderr.includes(patterned));
  });
});
