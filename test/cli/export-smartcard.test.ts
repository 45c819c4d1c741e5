import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { exportCommand } from '../../cli/commands/export.ts';
import type { StoreOpener } from '../../cli/data-dir.ts';
import { InputError, UsageError } from '../../cli/usage.ts';
import { openLocalStore, type LocalStore } from '../../server/store/local-store.ts';
import { scp03KeyRecordSchema } from '../../shared/bootstrap/credentials.ts';
import { deviceEntrySchema, type DeviceEntry } from '../../shared/bootstrap/device.ts';
import { profileSchema } from '../../shared/bootstrap/profile.ts';
import type { BootstrapStore } from '../../shared/bootstrap/store.ts';
import { decodeBootstrapFile } from '../../shared/smartcard/bootstrap-file.ts';
import { CardPaths, decodeCardImage, readCardBootstrap } from '../../shared/smartcard/card-image.ts';
import { keyCheckValue } from '../../shared/smartcard/scp03-keys.ts';

// `lwm2m-bs export smartcard` in process against a real data directory (the embedded
// dynalite): the UICC files a card personaliser loads, read back as a device reads a card, and
// the SCP03 keys generated, stored, reused, and never left behind by a run that wrote nothing.

const BS_KEY = '0102030405060708090a0b0c0d0e0f10';
const DM_KEY = 'a1a2a3a4a5a6a7a8a9aaabacadaeafb0';
const SCP03 = { keyVersion: 0x31, enc: '404142434445464748494a4b4c4d4e4f', mac: '505152535455565758595a5b5c5d5e5f', dek: '606162636465666768696a6b6c6d6e6f' };
const PROFILE = profileSchema.parse({
  name: 'fleet',
  servers: [{ shortServerId: 101, uri: 'coaps://dm.example.com:5684', securityMode: 'psk' }],
  bootstrapServer: { uri: 'coaps://bs.example.com:5684' },
});

function device(endpoint: string, options: { scp03?: boolean; serverKey?: boolean } = {}): DeviceEntry {
  return deviceEntrySchema.parse({
    endpoint,
    profile: 'fleet',
    bootstrapCredentials: { securityMode: 'psk', identity: `${endpoint}-bs`, secretKey: BS_KEY },
    ...(options.serverKey !== false && { serverCredentials: { '101': { identity: endpoint, secretKey: DM_KEY } } }),
    ...(options.scp03 === true && { smartcard: { scp03: SCP03 } }),
  });
}

const tree = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort() : []);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

interface KeysFile {
  keyVersion: number;
  enc: string;
  mac: string;
  dek: string;
  kcv: { enc: string; mac: string; dek: string };
}

describe('lwm2m-bs export smartcard', () => {
  let work = '';
  let local: LocalStore;
  /** putDevice fails for these endpoints: a store that breaks in the middle of a run. */
  const failPut = new Set<string>();
  const open: StoreOpener = async () => {
    const store = new Proxy(local.store, {
      get(target, property, receiver) {
        if (property === 'putDevice') {
          return async (entry: DeviceEntry) => {
            if (failPut.has(entry.endpoint)) throw Object.assign(new Error(`refused ${JSON.stringify(entry)}`), { name: 'ProvisionedThroughputExceededException' });
            return target.putDevice(entry);
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }) satisfies BootstrapStore;
    return { store, close: async () => undefined };
  };

  before(async () => {
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
    work = mkdtempSync(join(tmpdir(), 'lwm2m-bs-smartcard-'));
    local = await openLocalStore({ dataDir: join(work, 'data') });
    await local.store.putProfile(PROFILE);
    await local.store.putDevice(device('card-1', { scp03: true }));
    for (const endpoint of ['fresh-1', 'fresh-2', 'fresh-3', 'fresh-4', 'ep/5']) await local.store.putDevice(device(endpoint));
    // Stored past the checks: its server has no key to bootstrap with.
    await local.store.putDevice(device('keyless', { serverKey: false }));
  });
  after(async () => {
    await local.close();
    rmSync(work, { recursive: true, force: true });
  });

  async function run(args: string[]): Promise<{ stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    await exportCommand(['smartcard', ...args], { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), readStdin: async () => '' }, open);
    return { stdout, stderr };
  }
  async function refuse(args: string[]): Promise<string> {
    let message = '';
    await assert.rejects(run(args), (error) => {
      assert.ok(error instanceof InputError, String(error));
      message = error.message;
      return true;
    });
    for (const key of [BS_KEY, DM_KEY, SCP03.enc, SCP03.mac, SCP03.dek]) assert.ok(!message.includes(key), 'no key in an error');
    assert.ok(!message.includes('\n'), 'one line');
    return message;
  }
  const keysOf = async (endpoint: string) => (await local.store.getDevice(endpoint))?.smartcard?.scp03;
  const keysFile = (dir: string): KeysFile => JSON.parse(readFileSync(join(dir, 'scp03-keys.json'), 'utf8')) as KeysFile;

  it('writes the card image, the EF and the SCP03 keys owner-only; a device reads its accounts back off the image', async () => {
    const out = join(work, 'plain');
    const { stdout, stderr } = await run(['card-1', '--out', out, '--include-keys']);
    assert.match(stderr, /^lwm2m-bs: warning: the exported files hold secret keys/);
    const dir = join(out, 'card-1');
    assert.equal(stdout, [
      `card-1 -> ${dir}: card-image.json, lwm2m-bootstrap.bin, scp03-keys.json; SCP03 key version 0x31, KCV ENC ${hex(keyCheckValue(Buffer.from(SCP03.enc, 'hex')))} MAC ${hex(keyCheckValue(Buffer.from(SCP03.mac, 'hex')))} DEK ${hex(keyCheckValue(Buffer.from(SCP03.dek, 'hex')))}`,
      `exported 1 device to ${out}; SCP03 keys as stored`,
      '',
    ].join('\n'));
    assert.equal(statSync(out).mode & 0o777, 0o700);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(dir).sort(), ['card-image.json', 'lwm2m-bootstrap.bin', 'scp03-keys.json']);
    for (const name of readdirSync(dir)) assert.equal(statSync(join(dir, name)).mode & 0o777, 0o600, name);

    const image = decodeCardImage(readFileSync(join(dir, 'card-image.json'), 'utf8'));
    assert.deepEqual([...image.files.keys()].sort(), [CardPaths.efDir, CardPaths.odf, CardPaths.dodf, CardPaths.lwm2mBootstrap].sort());
    const card = readCardBootstrap(image);
    assert.equal(card.bootstrapPath, CardPaths.lwm2mBootstrap);
    const ef = new Uint8Array(readFileSync(join(dir, 'lwm2m-bootstrap.bin')));
    const onCard = image.files.get(CardPaths.lwm2mBootstrap);
    assert.ok(onCard?.structure === 'transparent');
    assert.deepEqual(onCard.data, ef, 'the .bin is the EF content');
    assert.deepEqual(decodeBootstrapFile(ef), card.bootstrap);

    const { security, servers } = card.bootstrap;
    const bootstrap = security.find((instance) => instance.bootstrapServer);
    const dm = security.find((instance) => !instance.bootstrapServer);
    assert.equal(bootstrap?.serverUri, 'coaps://bs.example.com:5684');
    assert.equal(Buffer.from(bootstrap.publicKeyOrIdentity).toString(), 'card-1-bs');
    assert.equal(hex(bootstrap.secretKey), BS_KEY);
    assert.equal(dm?.serverUri, 'coaps://dm.example.com:5684');
    assert.equal(dm.shortServerId, 101);
    assert.equal(dm.securityMode, 0);
    assert.equal(Buffer.from(dm.publicKeyOrIdentity).toString(), 'card-1');
    assert.equal(hex(dm.secretKey), DM_KEY);
    assert.deepEqual(servers.map((server) => server.shortServerId), [101]);

    const keys = keysFile(dir);
    const { kcv, ...record } = keys;
    assert.deepEqual(scp03KeyRecordSchema.parse(record), SCP03);
    assert.deepEqual(kcv, {
      enc: hex(keyCheckValue(Buffer.from(keys.enc, 'hex'))),
      mac: hex(keyCheckValue(Buffer.from(keys.mac, 'hex'))),
      dek: hex(keyCheckValue(Buffer.from(keys.dek, 'hex'))),
    });
  });

  it('refuses without --include-keys, saying why, and writes nothing', async () => {
    const out = join(work, 'no-keys-flag');
    await assert.rejects(run(['card-1', '--out', out]), (error) => {
      assert.ok(error instanceof UsageError);
      assert.equal(error.message, "export smartcard needs --include-keys: a card's bootstrap file holds the device's keys");
      return true;
    });
    assert.equal(existsSync(out), false);
    await assert.rejects(run(['--out', out, '--include-keys']), /takes endpoints/);
    await assert.rejects(run(['card-1', '--include-keys']), /needs --out/);
  });

  it('refuses a device without SCP03 keys unless asked to generate them, storing nothing', async () => {
    const out = join(work, 'keyless-refused');
    assert.equal(await refuse(['card-1', 'fresh-1', '--out', out, '--include-keys']), 'device fresh-1 has no SCP03 keys (--generate-scp03-keys makes and stores them); nothing written');
    // With generation asked, any other problem still stops the run before a key is stored.
    assert.equal(await refuse(['fresh-1', 'nobody', '--out', out, '--include-keys', '--generate-scp03-keys']), 'no device "nobody"; nothing written');
    assert.match(await refuse(['fresh-1', 'keyless', '--out', out, '--include-keys', '--generate-scp03-keys']), /^device keyless would not bootstrap \(\d+ problems?\): device\.serverCredentials\.101.*; nothing written$/);
    assert.equal(existsSync(out), false);
    assert.equal(await keysOf('fresh-1'), undefined);
    assert.equal(await keysOf('keyless'), undefined);
  });

  it('generates keys for the devices without, stores them, keeps stored ones, and reuses them next time', async () => {
    const out = join(work, 'generated');
    const { stdout } = await run(['fresh-1', 'card-1', 'ep/5', '--out', out, '--include-keys', '--generate-scp03-keys', '--json']);
    const report = JSON.parse(stdout) as { keysIncluded: boolean; devices: { endpoint: string; directory: string; scp03: { keyVersion: number; generated: boolean; kcv: KeysFile['kcv'] } }[] };
    assert.equal(report.keysIncluded, true);
    assert.deepEqual(report.devices.map((entry) => [entry.endpoint, entry.scp03.generated]), [['fresh-1', true], ['card-1', false], ['ep/5', true]]);
    assert.deepEqual(readdirSync(out).sort(), ['card-1', 'ep%2F5', 'fresh-1']);

    const stored = await keysOf('fresh-1');
    assert.ok(stored !== undefined, 'the generated keys are on the device entry');
    const written = keysFile(join(out, 'fresh-1'));
    assert.deepEqual({ keyVersion: written.keyVersion, enc: written.enc, mac: written.mac, dek: written.dek }, stored);
    assert.deepEqual(report.devices[0]!.scp03.kcv, written.kcv);
    assert.equal(stored.enc.length, 32, 'AES-128 keys');
    assert.equal(new Set([stored.enc, stored.mac, stored.dek, (await keysOf('ep/5'))!.enc]).size, 4, 'every key its own');
    assert.deepEqual(await keysOf('card-1'), SCP03, 'stored keys are never rotated');
    // The device's other fields are as they were.
    const entry = await local.store.getDevice('fresh-1');
    assert.deepEqual({ ...entry, smartcard: undefined }, { ...device('fresh-1'), smartcard: undefined });

    const again = join(work, 'again');
    const second = await run(['fresh-1', '--out', again, '--include-keys']);
    assert.match(second.stdout, /SCP03 keys as stored\n$/);
    assert.deepEqual(readFileSync(join(again, 'fresh-1', 'scp03-keys.json')), readFileSync(join(out, 'fresh-1', 'scp03-keys.json')));
    assert.deepEqual(readFileSync(join(again, 'fresh-1', 'card-image.json')), readFileSync(join(out, 'fresh-1', 'card-image.json')));
    await run(['fresh-1', '--out', join(work, 'again-2'), '--include-keys', '--generate-scp03-keys']);
    assert.deepEqual(await keysOf('fresh-1'), stored, 'asking again does not rotate either');
  });

  it('stores no keys when the run fails after staging, and leaves the disk as it was', async () => {
    const out = join(work, 'midway');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'x');
    failPut.add('fresh-3');
    try {
      const message = await refuse(['fresh-2', 'fresh-3', '--out', out, '--include-keys', '--generate-scp03-keys']);
      assert.equal(message, 'cannot store the SCP03 keys of device fresh-3 (ProvisionedThroughputExceededException); nothing written');
    } finally {
      failPut.clear();
    }
    assert.equal(await keysOf('fresh-2'), undefined, 'the keys stored before the failure are taken back');
    assert.equal(await keysOf('fresh-3'), undefined);
    assert.deepEqual(tree(out), ['keep.txt']);

    // A directory in the way (no --force) also stops the run before any key is stored.
    mkdirSync(join(out, 'fresh-4'));
    assert.match(await refuse(['fresh-2', 'fresh-4', '--out', out, '--include-keys', '--generate-scp03-keys']), /fresh-4 already exists \(--force replaces it\); nothing written$/);
    assert.equal(await keysOf('fresh-2'), undefined);
    assert.equal(await keysOf('fresh-4'), undefined);
    assert.deepEqual(tree(out), ['fresh-4', 'keep.txt']);
  });

  it('says which entries could not be taken back when the restore fails too', async () => {
    const out = join(work, 'stuck');
    let calls = 0;
    failPut.add('fresh-3');
    const original = local.store.putDevice.bind(local.store);
    // fresh-2's keys are stored, fresh-3's fail, and putting fresh-2 back fails as well.
    local.store.putDevice = async (entry) => {
      if (entry.endpoint === 'fresh-2' && calls++ > 0) throw new Error('down');
      return original(entry);
    };
    try {
      assert.match(await refuse(['fresh-2', 'fresh-3', '--out', out, '--include-keys', '--generate-scp03-keys']), /; and the SCP03 keys stored on fresh-2 could not be taken back$/);
    } finally {
      failPut.clear();
      local.store.putDevice = original;
    }
    assert.equal(existsSync(join(out, 'fresh-2')), false);
    await local.store.putDevice(device('fresh-2'));
  });

  it('runs from the real bin: a usage error without --include-keys, exit 1 and one line for an unknown device', () => {
    const bin = fileURLToPath(new URL('../../cli/bin.mjs', import.meta.url));
    const out = join(work, 'bin-out');
    const env = { ...process.env, LWM2M_BS_DATA_DIR: join(work, 'bin-data') };
    const usage = spawnSync(process.execPath, [bin, 'export', 'smartcard', 'x', '--out', out], { encoding: 'utf8', env });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /^lwm2m-bs: export smartcard needs --include-keys: a card's bootstrap file holds the device's keys\n/);
    const unknown = spawnSync(process.execPath, [bin, 'export', 'smartcard', 'nobody', '--out', out, '--include-keys'], { encoding: 'utf8', env });
    assert.deepEqual([unknown.status, unknown.stdout, unknown.stderr], [1, '', 'lwm2m-bs: no device "nobody"; nothing written\n']);
    assert.equal(existsSync(out), false);
  });
});
